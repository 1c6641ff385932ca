//! Serialises one user's presence changes (first socket in, last socket out).
//!
//! A user's connect and disconnect handlers run as separate tasks. Without ordering, a socket
//! that drops while its own connect handler is still running could be announced offline first
//! and online afterwards, and stay "online" forever. Holding the user's lock across "join the
//! room + announce" and across "count the remaining sockets + announce" makes the last word the
//! right one. Locks are striped: bounded memory, no per-user cleanup.

use std::hash::{BuildHasher, RandomState};

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

/// Marks, in a socket's extensions, that its connect handler joined the user's room and
/// announced it; the disconnect handler only undoes what was done.
#[derive(Debug, Clone, Copy)]
pub struct Joined;

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::time::Duration;

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
}

/// Marks, in a socket's extensions, that its disconnect handler ran before its connect handler
/// joined anything: the connect handler then does nothing.
#[derive(Debug, Clone, Copy)]
pub struct Left;
