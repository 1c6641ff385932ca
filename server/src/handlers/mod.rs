//! Socket.IO event handlers: the guide's protocol on top of the [`Store`](crate::store::Store).
//!
//! Handlers are generic over the adapter so the same code runs on one node (local adapter) and
//! on several (a shared adapter). They never trust the client: the sender of a message is the
//! authenticated user, every payload is parsed with errors kept, and a bad one is answered (ack)
//! or logged, touching nothing else.
//!
//! - [`session`]: the auth middleware (who may join, as whom), connect and disconnect
//!   (presence), and what a session does to itself (`logout`, `set password`);
//!   `directory`: a new session signed in by the office directory.
//! - [`messages`]: `private message`, `fetch messages` and `search messages`.
//! - [`groups`]: `create group`, `add members`, `leave group`, `group message`, and the
//!   `groups` a login gets.
//! - [`changes`]: `edit message`, `delete message`, `react`.
//! - [`awareness`]: `read` markers, `typing`, `set receipts`; [`status`]: `set status`.
//! - [`bounds`]: answers bounded in bytes (a page, the login history).
//! - [`context`]: what every handler works with ([`Ctx`]) and the tail they share (answer the
//!   ack, count a refusal, deliver); [`rejection`]: why an event is refused.

pub mod awareness;
pub mod bounds;
pub mod changes;
mod context;
mod directory;
pub mod groups;
pub mod messages;
mod rejection;
pub mod session;
pub mod status;

use socketioxide::SocketIo;
use socketioxide::adapter::Adapter;
use socketioxide::handler::ConnectHandler;

pub use context::{ContextMissing, Ctx, Malformed};
use context::{done, emit, send_ack};
use rejection::Rejection;
pub use session::Identity;

/// Registers the guide's namespace: auth middleware, then the connect handler.
pub fn register<A: Adapter + socketioxide_core::adapter::DefinedAdapter>(
    io: &SocketIo<A>,
) -> A::InitRes {
    io.ns(
        "/",
        session::on_connect::<A>.with(session::authenticate::<A>),
    )
}
