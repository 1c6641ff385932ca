//! Socket.IO event handlers: the guide's protocol on top of the [`Store`](crate::store::Store).
//!
//! Handlers are generic over the adapter so the same code runs on one node (local adapter) and
//! on several (a shared adapter). They never trust the client: the sender of a message is the
//! authenticated user, every payload is parsed with errors kept, and a bad one is answered (ack)
//! or logged, touching nothing else.

use std::sync::Arc;

use natter_protocol::{
    Auth, ErrorCode, ErrorReply, FetchMessages, INVALID_USERNAME, Message, MessagePage, Object,
    SendMessage, Session, User, event, normalize_username,
};
use serde::Serialize;
use socketioxide::adapter::Adapter;
use socketioxide::extract::{AckSender, Extension, SocketRef, State, TryData};
use socketioxide::handler::ConnectHandler;
use socketioxide::{SocketIo, socket::DisconnectReason};

use crate::AppState;
use crate::ids;
use crate::presence::Joined;
use crate::store::{Inserted, NewMessage, StoreError};

/// Who a socket belongs to; set by [`authenticate`], read by every other handler.
#[derive(Debug)]
pub struct Identity {
    pub session_id: String,
    pub user_id: String,
    pub username: String,
}

/// Registers the guide's namespace: auth middleware, then the connect handler.
pub fn register<A: Adapter + socketioxide_core::adapter::DefinedAdapter>(
    io: &SocketIo<A>,
) -> A::InitRes {
    io.ns("/", on_connect::<A>.with(authenticate::<A>))
}

