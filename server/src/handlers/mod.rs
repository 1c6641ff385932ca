//! Socket.IO event handlers: the guide's protocol on top of the [`Store`](crate::store::Store).
//!
//! Handlers are generic over the adapter so the same code runs on one node (local adapter) and
//! on several (a shared adapter). They never trust the client: the sender of a message is the
//! authenticated user, every payload is parsed with errors kept, and a bad one is answered (ack)
//! or logged, touching nothing else.
//!
//! - [`session`]: the auth middleware (who may join, as whom), connect and disconnect
//!   (presence), and what a session does to itself (`logout`, `set password`).
//! - [`messages`]: `private message`, `fetch messages` and `search messages`.
//! - [`groups`]: `create group`, `add members`, `leave group`, `group message`, and the
//!   `groups` a login gets.
//! - [`awareness`]: `read` markers, `typing`, `set receipts`.
//! - [`bounds`]: answers bounded in bytes (a page, the login history).

pub mod awareness;
pub mod bounds;
pub mod groups;
pub mod messages;
pub mod session;

use natter_protocol::{ErrorCode, ErrorReply};
use serde::Serialize;
use socketioxide::SocketIo;
use socketioxide::adapter::Adapter;
use socketioxide::extract::{AckSender, SocketRef};
use socketioxide::handler::ConnectHandler;

use crate::store::StoreError;

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

/// Why an event was refused; becomes `{error, code}` in the ack.
#[derive(Debug, thiserror::Error)]
enum Rejection {
    #[error("invalid payload: expected {0}")]
    InvalidPayload(&'static str),
    #[error("empty message")]
    EmptyMessage,
    #[error("message too long: {len} bytes, the limit is {max}")]
    MessageTooLong { len: usize, max: usize },
    #[error(
        "invalid clientId: 1 to {} bytes",
        natter_protocol::CLIENT_ID_MAX_BYTES
    )]
    InvalidClientId,
    #[error("unknown user")]
    UnknownUser,
    #[error("the current password is missing or wrong")]
    WrongPassword,
    #[error(
        "a password needs {} to {} characters",
        natter_protocol::PASSWORD_MIN_CHARS,
        natter_protocol::PASSWORD_MAX_BYTES
    )]
    InvalidPassword,
    #[error("another identity has the same name: ask the operator to rename one of them first")]
    NameShared,
    #[error("too many messages: try again in {} ms", .0.as_millis())]
    RateLimited(std::time::Duration),
    #[error("the message holds control characters (only newline and tab are allowed)")]
    InvalidContent,
    #[error("no such message in that conversation")]
    UnknownMessage,
    #[error("not a member of that group")]
    NotMember,
    #[error("{}", group_name_problem(*.0))]
    InvalidName(natter_protocol::UsernameError),
    #[error("unknown file (or uploaded by someone else)")]
    UnknownFile,
    #[error(
        "a search needs {} characters to {} bytes",
        natter_protocol::SEARCH_MIN_CHARS,
        natter_protocol::SEARCH_MAX_BYTES
    )]
    InvalidQuery,
    #[error("this server cannot search (cluster mode has no full-text index)")]
    Unsupported,
    #[error("a group has at most {} members", natter_protocol::GROUP_MAX_MEMBERS)]
    TooManyMembers,
    #[error("server unavailable, try again")]
    Unavailable(#[from] StoreError),
}

fn group_name_problem(e: natter_protocol::UsernameError) -> String {
    use natter_protocol::UsernameError as E;
    match e {
        E::Empty => "a group needs a name".into(),
        E::TooLong => format!(
            "a group name has at most {} characters",
            natter_protocol::GROUP_NAME_MAX_CHARS
        ),
        E::ControlCharacter | E::InvisibleCharacter => {
            "a group name cannot hold control, invisible or direction-changing characters".into()
        }
    }
}

