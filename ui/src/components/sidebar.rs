//! The rows of the sidebar: a group, a person.

use leptos::prelude::*;

use natter_protocol::StatusState;

use crate::dom::initial;
use crate::state::{GroupRow, PersonRow, UiState};

#[component]
pub fn GroupItem(state: RwSignal<UiState>, row: GroupRow) -> impl IntoView {
    let GroupRow {
        id,
        name,
        members,
        unread,
        mentions,
        selected,
    } = row;
    let select_id = id.clone();
    let letter = initial(&name);
    let name_attr = name.clone();
    view! {
        <li data-testid="group" data-group-id=id data-name=name_attr
            class="user group" class:selected=selected
            on:click=move |_| state.update(|s| s.select(&select_id))>
            <span class="avatar small group-avatar">{letter}</span>
            <span class="name">{name}<span class="members-count">{format!(" · {members}")}</span></span>
            {(unread > 0).then(|| view! {
                <span class="unread" class:mention={mentions > 0} data-testid="unread"
                    data-mentions=mentions.to_string()>
                    {if mentions > 0 { format!("@ {unread}") } else { unread.to_string() }}
                </span>
            })}
        </li>
    }
}

#[component]
pub fn PersonItem(state: RwSignal<UiState>, row: PersonRow) -> impl IntoView {
    let PersonRow {
        id,
        name,
        username,
        connected,
        unread,
        is_self,
        selected,
        status,
        status_text,
    } = row;
    let letter = initial(&name);
    let select_id = id.clone();
    let shown_name = name.clone();
    view! {
        <li data-testid="user" data-user-id=id data-username=username
            data-display-name=shown_name
            data-connected=connected.to_string() data-status=status.as_str()
            class="user" class:selected=selected class:online=connected
            on:click=move |_| state.update(|s| s.select(&select_id))>
            <span class=format!("dot {}", status.as_str())
                title=dot_title(connected, status, status_text.as_deref())></span>
            <span class="avatar small">{letter}</span>
            <span class="name">
                {name}
                {is_self.then(|| view! { <span class="yourself">" (yourself)"</span> })}
            </span>
            {(unread > 0).then(|| view! {
                <span class="unread" data-testid="unread">{unread}</span>
            })}
        </li>
    }
}

/// What the presence dot says when hovered.
fn dot_title(connected: bool, status: StatusState, text: Option<&str>) -> String {
    let mut title = if connected { "online" } else { "offline" }.to_owned();
    if !status.is_available() {
        title = format!("{title}, {}", status.as_str());
    }
    if let Some(text) = text {
        title = format!("{title}: {text}");
    }
    title
}
