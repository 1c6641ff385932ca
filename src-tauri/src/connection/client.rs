//! The rust_socketio client of one attempt: its callbacks only forward to the manager.

use std::time::Duration;

use futures_util::FutureExt;
use natter_protocol::client;
use rust_socketio::asynchronous::{Client, ClientBuilder};
use rust_socketio::{Event, TransportType};
use serde_json::Value;
use tokio::sync::mpsc;

use super::input::{Input, LinkEvent};

/// A client whose callbacks only forward to the manager, tagged with the attempt.
pub(super) fn client_builder(
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
                        payload: client::event_payload(payload),
                    },
                });
            }
            .boxed()
        })
        .on(Event::Error, move |payload, _| {
            let tx = tx_err.clone();
            async move {
                let text = match client::event_payload(payload) {
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

pub(super) fn disconnect_later(client: Client) {
    tauri::async_runtime::spawn(async move {
        let _ = tokio::time::timeout(Duration::from_secs(2), client.disconnect()).await;
    });
}
