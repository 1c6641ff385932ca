//! Requests the server acks (history, groups, search, password, logout) and notices it does
//! not (`read`, `typing`, `set receipts`).

use std::sync::Arc;

use futures_util::FutureExt;
use natter_protocol::ipc::ConnectionState;
use natter_protocol::{Done, client, event};
use serde_json::{Value, json};
use tokio::sync::oneshot;

use super::input::{AnswerReply, Input, LinkEvent};
use super::manager::Manager;
use super::{LOGOUT_TIMEOUT, SERVER_ANSWER_TIMEOUT};
use crate::error::AppError;

impl Manager {
    /// Emits `logout`; `done` resolves once the server confirmed (or at once, offline: the
    /// session is then only forgotten here).
    pub(super) async fn revoke(&mut self, done: oneshot::Sender<()>) {
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
                    let confirmed =
                        serde_json::from_value::<Done>(client::ack_payload(p)).is_ok_and(|d| d.ok);
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

    pub(super) async fn notify(
        &mut self,
        name: &'static str,
        payload: Value,
    ) -> Result<(), AppError> {
        let (ConnectionState::Connected, Some(client)) = (&self.state, self.client.clone()) else {
            return Err(AppError::Offline);
        };
        client
            .emit(name, payload)
            .await
            .map_err(|e| AppError::Rejected(e.to_string()))
    }

    /// Emits `event` with an ack when connected; `reply` gets the answer as it came.
    pub(super) async fn request(
        &mut self,
        event: &'static str,
        payload: Value,
        reply: AnswerReply,
    ) {
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
                            payload: client::ack_payload(p),
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
