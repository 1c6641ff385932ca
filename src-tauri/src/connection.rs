//! The connection manager: one task owns the socket.io client and every piece of connection
//! state; commands and client callbacks reach it as messages, so there are no locks and the
//! order of events is the order they happened.
//!
//! It is built around what rust_socketio 0.6 does (see TOOLCHAIN.md):
//! - `connect()` succeeding says nothing: we are `Connected` only once `session` arrived, and
//!   nothing is emitted before that (an early emit makes the server drop the connection);
//! - a refusal arrives as an `Error` callback ("ConnectError"), after which the client would
//!   loop: we drop that client and stop;
//! - a dead server shows up as an `Error` callback, and its own reconnect loop drops emits and
//!   cannot change auth: we turn its reconnection off and reconnect ourselves, with backoff, a
//!   fresh client each time, resuming with `{sessionID}`;
//! - ack ids are random in 0..999, so only one message is in flight at a time (the outbox is a
//!   FIFO: that also keeps the order in which they were typed); each carries a `clientId`, so a
//!   retry after a lost ack is stored once;
//! - callbacks run one after another, so ours only forward a message to this task.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures_util::FutureExt;
use natter_protocol::client;
use natter_protocol::ipc::{AppEvent, ConnectionState, OutboxEntry, SendOutcome};
use natter_protocol::{
    Attachment, Auth, Done, ErrorCode, Group, Message, MessagePage, PresenceChange, ReadMarker,
    Refusal, Reply, SearchResults, Session, TypingFrom, User, UserRenamed, event,
};
use rust_socketio::asynchronous::{Client, ClientBuilder};
use rust_socketio::{Event, Payload, TransportType};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use tokio::sync::{mpsc, oneshot};

use crate::error::AppError;
use crate::models::SavedSession;
use crate::persist::{Persist, Pins};
use crate::server_url;
use crate::tls::{self, Presented};

/// What a first login (or a sign-in on a new computer) sends.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Credentials {
    pub username: String,
    pub password: Option<String>,
    pub join_password: Option<String>,
}

impl Credentials {
    fn auth(&self) -> Auth {
        Auth {
            username: Some(self.username.clone()),
            password: self.password.clone(),
            join_password: self.join_password.clone(),
            ..Auth::default()
        }
    }
}

/// How long a request the server acks (`fetch messages`, `set password`) may take.
const SERVER_ANSWER_TIMEOUT: Duration = Duration::from_secs(15);

/// How long a logout waits for the server to confirm the revocation.
const LOGOUT_TIMEOUT: Duration = Duration::from_secs(3);

/// Where the manager sends what the UI must learn.
pub type Sink = Arc<dyn Fn(AppEvent) + Send + Sync>;

/// Timeouts and backoff; tests shorten them.
#[derive(Debug, Clone, Copy)]
pub struct Timing {
    /// From starting a connection to `session`.
    pub session_timeout: Duration,
    /// From emitting a message to its ack.
    pub ack_timeout: Duration,
    pub backoff_min: Duration,
    pub backoff_max: Duration,
}

impl Default for Timing {
    fn default() -> Self {
        Self {
            session_timeout: Duration::from_secs(10),
            ack_timeout: Duration::from_secs(10),
            backoff_min: Duration::from_millis(500),
            backoff_max: Duration::from_secs(10),
        }
    }
}

/// The delay before reconnect attempt `attempt` (1-based): doubling from `min`, capped at
/// `max`, with ±20% jitter so a server restart is not met by every app at the same instant.
pub fn backoff(attempt: u32, timing: &Timing) -> Duration {
    let exp = timing
        .backoff_min
        .saturating_mul(1u32 << attempt.saturating_sub(1).min(16));
    let base = exp.min(timing.backoff_max);
    let jitter = (random_u64() % 41) as f64 / 100.0 - 0.2; // -0.20..=0.20
    base.mul_f64(1.0 + jitter)
}

