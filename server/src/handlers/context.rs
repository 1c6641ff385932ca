//! What every event handler works with ([`Ctx`]: the socket, the server, who sent it, the
//! shared state), and the tail they share: answering the ack, counting a refusal, delivering
//! what was stored.

use std::sync::Arc;

use natter_protocol::Done;
use serde::Serialize;
use socketioxide::SocketIo;
use socketioxide::adapter::Adapter;
use socketioxide::extract::{AckSender, Extension, SocketRef, State};
use socketioxide::handler::FromMessageParts;
use socketioxide::socket::Socket;
use socketioxide_core::Value;

use super::{Identity, Rejection};
use crate::ServerState;

/// An event's context, extracted once: the sending socket, the server (to reach other
/// sockets), the authenticated sender, and the shared state.
pub struct Ctx<A: Adapter> {
    pub socket: SocketRef<A>,
    pub io: SocketIo<A>,
    pub me: Arc<Identity>,
    pub app: ServerState,
}

/// A socket without its identity or a server without its state: a bug in the wiring.
#[derive(Debug, thiserror::Error)]
#[error("event context missing: {0}")]
pub struct ContextMissing(String);

fn missing(e: impl std::fmt::Display) -> ContextMissing {
    ContextMissing(e.to_string())
}

impl<A: Adapter> FromMessageParts<A> for Ctx<A> {
    type Error = ContextMissing;

    fn from_message_parts(
        s: &Arc<Socket<A>>,
        v: &mut Value,
        ack_id: &Option<i64>,
    ) -> Result<Self, ContextMissing> {
        Ok(Self {
            socket: SocketRef::from_message_parts(s, v, ack_id).map_err(missing)?,
            io: SocketIo::from_message_parts(s, v, ack_id).map_err(missing)?,
            me: Extension::<Arc<Identity>>::from_message_parts(s, v, ack_id)
                .map_err(missing)?
                .0,
            app: State::<ServerState>::from_message_parts(s, v, ack_id)
                .map_err(missing)?
                .0,
        })
    }
}

/// Malformed events a socket has sent; kept in its extensions.
#[derive(Debug, Default, Clone)]
pub struct Malformed(std::sync::Arc<std::sync::atomic::AtomicU32>);

/// For [`Ctx::answer`]: the ack of a request that only succeeds or fails, `{ok: true}`.
pub(super) fn done<T>(_: &T) -> &Done {
    &Done { ok: true }
}

impl<A: Adapter> Ctx<A> {
    /// A refused event: counted for the summary log (and logged alone at debug level); a
    /// socket that keeps sending malformed payloads is disconnected.
    pub(super) fn refused(&self, event: &'static str, rejection: &Rejection) {
        let (me, app, socket) = (&self.me, &self.app, &self.socket);
        tracing::debug!(user = %me.user_id, event, error = %rejection, "refused");
        app.refusals.count(rejection.code().as_str());
        if let Rejection::Unavailable(e) = rejection {
            tracing::error!(user = %me.user_id, event, error = %e, "the store failed");
        }
        if matches!(rejection, Rejection::InvalidPayload(_))
            && let Some(Malformed(count)) = socket.extensions.get::<Malformed>()
            && count.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1
                >= app.limits.max_malformed_events
        {
            tracing::info!(user = %me.user_id, sid = %socket.id, "disconnected: too many malformed events");
            app.refusals.count("disconnected_malformed");
            // Queued after the ack of this one: the client hears why its last event failed,
            // and nothing it sends afterwards is handled.
            let _ = socket.clone().disconnect();
        }
    }

    /// Answers an event's ack: `ack_with` of the value, or `{error, code}` (then counted, see
    /// [`Ctx::refused`]). The value, when there is one, for the handler to go on with.
    pub(super) fn answer<T, R: Serialize + ?Sized>(
        &self,
        ack: AckSender<A>,
        event: &'static str,
        result: Result<T, Rejection>,
        ack_with: impl FnOnce(&T) -> &R,
    ) -> Option<T> {
        match result {
            Ok(value) => {
                send_ack(ack, ack_with(&value));
                Some(value)
            }
            Err(rejection) => {
                send_ack(ack, &rejection.reply());
                self.refused(event, &rejection);
                None
            }
        }
    }

    /// [`Ctx::answer`] with the value itself as the ack.
    pub(super) fn respond<T: Serialize>(
        &self,
        ack: AckSender<A>,
        event: &'static str,
        result: Result<T, Rejection>,
    ) -> Option<T> {
        self.answer(ack, event, result, |value| value)
    }

    /// Delivers what the sender just stored (a message, or a change to one) as `event` to
    /// `rooms` (user rooms, on every node) except the sending socket. A batched client learns
    /// of a newcomer before what they sent: their waiting presence entry leaves first.
    pub(super) async fn deliver<T: Serialize>(
        &self,
        rooms: Vec<String>,
        event: &'static str,
        payload: &T,
    ) {
        let user = &self.me.user_id;
        crate::presence::before_delivering(&self.io, &self.app.presence_batches, user).await;
        if let Err(e) = self.socket.to(rooms).emit(event, payload).await {
            tracing::warn!(%user, event, error = %e, "could not deliver a stored change");
        }
    }
}

/// Emits to one socket; a socket that is gone or too slow to drain its buffer loses the event,
/// which its next login makes good (`users` carries the history).
pub(super) fn emit<A: Adapter, T: Serialize + ?Sized>(
    socket: &SocketRef<A>,
    event: &str,
    data: &T,
) {
    if let Err(e) = socket.emit(event, data) {
        tracing::debug!(sid = %socket.id, event, error = %e, "emit failed");
    }
}

pub(super) fn send_ack<A: Adapter, T: Serialize + ?Sized>(ack: AckSender<A>, data: &T) {
    if let Err(e) = ack.send(data) {
        tracing::debug!(error = %e, "ack failed");
    }
}
