//! `private message` and `fetch messages`: stored before acked, delivered to rooms.

use std::sync::Arc;

use natter_protocol::{FetchMessages, MessagePage, Object, SendMessage, event};
use socketioxide::adapter::Adapter;
use socketioxide::extract::{AckSender, Extension, SocketRef, State, TryData};

use super::{Identity, Rejection, bounds, refused, send_ack};
use crate::AppState;
use crate::store::{Inserted, NewMessage};

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
            send_ack(ack, &rejection.reply());
            refused(&socket, &app, &me, "private message", &rejection);
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
    if !msg.content.chars().all(natter_protocol::allowed_in_content) {
        return Err(Rejection::InvalidContent);
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
    // Last: a refused message must not cost a token.
    if let Some(buckets) = &app.message_rate {
        buckets.take(&me.user_id).map_err(Rejection::RateLimited)?;
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
    socket: SocketRef<A>,
    TryData(payload): TryData<Object<FetchMessages>>,
    ack: AckSender<A>,
    Extension(me): Extension<Arc<Identity>>,
    State(app): State<AppState>,
) {
    match fetch_page(&app, &me, payload).await {
        Ok(page) => send_ack(ack, &page),
        Err(rejection) => {
            send_ack(ack, &rejection.reply());
            refused(&socket, &app, &me, "fetch messages", &rejection);
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
    // A client still paying for earlier answers waits: answers it asked for and does not read
    // would otherwise pile up in its socket's queue.
    if let Some(budget) = &app.fetch_bytes {
        budget
            .take_cost(&me.user_id, 1.0, 0.0)
            .map_err(Rejection::RateLimited)?;
    }
    let limit = req
        .limit
        .unwrap_or(app.limits.history_per_chat)
        .clamp(1, app.limits.max_page);
    let (mut messages, mut has_more) = app
        .store
        .page(&me.user_id, &req.with, req.before, limit)
        .await?;
    // Bounded in bytes too, whatever is stored: the oldest go, and come with the next page.
    let dropped = bounds::keep_newest_within(&mut messages, bounds::MAX_PAGE_BYTES);
    has_more |= dropped;
    if let Some(budget) = &app.fetch_bytes {
        let bytes: usize = messages
            .iter()
            .map(|m| m.content.len() + bounds::MESSAGE_ENVELOPE_BYTES)
            .sum();
        budget
            .take_cost(&me.user_id, 0.0, bytes as f64)
            .map_err(Rejection::RateLimited)?;
    }
    Ok(MessagePage { messages, has_more })
}
