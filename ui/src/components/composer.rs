//! The composer: the draft, sending it (Enter; Shift+Enter is a new line), attaching a file,
//! and telling the other side we type.

use leptos::ev::SubmitEvent;
use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::dom::{now_ms, warn};
use crate::shell;
use crate::state::{TypingThrottle, UiState};

/// `pinned`: the message list follows the bottom; sending brings it back there.
#[component]
pub fn Composer(state: RwSignal<UiState>, pinned: StoredValue<bool>) -> impl IntoView {
    let draft = RwSignal::new(String::new());
    let send_error = RwSignal::new(None::<String>);
    // While the person types, the other side hears it every few seconds.
    let typing = StoredValue::new(TypingThrottle::default());
    let on_input = move |_| {
        if !state.with_untracked(|s| s.is_online()) {
            return;
        }
        let Some(to) = state.with_untracked(|s| s.selected.clone()) else {
            return;
        };
        let mut throttle = typing.get_value();
        let tell = throttle.typed(now_ms());
        typing.set_value(throttle);
        if tell {
            spawn_local(async move {
                let _ = shell::typing(to).await;
            });
        }
    };
    let send = move || {
        let content = draft.get_untracked();
        let Some(to) = state.with_untracked(|s| s.selected.clone()) else {
            return;
        };
        if content.trim().is_empty() {
            return;
        }
        draft.set(String::new());
        send_error.set(None);
        typing.update_value(TypingThrottle::message_sent);
        pinned.set_value(true);
        spawn_local(async move {
            if let Err(e) = shell::send(to, content).await {
                send_error.set(Some(e));
            }
        });
    };
    let attach = move |_| {
        let Some(to) = state.with_untracked(|s| s.selected.clone()) else {
            return;
        };
        spawn_local(async move {
            if let Err(e) = shell::pick_file(to).await {
                warn("sending a file", e);
            }
        });
    };
    view! {
        <Show when=move || send_error.get().is_some()>
            <div class="send-error" role="alert">{move || send_error.get()}</div>
        </Show>
        <form class="composer" on:submit=move |ev: SubmitEvent| { ev.prevent_default(); send(); }>
            <button type="button" class="attach" data-testid="attach" title="Send a file"
                on:click=attach>
                // A paper clip: the emoji is missing from many desktops' fonts.
                <svg viewBox="0 0 24 24" width="20" height="20" aria-hidden="true">
                    <path d="M16.5 6.5v10a4.5 4.5 0 0 1-9 0V5a3 3 0 0 1 6 0v10.5a1.5 1.5 0 0 1-3 0V6.5"
                        fill="none" stroke="currentColor" stroke-width="1.8" stroke-linecap="round"/>
                </svg>
            </button>
            <textarea data-testid="message-input" rows="1" placeholder="Write a message…"
                bind:value=draft
                on:input=on_input
                on:keydown=move |ev: leptos::ev::KeyboardEvent| {
                    if ev.key() == "Enter" && !ev.shift_key() {
                        ev.prevent_default();
                        send();
                    }
                }></textarea>
            <button data-testid="send" type="submit">"Send"</button>
        </form>
    }
}