fn random_u64() -> u64 {
    let mut b = [0u8; 8];
    // Without OS randomness, jitter and ids fall back to the clock: still unique enough here.
    if getrandom::fill(&mut b).is_err() {
        return now_ms() as u64 ^ u64::from(std::process::id());
    }
    u64::from_le_bytes(b)
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// A handle on the manager task; cheap to clone, kept in Tauri's managed state.
#[derive(Clone)]
pub struct Connection {
    tx: mpsc::UnboundedSender<Input>,
}

impl Connection {
    /// Loads what was persisted and starts the manager task. Nothing connects until
    /// [`Connection::start`] (the UI calls it once it listens).
    pub fn spawn(sink: Sink, persist: Box<dyn Persist>, timing: Timing) -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        let manager = Manager::new(sink, persist, timing, tx.clone());
        tauri::async_runtime::spawn(manager.run(rx));
        Self { tx }
    }

    async fn ask<T>(&self, input: impl FnOnce(oneshot::Sender<T>) -> Input) -> Result<T, AppError> {
        let (tx, rx) = oneshot::channel();
        self.tx.send(input(tx)).map_err(|_| AppError::Stopped)?;
        rx.await.map_err(|_| AppError::Stopped)
    }

    /// Asks the manager for something the server answers (an ack): the manager hands back a
    /// receiver at once and keeps serving; the answer is awaited here, bounded.
    async fn ask_server<T>(
        &self,
        input: impl FnOnce(Responder<oneshot::Receiver<Result<T, AppError>>>) -> Input,
    ) -> Result<T, AppError> {
        let rx = self.ask(input).await?;
        tokio::time::timeout(SERVER_ANSWER_TIMEOUT, rx)
            .await
            .map_err(|_| AppError::Timeout)?
            .map_err(|_| AppError::Stopped)?
    }

    /// (Re)sends the whole state as events and resumes a saved session.
    pub async fn start(&self) -> Result<(), AppError> {
        self.ask(|reply| Input::Start { reply }).await
    }

    /// Starts a new session as `credentials.username` on `server_url` (as typed by the
    /// person). The outcome arrives as connection events: connected, refused, unreachable, or
    /// a certificate to trust first. The server alone judges the credentials, so its refusal is
    /// what the person sees.
    pub async fn login(&self, server_url: &str, credentials: Credentials) -> Result<(), AppError> {
        let server_url = server_url::normalize_list(server_url)?;
        let nonempty = |v: Option<String>| v.filter(|s| !s.is_empty());
        let credentials = Credentials {
            username: credentials.username.trim().to_owned(),
            password: nonempty(credentials.password),
            join_password: nonempty(credentials.join_password),
        };
        self.ask(|reply| Input::Login {
            server_url,
            credentials,
            reply,
        })
        .await
    }

    /// The person trusts the certificate whose fingerprint they were shown; the connection
    /// goes on. Fails if the server now presents another one.
    pub async fn trust(&self, fingerprint: &str) -> Result<(), AppError> {
        let fingerprint = fingerprint.to_owned();
        self.ask(|reply| Input::Trust { fingerprint, reply })
            .await?
    }

    /// Protects the person's name with a password, or changes it.
    pub async fn set_password(
        &self,
        password: &str,
        current_password: Option<&str>,
    ) -> Result<(), AppError> {
        let (password, current_password) =
            (password.to_owned(), current_password.map(str::to_owned));
        self.ask_server(|reply| Input::SetPassword {
            password,
            current_password,
            reply,
        })
        .await
    }

    /// Queues a message (to a person or a group, with a file already uploaded or not);
    /// returns the stored message once acked, or `Queued` while offline.
    pub async fn send(
        &self,
        to: &str,
        content: &str,
        attachment: Option<Attachment>,
    ) -> Result<SendOutcome, AppError> {
        if content.trim().is_empty() && attachment.is_none() {
            return Err(AppError::EmptyMessage);
        }
        let (to, content) = (to.to_owned(), content.to_owned());
        self.ask(|reply| Input::Send {
            to,
            content,
            attachment,
            reply,
        })
        .await?
    }

    /// Emits `event` with an ack and reads the answer as `T` (or the server's `{error}`).
    async fn request<T: DeserializeOwned>(
        &self,
        event: &'static str,
        payload: Value,
    ) -> Result<T, AppError> {
        let answer = self
            .ask_server(|reply| Input::Request {
                event,
                payload,
                reply,
            })
            .await?;
        serde_json::from_value::<Reply<T>>(answer)
            .map_err(|e| AppError::Rejected(format!("unexpected answer: {e}")))?
            .into_result()
            .map_err(|e| AppError::Rejected(e.error))
    }

    /// A page of older messages with `with` (a person or a group), before message id `before`.
    pub async fn fetch_older(
        &self,
        with: &str,
        before: Option<u64>,
    ) -> Result<MessagePage, AppError> {
        let mut payload = json!({ "with": with });
        if let Some(before) = before {
            payload["before"] = json!(before);
        }
        self.request(event::FETCH_MESSAGES, payload).await
    }

    pub async fn create_group(&self, name: &str, members: &[String]) -> Result<Group, AppError> {
        self.request(
            event::CREATE_GROUP,
            json!({ "name": name, "members": members }),
        )
        .await
    }

    pub async fn add_members(&self, group_id: &str, members: &[String]) -> Result<Group, AppError> {
        self.request(
            event::ADD_MEMBERS,
            json!({ "groupID": group_id, "members": members }),
        )
        .await
    }

    pub async fn leave_group(&self, group_id: &str) -> Result<(), AppError> {
        let _: Done = self
            .request(event::LEAVE_GROUP, json!({ "groupID": group_id }))
            .await?;
        Ok(())
    }

    /// Messages of the person's conversations (or of `with` only) holding `q`, newest first.
    pub async fn search(&self, q: &str, with: Option<&str>) -> Result<SearchResults, AppError> {
        let mut payload = json!({ "q": q });
        if let Some(with) = with {
            payload["with"] = json!(with);
        }
        self.request(event::SEARCH_MESSAGES, payload).await
    }

    /// Where files go while connected: the node in use, the session, its pinned certificate.
    pub async fn endpoint(&self) -> Result<Endpoint, AppError> {
        self.ask(|reply| Input::Endpoint { reply })
            .await?
            .ok_or(AppError::Offline)
    }

    /// The person has read their conversation with `with` up to message `up_to`.
    pub async fn mark_read(&self, with: &str, up_to: u64) -> Result<(), AppError> {
        let payload = json!({ "with": with, "upTo": up_to });
        self.ask(|reply| Input::Notify {
            event: event::READ,
            payload,
            reply,
        })
        .await?
    }

    /// The person is typing to `to`.
    pub async fn typing(&self, to: &str) -> Result<(), AppError> {
        let payload = json!({ "to": to });
        self.ask(|reply| Input::Notify {
            event: event::TYPING,
            payload,
            reply,
        })
        .await?
    }

    /// Whether others see how far the person has read.
    pub async fn set_receipts(&self, send: bool) -> Result<(), AppError> {
        self.ask(|reply| Input::Notify {
            event: event::SET_RECEIPTS,
            payload: json!({ "send": send }),
            reply,
        })
        .await?
    }

    /// Revokes the session on the server (when connected), then forgets it and the outbox
    /// and disconnects.
    pub async fn logout(&self) -> Result<(), AppError> {
        let revoked = self.ask(|reply| Input::Logout { reply }).await?;
        // Waited for here, not in the manager, which keeps serving meanwhile.
        let _ = tokio::time::timeout(LOGOUT_TIMEOUT, revoked).await;
        self.ask(|reply| Input::Forget { reply }).await
    }

    /// Disconnects cleanly (others see us leave at once) and stops the manager; the session
    /// and the outbox stay saved for the next launch.
    pub async fn shutdown(&self) {
        let _ = self.ask(|reply| Input::Shutdown { reply }).await;
    }
}

