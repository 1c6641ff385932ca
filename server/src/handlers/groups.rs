//! Group conversations: `create group`, `add members`, `leave group`, `group message`, and the
//! `groups` list a login gets.
//!
//! A group's events go to its members' user rooms, not to a room of its own: membership is
//! read from the store on every event, so a change takes effect at once on every node, with
//! nothing to join or leave.

use natter_protocol::{
    AddMembers, CreateGroup, Group, LeaveGroup, Message, Object, SendMessage, event,
};
use socketioxide::SocketIo;
use socketioxide::adapter::Adapter;
use socketioxide::extract::{AckSender, TryData};
use std::collections::HashMap;

use super::{Ctx, Identity, Rejection, bounds, done};
use crate::ServerState;
use crate::ids;
use crate::store::{GroupRecord, Inserted, StoreError};

/// Sends `group` to every listed user's sockets, on every node.
async fn announce<A: Adapter>(io: &SocketIo<A>, to: &[String], group: &Group) {
    if let Err(e) = io.to(to.to_vec()).emit(event::GROUP, group).await {
        tracing::warn!(group = %group.group_id, error = ?e, "could not announce a group");
    }
}

/// Checks people to add: they exist, are not too many with those already in. Deduplicated, in
/// the order given.
async fn check_members(
    app: &ServerState,
    members: Vec<String>,
    already: &[String],
) -> Result<Vec<String>, Rejection> {
    let mut out: Vec<String> = Vec::with_capacity(members.len());
    for m in members {
        if already.contains(&m) || out.contains(&m) {
            continue;
        }
        if out.len() + already.len() >= natter_protocol::GROUP_MAX_MEMBERS {
            return Err(Rejection::TooManyMembers);
        }
        if natter_protocol::is_group_id(&m) || !app.store.user_exists(&m).await? {
            return Err(Rejection::UnknownUser);
        }
        out.push(m);
    }
    Ok(out)
}

/// `create group {name, members}`: the creator is a member; every member's sockets get
/// `group`.
pub async fn on_create_group<A: Adapter>(
    ctx: Ctx<A>,
    TryData(payload): TryData<Object<CreateGroup>>,
    ack: AckSender<A>,
) {
    let Ctx { me, app, .. } = &ctx;
    let result = create_group(app, me, payload).await;
    answer_with_group(&ctx, ack, event::CREATE_GROUP, result).await;
}

/// Acks a group change and tells every member, or acks why it was refused.
async fn answer_with_group<A: Adapter>(
    ctx: &Ctx<A>,
    ack: AckSender<A>,
    event: &'static str,
    result: Result<GroupRecord, Rejection>,
) {
    if let Some(group) = ctx.respond(ack, event, result.map(|g| g.wire())) {
        announce(&ctx.io, &group.members, &group).await;
    }
}

async fn create_group(
    app: &ServerState,
    me: &Identity,
    payload: Result<Object<CreateGroup>, impl std::fmt::Debug>,
) -> Result<GroupRecord, Rejection> {
    let Object(req) = payload.map_err(|_| Rejection::InvalidPayload("{name, members}"))?;
    let name = natter_protocol::normalize_group_name(&req.name).map_err(Rejection::InvalidName)?;
    let members = check_members(app, req.members, std::slice::from_ref(&me.user_id)).await?;
    // A group's changes cost a token from the sender's message budget, like a message.
    super::messages::take_token(app, me).await?;
    let group = GroupRecord {
        group_id: ids::new_group_id().map_err(|e| StoreError::Commit(e.to_string()))?,
        name: name.to_owned(),
        members: std::iter::once(me.user_id.clone()).chain(members).collect(),
        created_by: me.user_id.clone(),
    };
    app.store.create_group(group.clone()).await?;
    tracing::debug!(user = %me.user_id, group = %group.group_id, members = group.members.len(), "group created");
    Ok(group)
}

/// `add members {groupID, members}`: members only; everyone in the group afterwards gets
/// `group`.
pub async fn on_add_members<A: Adapter>(
    ctx: Ctx<A>,
    TryData(payload): TryData<Object<AddMembers>>,
    ack: AckSender<A>,
) {
    let Ctx { me, app, .. } = &ctx;
    let result = add_members(app, me, payload).await;
    answer_with_group(&ctx, ack, event::ADD_MEMBERS, result).await;
}

/// The group, if `me` is one of its members.
async fn member_of(
    app: &ServerState,
    me: &Identity,
    group_id: &str,
) -> Result<GroupRecord, Rejection> {
    match app.store.group(group_id).await? {
        Some(g) if g.has_member(&me.user_id) => Ok(g),
        // An unknown group and someone else's answer alike: ids are not probed.
        _ => Err(Rejection::NotMember),
    }
}

