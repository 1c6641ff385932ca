//! Presence: one user's changes serialised (first socket in, last socket out), and announced to
//! everyone else, the guide's way or batched.
//!
//! A user's connect and disconnect handlers run as separate tasks. Without ordering, a socket
//! that drops while its own connect handler is still running could be announced offline first
//! and online afterwards, and stay "online" forever. Holding the user's lock across "join the
//! room + announce" and across "count the remaining sockets + announce" makes the last word the
//! right one. Locks are striped: bounded memory, no per-user cleanup.

use std::hash::{BuildHasher, RandomState};
use std::sync::Arc;
use std::time::Duration;

use natter_protocol::{PresenceChange, User, event};
use socketioxide::SocketIo;
use socketioxide::adapter::Adapter;
use tokio::sync::{Mutex, MutexGuard};

const STRIPES: usize = 256;

pub struct PresenceLocks {
    stripes: Vec<Mutex<()>>,
    hasher: RandomState,
}

impl Default for PresenceLocks {
    fn default() -> Self {
        Self {
            stripes: (0..STRIPES).map(|_| Mutex::new(())).collect(),
            hasher: RandomState::new(),
        }
    }
}

impl PresenceLocks {
    /// Waits for, then holds, the lock that orders this user's presence changes.
    pub async fn lock(&self, user_id: &str) -> MutexGuard<'_, ()> {
        let i = (self.hasher.hash_one(user_id) as usize) % self.stripes.len();
        self.stripes[i].lock().await
    }
}

/// The room of the sockets that asked for batched presence (`batchPresence` in the handshake).
/// User ids are hex and group ids start with `g-`: no other room has these names.
pub const BATCHED: &str = "natter:presence-batched";
/// The room of every other socket (the guide's clients). Its own room, not "all but
/// [`BATCHED`]": a broadcast walks the sockets of the rooms it names, so an announcement costs
/// what its audience is, not everyone online.
pub const GUIDE: &str = "natter:presence-guide";

/// How long a change waits for others to share its `presence` event. In a login storm each
/// socket gets one event per window instead of one per newcomer; a person coming online is
/// shown this much later, which nobody can see.
pub const BATCH_WINDOW: Duration = Duration::from_millis(10);

/// Tells everyone else about a change of `change.user_id`: the guide's clients ([`GUIDE`]
/// minus the rooms in `except`) get `user connected` (a [`User`]) or `user disconnected` (the
/// bare userID) at once, the batched clients get it in the next `presence` event.
///
/// Call it after the store records the change, under the user's presence lock: a newcomer's
/// `users` (read from the store after it joined [`BATCHED`]) then never misses a change, and
/// a change it already has arrives again only as the same state, in order.
pub async fn announce<A: Adapter>(
    io: &SocketIo<A>,
    except: Option<String>,
    batches: &Arc<Batches>,
    change: PresenceChange,
) {
    let mut guide = io.to(GUIDE);
    if let Some(room) = except {
        guide = guide.except(room);
    }
    let sent = if change.connected {
        let user = User {
            user_id: change.user_id.clone(),
            username: change.username.clone().unwrap_or_default(),
            display_name: change.display_name.clone(),
            connected: true,
            ..User::default()
        };
        guide.emit(event::USER_CONNECTED, &user).await
    } else {
        guide.emit(event::USER_DISCONNECTED, &change.user_id).await
    };
    if let Err(e) = sent {
        tracing::warn!(user = %change.user_id, error = ?e, "could not announce presence");
    }
    let io = io.clone();
    batches.push(change, move |batch| send_batch(io, batch));
}

/// Before delivering what `user_id` sent: their `presence` entry, if still waiting for its
/// window, leaves now. A batched client learns of a newcomer before their first message, as
/// the guide's clients do with `user connected`.
pub async fn before_delivering<A: Adapter>(
    io: &SocketIo<A>,
    batches: &Arc<Batches>,
    user_id: &str,
) {
    // Called for every message: `io` is cloned only when there is something to send.
    batches
        .flush_for(user_id, |batch| send_batch(io.clone(), batch))
        .await;
}

async fn send_batch<A: Adapter>(io: SocketIo<A>, batch: Vec<PresenceChange>) {
    if let Err(e) = io.to(BATCHED).emit(event::PRESENCE, &batch).await {
        tracing::warn!(changes = batch.len(), error = ?e, "could not send presence");
    }
}

/// Presence changes waiting for their `presence` event, in the order they happened.
#[derive(Default)]
pub struct Batches {
    pending: std::sync::Mutex<Vec<PresenceChange>>,
    /// Held while a batch is taken and sent: batches leave in the order they were taken, even
    /// when sending one waits (on the cluster's adapter).
    sending: Mutex<()>,
}

impl Batches {
    /// Queues `change`. The first change of a window schedules `send` with the whole window's
    /// changes once it closes; later ones ride along.
    pub fn push<F, Fut>(self: &Arc<Self>, change: PresenceChange, send: F)
    where
        F: FnOnce(Vec<PresenceChange>) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send,
    {
        let first = {
            let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
            pending.push(change);
            pending.len() == 1
        };
        if !first {
            return;
        }
        let this = self.clone();
        tokio::spawn(async move {
            tokio::time::sleep(BATCH_WINDOW).await;
            let _sending = this.sending.lock().await;
            let batch = this.take();
            if !batch.is_empty() {
                send(batch).await;
            }
        });
    }