/// The server the connection uses, for its HTTP routes (files).
#[derive(Debug, Clone)]
pub struct Endpoint {
    pub url: String,
    pub session_id: String,
    /// The pinned certificate (DER), over https.
    pub cert: Option<Vec<u8>>,
}

type Responder<T> = oneshot::Sender<T>;
type SendReply = Responder<Result<SendOutcome, AppError>>;
type AnswerReply = Responder<Result<Value, AppError>>;

enum Input {
    Start {
        reply: Responder<()>,
    },
    Login {
        server_url: String,
        credentials: Credentials,
        reply: Responder<()>,
    },
    Trust {
        fingerprint: String,
        reply: Responder<Result<(), AppError>>,
    },
    SetPassword {
        password: String,
        current_password: Option<String>,
        reply: Responder<oneshot::Receiver<Result<(), AppError>>>,
    },
    Send {
        to: String,
        content: String,
        attachment: Option<Attachment>,
        reply: Responder<Result<SendOutcome, AppError>>,
    },
    /// An event the server answers with an ack (`fetch messages`, groups, search).
    Request {
        event: &'static str,
        payload: Value,
        reply: Responder<oneshot::Receiver<Result<Value, AppError>>>,
    },
    /// The node in use, when connected.
    Endpoint {
        reply: Responder<Option<Endpoint>>,
    },
    /// An event for the server that needs no answer (`read`, `typing`, `set receipts`): sent
    /// when connected, dropped otherwise (the UI sends read markers again after a reconnect).
    Notify {
        event: &'static str,
        payload: Value,
        reply: Responder<Result<(), AppError>>,
    },
    /// Asks the server to revoke the session; the receiver resolves once it confirmed.
    Logout {
        reply: Responder<oneshot::Receiver<()>>,
    },
    /// Forgets the session and the outbox, and disconnects.
    Forget {
        reply: Responder<()>,
    },
    Shutdown {
        reply: Responder<()>,
    },
    /// From the client of connection attempt `epoch`.
    Link {
        epoch: u64,
        event: LinkEvent,
    },
    /// The backoff after a lost connection is over.
    Retry {
        epoch: u64,
    },
    /// Send the outbox's head again (after a lost ack, or a busy server).
    Pump,
}

enum LinkEvent {
    /// The certificate the server at `url` presented (https only), before connecting.
    Presented {
        url: String,
        result: Result<Presented, String>,
    },
    Built(Result<Client, String>),
    Server {
        name: String,
        payload: Value,
    },
    Error(String),
    Closed,
    SessionTimeout,
    Acked {
        client_id: String,
        payload: Value,
    },
    AckTimeout {
        client_id: String,
    },
    Answered {
        request: u64,
        payload: Value,
    },
}

struct Manager {
    tx: mpsc::UnboundedSender<Input>,
    sink: Sink,
    persist: Box<dyn Persist>,
    timing: Timing,

    state: ConnectionState,
    /// The server (or the list of cluster nodes) to use.
    server_url: Option<String>,
    /// Which node of the list the next attempt goes to.
    node: usize,
    /// Nodes that failed during the first login in progress.
    login_failures: usize,
    saved: Option<SavedSession>,
    /// Who the outbox belongs to (server, name), kept when a refusal ends the session, so
    /// logging in again as the same person keeps the messages still waiting.
    outbox_owner: Option<(String, String)>,
    outbox: VecDeque<OutboxEntry>,
    /// Set while a first login (by username) is under way.
    pending_login: Option<Credentials>,
    /// Trusted certificates by node URL.
    pins: Pins,
    /// The node the current attempt goes to.
    node_url: Option<String>,
    /// The certificate pinned for the current client (https only).
    node_cert: Option<Vec<u8>>,
    /// A certificate shown to the person, waiting for their decision: (node URL, fingerprint).
    awaiting_trust: Option<(String, String)>,

    /// Bumped for every new client: events of older clients are recognised and ignored.
    epoch: u64,
    client: Option<Client>,
    attempt: u32,
    in_flight: Option<String>,
    send_waiters: HashMap<String, SendReply>,
    answer_waiters: HashMap<u64, AnswerReply>,
    next_request: u64,
}

impl Manager {
    fn new(
        sink: Sink,
        persist: Box<dyn Persist>,
        timing: Timing,
        tx: mpsc::UnboundedSender<Input>,
    ) -> Self {
        let (saved, outbox) = persist.load();
        let pins = persist.load_pins();
        Self {
            tx,
            sink,
            persist,
            timing,
            state: ConnectionState::LoggedOut,
            server_url: saved.as_ref().map(|s| s.server_url.clone()),
            node: 0,
            login_failures: 0,
            outbox_owner: saved
                .as_ref()
                .map(|s| (s.server_url.clone(), s.username.clone())),
            saved,
            outbox: outbox.into(),
            pending_login: None,
            pins,
            node_url: None,
            node_cert: None,
            awaiting_trust: None,
            epoch: 0,
            client: None,
            attempt: 0,
            in_flight: None,
            send_waiters: HashMap::new(),
            answer_waiters: HashMap::new(),
            next_request: 0,
        }
    }

    async fn run(mut self, mut rx: mpsc::UnboundedReceiver<Input>) {
        while let Some(input) = rx.recv().await {
            if let Input::Shutdown { reply } = input {
                self.epoch += 1;
                self.fail_waiters();
                if let Some(client) = self.client.take() {
                    let _ = tokio::time::timeout(Duration::from_secs(2), client.disconnect()).await;
                }
                let _ = reply.send(());
                return;
            }
            self.handle(input).await;
        }
    }

