//! What people see of each other besides messages: `read` markers (unread counts that follow a
//! person across devices, read receipts), `typing`, and the `set receipts` choice.

use natter_protocol::{MarkRead, Object, ReadMarker, SetReceipts, TypingFrom, TypingTo, event};
use socketioxide::adapter::Adapter;
use socketioxide::extract::{AckSender, TryData};

use super::{Ctx, Identity, Rejection, done};
use crate::ServerState;

/// `read {with, upTo}`: moves the reader's marker forward, then tells the reader's other
/// sockets (their badges clear) and, unless the reader keeps receipts private, the peer's.
pub async fn on_read<A: Adapter>(
    ctx: Ctx<A>,
    TryData(payload): TryData<Object<MarkRead>>,
    ack: AckSender<A>,
) {
    let Ctx {
        socket, me, app, ..
    } = &ctx;
    let result = mark_read(app, me, payload).await;
    // Not moved (an older or repeated marker): nobody needs to hear of it.
    let Some(Some(marker)) = ctx.answer(ack, event::READ, result, done) else {
        return;
    };
    let mut to = socket.to(me.user_id.clone());
    // In a group, markers only sync the reader's own devices.
    if !natter_protocol::is_group_id(&marker.to) {
        match app.store.sends_receipts(&me.user_id).await {
            Ok(true) => to = to.to(marker.to.clone()),
            Ok(false) => {}
            Err(e) => {
                tracing::warn!(user = %me.user_id, error = %e, "could not read receipts setting")
            }
        }
    }
    if let Err(e) = to.emit(event::READ, &marker).await {
        tracing::debug!(user = %me.user_id, error = %e, "could not send a read marker");
    }
}

async fn mark_read(
    app: &ServerState,
    me: &Identity,
    payload: Result<Object<MarkRead>, impl std::fmt::Debug>,
) -> Result<Option<ReadMarker>, Rejection> {
    let Object(req) = payload.map_err(|_| Rejection::InvalidPayload("{with, upTo}"))?;
    super::messages::own_conversation(app, me, &req.with).await?;
    let moved = app
        .store
        .mark_read(&me.user_id, &req.with, req.up_to)
        .await?
        .map_err(|_| Rejection::UnknownMessage)?;
    Ok(moved.map(|up_to| ReadMarker {
        from: me.user_id.clone(),
        to: req.with,
        up_to,
    }))
}

/// `typing {to}`: relayed as `typing {from}` to the recipient's sockets only. Not stored, not
/// acked; beyond a few a second per sender they are dropped (a client repeats them every few
/// seconds while its person types).
pub async fn on_typing<A: Adapter>(ctx: Ctx<A>, TryData(payload): TryData<Object<TypingTo>>) {
    let Ctx {
        socket, me, app, ..
    } = &ctx;
    let Ok(Object(TypingTo { to })) = payload else {
        ctx.refused("typing", &Rejection::InvalidPayload("{to}"));
        return;
    };
    if app.typing_rate.take(&me.user_id).await.is_err() {
        app.refusals.count("typing_dropped");
        return;
    }
    match app.store.user_exists(&to).await {
        Ok(true) => {}
        Ok(false) => return,
        Err(e) => {
            tracing::debug!(user = %me.user_id, error = %e, "typing dropped");
            return;
        }
    }
    let notice = TypingFrom {
        from: me.user_id.clone(),
    };
    if let Err(e) = socket.to(to).emit(event::TYPING, &notice).await {
        tracing::debug!(user = %me.user_id, error = %e, "could not relay typing");
    }
}

/// `set receipts {send}`: whether others see how far this user has read.
pub async fn on_set_receipts<A: Adapter>(
    ctx: Ctx<A>,
    TryData(payload): TryData<Object<SetReceipts>>,
    ack: AckSender<A>,
) {
    let Ctx { me, app, .. } = &ctx;
    let result = async {
        let Object(req) = payload.map_err(|_| Rejection::InvalidPayload("{send}"))?;
        app.store.set_receipts(&me.user_id, req.send).await?;
        Ok::<_, Rejection>(())
    }
    .await;
    ctx.answer(ack, event::SET_RECEIPTS, result, done);
}
