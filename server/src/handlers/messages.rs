//! `private message`, `fetch messages` and `search messages`: stored before acked, delivered to
//! rooms; history only from the person's own conversations.

use natter_protocol::{
    FetchMessages, Message, MessagePage, Object, SearchMessages, SearchResults, SendMessage, event,
};
use socketioxide::adapter::Adapter;
use socketioxide::extract::{AckSender, TryData};

use super::{Ctx, Identity, Rejection, bounds};
use crate::ServerState;
use crate::store::{Conversation, Inserted, NewMessage, SearchRequest};

/// `private message`: validate, store (committed), ack, then deliver to the recipient's room
/// and the sender's other sockets.
pub async fn on_private_message<A: Adapter>(
    ctx: Ctx<A>,
    TryData(payload): TryData<Object<SendMessage>>,
    ack: AckSender<A>,
) {
    let Ctx { me, app, .. } = &ctx;
    let result = store_message(app, me, payload).await;
    // A retry (`Duplicate`) was delivered the first time: it only needs its ack.
    let Some(Inserted::New(message)) = ctx.respond(ack, event::PRIVATE_MESSAGE, result) else {
        return;
    };
    let rooms = vec![message.to.clone(), me.user_id.clone()];
    ctx.deliver(rooms, event::PRIVATE_MESSAGE, &message).await;
}

async fn store_message(
    app: &ServerState,
    me: &Identity,
    payload: Result<Object<SendMessage>, impl std::fmt::Debug>,
) -> Result<Inserted, Rejection> {
    let Object(msg) = payload.map_err(|_| {
        Rejection::InvalidPayload("{content, to, clientId?, attachment?, replyTo?}")
    })?;
    // A groupID is not a user: group messages go through `group message`.
    if natter_protocol::is_group_id(&msg.to) || !app.store.user_exists(&msg.to).await? {
        return Err(Rejection::UnknownUser);
    }
    // Mentions are a group's.
    store_checked(app, me, msg, Vec::new()).await
}

/// What private and group messages share: content rules, the idempotency key, the
/// attachment (one's own upload), the message answered (of the same conversation), the rate
/// limit, then the store. The recipient is checked by the caller, and so are the mentions
/// (members of the group only).
pub(super) async fn store_checked(
    app: &ServerState,
    me: &Identity,
    msg: SendMessage,
    mentions: Vec<String>,
) -> Result<Inserted, Rejection> {
    if msg.content.trim().is_empty() && msg.attachment.is_none() {
        return Err(Rejection::EmptyMessage);
    }
    check_content(app, &msg.content)?;
    if let Some(id) = &msg.client_id
        && (id.is_empty() || id.len() > natter_protocol::CLIENT_ID_MAX_BYTES)
    {
        return Err(Rejection::InvalidClientId);
    }
    let attachment = match &msg.attachment {
        None => None,
        Some(r) => match app.store.file(&r.file_id).await? {
            Some(f) if f.uploader == me.user_id => Some(f.info.file),
            _ => return Err(Rejection::UnknownFile),
        },
    };
    if let Some(original) = msg.reply_to {
        let here = Conversation::between(&me.user_id, &msg.to);
        match app.store.message(original).await? {
            Some(m) if conversation_of(&m, &me.user_id) == Some(here) => {}
            _ => return Err(Rejection::UnknownMessage),
        }
    }
    // Last: a refused message must not cost a token.
    take_token(app, me).await?;
    Ok(app
        .store
        .insert_message(NewMessage {
            from: me.user_id.clone(),
            to: msg.to,
            content: msg.content,
            client_id: msg.client_id,
            attachment,
            reply_to: msg.reply_to,
            mentions,
        })
        .await?)
}

/// What a message's content (new or edited) may be: no control characters but newline and
/// tab, within the size limit.
pub(super) fn check_content(app: &ServerState, content: &str) -> Result<(), Rejection> {
    if !content.chars().all(natter_protocol::allowed_in_content) {
        return Err(Rejection::InvalidContent);
    }
    if content.len() > app.limits.max_message_bytes {
        return Err(Rejection::MessageTooLong {
            len: content.len(),
            max: app.limits.max_message_bytes,
        });
    }
    Ok(())
}

/// A token from the sender's message budget: messages, their changes and group changes alike.
pub(super) async fn take_token(app: &ServerState, me: &Identity) -> Result<(), Rejection> {
    if let Some(buckets) = &app.message_rate {
        buckets
            .take(&me.user_id)
            .await
            .map_err(Rejection::RateLimited)?;
    }
    Ok(())
}

/// The conversation message `m` belongs to, as `me` names it; `None` for a private message
/// `me` is not part of. (Group membership is checked apart.)
pub(super) fn conversation_of<'a>(m: &'a Message, me: &'a str) -> Option<Conversation<'a>> {
    if natter_protocol::is_group_id(&m.to) {
        Some(Conversation::Group(&m.to))
    } else if m.from == me {
        Some(Conversation::Private(me, &m.to))
    } else if m.to == me {
        Some(Conversation::Private(me, &m.from))
    } else {
        None
    }
}