    async fn handle(&mut self, input: Input) {
        match input {
            Input::Start { reply } => {
                self.start();
                let _ = reply.send(());
            }
            Input::Login {
                server_url,
                credentials,
                reply,
            } => {
                self.login(server_url, credentials);
                let _ = reply.send(());
            }
            Input::Trust { fingerprint, reply } => {
                let _ = reply.send(self.trust(fingerprint));
            }
            Input::SetPassword {
                password,
                current_password,
                reply,
            } => {
                let (tx, rx) = oneshot::channel();
                self.set_password(password, current_password, tx).await;
                let _ = reply.send(rx);
            }
            Input::Send {
                to,
                content,
                attachment,
                reply,
            } => self.send(to, content, attachment, reply),
            Input::Request {
                event,
                payload,
                reply,
            } => {
                let (tx, rx) = oneshot::channel();
                self.request(event, payload, tx).await;
                let _ = reply.send(rx);
            }
            Input::Endpoint { reply } => {
                let endpoint = match (&self.state, &self.node_url, &self.saved) {
                    (ConnectionState::Connected, Some(url), Some(saved)) => Some(Endpoint {
                        url: url.clone(),
                        session_id: saved.session_id.clone(),
                        cert: self.node_cert.clone(),
                    }),
                    _ => None,
                };
                let _ = reply.send(endpoint);
            }
            Input::Notify {
                event,
                payload,
                reply,
            } => {
                let _ = reply.send(self.notify(event, payload).await);
            }
            Input::Logout { reply } => {
                let (tx, rx) = oneshot::channel();
                self.revoke(tx).await;
                let _ = reply.send(rx);
            }
            Input::Forget { reply } => {
                self.logout();
                let _ = reply.send(());
            }
            Input::Retry { epoch } => {
                if epoch == self.epoch && matches!(self.state, ConnectionState::Offline { .. }) {
                    self.set_state(ConnectionState::Reconnecting {
                        attempt: self.attempt,
                    });
                    self.begin_attempt();
                }
            }
            Input::Pump => self.pump().await,
            Input::Shutdown { reply } => {
                let _ = reply.send(());
            }
            Input::Link { epoch, event } => self.link_event(epoch, event).await,
        }
    }

    fn emit(&self, event: AppEvent) {
        (self.sink)(event);
    }

    fn set_state(&mut self, state: ConnectionState) {
        tracing::info!(?state, "connection");
        self.state = state.clone();
        self.emit_connection();
    }

    fn emit_connection(&self) {
        let secure = self
            .node_url
            .as_deref()
            .or(self.server_url.as_deref())
            .is_some_and(|u| u.starts_with("https://"));
        self.emit(AppEvent::Connection {
            state: self.state.clone(),
            server_url: self.server_url.clone(),
            secure,
        });
    }

    fn emit_outbox(&self) {
        self.emit(AppEvent::Outbox {
            entries: self.outbox.iter().cloned().collect(),
        });
    }

    fn save_outbox(&self) {
        self.persist
            .save_outbox(&self.outbox.iter().cloned().collect::<Vec<_>>());
        self.emit_outbox();
    }

    fn start(&mut self) {
        tracing::info!("the UI is listening");
        self.emit_connection();
        self.emit_outbox();
        let Some(saved) = &self.saved else { return };
        // Who we are is known before the server answers: the UI can show the chat offline.
        self.emit(AppEvent::Session {
            session: saved.to_session(),
        });
        match self.state {
            // A reloaded UI needs `users` again: reconnect to have the server send it.
            ConnectionState::Connected | ConnectionState::LoggedOut => {
                self.set_state(ConnectionState::Connecting);
                self.begin_attempt();
            }
            _ => {}
        }
    }

    fn login(&mut self, server_url: String, credentials: Credentials) {
        self.drop_client();
        self.fail_waiters();
        self.awaiting_trust = None;
        let same_session = self
            .saved
            .as_ref()
            .is_some_and(|s| s.server_url == server_url && s.username == credentials.username);
        let owner = (server_url.clone(), credentials.username.clone());
        if !same_session {
            self.saved = None;
            self.persist.save_session(None);
            if self.outbox_owner.as_ref() != Some(&owner) {
                // Another identity: the outbox was written by someone else, to another
                // server's users.
                self.outbox.clear();
                self.save_outbox();
            }
        }
        self.outbox_owner = Some(owner);
        self.server_url = Some(server_url);
        self.node = 0;
        self.login_failures = 0;
        self.pending_login = (!same_session).then_some(credentials);
        self.attempt = 0;
        self.set_state(ConnectionState::Connecting);
        self.begin_attempt();
    }

    fn logout(&mut self) {
        self.drop_client();
        self.fail_waiters();
        self.saved = None;
        self.outbox_owner = None;
        self.awaiting_trust = None;
        self.pending_login = None;
        self.persist.save_session(None);
        self.outbox.clear();
        self.save_outbox();
        self.set_state(ConnectionState::LoggedOut);
    }

    /// Starts connection attempt `epoch + 1`: over https, first reads the certificate the
    /// server presents and checks it against the trusted one.
    fn begin_attempt(&mut self) {
        self.drop_client();
        let epoch = self.epoch;
        let Some(list) = self.server_url.clone() else {
            return;
        };
        let nodes = server_url::split(&list);
        let Some(url) = nodes.get(self.node % nodes.len().max(1)).cloned() else {
            return;
        };
        self.node_url = Some(url.clone());
        if !url.starts_with("https://") {
            return self.connect(url, None);
        }
        let tx = self.tx.clone();
        tauri::async_runtime::spawn(async move {
            let result = tls::presented(&url).await;
            let _ = tx.send(Input::Link {
                epoch,
                event: LinkEvent::Presented { url, result },
            });
        });
        self.after(
            self.timing.session_timeout,
            Input::Link {
                epoch,
                event: LinkEvent::SessionTimeout,
            },
        );
    }

