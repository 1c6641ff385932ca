//! The rows of the sidebar: a group, a person.

use leptos::prelude::*;

use crate::dom::initial;
use crate::state::{GroupRow, PersonRow, UiState};

#[component]
pub fn GroupItem(state: RwSignal<UiState>, row: GroupRow) -> impl IntoView {
    let GroupRow {
        id,
        name,
        members,
        unread,
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
                <span class="unread" data-testid="unread">{unread}</span>
            })}
        </li>
    }
}

#[component]
pub fn PersonItem(state: RwSignal<UiState>, row: PersonRow) -> impl IntoView {
    let PersonRow {
        id,
        name,
        connected,
        unread,
        is_self,
        selected,
    } = row;
    let letter = initial(&name);
    let select_id = id.clone();
    let name_attr = name.clone();
    view! {
        <li data-testid="user" data-user-id=id data-username=name_attr
            data-connected=connected.to_string()
            class="user" class:selected=selected class:online=connected
            on:click=move |_| state.update(|s| s.select(&select_id))>
            <span class="dot" title=if connected { "online" } else { "offline" }></span>
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
