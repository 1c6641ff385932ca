//! The open conversation: its header, the message list (paging back, following the
//! bottom, bringing a search result into view), uploads, and the composer.

use leptos::prelude::*;
use leptos::task::spawn_local;

use super::composer::ComposerForm;
use super::groups::AddPeople;
use super::message::MessageRow;
use super::mute::MuteMenu;
use crate::dom::{initial, now_ms, warn};
use crate::shell;
use crate::state::{Composer, TimelineItem, UiState};

#[component]
pub fn Conversation(state: RwSignal<UiState>) -> impl IntoView {
    let header = move || state.with(|s| s.header());
    let is_group = move || header().is_some_and(|h| h.members.is_some());
    let adding = RwSignal::new(false);
    let leave = move |_| {
        let Some(id) = state.with_untracked(|s| s.selected.clone()) else {
            return;
        };
        spawn_local(async move {
            if let Err(e) = shell::leave_group(id).await {
                warn("leaving the group", e);
            }
        });
    };
    let uploads = move || {
        state.with(|s| {
            s.selected
                .as_deref()
                .map(|id| s.uploads_to(id))
                .unwrap_or_default()
        })
    };
    let online = move || state.with(|s| s.is_online());
    let items = move || {
        state.with(|s| {
            s.selected
                .as_deref()
                .map(|id| s.timeline(id))
                .unwrap_or_default()
        })
    };
    let loading =
        move || state.with(|s| s.selected_conversation().is_some_and(|u| u.loading_older));
    let focus = Memo::new(move |_| state.with(|s| s.focus));

    // What the composer is doing (writing, answering, editing): set by the messages' actions.
    let composer = RwSignal::new(Composer::default());
    Effect::new(move |_| {
        state.with(|s| s.selected.clone());
        composer.set(Composer::default());
    });

    let list = NodeRef::<leptos::html::Div>::new();
    let pinned = StoredValue::new(true);
    // Distance from the bottom before older messages were put on top, to stay in place.
    let anchor = StoredValue::new(None::<i32>);

    let load_older = move || {
        let Some(id) = state.with_untracked(|s| s.selected.clone()) else {
            return;
        };
        let Some(before) = state.with_untracked(|s| s.wants_older(&id)) else {
            return;
        };
        if !state.with_untracked(|s| s.is_online()) {
            return;
        }
        if let Some(el) = list.get_untracked() {
            anchor.set_value(Some(el.scroll_height() - el.scroll_top()));
        }
        state.update(|s| s.set_loading_older(&id, true));
        spawn_local(async move {
            match shell::fetch_older(id.clone(), before).await {
                Ok(page) => state.update(|s| s.add_older(&id, page)),
                Err(_) => state.update(|s| s.set_loading_older(&id, false)),
            }
        });
    };

    // After each change of the timeline: keep the view at the bottom, or where it was when
    // older messages were added on top; fill a short view with older messages.
    Effect::new(move |_| {
        items();
        let Some(el) = list.get() else { return };
        if let Some(from_bottom) = anchor.get_value() {
            anchor.set_value(None);
            el.set_scroll_top(el.scroll_height() - from_bottom);
        } else if pinned.get_value() {
            el.set_scroll_top(el.scroll_height());
        }
        if el.scroll_height() <= el.client_height() {
            load_older();
        }
    });
    // Switching conversation starts at the bottom.
    Effect::new(move |_| {
        state.with(|s| s.selected.clone());
        pinned.set_value(true);
    });
    // A search result: page back until its message is loaded (its row then brings itself
    // into view), and stop following the bottom meanwhile.
    Effect::new(move |_| {
        items();
        if state.with(|s| s.focus.is_none()) {
            return;
        }
        pinned.set_value(false);
        if state.with_untracked(|s| s.focus_needs_older()) {
            load_older();
        }
    });

    let on_scroll = move |_| {
        let Some(el) = list.get_untracked() else {
            return;
        };
        pinned.set_value(el.scroll_height() - el.scroll_top() - el.client_height() < 40);
        if el.scroll_top() < 60 {
            load_older();
        }
    };

    let clock_tick = use_context::<ReadSignal<u64>>().unwrap_or_else(|| signal(0).0);
    let typing = move || {
        let now = clock_tick.get().max(now_ms());
        state.with(|s| s.typing_shown(now).map(|u| u.name.clone()))
    };
    let selected = Signal::derive(move || state.with(|s| s.selected.clone()));
    view! {
        <header class="peer">
            {move || header().map(|h| view! {
                <div class="avatar">{initial(&h.name)}</div>
                <div class="peer-text">
                    <div class="peer-name">{h.name}{h.is_self.then_some(" (yourself)")}</div>
                    {match h.members {
                        Some(list) => view! {
                            <div class="peer-status" data-testid="members">{list}</div>
                        }.into_any(),
                        None => view! {
                            <div class="peer-status" class:online=h.connected
                                data-status=h.status.state.as_str()>
                                {status_words(h.connected, &h.status)}
                            </div>
                        }.into_any(),
                    }}
                </div>
            })}
            <Show when=is_group>
                <button class="mute" data-testid="add-people"
                    on:click=move |_| adding.update(|v| *v = !*v)>"Add people"</button>
                <button class="leave" data-testid="leave-group" on:click=leave>"Leave"</button>
            </Show>
            <MuteMenu conversation=selected is_group=Signal::derive(is_group)/>
            <ExportButton state/>
        </header>
        <Show when=move || adding.get() && is_group()>
            <AddPeople state open=adding/>
        </Show>
        <div class="messages" node_ref=list on:scroll=on_scroll>
            <Show when=loading>
                <div class="loading-older">"Loading older messages…"</div>
            </Show>
            <For each=items key=TimelineItem::key let:item>
                <MessageRow state composer item online=Signal::derive(online) focus/>
            </For>
            <For each=uploads key=|u| (u.id, u.sent, u.done.clone()) let:upload>
                <div class="msg self upload" data-testid="upload" data-failed=upload.done.is_some().to_string()>
                    <div class="bubble">
                        <div class="file-name">{upload.name.clone()}</div>
                        {match upload.done.clone() {
                            Some(Err(e)) => view! {
                                <div class="error" role="alert">{e}
                                    <button class="link" on:click=move |_| state.update(|s| s.dismiss_upload(upload.id))>"Dismiss"</button>
                                </div>
                            }.into_any(),
                            _ => view! {
                                <progress max=upload.total.max(1).to_string() value=upload.sent.to_string()></progress>
                            }.into_any(),
                        }}
                    </div>
                </div>
            </For>
        </div>
        {move || typing().map(|name| view! {
            <div class="typing" data-testid="typing">{format!("{name} is typing…")}</div>
        })}
        <Show when=move || !online()>
            <div class="offline-banner" data-testid="offline-banner">
                "Offline — messages will send when reconnected"
            </div>
        </Show>
        <ComposerForm state composer pinned/>
    }
}