    /// The certificate `url` presented: connect if it is the trusted one, otherwise ask.
    fn presented(&mut self, url: String, presented: Presented) {
        let fp = presented.fingerprint.clone();
        match self.pins.get(&url) {
            Some(pinned) if *pinned == fp => {}
            Some(_) => {
                tracing::warn!(%url, fingerprint = %fp, "the server's certificate changed");
                self.drop_client();
                self.awaiting_trust = Some((url, fp.clone()));
                self.set_state(ConnectionState::Untrusted {
                    fingerprint: fp,
                    changed: true,
                });
                return;
            }
            // The same server under another address (DHCP), or another node of a cluster
            // sharing one certificate.
            None if self.pins.values().any(|p| *p == fp) => {
                self.pins.insert(url.clone(), fp);
                self.persist.save_pins(&self.pins);
            }
            None => {
                self.drop_client();
                self.awaiting_trust = Some((url, fp.clone()));
                self.set_state(ConnectionState::Untrusted {
                    fingerprint: fp,
                    changed: false,
                });
                return;
            }
        }
        self.connect(url, Some(presented.der));
    }

    /// The person accepted the certificate they were shown.
    fn trust(&mut self, fingerprint: String) -> Result<(), AppError> {
        let Some((url, shown)) = self.awaiting_trust.take() else {
            return Err(AppError::NothingToTrust);
        };
        if shown != fingerprint {
            self.awaiting_trust = Some((url, shown));
            return Err(AppError::NothingToTrust);
        }
        tracing::info!(%url, %fingerprint, "certificate trusted");
        self.pins.insert(url, fingerprint);
        self.persist.save_pins(&self.pins);
        self.set_state(if self.pending_login.is_some() {
            ConnectionState::Connecting
        } else {
            ConnectionState::Reconnecting {
                attempt: self.attempt.max(1),
            }
        });
        self.begin_attempt();
        Ok(())
    }

    /// Builds the socket.io client for `url`, pinned to `cert` over https.
    fn connect(&mut self, url: String, cert: Option<Vec<u8>>) {
        let epoch = self.epoch;
        let auth = match (&self.pending_login, &self.saved) {
            (Some(credentials), _) => credentials.auth(),
            // The username lets the server start over if it lost our session (wiped data),
            // and say "session revoked" if it was revoked.
            (None, Some(s)) => Auth {
                session_id: Some(s.session_id.clone()),
                username: Some(s.username.clone()),
                ..Auth::default()
            },
            (None, None) => return,
        };
        // Presence batched: a login storm is a few events, not one per person.
        let auth = json!(Auth {
            batch_presence: true,
            ..auth
        });
        tracing::info!(%url, "connecting");
        let mut builder = client_builder(&url, auth, epoch, self.tx.clone());
        self.node_cert = cert.clone();
        if let Some(der) = cert {
            match tls::pinned_connector(&der) {
                Ok(connector) => builder = builder.tls_config(connector),
                Err(e) => return self.lost(format!("TLS: {e}")),
            }
        }
        let tx = self.tx.clone();
        tauri::async_runtime::spawn(async move {
            let result = builder.connect().await.map_err(|e| e.to_string());
            let _ = tx.send(Input::Link {
                epoch,
                event: LinkEvent::Built(result),
            });
        });
        if !url.starts_with("https://") {
            // Over https the timer started with the certificate check.
            self.after(
                self.timing.session_timeout,
                Input::Link {
                    epoch,
                    event: LinkEvent::SessionTimeout,
                },
            );
        }
    }

    /// Drops the current client (if any); whatever it still reports is ignored.
    fn drop_client(&mut self) {
        self.epoch += 1;
        self.in_flight = None;
        if let Some(client) = self.client.take() {
            disconnect_later(client);
        }
    }

    /// Everyone waiting on the connection hears that it is gone.
    fn fail_waiters(&mut self) {
        for (client_id, reply) in self.send_waiters.drain() {
            let entry = self.outbox.iter().find(|e| e.client_id == client_id);
            let _ = reply.send(match entry {
                Some(entry) => Ok(SendOutcome::Queued {
                    entry: entry.clone(),
                }),
                None => Err(AppError::Offline),
            });
        }
        for (_, reply) in self.answer_waiters.drain() {
            let _ = reply.send(Err(AppError::Offline));
        }
    }

    fn after(&self, delay: Duration, input: Input) {
        let tx = self.tx.clone();
        tauri::async_runtime::spawn(async move {
            tokio::time::sleep(delay).await;
            let _ = tx.send(input);
        });
    }

    /// The connection (or the attempt) is gone: retry with backoff if we have an identity.
    fn lost(&mut self, reason: String) {
        tracing::info!(%reason, "connection lost");
        self.drop_client();
        self.fail_waiters();
        if self.pending_login.is_some() {
            // A first login tries each node of the list once before giving up.
            let nodes = self
                .server_url
                .as_deref()
                .map_or(0, |l| server_url::split(l).len());
            if self.login_failures + 1 < nodes {
                self.login_failures += 1;
                self.node = self.node.wrapping_add(1);
                self.begin_attempt();
                return;
            }
            self.pending_login = None;
            self.set_state(ConnectionState::Unreachable { reason });
            return;
        }
        if self.saved.is_none() {
            self.set_state(ConnectionState::LoggedOut);
            return;
        }
        // With several nodes, the next attempt goes to the next one: a dead node is left at
        // once, and its sessions resume elsewhere.
        self.node = self.node.wrapping_add(1);
        self.attempt += 1;
        let delay = backoff(self.attempt, &self.timing);
        self.set_state(ConnectionState::Offline {
            reason,
            retry_in_ms: delay.as_millis() as u64,
        });
        self.after(delay, Input::Retry { epoch: self.epoch });
    }

