//! A test client on `rust_socketio` (async, websocket) that records every event it receives.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::FutureExt;
use natter_protocol::{Message, MessagePage, PresenceChange, Session, User, client, event};
use rust_socketio::asynchronous::{Client, ClientBuilder};
use rust_socketio::{Event, Payload, TransportType};
use serde_json::{Value, json};
use tokio::sync::{mpsc, oneshot};

use crate::WAIT;

#[derive(Debug, Clone)]
pub enum Incoming {
    Event(String, Value),
    Error(String),
    /// The connection ended (the server disconnected this socket).
    Closed,
}

pub struct SioClient {
    client: Client,
    rx: mpsc::UnboundedReceiver<Incoming>,
    backlog: VecDeque<Incoming>,
}

/// A logged-in client with what the server sent at login.
pub struct Login {
    pub client: SioClient,
    pub session: Session,
    pub users: Vec<User>,
}

impl SioClient {
    /// Connects with this handshake auth; `Err(message)` is the server's connect-error.
    pub async fn connect(url: &str, auth: Value) -> Result<(SioClient, Session), String> {
        let (tx, rx) = mpsc::unbounded_channel();
        let (tx_any, tx_close) = (tx.clone(), tx.clone());
        let mut builder = ClientBuilder::new(url);
        if url.starts_with("https://") {
            builder = builder.tls_config(crate::tls::pinned_connector(&crate::tls::pinned(url)));
        }
        let client = builder
            .transport_type(TransportType::Websocket)
            .auth(auth)
            .reconnect(false)
            .on_any(move |ev, payload, _| {
                let tx = tx_any.clone();
                async move {
                    let _ = tx.send(Incoming::Event(
                        String::from(ev),
                        client::event_payload(payload),
                    ));
                }
                .boxed()
            })
            .on(Event::Close, move |_, _| {
                let tx = tx_close.clone();
                async move {
                    let _ = tx.send(Incoming::Closed);
                }
                .boxed()
            })
            .on(Event::Error, move |payload, _| {
                let tx = tx.clone();
                async move {
                    let text = match payload {
                        Payload::Text(v) => v
                            .first()
                            .map(|v| v.as_str().map(str::to_owned).unwrap_or(v.to_string()))
                            .unwrap_or_default(),
                        other => format!("{other:?}"),
                    };
                    let _ = tx.send(Incoming::Error(text));
                }
                .boxed()
            })
            .connect()
            .await
            .map_err(|e| format!("transport: {e}"))?;
        let mut me = SioClient {
            client,
            rx,
            backlog: VecDeque::new(),
        };
        // The first word from the server is `session` or a refusal.
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let next = tokio::time::timeout_at(deadline, me.rx.recv())
                .await
                .map_err(|_| "no session and no refusal in time".to_owned())?
                .ok_or("client stopped")?;
            match next {
                Incoming::Event(name, v) if name == event::SESSION => {
                    let session = serde_json::from_value(v).map_err(|e| e.to_string())?;
                    return Ok((me, session));
                }
                Incoming::Error(text) if text.contains("ConnectError") => {
                    // rust_socketio keeps retrying a refused client: stop it.
                    let _ = me.client.disconnect().await;
                    return Err(client::connect_error_message(&text));
                }
                other => me.backlog.push_back(other),
            }
        }
    }

    /// Starts a new session as `username` and waits for `users`.
    pub async fn login(url: &str, username: &str) -> Login {
        Self::login_with(url, json!({ "username": username })).await
    }

    /// Resumes a session and waits for `users`.
    pub async fn resume(url: &str, session_id: &str) -> Login {
        Self::login_with(url, json!({ "sessionID": session_id })).await
    }

    pub async fn login_with(url: &str, auth: Value) -> Login {
        let (mut client, session) = Self::connect(url, auth)
            .await
            .unwrap_or_else(|e| panic!("login refused: {e}"));
        let users = serde_json::from_value(client.next(event::USERS).await).expect("users payload");
        Login {
            client,
            session,
            users,
        }
    }

    /// The next `name` event's first argument, keeping other events for later.
    pub async fn next(&mut self, name: &str) -> Value {
        self.next_within(name, WAIT)
            .await
            .unwrap_or_else(|| panic!("no `{name}` event within {WAIT:?}"))
    }

    pub async fn next_within(&mut self, name: &str, within: Duration) -> Option<Value> {
        let queued = self
            .backlog
            .iter()
            .position(|e| matches!(e, Incoming::Event(n, _) if n == name));
        if let Some(Incoming::Event(_, v)) = queued.and_then(|i| self.backlog.remove(i)) {
            return Some(v);
        }
        let deadline = tokio::time::Instant::now() + within;
        loop {
            match tokio::time::timeout_at(deadline, self.rx.recv()).await {
                Ok(Some(Incoming::Event(n, v))) if n == name => return Some(v),
                Ok(Some(other)) => self.backlog.push_back(other),
                Ok(None) | Err(_) => return None,
            }
        }
    }

    /// Waits until the server has closed this socket; `false` if it did not within `within`.
    pub async fn closed_within(&mut self, within: Duration) -> bool {
        if self
            .backlog
            .iter()
            .any(|e| matches!(e, Incoming::Closed | Incoming::Error(_)))
        {
            return true;
        }
        let deadline = tokio::time::Instant::now() + within;
        loop {
            match tokio::time::timeout_at(deadline, self.rx.recv()).await {
                Ok(Some(Incoming::Closed | Incoming::Error(_))) | Ok(None) => return true,
                Ok(Some(other)) => self.backlog.push_back(other),
                Err(_) => return false,
            }
        }
    }

    /// Asserts that no `name` event arrives within [`crate::QUIET`].
    pub async fn assert_no(&mut self, name: &str) {
        if let Some(v) = self.next_within(name, crate::QUIET).await {
            panic!("unexpected `{name}` event: {v}");
        }
    }

    /// Every `name` event received within `within`.
    pub async fn drain(&mut self, name: &str, within: Duration) -> Vec<Value> {
        let mut out = Vec::new();
        let deadline = tokio::time::Instant::now() + within;
        while let Some(v) = self
            .next_within(
                name,
                deadline.saturating_duration_since(tokio::time::Instant::now()),
            )
            .await
        {
            out.push(v);
        }
        out
    }

    pub async fn emit(&self, name: &str, payload: impl Into<Payload>) {
        self.client
            .emit(name.to_owned(), payload)
            .await
            .expect("emit");
    }

    /// Emits and waits for the ack's first argument.
    pub async fn ack(&self, name: &str, payload: impl Into<Payload>) -> Value {
        self.try_ack(name, payload, WAIT)
            .await
            .unwrap_or_else(|| panic!("no ack for `{name}` within {WAIT:?}"))
    }

    pub async fn try_ack(
        &self,
        name: &str,
        payload: impl Into<Payload>,
        within: Duration,
    ) -> Option<Value> {
        let (tx, rx) = oneshot::channel();
        let tx = Arc::new(Mutex::new(Some(tx)));
        self.client
            .emit_with_ack(name.to_owned(), payload, within, move |p, _| {
                let tx = tx.clone();
                async move {
                    if let Some(tx) = tx.lock().ok().and_then(|mut t| t.take()) {
                        let _ = tx.send(client::ack_payload(p));
                    }
                }
                .boxed()
            })
            .await
            .expect("emit with ack");
        tokio::time::timeout(within, rx).await.ok()?.ok()
    }

    /// The next event named any of `names`, in the order they arrived: its name and first
    /// argument.
    pub async fn next_of(&mut self, names: &[&str]) -> (String, Value) {
        let wanted =
            |e: &Incoming| matches!(e, Incoming::Event(n, _) if names.contains(&n.as_str()));
        if let Some(i) = self.backlog.iter().position(wanted)
            && let Some(Incoming::Event(n, v)) = self.backlog.remove(i)
        {
            return (n, v);
        }
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            match tokio::time::timeout_at(deadline, self.rx.recv()).await {
                Ok(Some(Incoming::Event(n, v))) if names.contains(&n.as_str()) => return (n, v),
                Ok(Some(other)) => self.backlog.push_back(other),
                Ok(None) | Err(_) => panic!("none of {names:?} within {WAIT:?}"),
            }
        }
    }

    /// Every change of the `presence` events (batched presence) that arrive until one says
    /// `user_id` went `connected` (included), in order.
    pub async fn presence_until(&mut self, user_id: &str, connected: bool) -> Vec<PresenceChange> {
        let mut changes: Vec<PresenceChange> = Vec::new();
        while !changes
            .iter()
            .any(|c| c.user_id == user_id && c.connected == connected)
        {
            let batch: Vec<PresenceChange> =
                serde_json::from_value(self.next(event::PRESENCE).await).expect("presence payload");
            assert!(!batch.is_empty(), "an empty presence event");
            changes.extend(batch);
        }
        changes
    }

    /// Sends a private message and returns the ack.
    pub async fn send(&self, to: &str, content: &str) -> Value {
        self.ack(
            event::PRIVATE_MESSAGE,
            json!({ "to": to, "content": content }),
        )
        .await
    }

    /// `fetch messages` with this request (`{with, before?, limit?}`): the page it answers.
    pub async fn fetch(&self, request: Value) -> MessagePage {
        let answer = self.ack(event::FETCH_MESSAGES, request).await;
        serde_json::from_value(answer.clone())
            .unwrap_or_else(|e| panic!("not a page of messages ({e}): {answer}"))
    }

    /// The whole conversation with `with` (a userID or a groupID), oldest first: pages fetched
    /// back from the newest until the server says there are no more.
    pub async fn history(&self, with: &str) -> Vec<Message> {
        let mut history = Vec::new();
        let mut before: Option<u64> = None;
        loop {
            let mut request = json!({"with": with, "limit": 500});
            if let Some(before) = before {
                request["before"] = json!(before);
            }
            let page = self.fetch(request).await;
            before = page.messages.first().map(|m| m.id);
            history.splice(0..0, page.messages);
            if !page.has_more {
                return history;
            }
        }
    }

    pub async fn close(self) {
        let _ = self.client.disconnect().await;
    }
}
