//! Who a socket is: the auth middleware (resume, sign in, or a new identity; join password,
//! unique names, account passwords, throttling), connect and disconnect (rooms, presence), and
//! what a session does to itself (`logout`, `set password`).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;

use axum::extract::ConnectInfo;
use natter_protocol::{
    Auth, Done, Message, Object, PASSWORD_MAX_BYTES, PASSWORD_MIN_CHARS, PresenceChange, Refusal,
    Session, SetPassword, User, event, normalize_username,
};
use serde_json::value::RawValue;
use socketioxide::adapter::Adapter;
use socketioxide::extract::{AckSender, Extension, SocketRef, State, TryData};
use socketioxide::{SocketIo, socket::DisconnectReason};

use super::{Rejection, bounds, emit, messages, send_ack};
use crate::ServerState;
use crate::accounts::{hash_password, join_password_matches, verify_password};
use crate::ids;
use crate::presence::{self, Joined, Left};
use crate::store::{NewUser, StoreError};

/// Who a socket belongs to; set by [`authenticate`], read by every other handler.
#[derive(Debug)]
pub struct Identity {
    pub session_id: String,
    pub user_id: String,
    pub username: String,
    /// What the office directory calls them (directory sign-in).
    pub display_name: Option<String>,
    /// Whether others see this user's read markers, as of the handshake (for `session`).
    pub receipts: bool,
    /// The socket takes presence batched (`batchPresence` in its handshake).
    pub batch_presence: bool,
    /// How a new session was made (`None`: resumed), for the audit log.
    pub signed_in: Option<&'static str>,
}

impl Identity {
    /// Who the handshake found; `receipts` and `batch_presence` are filled in after.
    pub(super) fn new(session_id: String, user_id: String, username: String) -> Self {
        Self {
            session_id,
            user_id,
            username,
            display_name: None,
            receipts: true,
            batch_presence: false,
            signed_in: None,
        }
    }
}