    async fn link_event(&mut self, epoch: u64, event: LinkEvent) {
        // Acks are facts about what the server stored, whichever connection carried them.
        if let LinkEvent::Acked { client_id, payload } = event {
            return self.acked(client_id, payload).await;
        }
        if epoch != self.epoch {
            if let LinkEvent::Built(Ok(client)) = event {
                disconnect_later(client);
            }
            return;
        }
        match event {
            LinkEvent::Presented {
                url,
                result: Ok(presented),
            } => self.presented(url, presented),
            LinkEvent::Presented { result: Err(e), .. } => {
                self.lost(format!("cannot reach the server: {e}"))
            }
            LinkEvent::Built(Ok(client)) => self.client = Some(client),
            LinkEvent::Built(Err(e)) => self.lost(format!("cannot reach the server: {e}")),
            LinkEvent::Server { name, payload } => self.server_event(&name, payload).await,
            LinkEvent::Error(text) if text.contains("ConnectError") => {
                self.refused(client::connect_error_message(&text))
            }
            LinkEvent::Error(text) => {
                let reason = if self.state == ConnectionState::Connected {
                    "connection lost".to_owned()
                } else {
                    format!("cannot reach the server ({text})")
                };
                self.lost(reason)
            }
            LinkEvent::Closed => self.lost("connection closed".to_owned()),
            LinkEvent::SessionTimeout => {
                if self.state != ConnectionState::Connected && self.awaiting_trust.is_none() {
                    self.lost("the server did not answer".to_owned());
                }
            }
            LinkEvent::AckTimeout { client_id } => {
                if self.in_flight.as_deref() == Some(client_id.as_str()) {
                    self.in_flight = None;
                    if let Some(reply) = self.send_waiters.remove(&client_id)
                        && let Some(entry) = self.outbox.iter().find(|e| e.client_id == client_id)
                    {
                        let _ = reply.send(Ok(SendOutcome::Queued {
                            entry: entry.clone(),
                        }));
                    }
                    self.pump().await;
                }
            }
            LinkEvent::Answered { request, payload } => {
                if let Some(reply) = self.answer_waiters.remove(&request) {
                    let _ = reply.send(Ok(payload));
                }
            }
            LinkEvent::Acked { .. } => {}
        }
    }

    /// The server refused the handshake. A refusal of the credentials (unknown or revoked
    /// session, wrong password) ends the session it refused, and nothing else: the outbox
    /// stays for the same person's next login. "Unavailable" or "too many attempts" only
    /// mean later: the session is kept and the connection retried.
    fn refused(&mut self, reason: String) {
        if Refusal::from_message(&reason).is_some_and(|r| !r.is_credential()) {
            tracing::info!(%reason, "the server cannot take us now");
            if self.pending_login.is_some() {
                self.pending_login = None;
                self.drop_client();
                self.fail_waiters();
                self.set_state(ConnectionState::Refused { reason });
            } else {
                self.lost(reason);
            }
            return;
        }
        tracing::warn!(%reason, "the server refused the handshake");
        self.drop_client();
        self.fail_waiters();
        self.pending_login = None;
        if self.saved.take().is_some() {
            self.persist.save_session(None);
        }
        self.set_state(ConnectionState::Refused { reason });
    }

    async fn server_event(&mut self, name: &str, payload: Value) {
        match name {
            event::SESSION => match serde_json::from_value::<Session>(payload) {
                Ok(session) => self.connected(session).await,
                Err(e) => self.lost(format!("unexpected session from the server: {e}")),
            },
            event::USERS => match serde_json::from_value::<Vec<User>>(payload) {
                Ok(users) => self.emit(AppEvent::Users { users }),
                Err(e) => tracing::warn!(error = %e, "bad users list"),
            },
            event::PRESENCE => match serde_json::from_value::<Vec<PresenceChange>>(payload) {
                Ok(changes) => self.emit(AppEvent::Presence { changes }),
                Err(e) => tracing::warn!(error = %e, "bad presence"),
            },
            // From a server that does not batch presence: a batch of one.
            event::USER_CONNECTED => match serde_json::from_value::<User>(payload) {
                Ok(user) => self.emit(AppEvent::Presence {
                    changes: vec![PresenceChange::online(user.user_id, user.username)],
                }),
                Err(e) => tracing::warn!(error = %e, "bad user connected"),
            },
            event::USER_DISCONNECTED => match payload {
                Value::String(user_id) => self.emit(AppEvent::Presence {
                    changes: vec![PresenceChange::offline(user_id)],
                }),
                other => tracing::warn!(%other, "bad user disconnected"),
            },
            event::USER_RENAMED => match serde_json::from_value::<UserRenamed>(payload) {
                Ok(r) => {
                    if self.saved.as_ref().is_some_and(|s| s.user_id == r.user_id)
                        && let Some(saved) = self.saved.as_mut()
                    {
                        saved.username = r.username.clone();
                        self.persist.save_session(Some(saved));
                    }
                    self.emit(AppEvent::UserRenamed {
                        user_id: r.user_id,
                        username: r.username,
                    })
                }
                Err(e) => tracing::warn!(error = %e, "bad user renamed"),
            },
            event::USER_REMOVED => match payload {
                Value::String(user_id) => self.emit(AppEvent::UserRemoved { user_id }),
                other => tracing::warn!(%other, "bad user removed"),
            },
            event::PRIVATE_MESSAGE | event::GROUP_MESSAGE => {
                match serde_json::from_value::<Message>(payload) {
                    Ok(message) => self.emit(AppEvent::Message { message }),
                    Err(e) => tracing::warn!(error = %e, "bad private message"),
                }
            }
            event::READ => match serde_json::from_value::<ReadMarker>(payload) {
                Ok(marker) => self.emit(AppEvent::Read { marker }),
                Err(e) => tracing::warn!(error = %e, "bad read marker"),
            },
            event::TYPING => match serde_json::from_value::<TypingFrom>(payload) {
                Ok(t) => self.emit(AppEvent::Typing {
                    from: t.from,
                    at_ms: 0,
                }),
                Err(e) => tracing::warn!(error = %e, "bad typing"),
            },
            event::GROUPS => match serde_json::from_value::<Vec<Group>>(payload) {
                Ok(groups) => self.emit(AppEvent::Groups { groups }),
                Err(e) => tracing::warn!(error = %e, "bad groups"),
            },
            event::GROUP => match serde_json::from_value::<Group>(payload) {
                Ok(group) => self.emit(AppEvent::Group { group }),
                Err(e) => tracing::warn!(error = %e, "bad group"),
            },
            other => tracing::debug!(event = other, "ignored server event"),
        }
    }

