//! What reaches the manager task: commands from the handle, and what its clients report.

use natter_protocol::ipc::SendOutcome;
use rust_socketio::asynchronous::Client;
use serde_json::Value;
use tokio::sync::oneshot;

use super::{Credentials, Endpoint, Outgoing};
use crate::error::AppError;
use crate::tls::Presented;

pub(super) type Responder<T> = oneshot::Sender<T>;
pub(super) type SendReply = Responder<Result<SendOutcome, AppError>>;
pub(super) type AnswerReply = Responder<Result<Value, AppError>>;

pub(super) enum Input {
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
    Send {
        outgoing: Outgoing,
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

pub(super) enum LinkEvent {
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
