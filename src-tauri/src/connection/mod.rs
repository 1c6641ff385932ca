//! The connection manager: one task owns the socket.io client and every piece of connection
//! state; commands and client callbacks reach it as messages, so there are no locks and the
//! order of events is the order they happened.
//!
//! It is built around what rust_socketio 0.6 does (ARCHITECTURE.md has the details):
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
//!
//! [`Connection`] is the handle (this file); [`input`] what reaches the task; [`manager`] the
//! task and its dispatch; [`lifecycle`] attempts, trust, backoff and refusals; [`events`] the
//! server's events decoded; [`outbox`] sending; [`requests`] acked requests and notices;
//! [`client`] the client of one attempt; [`timing`] timeouts and backoff.

mod client;
mod events;
mod input;
mod lifecycle;
mod manager;
mod outbox;
mod requests;
mod timing;

use std::sync::Arc;
use std::time::Duration;

use natter_protocol::ipc::{AppEvent, SendOutcome};
use natter_protocol::{
    Attachment, Auth, Done, Edited, Group, MessagePage, React, Reacted, Reply, SearchResults,
    Status, event,
};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use tokio::sync::{mpsc, oneshot};

use self::input::{Input, Responder};
use self::manager::Manager;
pub use self::timing::{Timing, backoff};
use crate::error::AppError;
use crate::persist::Persist;
use crate::server_url;

/// What a first login (or a sign-in on a new computer) sends.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Credentials {
    pub username: String,
    pub password: Option<String>,
    pub join_password: Option<String>,
}

impl Credentials {
    pub(crate) fn auth(&self) -> Auth {
        Auth {
            username: Some(self.username.clone()),
            password: self.password.clone(),
            join_password: self.join_password.clone(),
            ..Auth::default()
        }
    }
}

/// A message to send: what the person wrote, to whom, and what goes with it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Outgoing {
    /// A userID, or a groupID.
    pub to: String,
    pub content: String,
    /// A file already uploaded.
    pub attachment: Option<Attachment>,
    /// The message it answers.
    pub reply_to: Option<u64>,
    /// Group members it mentions.
    pub mentions: Vec<String>,
}

/// How long a request the server acks (`fetch messages`, `set password`) may take.
pub(crate) const SERVER_ANSWER_TIMEOUT: Duration = Duration::from_secs(15);

/// How long a logout waits for the server to confirm the revocation.
pub(crate) const LOGOUT_TIMEOUT: Duration = Duration::from_secs(3);

/// Where the manager sends what the UI must learn.
pub type Sink = Arc<dyn Fn(AppEvent) + Send + Sync>;

/// A handle on the manager task; cheap to clone, kept in Tauri's managed state.
#[derive(Clone)]
pub struct Connection {
    tx: mpsc::UnboundedSender<Input>,
    /// The address the organisation locked the app to (normalised), used for every login.
    locked: Option<String>,
}

impl Connection {
    /// Loads what was persisted and starts the manager task, with what the organisation
    /// `deployed` (a certificate trusted without asking, a locked address). Nothing connects
    /// until [`Connection::start`] (the UI calls it once it listens).
    pub fn spawn(
        sink: Sink,
        persist: Box<dyn Persist>,
        timing: Timing,
        deployed: natter_protocol::Deployed,
    ) -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        let locked = manager::locked_url(&deployed);
        let manager = Manager::new(sink, persist, timing, tx.clone(), deployed);
        tauri::async_runtime::spawn(manager.run(rx));
        Self { tx, locked }
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
        // The organisation fixed the address: whatever the page sent, this one.
        let server_url = match &self.locked {
            Some(locked) => locked.clone(),
            None => server_url::normalize_list(server_url)?,
        };
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
        let mut payload = json!({ "password": password });
        if let Some(current) = current_password.filter(|c| !c.is_empty()) {
            payload["currentPassword"] = json!(current);
        }
        let _: Done = self.request(event::SET_PASSWORD, payload).await?;
        Ok(())
    }

    /// Queues a message (to a person or a group, with a file already uploaded or not);
    /// returns the stored message once acked, or `Queued` while offline.
    pub async fn send(&self, outgoing: Outgoing) -> Result<SendOutcome, AppError> {
        if outgoing.content.trim().is_empty() && outgoing.attachment.is_none() {
            return Err(AppError::EmptyMessage);
        }
        self.ask(|reply| Input::Send { outgoing, reply }).await?
    }

    /// Replaces the content of one of the person's messages.
    pub async fn edit(&self, id: u64, content: &str) -> Result<Edited, AppError> {
        self.request(event::EDIT_MESSAGE, json!({ "id": id, "content": content }))
            .await
    }

    /// Deletes one of the person's messages.
    pub async fn delete(&self, id: u64) -> Result<(), AppError> {
        let _: Done = self
            .request(event::DELETE_MESSAGE, json!({ "id": id }))
            .await?;
        Ok(())
    }

    /// Adds or takes back the person's reaction.
    pub async fn react(&self, reaction: &React) -> Result<Reacted, AppError> {
        let payload = serde_json::to_value(reaction).map_err(|e| AppError::Local(e.to_string()))?;
        self.request(event::REACT, payload).await
    }

    /// Sets the person's status.
    pub async fn set_status(&self, status: &Status) -> Result<(), AppError> {
        let payload = serde_json::to_value(status).map_err(|e| AppError::Local(e.to_string()))?;
        let _: Done = self.request(event::SET_STATUS, payload).await?;
        Ok(())
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
