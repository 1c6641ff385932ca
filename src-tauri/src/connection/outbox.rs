//! The outbox: a FIFO on disk with one message in flight, each with a `clientId`, so a retry
//! is stored once and the order typed is the order stored.

use std::time::Duration;

use futures_util::FutureExt;
use natter_protocol::ipc::{AppEvent, ConnectionState, OutboxEntry, SendOutcome};
use natter_protocol::{ErrorCode, Message, Reply, client, event, now_ms};
use serde_json::{Value, json};

use super::Outgoing;
use super::input::{Input, LinkEvent, SendReply};
use super::manager::Manager;
use super::timing::random_u64;
use crate::error::AppError;

impl Manager {
    pub(super) fn send(&mut self, outgoing: Outgoing, reply: SendReply) {
        if self.saved.is_none() {
            let _ = reply.send(Err(AppError::NotLoggedIn));
            return;
        }
        let entry = OutboxEntry {
            client_id: format!("{:016x}", random_u64()),
            to: outgoing.to,
            content: outgoing.content,
            created_at: now_ms(),
            attachment: outgoing.attachment,
            reply_to: outgoing.reply_to,
            mentions: outgoing.mentions,
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
    pub(super) async fn pump(&mut self) {
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
        if let Some(id) = entry.reply_to {
            payload["replyTo"] = json!(id);
        }
        if !entry.mentions.is_empty() {
            payload["mentions"] = json!(entry.mentions);
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
                            payload: client::ack_payload(p),
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

    pub(super) async fn acked(&mut self, client_id: String, payload: Value) {
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
}