/// Why a handshake is refused. The client sees `Display` as the connect-error message.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("{INVALID_USERNAME}")]
    InvalidUsername,
    #[error("server unavailable, try again")]
    Unavailable(#[from] StoreError),
    #[error("server unavailable, try again")]
    Rng(#[from] ids::RngError),
}

/// The guide's auth middleware: resume by `sessionID`, else start a session for `username`,
/// else refuse with "invalid username".
///
/// Event and disconnect handlers are attached here, before the server answers the handshake:
/// a client may send its first event the moment it sees CONNECT, before the connect handler
/// (a separate task) has run, and that event must not be dropped.
pub async fn authenticate<A: Adapter>(
    socket: SocketRef<A>,
    TryData(auth): TryData<Object<Auth>>,
    State(app): State<AppState>,
) -> Result<(), AuthError> {
    let auth = auth.map(|Object(a)| a).unwrap_or_default();
    let identity = resolve_identity(&app, auth).await.inspect_err(|e| {
        if let AuthError::InvalidUsername = e {
            tracing::debug!(sid = %socket.id, "handshake refused: invalid username");
        } else {
            tracing::error!(sid = %socket.id, error = ?e, "handshake failed");
        }
    })?;
    tracing::debug!(sid = %socket.id, user = %identity.user_id, "authenticated");
    socket.extensions.insert(Arc::new(identity));
    socket.on(event::PRIVATE_MESSAGE, on_private_message::<A>);
    socket.on(event::FETCH_MESSAGES, on_fetch_messages::<A>);
    socket.on_disconnect(on_disconnect::<A>);
    Ok(())
}

async fn resolve_identity(app: &AppState, auth: Auth) -> Result<Identity, AuthError> {
    if let Some(session_id) = auth.session_id
        && let Some(user) = app.store.find_session(&session_id).await?
    {
        return Ok(Identity {
            session_id,
            user_id: user.user_id,
            username: user.username,
        });
    }
    let raw = auth.username.ok_or(AuthError::InvalidUsername)?;
    let username = normalize_username(&raw).map_err(|_| AuthError::InvalidUsername)?;
    let session_id = ids::new_session_id()?;
    let user_id = ids::new_user_id()?;
    app.store
        .create_session(&session_id, &user_id, username)
        .await?;
    Ok(Identity {
        session_id,
        user_id,
        username: username.to_owned(),
    })
}

/// After the handshake: `session`, join the user's room, `users`, and `user connected`.
pub async fn on_connect<A: Adapter>(
    socket: SocketRef<A>,
    Extension(me): Extension<Arc<Identity>>,
    State(app): State<AppState>,
) {
    let _presence = app.presence.lock(&me.user_id).await;
    if !socket.connected() {
        // It left before we ran; its disconnect handler saw no `Joined` and did nothing.
        return;
    }
    socket.join(me.user_id.clone());
    socket.extensions.insert(Joined);

    emit(
        &socket,
        event::SESSION,
        &Session {
            session_id: me.session_id.clone(),
            user_id: me.user_id.clone(),
            username: me.username.clone(),
        },
    );

    if let Err(e) = app.store.set_connected(&me.user_id, true).await {
        tracing::error!(user = %me.user_id, error = %e, "could not record presence");
    }
    match users_for(&app, &me.user_id).await {
        Ok(users) => emit(&socket, event::USERS, &users),
        Err(e) => tracing::error!(user = %me.user_id, error = %e, "could not list users"),
    }

    let announcement = User {
        user_id: me.user_id.clone(),
        username: me.username.clone(),
        connected: true,
        messages: Vec::new(),
    };
    if let Err(e) = socket
        .broadcast()
        .except(me.user_id.clone())
        .emit(event::USER_CONNECTED, &announcement)
        .await
    {
        tracing::warn!(user = %me.user_id, error = %e, "could not announce connection");
    }
}

/// Every known user, each with the recent part of their conversation with `user_id`.
async fn users_for(app: &AppState, user_id: &str) -> Result<Vec<User>, StoreError> {
    let users = app.store.users().await?;
    let mut conversations: std::collections::HashMap<String, Vec<Message>> = app
        .store
        .recent_conversations(user_id, app.limits.history_per_chat)
        .await?
        .into_iter()
        .collect();
    Ok(users
        .into_iter()
        .map(|u| User {
            messages: conversations.remove(&u.user_id).unwrap_or_default(),
            // The user receiving the list is connected by definition, whatever the store says.
            connected: u.connected || u.user_id == user_id,
            user_id: u.user_id,
            username: u.username,
        })
        .collect())
}

/// When the user's last socket (on any node) has gone: record it and tell everyone.
pub async fn on_disconnect<A: Adapter>(
    socket: SocketRef<A>,
    io: SocketIo<A>,
    reason: DisconnectReason,
    Extension(me): Extension<Arc<Identity>>,
    State(app): State<AppState>,
) {
    let _presence = app.presence.lock(&me.user_id).await;
    tracing::debug!(sid = %socket.id, user = %me.user_id, ?reason, "socket disconnected");
    if socket.extensions.get::<Joined>().is_none() {
        return;
    }
    // This node's own sockets of the user (the leaving one is still listed).
    let local = io
        .local()
        .within(me.user_id.clone())
        .sockets()
        .iter()
        .filter(|s| s.id != socket.id)
        .count();
    if local == 0
        && let Err(e) = app.store.set_connected(&me.user_id, false).await
    {
        tracing::error!(user = %me.user_id, error = %e, "could not record presence");
    }
    // Every node's, through the adapter.
    let remaining = match io.within(me.user_id.clone()).fetch_sockets().await {
        Ok(sockets) => sockets.iter().filter(|s| s.data().id != socket.id).count(),
        Err(e) => {
            tracing::warn!(user = %me.user_id, error = ?e, "could not count the user's sockets");
            return;
        }
    };
    if remaining > 0 {
        return;
    }
    // A stalled node's sockets are missing from a timed-out adapter answer; the store still
    // lists the user on that node while its heartbeat lasts.
    match app.store.is_connected(&me.user_id).await {
        Ok(false) => {}
        Ok(true) => return,
        Err(e) => tracing::warn!(user = %me.user_id, error = %e, "could not read presence"),
    }
    if let Err(e) = socket
        .broadcast()
        .emit(event::USER_DISCONNECTED, &me.user_id)
        .await
    {
        tracing::warn!(user = %me.user_id, error = %e, "could not announce disconnection");
    }
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
    #[error("server unavailable, try again")]
    Unavailable(#[from] StoreError),
}

impl Rejection {
    fn reply(&self) -> ErrorReply {
        let code = match self {
            Rejection::InvalidPayload(_) => ErrorCode::InvalidPayload,
            Rejection::EmptyMessage => ErrorCode::EmptyMessage,
            Rejection::MessageTooLong { .. } => ErrorCode::MessageTooLong,
            Rejection::InvalidClientId => ErrorCode::InvalidClientId,
            Rejection::UnknownUser => ErrorCode::UnknownUser,
            Rejection::Unavailable(_) => ErrorCode::Unavailable,
        };
        ErrorReply {
            error: self.to_string(),
            code,
        }
    }
}

/// `private message`: validate, store (committed), ack, then deliver to the recipient's room
/// and the sender's other sockets.
pub async fn on_private_message<A: Adapter>(
    socket: SocketRef<A>,
    TryData(payload): TryData<Object<SendMessage>>,
    ack: AckSender<A>,
    Extension(me): Extension<Arc<Identity>>,
    State(app): State<AppState>,
) {
    let result = store_message(&app, &me, payload).await;
    let message = match result {
        Ok(Inserted::New(m)) => {
            send_ack(ack, &m);
            m
        }
        Ok(Inserted::Duplicate(m)) => {
            // Already delivered the first time; the retry only needs its ack.
            send_ack(ack, &m);
            return;
        }
        Err(rejection) => {
            tracing::warn!(user = %me.user_id, error = %rejection, "private message refused");
            send_ack(ack, &rejection.reply());
            return;
        }
    };
    if let Err(e) = socket
        .to(message.to.clone())
        .to(me.user_id.clone())
        .emit(event::PRIVATE_MESSAGE, &message)
        .await
    {
        tracing::warn!(id = message.id, error = %e, "could not deliver a stored message");
    }
}

async fn store_message(
    app: &AppState,
    me: &Identity,
    payload: Result<Object<SendMessage>, impl std::fmt::Debug>,
) -> Result<Inserted, Rejection> {
    let Object(msg) = payload.map_err(|_| Rejection::InvalidPayload("{content, to, clientId?}"))?;
    if msg.content.trim().is_empty() {
        return Err(Rejection::EmptyMessage);
    }
    if msg.content.len() > app.limits.max_message_bytes {
        return Err(Rejection::MessageTooLong {
            len: msg.content.len(),
            max: app.limits.max_message_bytes,
        });
    }
    if let Some(id) = &msg.client_id
        && (id.is_empty() || id.len() > natter_protocol::CLIENT_ID_MAX_BYTES)
    {
        return Err(Rejection::InvalidClientId);
    }
    if !app.store.user_exists(&msg.to).await? {
        return Err(Rejection::UnknownUser);
    }
    Ok(app
        .store
        .insert_message(NewMessage {
            from: me.user_id.clone(),
            to: msg.to,
            content: msg.content,
            client_id: msg.client_id,
        })
        .await?)
}

/// Extension `fetch messages`: an older page of one of the user's own conversations.
pub async fn on_fetch_messages<A: Adapter>(
    TryData(payload): TryData<Object<FetchMessages>>,
    ack: AckSender<A>,
    Extension(me): Extension<Arc<Identity>>,
    State(app): State<AppState>,
) {
    match fetch_page(&app, &me, payload).await {
        Ok(page) => send_ack(ack, &page),
        Err(rejection) => {
            tracing::warn!(user = %me.user_id, error = %rejection, "fetch messages refused");
            send_ack(ack, &rejection.reply());
        }
    }
}

async fn fetch_page(
    app: &AppState,
    me: &Identity,
    payload: Result<Object<FetchMessages>, impl std::fmt::Debug>,
) -> Result<MessagePage, Rejection> {
    let Object(req) = payload.map_err(|_| Rejection::InvalidPayload("{with, before?, limit?}"))?;
    if !app.store.user_exists(&req.with).await? {
        return Err(Rejection::UnknownUser);
    }
    let limit = req
        .limit
        .unwrap_or(app.limits.history_per_chat)
        .clamp(1, app.limits.max_page);
    let (messages, has_more) = app
        .store
        .page(&me.user_id, &req.with, req.before, limit)
        .await?;
    Ok(MessagePage { messages, has_more })
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
