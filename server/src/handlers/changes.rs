//! `edit message`, `delete message` and `react`: changes to stored messages, committed before
//! they are acked, then sent to every socket of the message's conversation but the one that
//! made them. A message of a conversation the sender is not in is refused like one that does
//! not exist (ids are not probed).

use natter_protocol::{
    DeleteMessage, EditMessage, Edited, Message, MessageDeleted, MessageEdited, Object, React,
    Reacted, ReactionChange, event,
};
use socketioxide::adapter::Adapter;
use socketioxide::extract::{AckSender, TryData};

use super::messages::{check_content, take_token};
use super::{Ctx, Identity, Rejection, done};
use crate::ServerState;
use crate::store::Deletion;

/// Message `id` if `me` is in its conversation, with the user rooms its changes go to.
async fn reachable(
    app: &ServerState,
    me: &Identity,
    id: u64,
) -> Result<(Message, Vec<String>), Rejection> {
    let m = app
        .store
        .message(id)
        .await?
        .ok_or(Rejection::UnknownMessage)?;
    let rooms = if natter_protocol::is_group_id(&m.to) {
        match app.store.group(&m.to).await? {
            Some(g) if g.has_member(&me.user_id) => g.members,
            _ => return Err(Rejection::UnknownMessage),
        }
    } else if m.from == me.user_id || m.to == me.user_id {
        vec![m.from.clone(), m.to.clone()]
    } else {
        return Err(Rejection::UnknownMessage);
    };
    Ok((m, rooms))
}

/// `m`, if `me` may edit or delete it.
fn authored(m: &Message, me: &Identity) -> Result<(), Rejection> {
    if m.from != me.user_id {
        return Err(Rejection::NotAuthor);
    }
    if m.deleted {
        return Err(Rejection::Deleted);
    }
    Ok(())
}

/// `edit message {id, content}`: ack `{ok: true, message}`; `message edited` to the others.
pub async fn on_edit_message<A: Adapter>(
    ctx: Ctx<A>,
    TryData(payload): TryData<Object<EditMessage>>,
    ack: AckSender<A>,
) {
    let result = edit(&ctx.app, &ctx.me, payload).await;
    let Some((edited, rooms)) = ctx.answer(ack, event::EDIT_MESSAGE, result, |(e, _)| e) else {
        return;
    };
    let change = MessageEdited::of(&edited.message);
    ctx.deliver(rooms, event::MESSAGE_EDITED, &change).await;
}

async fn edit(
    app: &ServerState,
    me: &Identity,
    payload: Result<Object<EditMessage>, impl std::fmt::Debug>,
) -> Result<(Edited, Vec<String>), Rejection> {
    let Object(req) = payload.map_err(|_| Rejection::InvalidPayload("{id, content}"))?;
    if !app.policy.message_edits {
        return Err(Rejection::NotAllowed("editing messages"));
    }
    check_content(app, &req.content)?;
    let (original, rooms) = reachable(app, me, req.id).await?;
    authored(&original, me)?;
    if req.content.trim().is_empty() && original.attachment.is_none() {
        return Err(Rejection::EmptyMessage);
    }
    take_token(app, me).await?;
    let message = app
        .store
        .edit_message(&me.user_id, req.id, &req.content)
        .await??;
    Ok((Edited { ok: true, message }, rooms))
}

/// `delete message {id}`: ack `{ok: true}`; `message deleted` to the others. A file no other
/// message carries goes from disk.
pub async fn on_delete_message<A: Adapter>(
    ctx: Ctx<A>,
    TryData(payload): TryData<Object<DeleteMessage>>,
    ack: AckSender<A>,
) {
    let result = delete(&ctx.app, &ctx.me, payload).await;
    let Some((deletion, rooms)) = ctx.answer(ack, event::DELETE_MESSAGE, result, done) else {
        return;
    };
    if let Some(file) = &deletion.unused_file {
        ctx.app.files.remove(file).await;
    }
    let m = &deletion.message;
    let change = MessageDeleted {
        id: m.id,
        from: m.from.clone(),
        to: m.to.clone(),
    };
    ctx.deliver(rooms, event::MESSAGE_DELETED, &change).await;
}

async fn delete(
    app: &ServerState,
    me: &Identity,
    payload: Result<Object<DeleteMessage>, impl std::fmt::Debug>,
) -> Result<(Deletion, Vec<String>), Rejection> {
    let Object(req) = payload.map_err(|_| Rejection::InvalidPayload("{id}"))?;
    if !app.policy.message_deletes {
        return Err(Rejection::NotAllowed("deleting messages"));
    }
    let (original, rooms) = reachable(app, me, req.id).await?;
    authored(&original, me)?;
    take_token(app, me).await?;
    let deletion = app.store.delete_message(&me.user_id, req.id).await??;
    Ok((deletion, rooms))
}

/// `react {id, emoji, on}`: ack `{ok: true, reactions}`; `reaction` to the others when it
/// changed anything.
pub async fn on_react<A: Adapter>(
    ctx: Ctx<A>,
    TryData(payload): TryData<Object<React>>,
    ack: AckSender<A>,
) {
    let result = react(&ctx.app, &ctx.me, payload).await;
    let Some((reacted, change, rooms)) =
        ctx.answer(ack, event::REACT, result, |(reacted, ..)| reacted)
    else {
        return;
    };
    drop(reacted);
    if let Some(change) = change {
        ctx.deliver(rooms, event::REACTION, &change).await;
    }
}

async fn react(
    app: &ServerState,
    me: &Identity,
    payload: Result<Object<React>, impl std::fmt::Debug>,
) -> Result<(Reacted, Option<ReactionChange>, Vec<String>), Rejection> {
    let Object(req) = payload.map_err(|_| Rejection::InvalidPayload("{id, emoji, on}"))?;
    if !natter_protocol::is_one_emoji(&req.emoji) {
        return Err(Rejection::InvalidEmoji);
    }
    let (original, rooms) = reachable(app, me, req.id).await?;
    if original.deleted {
        return Err(Rejection::Deleted);
    }
    take_token(app, me).await?;
    let applied = app.store.react(&me.user_id, &req).await??;
    let m = &applied.message;
    let change = applied.changed.then(|| ReactionChange {
        id: m.id,
        from: m.from.clone(),
        to: m.to.clone(),
        emoji: req.emoji.clone(),
        user_id: me.user_id.clone(),
        on: req.on,
    });
    let reacted = Reacted {
        ok: true,
        reactions: applied.message.reactions,
    };
    Ok((reacted, change, rooms))
}