    /// Sends the waiting changes now if one of them is `user_id`'s; if a batch is being sent,
    /// waits until it is out (it may hold that change).
    pub async fn flush_for<F, Fut>(&self, user_id: &str, send: F)
    where
        F: FnOnce(Vec<PresenceChange>) -> Fut,
        Fut: Future<Output = ()>,
    {
        let waiting = self
            .pending
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .any(|c| c.user_id == user_id);
        if waiting {
            let _sending = self.sending.lock().await;
            let batch = self.take();
            if !batch.is_empty() {
                send(batch).await;
            }
        } else if self.sending.try_lock().is_err() {
            drop(self.sending.lock().await);
        }
    }

    /// Every waiting change, oldest first; called under `sending`.
    fn take(&self) -> Vec<PresenceChange> {
        std::mem::take(&mut *self.pending.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

/// Marks, in a socket's extensions, that its connect handler joined the user's room and
/// announced it; the disconnect handler only undoes what was done.
#[derive(Debug, Clone, Copy)]
pub struct Joined;

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn same_user_is_serialised() {
        let locks = Arc::new(PresenceLocks::default());
        let g = locks.lock("u1").await;
        let l2 = locks.clone();
        let waiter = tokio::spawn(async move {
            let _g = l2.lock("u1").await;
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(
            !waiter.is_finished(),
            "second lock of the same user must wait"
        );
        drop(g);
        tokio::time::timeout(Duration::from_secs(1), waiter)
            .await
            .unwrap()
            .unwrap();
    }

    fn change(user: &str, connected: bool) -> PresenceChange {
        PresenceChange {
            user_id: user.into(),
            username: connected.then(|| user.to_uppercase()),
            display_name: None,
            connected,
        }
    }

    /// Pushes `change`, sending batches into `sent`.
    fn push(
        batches: &Arc<Batches>,
        sent: &tokio::sync::mpsc::UnboundedSender<Vec<PresenceChange>>,
        c: PresenceChange,
    ) {
        let sent = sent.clone();
        batches.push(c, move |batch| async move {
            let _ = sent.send(batch);
        });
    }

    #[tokio::test(start_paused = true)]
    async fn changes_within_a_window_leave_together_in_order() {
        let batches = Arc::new(Batches::default());
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        push(&batches, &tx, change("a", true));
        tokio::time::sleep(BATCH_WINDOW / 2).await;
        push(&batches, &tx, change("b", true));
        push(&batches, &tx, change("a", false));
        assert!(rx.try_recv().is_err(), "nothing before the window closes");
        tokio::time::sleep(BATCH_WINDOW).await;
        assert_eq!(
            rx.recv().await.unwrap(),
            [change("a", true), change("b", true), change("a", false)]
        );

        // A change after the window opens the next one.
        push(&batches, &tx, change("b", false));
        tokio::time::sleep(BATCH_WINDOW * 2).await;
        assert_eq!(rx.recv().await.unwrap(), [change("b", false)]);
        assert!(rx.try_recv().is_err());
    }

    #[tokio::test(start_paused = true)]
    async fn a_newcomers_entry_leaves_before_what_they_send() {
        let batches = Arc::new(Batches::default());
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        push(&batches, &tx, change("a", true));
        push(&batches, &tx, change("b", true));
        let early = tx.clone();
        // Someone else's message: nothing of theirs waits, the window keeps its time.
        batches
            .flush_for("c", move |batch| async move {
                let _ = early.send(batch);
            })
            .await;
        assert!(rx.try_recv().is_err());
        let early = tx.clone();
        batches
            .flush_for("b", move |batch| async move {
                let _ = early.send(batch);
            })
            .await;
        assert_eq!(
            rx.try_recv().unwrap(),
            [change("a", true), change("b", true)],
            "sent at once, without waiting for the window"
        );
        // The window closes on nothing: no empty event.
        tokio::time::sleep(BATCH_WINDOW * 2).await;
        assert!(rx.try_recv().is_err());
    }

    #[tokio::test(start_paused = true)]
    async fn a_slow_send_keeps_later_batches_behind_it() {
        let batches = Arc::new(Batches::default());
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let slow = tx.clone();
        batches.push(change("a", true), move |batch| async move {
            tokio::time::sleep(BATCH_WINDOW * 5).await;
            let _ = slow.send(batch);
        });
        tokio::time::sleep(BATCH_WINDOW * 2).await;
        push(&batches, &tx, change("a", false));
        assert_eq!(rx.recv().await.unwrap(), [change("a", true)]);
        assert_eq!(rx.recv().await.unwrap(), [change("a", false)]);
    }
}

/// Marks, in a socket's extensions, that its disconnect handler ran before its connect handler
/// joined anything: the connect handler then does nothing.
#[derive(Debug, Clone, Copy)]
pub struct Left;