/// Why a handshake is refused. The client sees `Display` as the connect-error message: one of
/// the protocol's [`Refusal`] texts.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("{0}")]
    Refused(Refusal),
    #[error("{}", Refusal::Unavailable)]
    Store(#[from] StoreError),
    #[error("{}", Refusal::Unavailable)]
    Rng(#[from] ids::RngError),
    #[error("{}", Refusal::Unavailable)]
    Password(#[from] crate::accounts::PasswordError),
}

impl Identity {
    /// Named by the directory.
    pub(super) fn named(mut self, display_name: Option<String>) -> Self {
        self.display_name = display_name;
        self
    }

    /// A new session, made this way.
    pub(super) fn new_session(mut self, how: &'static str) -> Self {
        self.signed_in = Some(how);
        self
    }
}

impl From<Refusal> for AuthError {
    fn from(r: Refusal) -> Self {
        AuthError::Refused(r)
    }
}

/// The client's address, as the accept loop recorded it.
fn client_addr<A: Adapter>(socket: &SocketRef<A>) -> IpAddr {
    socket
        .req_parts()
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |c| c.0.ip())
}

/// The auth middleware: resume by `sessionID`, else sign in to or create the identity named
/// `username`, else refuse with the guide's "invalid username".
///
/// Event and disconnect handlers are attached here, before the server answers the handshake:
/// a client may send its first event the moment it sees CONNECT, before the connect handler
/// (a separate task) has run, and that event must not be dropped.
pub async fn authenticate<A: Adapter>(
    socket: SocketRef<A>,
    io: SocketIo<A>,
    TryData(auth): TryData<Object<Auth>>,
    State(app): State<ServerState>,
) -> Result<(), AuthError> {
    let auth = auth.map(|Object(a)| a).unwrap_or_default();
    let addr = client_addr(&socket);
    let tried = auth.username.clone();
    let batch_presence = auth.batch_presence;
    let mut identity = resolve_identity(&app, auth, addr)
        .await
        .and_then(|identity| {
            // Counted on this node: each node caps what it holds.
            let held = io.local().within(identity.user_id.clone()).sockets().len();
            if app
                .limits
                .max_sockets_per_user
                .is_some_and(|max| held >= max)
            {
                return Err(Refusal::TooManyConnections.into());
            }
            Ok(identity)
        })
        .inspect_err(|e| match e {
            AuthError::Refused(r) => {
                tracing::debug!(sid = %socket.id, %addr, refusal = %r, "handshake refused");
                app.refusals.count(r.message());
                // A name was tried: a failed sign-in (a bare unknown sessionID is not one).
                if tried.is_some() {
                    app.audit.record(
                        "sign_in_failed",
                        serde_json::json!({"name": tried, "addr": addr.to_string(), "refusal": r.message()}),
                    );
                }
            }
            other => tracing::error!(sid = %socket.id, error = ?other, "handshake failed"),
        })?;
    if let Some(how) = identity.signed_in {
        app.audit.record(
            "sign_in",
            serde_json::json!({"user": identity.username, "user_id": identity.user_id,
                "addr": addr.to_string(), "how": how}),
        );
    }
    identity.receipts = app.store.sends_receipts(&identity.user_id).await?;
    identity.batch_presence = batch_presence;
    socket.extensions.insert(super::Malformed::default());
    tracing::debug!(sid = %socket.id, user = %identity.user_id, "authenticated");
    socket.extensions.insert(Arc::new(identity));
    socket.on(event::PRIVATE_MESSAGE, messages::on_private_message::<A>);
    socket.on(event::FETCH_MESSAGES, messages::on_fetch_messages::<A>);
    socket.on(event::LOGOUT, on_logout::<A>);
    socket.on(event::SET_PASSWORD, on_set_password::<A>);
    socket.on(event::READ, super::awareness::on_read::<A>);
    socket.on(event::TYPING, super::awareness::on_typing::<A>);
    socket.on(event::SET_RECEIPTS, super::awareness::on_set_receipts::<A>);
    socket.on(event::SEARCH_MESSAGES, messages::on_search_messages::<A>);
    socket.on(event::CREATE_GROUP, super::groups::on_create_group::<A>);
    socket.on(event::ADD_MEMBERS, super::groups::on_add_members::<A>);
    socket.on(event::LEAVE_GROUP, super::groups::on_leave_group::<A>);
    socket.on(event::GROUP_MESSAGE, super::groups::on_group_message::<A>);
    socket.on(event::EDIT_MESSAGE, super::changes::on_edit_message::<A>);
    socket.on(
        event::DELETE_MESSAGE,
        super::changes::on_delete_message::<A>,
    );
    socket.on(event::REACT, super::changes::on_react::<A>);
    socket.on(event::SET_STATUS, super::status::on_set_status::<A>);
    socket.on_disconnect(on_disconnect::<A>);
    Ok(())
}

async fn resolve_identity(
    app: &ServerState,
    auth: Auth,
    addr: IpAddr,
) -> Result<Identity, AuthError> {
    let mut revoked = false;
    if let Some(session_id) = auth.session_id {
        if let Some(user) = app.store.find_session(&session_id).await? {
            return Ok(
                Identity::new(session_id, user.user_id, user.username).named(user.display_name)
            );
        }
        revoked = true;
    }
    // The guide's client sends `{sessionID}` alone and expects "invalid username" when the
    // server does not know it (it then asks for a name again).
    let raw = auth.username.ok_or(Refusal::InvalidUsername)?;
    if !app.throttle.allows(addr).await {
        return Err(Refusal::TooManyAttempts.into());
    }
    if let Some(expected) = &app.auth.join_password {
        let given = auth
            .join_password
            .as_deref()
            .ok_or(Refusal::JoinPasswordRequired)?;
        if !join_password_matches(given, expected) {
            app.throttle.failed(addr).await;
            return Err(Refusal::WrongJoinPassword.into());
        }
    }
    if let Some(directory) = &app.directory {
        // A revoked session with no password is what the app sends after a revocation: the
        // person is told so, not asked for a password they never gave.
        if revoked && auth.password.as_deref().is_none_or(str::is_empty) {
            return Err(Refusal::SessionRevoked.into());
        }
        return super::directory::sign_in(app, directory, &raw, auth.password, addr).await;
    }
    let username = normalize_username(&raw).map_err(|_| Refusal::InvalidUsername)?;
    let password = auth.password.filter(|p| !p.is_empty());
    let existing = app.store.accounts_named(username).await?;
    if let Some(account) = existing.first() {
        // Only an account with a password can be signed in to from a new session; a session
        // that was revoked does not give its name back.
        let (Some(hash), true) = (&account.password_hash, existing.len() == 1) else {
            return Err(if revoked {
                Refusal::SessionRevoked
            } else {
                Refusal::NameTaken
            }
            .into());
        };
        let Some(password) = password else {
            return Err(if revoked {
                Refusal::SessionRevoked
            } else {
                Refusal::PasswordRequired
            }
            .into());
        };
        if !verify_password(password, hash.clone()).await? {
            app.throttle.failed(addr).await;
            return Err(Refusal::WrongPassword.into());
        }
        let session_id = ids::new_session_id()?;
        app.store.add_session(&session_id, &account.user_id).await?;
        return Ok(Identity::new(
            session_id,
            account.user_id.clone(),
            account.username.clone(),
        )
        .new_session("password"));
    }
    if let Some(buckets) = &app.new_identities
        && buckets.take(&addr.to_string()).await.is_err()
    {
        return Err(Refusal::TooManyAttempts.into());
    }
    let password_hash = match password {
        Some(p) => {
            check_password_rule(&p).map_err(|_| Refusal::InvalidPassword)?;
            Some(hash_password(p).await?)
        }
        None if app.auth.require_password => return Err(Refusal::PasswordRequired.into()),
        None => None,
    };
    let session_id = ids::new_session_id()?;
    let user_id = ids::new_user_id()?;
    let created = app
        .store
        .create_user(NewUser {
            session_id: session_id.clone(),
            user_id: user_id.clone(),
            username: username.to_owned(),
            password_hash,
            directory: false,
            display_name: None,
        })
        .await?;
    created.map_err(|_| Refusal::NameTaken)?;
    Ok(Identity::new(session_id, user_id, username.to_owned()).new_session("new name"))
}

fn check_password_rule(password: &str) -> Result<(), Rejection> {
    if password.chars().count() < PASSWORD_MIN_CHARS || password.len() > PASSWORD_MAX_BYTES {
        return Err(Rejection::InvalidPassword);
    }
    Ok(())
}

/// After the handshake: `session`, join the user's and the session's rooms, `users`, and
/// `user connected`.
pub async fn on_connect<A: Adapter>(
    socket: SocketRef<A>,
    io: SocketIo<A>,
    Extension(me): Extension<Arc<Identity>>,
    State(app): State<ServerState>,
) {
    let _presence = app.presence.lock(&me.user_id).await;
    // socketioxide's `connected()` cannot tell: a close that races the handshake is undone by
    // its own `set_connected(true)` after sending CONNECT. Our own marks, under the user's
    // lock, can.
    if socket.extensions.get::<Left>().is_some() {
        // Its disconnect handler ran first and found nothing to undo.
        return;
    }
    // `session` first: if the transport closed while the middleware ran, socketioxide could
    // not route that close to this socket (not yet in its namespace), so no disconnect handler
    // will ever run for it, and this send fails. Announcing such a socket would leave the user
    // online for good.
    let session = Session {
        session_id: me.session_id.clone(),
        user_id: me.user_id.clone(),
        username: me.username.clone(),
        receipts: me.receipts,
        display_name: me.display_name.clone(),
    };
    if let Err(e) = socket.emit(event::SESSION, &session) {
        tracing::debug!(sid = %socket.id, error = %e, "gone before its session was sent");
        return;
    }
    socket.join([me.user_id.clone(), ids::session_room(&me.session_id)]);
    socket.join(if me.batch_presence {
        presence::BATCHED
    } else {
        presence::GUIDE
    });
    socket.extensions.insert(Joined);

    if let Err(e) = app.store.set_connected(&me.user_id, true).await {
        tracing::error!(user = %me.user_id, error = %e, "could not record presence");
    }
    match users_for(&app, &me.user_id).await {
        Ok(users) => emit(&socket, event::USERS, &users),
        Err(e) => tracing::error!(user = %me.user_id, error = %e, "could not list users"),
    }
    // Always, even empty: it tells a client the login's lists are complete. The guide's
    // client ignores it.
    match super::groups::groups_for(&app, &me.user_id).await {
        Ok(groups) => emit(&socket, event::GROUPS, &groups),
        Err(e) => tracing::error!(user = %me.user_id, error = %e, "could not list groups"),
    }
    // What the operator announced meanwhile (always, even empty: the list is complete).
    match app
        .store
        .standing_announcements(natter_protocol::now_ms())
        .await
    {
        Ok(standing) => emit(&socket, event::ANNOUNCEMENTS, &standing),
        Err(e) => tracing::error!(user = %me.user_id, error = %e, "could not list announcements"),
    }

    let change = PresenceChange::online(&me.user_id, &me.username).named(me.display_name.clone());
    presence::announce(&io, Some(me.user_id.clone()), &app.presence_batches, change).await;
}

/// Every known user, each with the recent part of their conversation with `user_id`.
///
/// Most entries (no conversation with the newcomer) are the store's ready-made JSON: a login
/// storm lists everyone to every newcomer, and copying bytes is what that can afford.
async fn users_for(app: &ServerState, user_id: &str) -> Result<Vec<ListEntry>, StoreError> {
    let users = app.store.users().await?;
    let mut conversations: std::collections::HashMap<String, Vec<Message>> = app
        .store
        .recent_conversations(user_id, app.limits.history_per_chat)
        .await?
        .into_iter()
        .collect();
    bounds::trim_history(&mut conversations, bounds::MAX_LOGIN_HISTORY_BYTES);
    let mut reads = app.store.read_states(user_id).await?;
    Ok(users
        .into_iter()
        .map(|u| {
            // No lookups for someone with no conversations (everyone new, in a storm).
            let messages = (!conversations.is_empty())
                .then(|| conversations.remove(&*u.user_id))
                .flatten()
                .unwrap_or_default();
            let read = (!reads.is_empty())
                .then(|| reads.remove(&*u.user_id))
                .flatten();
            // The user receiving the list is connected by definition, whatever the store says.
            let me = &*u.user_id == user_id;
            if messages.is_empty() && read.is_none() && (u.connected || !me) {
                return ListEntry::Plain(u.json);
            }
            ListEntry::Full(User {
                connected: u.connected || me,
                messages,
                unread: read.as_ref().map_or(0, |r| r.unread),
                read_up_to: read.map_or(0, |r| r.read_up_to),
                ..u.user()
            })
        })
        .collect())
}

/// One entry of `users`: the store's JSON of a user as is, or one built for this reader.
#[derive(serde::Serialize)]
#[serde(untagged)]
enum ListEntry {
    Plain(Arc<RawValue>),
    Full(User),
}

/// When the user's last socket (on any node) has gone: record it and tell everyone.
pub async fn on_disconnect<A: Adapter>(
    socket: SocketRef<A>,
    io: SocketIo<A>,
    reason: DisconnectReason,
    Extension(me): Extension<Arc<Identity>>,
    State(app): State<ServerState>,
) {
    let _presence = app.presence.lock(&me.user_id).await;
    tracing::debug!(sid = %socket.id, user = %me.user_id, ?reason, "socket disconnected");
    if socket.extensions.get::<Joined>().is_none() {
        // Before its connect handler: that one must not announce it afterwards.
        socket.extensions.insert(Left);
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
    let change = PresenceChange::offline(&me.user_id);
    presence::announce(&io, None, &app.presence_batches, change).await;
}

/// Extension `logout`: revoke this session, ack, then disconnect every socket of it (on every
/// node). Other sessions of the same person stay.
pub async fn on_logout<A: Adapter>(
    io: SocketIo<A>,
    ack: AckSender<A>,
    Extension(me): Extension<Arc<Identity>>,
    State(app): State<ServerState>,
) {
    if let Err(e) = app.store.revoke_session(&me.session_id).await {
        tracing::error!(user = %me.user_id, error = %e, "could not revoke a session");
        send_ack(ack, &Rejection::from(e).reply());
        return;
    }
    tracing::info!(user = %me.user_id, "session revoked by its owner");
    app.audit.record(
        "logout",
        serde_json::json!({"user": me.username, "user_id": me.user_id}),
    );
    send_ack(ack, &Done { ok: true });
    if let Err(e) = io.to(ids::session_room(&me.session_id)).disconnect().await {
        tracing::warn!(user = %me.user_id, error = ?e, "could not disconnect a revoked session");
    }
}

/// Extension `set password`: protect one's name with a password, or change it (the current one
/// is needed then).
pub async fn on_set_password<A: Adapter>(
    socket: SocketRef<A>,
    TryData(payload): TryData<Object<SetPassword>>,
    ack: AckSender<A>,
    Extension(me): Extension<Arc<Identity>>,
    State(app): State<ServerState>,
) {
    let addr = client_addr(&socket);
    match set_password(&app, &me, payload, addr).await {
        Ok(()) => send_ack(ack, &Done { ok: true }),
        Err(rejection) => {
            tracing::info!(user = %me.user_id, error = %rejection, "set password refused");
            send_ack(ack, &rejection.reply());
        }
    }
}

async fn set_password(
    app: &ServerState,
    me: &Identity,
    payload: Result<Object<SetPassword>, impl std::fmt::Debug>,
    addr: IpAddr,
) -> Result<(), Rejection> {
    let Object(req) =
        payload.map_err(|_| Rejection::InvalidPayload("{password, currentPassword?}"))?;
    check_password_rule(&req.password)?;
    let Some(account) = app.store.account(&me.user_id).await? else {
        return Err(Rejection::UnknownUser);
    };
    if account.directory || app.directory.is_some() {
        // The directory holds the password: a Natter one would never be asked for.
        return Err(Rejection::NotAllowed(
            "setting a password here (your network account's password is the directory's)",
        ));
    }
    if let Some(hash) = account.password_hash {
        if !app.throttle.allows(addr).await {
            return Err(Rejection::WrongPassword);
        }
        let current = req.current_password.unwrap_or_default();
        let ok = verify_password(current, hash)
            .await
            .map_err(|e| Rejection::Unavailable(StoreError::Commit(e.to_string())))?;
        if !ok {
            app.throttle.failed(addr).await;
            return Err(Rejection::WrongPassword);
        }
    }
    if app.store.accounts_named(&account.username).await?.len() > 1 {
        return Err(Rejection::NameShared);
    }
    let hash = hash_password(req.password)
        .await
        .map_err(|e| Rejection::Unavailable(StoreError::Commit(e.to_string())))?;
    app.store.set_password(&me.user_id, Some(hash)).await?;
    Ok(())
}