impl Rejection {
    /// A stable name for counting.
    fn kind(&self) -> &'static str {
        match self {
            Rejection::InvalidPayload(_) => "invalid_payload",
            Rejection::EmptyMessage => "empty_message",
            Rejection::MessageTooLong { .. } => "message_too_long",
            Rejection::InvalidClientId => "invalid_client_id",
            Rejection::UnknownUser => "unknown_user",
            Rejection::WrongPassword => "wrong_password",
            Rejection::InvalidPassword => "invalid_password",
            Rejection::NameShared => "name_shared",
            Rejection::RateLimited(_) => "rate_limited",
            Rejection::InvalidContent => "invalid_content",
            Rejection::UnknownMessage => "unknown_message",
            Rejection::NotMember => "not_member",
            Rejection::InvalidName(_) => "invalid_name",
            Rejection::UnknownFile => "unknown_file",
            Rejection::InvalidQuery => "invalid_query",
            Rejection::Unsupported => "unsupported",
            Rejection::TooManyMembers => "too_many_members",
            Rejection::Unavailable(_) => "unavailable",
        }
    }

    fn reply(&self) -> ErrorReply {
        let code = match self {
            Rejection::InvalidPayload(_) => ErrorCode::InvalidPayload,
            Rejection::EmptyMessage => ErrorCode::EmptyMessage,
            Rejection::MessageTooLong { .. } => ErrorCode::MessageTooLong,
            Rejection::InvalidClientId => ErrorCode::InvalidClientId,
            Rejection::UnknownUser => ErrorCode::UnknownUser,
            Rejection::WrongPassword => ErrorCode::WrongPassword,
            Rejection::InvalidPassword => ErrorCode::InvalidPassword,
            Rejection::NameShared => ErrorCode::NameShared,
            Rejection::RateLimited(_) => ErrorCode::RateLimited,
            Rejection::InvalidContent => ErrorCode::InvalidContent,
            Rejection::UnknownMessage => ErrorCode::UnknownMessage,
            Rejection::NotMember => ErrorCode::NotMember,
            Rejection::InvalidName(_) => ErrorCode::InvalidName,
            Rejection::UnknownFile => ErrorCode::UnknownFile,
            Rejection::InvalidQuery => ErrorCode::InvalidQuery,
            Rejection::Unsupported => ErrorCode::Unsupported,
            Rejection::TooManyMembers => ErrorCode::TooManyMembers,
            Rejection::Unavailable(_) => ErrorCode::Unavailable,
        };
        ErrorReply {
            error: self.to_string(),
            code,
            retry_after_ms: match self {
                Rejection::RateLimited(wait) => Some(wait.as_millis().max(1) as u64),
                _ => None,
            },
        }
    }
}

/// Malformed events a socket has sent; kept in its extensions.
#[derive(Debug, Default, Clone)]
pub struct Malformed(std::sync::Arc<std::sync::atomic::AtomicU32>);

/// A refused event: counted for the summary log (and logged alone at debug level); a socket
/// that keeps sending malformed payloads is disconnected.
fn refused<A: Adapter>(
    socket: &SocketRef<A>,
    app: &crate::AppState,
    me: &Identity,
    event: &'static str,
    rejection: &Rejection,
) {
    tracing::debug!(user = %me.user_id, event, error = %rejection, "refused");
    app.refusals.count(rejection.kind());
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
        // Queued after the ack of this one: the client hears why its last event failed, and
        // nothing it sends afterwards is handled.
        let _ = socket.clone().disconnect();
    }
}

/// Emits to one socket; a socket that is gone or too slow to drain its buffer loses the event,
/// which its next login makes good (`users` carries the history).
fn emit<A: Adapter, T: Serialize + ?Sized>(socket: &SocketRef<A>, event: &str, data: &T) {
    if let Err(e) = socket.emit(event, data) {
        tracing::debug!(sid = %socket.id, event, error = %e, "emit failed");
    }
}

fn send_ack<A: Adapter, T: Serialize + ?Sized>(ack: AckSender<A>, data: &T) {
    if let Err(e) = ack.send(data) {
        tracing::debug!(error = %e, "ack failed");
    }
}