    async fn connected(&mut self, session: Session) {
        let Some(server_url) = self.server_url.clone() else {
            return;
        };
        self.outbox_owner = Some((server_url.clone(), session.username.clone()));
        let saved = SavedSession {
            server_url,
            session_id: session.session_id.clone(),
            user_id: session.user_id.clone(),
            username: session.username.clone(),
        };
        if self.saved.as_ref() != Some(&saved) {
            self.persist.save_session(Some(&saved));
            self.saved = Some(saved);
        }
        self.pending_login = None;
        self.attempt = 0;
        self.emit(AppEvent::Session { session });
        self.set_state(ConnectionState::Connected);
        self.pump().await;
    }

    fn send(
        &mut self,
        to: String,
        content: String,
        attachment: Option<Attachment>,
        reply: SendReply,
    ) {
        if self.saved.is_none() {
            let _ = reply.send(Err(AppError::NotLoggedIn));
            return;
        }
        let entry = OutboxEntry {
            client_id: format!("{:016x}", random_u64()),
            to,
            content,
            created_at: now_ms(),
            attachment,
        };
        self.outbox.push_back(entry.clone());
        self.save_outbox();
        if self.state == ConnectionState::Connected {
            self.send_waiters.insert(entry.client_id.clone(), reply);
            // The pump runs from the next loop turn: `send` itself stays synchronous.
            let _ = self.tx.send(Input::Pump);
        } else {
            let _ = reply.send(Ok(SendOutcome::Queued { entry }));
        }
    }

    /// Emits the outbox's head, if connected and nothing else is in flight.
    async fn pump(&mut self) {
        if self.state != ConnectionState::Connected || self.in_flight.is_some() {
            return;
        }
        let (Some(entry), Some(client)) = (self.outbox.front().cloned(), self.client.clone())
        else {
            return;
        };
        let epoch = self.epoch;
        self.in_flight = Some(entry.client_id.clone());
        let mut payload =
            json!({"to": entry.to, "content": entry.content, "clientId": entry.client_id});
        if let Some(a) = &entry.attachment {
            payload["attachment"] = json!({ "fileID": a.file_id });
        }
        let name = if natter_protocol::is_group_id(&entry.to) {
            event::GROUP_MESSAGE
        } else {
            event::PRIVATE_MESSAGE
        };
        let tx = self.tx.clone();
        let client_id = entry.client_id.clone();
        let result = client
            .emit_with_ack(name, payload, self.timing.ack_timeout, move |p, _| {
                let (tx, client_id) = (tx.clone(), client_id.clone());
                async move {
                    let _ = tx.send(Input::Link {
                        epoch,
                        event: LinkEvent::Acked {
                            client_id,
                            payload: ack_arg(p),
                        },
                    });
                }
                .boxed()
            })
            .await;
        if let Err(e) = result {
            self.lost(format!("sending failed: {e}"));
            return;
        }
        self.after(
            self.timing.ack_timeout,
            Input::Link {
                epoch,
                event: LinkEvent::AckTimeout {
                    client_id: entry.client_id,
                },
            },
        );
    }

    async fn acked(&mut self, client_id: String, payload: Value) {
        if self.in_flight.as_deref() == Some(client_id.as_str()) {
            self.in_flight = None;
        }
        let Some(pos) = self.outbox.iter().position(|e| e.client_id == client_id) else {
            return; // a late duplicate ack of something already settled
        };
        let reply = serde_json::from_value::<Reply<Message>>(payload)
            .map_err(|e| natter_protocol::ErrorReply {
                error: format!("unexpected answer: {e}"),
                code: ErrorCode::Unavailable,
                retry_after_ms: None,
            })
            .and_then(Reply::into_result);
        match reply {
            Ok(message) => {
                self.outbox.remove(pos);
                self.save_outbox();
                self.emit(AppEvent::Acked {
                    message: message.clone(),
                });
                if let Some(w) = self.send_waiters.remove(&client_id) {
                    let _ = w.send(Ok(SendOutcome::Sent { message }));
                }
            }
            Err(e) if e.code == ErrorCode::Unavailable => {
                // The server could not store it now: keep it and try again shortly.
                self.after(self.timing.backoff_min, Input::Pump);
                return;
            }
            Err(e) if e.code == ErrorCode::RateLimited => {
                // Sent too fast (an outbox flushed at once): keep it, try when told.
                let wait = Duration::from_millis(e.retry_after_ms.unwrap_or(1000).min(60_000));
                tracing::info!(?wait, "rate limited by the server");
                self.after(wait, Input::Pump);
                return;
            }
            Err(e) => {
                // Refused for good (too long, unknown user): it must not block the queue.
                tracing::warn!(error = %e.error, "message refused by the server");
                self.outbox.remove(pos);
                self.save_outbox();
                if let Some(w) = self.send_waiters.remove(&client_id) {
                    let _ = w.send(Err(AppError::Rejected(e.error)));
                }
            }
        }
        self.pump().await;
    }

    /// Emits `logout`; `done` resolves once the server confirmed (or at once, offline: the
    /// session is then only forgotten here).
    async fn revoke(&mut self, done: oneshot::Sender<()>) {
        let (ConnectionState::Connected, Some(client)) = (&self.state, self.client.clone()) else {
            tracing::warn!("logging out offline: the session is forgotten here only");
            let _ = done.send(());
            return;
        };
        let done = Arc::new(std::sync::Mutex::new(Some(done)));
        let result = client
            .emit_with_ack(event::LOGOUT, json!({}), LOGOUT_TIMEOUT, move |p, _| {
                let done = done.clone();
                async move {
                    let confirmed = serde_json::from_value::<Done>(ack_arg(p)).is_ok_and(|d| d.ok);
                    tracing::info!(confirmed, "logout answered");
                    if let Some(tx) = done.lock().ok().and_then(|mut d| d.take()) {
                        let _ = tx.send(());
                    }
                }
                .boxed()
            })
            .await;
        if let Err(e) = result {
            tracing::warn!(error = %e, "could not ask the server to revoke the session");
        }
    }

