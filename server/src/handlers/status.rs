//! `set status {state, text?}`: available, away or busy, with an optional text; kept across
//! restarts and sent to everyone who gets the person's presence.

use natter_protocol::{Object, SetStatus, Status, StatusChange, event, normalize_status_text};
use socketioxide::adapter::Adapter;
use socketioxide::extract::{AckSender, TryData};

use super::messages::take_token;
use super::{Ctx, Identity, Rejection, done};
use crate::ServerState;
use crate::presence::{BATCHED, GUIDE};

pub async fn on_set_status<A: Adapter>(
    ctx: Ctx<A>,
    TryData(payload): TryData<Object<SetStatus>>,
    ack: AckSender<A>,
) {
    let result = set_status(&ctx.app, &ctx.me, payload).await;
    let Some(status) = ctx.answer(ack, event::SET_STATUS, result, done) else {
        return;
    };
    let change = StatusChange {
        user_id: ctx.me.user_id.clone(),
        state: status.state,
        text: status.text,
    };
    // Both presence audiences: the guide's clients ignore the event, Natter's show it.
    if let Err(e) = ctx
        .socket
        .to([GUIDE, BATCHED])
        .emit(event::STATUS, &change)
        .await
    {
        tracing::warn!(user = %ctx.me.user_id, error = %e, "could not announce a status");
    }
}

async fn set_status(
    app: &ServerState,
    me: &Identity,
    payload: Result<Object<SetStatus>, impl std::fmt::Debug>,
) -> Result<Status, Rejection> {
    let Object(req) = payload.map_err(|_| {
        Rejection::InvalidPayload("{state: \"available\" | \"away\" | \"busy\", text?}")
    })?;
    let text = match req.text.as_deref() {
        Some(raw) => normalize_status_text(raw)
            .map_err(Rejection::InvalidStatus)?
            .map(str::to_owned),
        None => None,
    };
    take_token(app, me).await?;
    let status = Status {
        state: req.state,
        text,
    };
    app.store.set_status(&me.user_id, &status).await?;
    Ok(status)
}
