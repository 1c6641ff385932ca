//! The chat screen: the sidebar (who we are, settings, search, groups, people) beside the
//! open conversation.

use leptos::prelude::*;
use leptos::task::spawn_local;

use super::announcements::Announcements;
use super::conversation::Conversation;
use super::groups::NewGroup;
use super::search::Search;
use super::settings::Settings;
use super::sidebar::{GroupItem, PersonItem};
use super::status_menu::StatusMenu;
use crate::dom::initial;
use crate::shell;
use crate::state::UiState;

#[component]
pub fn Chat(state: RwSignal<UiState>) -> impl IntoView {
    let my_name = move || {
        state.with(|s| {
            s.me.as_ref()
                .map(|m| m.display_name.clone().unwrap_or_else(|| m.username.clone()))
                .unwrap_or_default()
        })
    };
    let online = move || state.with(|s| s.is_online());
    let show_settings = RwSignal::new(false);
    let show_new_group = RwSignal::new(false);
    let group_rows = move || state.with(|s| s.group_rows());
    let rows = move || state.with(|s| s.person_rows());
    view! {
        <div class="chat">
            <aside class="sidebar">
                <header class="me">
                    <div class="avatar">{move || initial(&my_name())}</div>
                    <div class="me-text">
                        <div class="me-name">{my_name}</div>
                        <StatusMenu state/>
                        <div class="status" data-testid="status" class:online=online
                            data-secure=move || state.with(|s| s.secure.to_string())>
                            {move || state.with(|s| s.status_text())}
                            {move || format!(" · {}", state.with(|s| s.security_text()))}
                        </div>
                    </div>
                    <button class="settings-toggle" title="Settings" data-testid="settings"
                        on:click=move |_| show_settings.update(|v| *v = !*v)>
                        "⚙"
                    </button>
                    <button class="logout" title="Log out" data-testid="logout"
                        on:click=move |_| spawn_local(async { let _ = shell::logout().await; })>
                        "Log out"
                    </button>
                </header>
                <Show when=move || show_settings.get()>
                    <Settings state/>
                </Show>
                <Search state/>
                <div class="section-title">
                    <span>"Groups"</span>
                    <button class="new-group" data-testid="new-group" title="New group"
                        on:click=move |_| show_new_group.update(|v| *v = !*v)>"+ New group"</button>
                </div>
                <Show when=move || show_new_group.get()>
                    <NewGroup state open=show_new_group/>
                </Show>
                <ul class="groups">
                    <For each=group_rows key=|r| r.clone() let(row)>
                        <GroupItem state row/>
                    </For>
                </ul>
                <div class="section-title"><span>"People"</span></div>
                <ul class="users">
                    <For each=rows key=|r| r.clone() let(row)>
                        <PersonItem state row/>
                    </For>
                </ul>
            </aside>
            <section class="panel">
                <Announcements state/>
                <Show when=move || state.with(|s| s.selected_conversation().is_some())
                    fallback=|| view! { <div class="empty">"Pick someone to start a conversation."</div> }>
                    <Conversation state/>
                </Show>
            </section>
        </div>
    }
}
