//! The manager task: owns the client and every piece of connection state, and takes one
//! [`Input`] at a time.

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use natter_protocol::client;
use natter_protocol::ipc::{AppEvent, ConnectionState, OutboxEntry, SendOutcome};
use rust_socketio::asynchronous::Client;
use tokio::sync::{mpsc, oneshot};

use super::client::disconnect_later;
use super::input::{AnswerReply, Input, LinkEvent, SendReply};
use super::{Credentials, Endpoint, Sink, Timing};
use crate::error::AppError;
use crate::persist::{Persist, Pins, SavedSession};

pub(super) struct Manager {
    pub(super) tx: mpsc::UnboundedSender<Input>,
    pub(super) sink: Sink,
    pub(super) persist: Box<dyn Persist>,
    pub(super) timing: Timing,

    pub(super) state: ConnectionState,
    /// The server (or the list of cluster nodes) to use.
    pub(super) server_url: Option<String>,
    /// Which node of the list the next attempt goes to.
    pub(super) node: usize,
    /// Nodes that failed during the first login in progress.
    pub(super) login_failures: usize,
    pub(super) saved: Option<SavedSession>,
    /// Who the outbox belongs to (server, name), kept when a refusal ends the session, so
    /// logging in again as the same person keeps the messages still waiting.
    pub(super) outbox_owner: Option<(String, String)>,
    pub(super) outbox: VecDeque<OutboxEntry>,
    /// Set while a first login (by username) is under way.
    pub(super) pending_login: Option<Credentials>,
    /// Trusted certificates by node URL.
    pub(super) pins: Pins,
    /// The organisation's settings: its certificate is trusted without asking.
    pub(super) deployed: natter_protocol::Deployed,
    /// The node the current attempt goes to.
    pub(super) node_url: Option<String>,
    /// The certificate pinned for the current client (https only).
    pub(super) node_cert: Option<Vec<u8>>,
    /// A certificate shown to the person, waiting for their decision: (node URL, fingerprint).
    pub(super) awaiting_trust: Option<(String, String)>,

    /// Bumped for every new client: events of older clients are recognised and ignored.
    pub(super) epoch: u64,
    pub(super) client: Option<Client>,
    pub(super) attempt: u32,
    pub(super) in_flight: Option<String>,
    pub(super) send_waiters: HashMap<String, SendReply>,
    pub(super) answer_waiters: HashMap<u64, AnswerReply>,
    pub(super) next_request: u64,
}

impl Manager {
    pub(super) fn new(
        sink: Sink,
        persist: Box<dyn Persist>,
        timing: Timing,
        tx: mpsc::UnboundedSender<Input>,
        deployed: natter_protocol::Deployed,
    ) -> Self {
        let (saved, outbox) = persist.load();
        let saved = saved.filter(|s| is_allowed(&deployed, &s.server_url));
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
            deployed,
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

    pub(super) async fn run(mut self, mut rx: mpsc::UnboundedReceiver<Input>) {
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

    pub(super) async fn handle(&mut self, input: Input) {
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
            Input::Send { outgoing, reply } => self.send(outgoing, reply),
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

    pub(super) fn emit(&self, event: AppEvent) {
        (self.sink)(event);
    }

    pub(super) fn set_state(&mut self, state: ConnectionState) {
        tracing::info!(?state, "connection");
        self.state = state.clone();
        self.emit_connection();
    }

    pub(super) fn emit_connection(&self) {
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

    pub(super) fn emit_outbox(&self) {
        self.emit(AppEvent::Outbox {
            entries: self.outbox.iter().cloned().collect(),
        });
    }

    pub(super) fn save_outbox(&self) {
        self.persist
            .save_outbox(&self.outbox.iter().cloned().collect::<Vec<_>>());
        self.emit_outbox();
    }

    /// Everyone waiting on the connection hears that it is gone.
    pub(super) fn fail_waiters(&mut self) {
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

    pub(super) fn after(&self, delay: Duration, input: Input) {
        let tx = self.tx.clone();
        tauri::async_runtime::spawn(async move {
            tokio::time::sleep(delay).await;
            let _ = tx.send(input);
        });
    }

    pub(super) async fn link_event(&mut self, epoch: u64, event: LinkEvent) {
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
}

/// The address the organisation locked the app to, as a login field normalises it.
pub(super) fn locked_url(deployed: &natter_protocol::Deployed) -> Option<String> {
    let locked = deployed.locked_server()?;
    match crate::server_url::normalize_list(&locked) {
        Ok(url) => Some(url),
        Err(e) => {
            tracing::error!(%locked, error = %e, "the deployed server address is not one");
            None
        }
    }
}

/// Whether a saved session may be resumed: not on another server than the one the
/// organisation locked the app to (it then waits for a login there).
fn is_allowed(deployed: &natter_protocol::Deployed, server_url: &str) -> bool {
    let allowed = locked_url(deployed).is_none_or(|l| l == server_url);
    if !allowed {
        tracing::info!(%server_url, "not resuming a session on a server the organisation does not use");
    }
    allowed
}