/// Extension `fetch messages`: an older page of one of the user's own conversations.
pub async fn on_fetch_messages<A: Adapter>(
    ctx: Ctx<A>,
    TryData(payload): TryData<Object<FetchMessages>>,
    ack: AckSender<A>,
) {
    let Ctx { me, app, .. } = &ctx;
    let result = fetch_page(app, me, payload).await;
    ctx.respond(ack, event::FETCH_MESSAGES, result);
}

async fn fetch_page(
    app: &ServerState,
    me: &Identity,
    payload: Result<Object<FetchMessages>, impl std::fmt::Debug>,
) -> Result<MessagePage, Rejection> {
    let Object(req) = payload.map_err(|_| Rejection::InvalidPayload("{with, before?, limit?}"))?;
    let conversation = own_conversation(app, me, &req.with).await?;
    can_afford_answer(app, me).await?;
    let limit = req
        .limit
        .unwrap_or(app.limits.history_per_chat)
        .clamp(1, app.limits.max_page);
    let (mut messages, mut has_more) = app.store.page(conversation, req.before, limit).await?;
    // Bounded in bytes too, whatever is stored: the oldest go, and come with the next page.
    let dropped = bounds::keep_newest_within(&mut messages, bounds::MAX_PAGE_BYTES);
    has_more |= dropped;
    pay_for_answer(app, me, &messages).await?;
    Ok(MessagePage { messages, has_more })
}

/// A client still paying for earlier answers waits: answers it asked for and does not read
/// would otherwise pile up in its socket's queue.
async fn can_afford_answer(app: &ServerState, me: &Identity) -> Result<(), Rejection> {
    if let Some(budget) = &app.fetch_bytes {
        budget
            .take_cost(&me.user_id, 1.0, 0.0)
            .await
            .map_err(Rejection::RateLimited)?;
    }
    Ok(())
}

/// Charges an answer's bytes to the client's history budget (it may go into debt).
async fn pay_for_answer(
    app: &ServerState,
    me: &Identity,
    messages: &[Message],
) -> Result<(), Rejection> {
    if let Some(budget) = &app.fetch_bytes {
        let bytes: usize = messages
            .iter()
            .map(|m| m.content.len() + bounds::MESSAGE_ENVELOPE_BYTES)
            .sum();
        budget
            .take_cost(&me.user_id, 0.0, bytes as f64)
            .await
            .map_err(Rejection::RateLimited)?;
    }
    Ok(())
}

/// `with` as one of the person's conversations: a user that exists, or a group they are a
/// member of.
pub(super) async fn own_conversation<'a>(
    app: &ServerState,
    me: &'a Identity,
    with: &'a str,
) -> Result<Conversation<'a>, Rejection> {
    let conversation = Conversation::between(&me.user_id, with);
    match conversation {
        Conversation::Group(g) => {
            if !app
                .store
                .group(g)
                .await?
                .is_some_and(|g| g.has_member(&me.user_id))
            {
                return Err(Rejection::NotMember);
            }
        }
        Conversation::Private(..) => {
            if !app.store.user_exists(with).await? {
                return Err(Rejection::UnknownUser);
            }
        }
    }
    Ok(conversation)
}

/// Extension `search messages`: matches from the person's own conversations, newest first,
/// bounded in count and bytes.
pub async fn on_search_messages<A: Adapter>(
    ctx: Ctx<A>,
    TryData(payload): TryData<Object<SearchMessages>>,
    ack: AckSender<A>,
) {
    let Ctx { me, app, .. } = &ctx;
    let result = search(app, me, payload).await;
    ctx.respond(ack, event::SEARCH_MESSAGES, result);
}

async fn search(
    app: &ServerState,
    me: &Identity,
    payload: Result<Object<SearchMessages>, impl std::fmt::Debug>,
) -> Result<SearchResults, Rejection> {
    let Object(req) = payload.map_err(|_| Rejection::InvalidPayload("{q, with?, limit?}"))?;
    let q = req.q.trim();
    if q.chars().count() < natter_protocol::SEARCH_MIN_CHARS
        || q.len() > natter_protocol::SEARCH_MAX_BYTES
    {
        return Err(Rejection::InvalidQuery);
    }
    let within = match &req.with {
        Some(with) => Some(own_conversation(app, me, with).await?),
        None => None,
    };
    // A search reads the index like a page reads history: it is paid from the same budget.
    can_afford_answer(app, me).await?;
    let limit = req
        .limit
        .unwrap_or(natter_protocol::SEARCH_MAX_RESULTS)
        .clamp(1, natter_protocol::SEARCH_MAX_RESULTS);
    let mut messages = app
        .store
        .search(SearchRequest {
            user_id: &me.user_id,
            text: q,
            within,
            limit,
        })
        .await?
        .map_err(|_| Rejection::Unsupported)?;
    // Newest first here: keep the newest within the byte bound.
    messages.reverse();
    bounds::keep_newest_within(&mut messages, bounds::MAX_PAGE_BYTES);
    messages.reverse();
    pay_for_answer(app, me, &messages).await?;
    Ok(SearchResults { messages })
}