    async fn set_password(
        &mut self,
        password: String,
        current_password: Option<String>,
        reply: oneshot::Sender<Result<(), AppError>>,
    ) {
        let (ConnectionState::Connected, Some(client)) = (&self.state, self.client.clone()) else {
            let _ = reply.send(Err(AppError::Offline));
            return;
        };
        let mut payload = json!({ "password": password });
        if let Some(current) = current_password.filter(|c| !c.is_empty()) {
            payload["currentPassword"] = json!(current);
        }
        let reply = Arc::new(std::sync::Mutex::new(Some(reply)));
        let on_ack = reply.clone();
        let result = client
            .emit_with_ack(
                event::SET_PASSWORD,
                payload,
                SERVER_ANSWER_TIMEOUT,
                move |p, _| {
                    let reply = on_ack.clone();
                    async move {
                        let outcome = serde_json::from_value::<Reply<Done>>(ack_arg(p))
                            .map_err(|e| AppError::Rejected(format!("unexpected answer: {e}")))
                            .and_then(|r| r.into_result().map_err(|e| AppError::Rejected(e.error)))
                            .map(|_| ());
                        if let Some(tx) = reply.lock().ok().and_then(|mut r| r.take()) {
                            let _ = tx.send(outcome);
                        }
                    }
                    .boxed()
                },
            )
            .await;
        if let Err(e) = result
            && let Some(tx) = reply.lock().ok().and_then(|mut r| r.take())
        {
            let _ = tx.send(Err(AppError::Rejected(e.to_string())));
        }
    }

    async fn notify(&mut self, name: &'static str, payload: Value) -> Result<(), AppError> {
        let (ConnectionState::Connected, Some(client)) = (&self.state, self.client.clone()) else {
            return Err(AppError::Offline);
        };
        client
            .emit(name, payload)
            .await
            .map_err(|e| AppError::Rejected(e.to_string()))
    }

    /// Emits `event` with an ack when connected; `reply` gets the answer as it came.
    async fn request(&mut self, event: &'static str, payload: Value, reply: AnswerReply) {
        let (ConnectionState::Connected, Some(client)) = (&self.state, self.client.clone()) else {
            let _ = reply.send(Err(AppError::Offline));
            return;
        };
        let request = self.next_request;
        self.next_request += 1;
        self.answer_waiters.insert(request, reply);
        let (tx, epoch) = (self.tx.clone(), self.epoch);
        let result = client
            .emit_with_ack(event, payload, SERVER_ANSWER_TIMEOUT, move |p, _| {
                let tx = tx.clone();
                async move {
                    let _ = tx.send(Input::Link {
                        epoch,
                        event: LinkEvent::Answered {
                            request,
                            payload: ack_arg(p),
                        },
                    });
                }
                .boxed()
            })
            .await;
        if let Err(e) = result {
            if let Some(reply) = self.answer_waiters.remove(&request) {
                let _ = reply.send(Err(AppError::Offline));
            }
            self.lost(format!("sending failed: {e}"));
        }
    }
}

/// A client whose callbacks only forward to the manager, tagged with the attempt.
fn client_builder(
    url: &str,
    auth: Value,
    epoch: u64,
    tx: mpsc::UnboundedSender<Input>,
) -> ClientBuilder {
    let (tx_any, tx_err, tx_close) = (tx.clone(), tx.clone(), tx);
    ClientBuilder::new(url)
        .transport_type(TransportType::Websocket)
        .reconnect(false)
        .auth(auth)
        .on_any(move |ev, payload, _| {
            let tx = tx_any.clone();
            async move {
                let _ = tx.send(Input::Link {
                    epoch,
                    event: LinkEvent::Server {
                        name: String::from(ev),
                        payload: first_arg(payload),
                    },
                });
            }
            .boxed()
        })
        .on(Event::Error, move |payload, _| {
            let tx = tx_err.clone();
            async move {
                let text = match first_arg(payload) {
                    Value::String(s) => s,
                    other => other.to_string(),
                };
                let _ = tx.send(Input::Link {
                    epoch,
                    event: LinkEvent::Error(text),
                });
            }
            .boxed()
        })
        .on(Event::Close, move |_, _| {
            let tx = tx_close.clone();
            async move {
                let _ = tx.send(Input::Link {
                    epoch,
                    event: LinkEvent::Closed,
                });
            }
            .boxed()
        })
}

fn disconnect_later(client: Client) {
    tauri::async_runtime::spawn(async move {
        let _ = tokio::time::timeout(Duration::from_secs(2), client.disconnect()).await;
    });
}

/// The argument list of a payload (binary payloads are not part of our protocol).
fn args(payload: Payload) -> Vec<Value> {
    match payload {
        Payload::Text(v) => v,
        _ => Vec::new(),
    }
}

fn first_arg(payload: Payload) -> Value {
    client::event_value(args(payload))
}

fn ack_arg(payload: Payload) -> Value {
    client::ack_value(args(payload))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_is_capped() {
        let t = Timing::default();
        let ms = |a| backoff(a, &t).as_millis();
        assert!((400..=600).contains(&ms(1)), "{}", ms(1));
        assert!((800..=1200).contains(&ms(2)), "{}", ms(2));
        assert!((8000..=12000).contains(&ms(30)), "{}", ms(30));
    }

    #[test]
    fn ack_arguments_are_unwrapped() {
        let p = Payload::Text(vec![json!([{"id": 1}])]);
        assert_eq!(ack_arg(p), json!({"id": 1}));
    }
}