async fn add_members(
    app: &ServerState,
    me: &Identity,
    payload: Result<Object<AddMembers>, impl std::fmt::Debug>,
) -> Result<GroupRecord, Rejection> {
    let Object(req) = payload.map_err(|_| Rejection::InvalidPayload("{groupID, members}"))?;
    let group = member_of(app, me, &req.group_id).await?;
    let new = check_members(app, req.members, &group.members).await?;
    if new.is_empty() {
        return Ok(group);
    }
    // A group's changes cost a token from the sender's message budget, like a message.
    super::messages::take_token(app, me).await?;
    app.store
        .add_members(&req.group_id, &new)
        .await?
        .ok_or(Rejection::NotMember)
}

/// `leave group {groupID}`: the sender leaves; the remaining members and the leaver's own
/// sockets get the group without them.
pub async fn on_leave_group<A: Adapter>(
    ctx: Ctx<A>,
    TryData(payload): TryData<Object<LeaveGroup>>,
    ack: AckSender<A>,
) {
    let Ctx { io, me, app, .. } = &ctx;
    let result = async {
        let Object(req) = payload.map_err(|_| Rejection::InvalidPayload("{groupID}"))?;
        member_of(app, me, &req.group_id).await?;
        app.store
            .remove_member(&req.group_id, &me.user_id)
            .await?
            .ok_or(Rejection::NotMember)
    }
    .await;
    if let Some(group) = ctx.answer(ack, event::LEAVE_GROUP, result, done) {
        let mut to = group.members.clone();
        to.push(me.user_id.clone());
        announce(io, &to, &group.wire()).await;
    }
}

/// `group message {to: groupID, content, clientId?, attachment?}`: members only; stored, acked,
/// then delivered to every member's sockets but the sending one.
pub async fn on_group_message<A: Adapter>(
    ctx: Ctx<A>,
    TryData(payload): TryData<Object<SendMessage>>,
    ack: AckSender<A>,
) {
    let Ctx { me, app, .. } = &ctx;
    let result = async {
        let Object(msg) = payload.map_err(|_| {
            Rejection::InvalidPayload("{to, content, clientId?, attachment?, replyTo?, mentions?}")
        })?;
        let group = member_of(app, me, &msg.to).await?;
        let mentions = mentioned_members(&group, &msg.mentions);
        let inserted = super::messages::store_checked(app, me, msg, mentions).await?;
        Ok::<_, Rejection>((group, inserted))
    }
    .await;
    // The ack is the message; a retry (`Duplicate`) was delivered the first time.
    let result = result.map(|(group, inserted)| (inserted, group));
    let Some((Inserted::New(message), group)) =
        ctx.answer(ack, event::GROUP_MESSAGE, result, |(m, _)| m)
    else {
        return;
    };
    ctx.deliver(group.members, event::GROUP_MESSAGE, &message)
        .await;
}

/// Of the userIDs a group message mentions, the group's members, once each, in the order
/// given, at most [`natter_protocol::MENTIONS_MAX`].
fn mentioned_members(group: &GroupRecord, mentions: &[String]) -> Vec<String> {
    let mut kept: Vec<String> = Vec::new();
    for m in mentions {
        if kept.len() == natter_protocol::MENTIONS_MAX {
            break;
        }
        if group.has_member(m) && !kept.contains(m) {
            kept.push(m.clone());
        }
    }
    kept
}

/// The person's groups for the login: each with its recent messages (bounded in bytes) and
/// unread count.
pub async fn groups_for(app: &ServerState, user_id: &str) -> Result<Vec<Group>, StoreError> {
    let groups = app.store.groups_of(user_id).await?;
    if groups.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<String> = groups.iter().map(|g| g.group_id.clone()).collect();
    let recent = app
        .store
        .recent_in_groups(user_id, &ids, app.limits.history_per_chat)
        .await?;
    let mut unread: HashMap<String, (u64, u64)> = HashMap::new();
    let mut history: HashMap<String, Vec<Message>> = HashMap::new();
    for g in recent {
        unread.insert(g.group_id.clone(), (g.unread, g.mentions));
        history.insert(g.group_id, g.messages);
    }
    bounds::trim_history(&mut history, bounds::MAX_LOGIN_HISTORY_BYTES);
    Ok(groups
        .iter()
        .map(|g| {
            let (unread, mentions) = unread.get(&g.group_id).copied().unwrap_or_default();
            Group {
                messages: history.remove(&g.group_id).unwrap_or_default(),
                unread,
                mentions,
                ..g.wire()
            }
        })
        .collect())
}