/// How a person is, in words: online or offline, and their status when not available.
fn status_words(connected: bool, status: &natter_protocol::Status) -> String {
    let mut words = if connected { "online" } else { "offline" }.to_owned();
    if !status.state.is_available() {
        words.push_str(" · ");
        words.push_str(status.state.as_str());
    }
    if let Some(text) = &status.text {
        words.push_str(" — ");
        words.push_str(text);
    }
    words
}

/// "Export…": the open conversation saved as a web page and JSON where the person chooses.
#[component]
fn ExportButton(state: RwSignal<UiState>) -> impl IntoView {
    let result = RwSignal::new(None::<Result<String, String>>);
    let busy = RwSignal::new(false);
    let export = move |_| {
        let Some((with, title)) = state.with_untracked(|s| {
            s.selected_conversation()
                .map(|c| (c.id.clone(), c.name.clone()))
        }) else {
            return;
        };
        busy.set(true);
        result.set(None);
        spawn_local(async move {
            let done = shell::export_conversation(with, title, None).await;
            busy.set(false);
            match done {
                Ok(Some(path)) => result.set(Some(Ok(path))),
                Ok(None) => {}
                Err(e) => result.set(Some(Err(e))),
            }
        });
    };
    // A new conversation: the last export's word goes.
    Effect::new(move |_| {
        state.with(|s| s.selected.clone());
        result.set(None);
    });
    view! {
        <button class="mute" data-testid="export" title="Save this conversation as a web page"
            disabled=move || busy.get() on:click=export>"Export…"</button>
        {move || result.get().map(|r| match r {
            Ok(path) => view! { <span class="saved" data-testid="export-result">{format!("Saved to {path}")}</span> }.into_any(),
            Err(e) => view! { <span class="error" data-testid="export-result" role="alert">{e}</span> }.into_any(),
        })}
    }
}
