//! The composer: the draft, sending it (Enter; Shift+Enter is a new line), answering or
//! editing a message (↑ in an empty composer edits the last of ours, Esc cancels), `@` to
//! mention a group's member, `:shortcode:` emoji, attaching a file, and telling the other side
//! we type. The rules are the state's ([`Composer`]).

use leptos::ev::SubmitEvent;
use leptos::prelude::*;
use leptos::task::spawn_local;
use natter_protocol::ipc::SendArgs;

use crate::dom::{now_ms, warn};
use crate::shell;
use crate::state::{Composer, Intent, Mode, Throttle, UiState};

/// `pinned`: the message list follows the bottom; sending brings it back there.
#[component]
pub fn ComposerForm(
    state: RwSignal<UiState>,
    composer: RwSignal<Composer>,
    pinned: StoredValue<bool>,
) -> impl IntoView {
    let send_error = RwSignal::new(None::<String>);
    // While the person types, the other side hears it every few seconds.
    let typing = StoredValue::new(Throttle::typing());
    let on_input = move |ev: leptos::ev::Event| {
        composer.update(|c| c.typed(event_target_value(&ev)));
        if !state.with_untracked(|s| s.is_online()) {
            return;
        }
        let Some(to) = state.with_untracked(|s| s.selected.clone()) else {
            return;
        };
        let mut throttle = typing.get_value();
        let tell = throttle.due(now_ms());
        typing.set_value(throttle);
        if tell {
            spawn_local(async move {
                let _ = shell::typing(to).await;
            });
        }
    };
    let submit = move || {
        let Some(to) = state.with_untracked(|s| s.selected.clone()) else {
            return;
        };
        let Some(intent) = composer.try_update(|c| c.take()).flatten() else {
            return;
        };
        send_error.set(None);
        typing.update_value(Throttle::reset);
        pinned.set_value(true);
        spawn_local(async move {
            let result = match intent {
                Intent::Send {
                    content,
                    reply_to,
                    mentions,
                } => shell::send(SendArgs {
                    to,
                    content,
                    reply_to,
                    mentions,
                })
                .await
                .map(|_| ()),
                Intent::Edit { id, content } => shell::edit_message(id, content)
                    .await
                    .map(|edited| state.update(|s| s.edited(edited.message))),
            };
            if let Err(e) = result {
                send_error.set(Some(e));
            }
        });
    };
    let on_keydown = move |ev: leptos::ev::KeyboardEvent| match ev.key().as_str() {
        "Enter" if !ev.shift_key() => {
            ev.prevent_default();
            submit();
        }
        "ArrowUp" if composer.with_untracked(|c| c.draft.is_empty() && c.mode == Mode::Writing) => {
            let last = state.with_untracked(|s| {
                s.selected
                    .as_deref()
                    .and_then(|id| s.last_own_message(id).cloned())
            });
            if let Some(m) = last {
                ev.prevent_default();
                composer.update(|c| c.edit(&m));
            }
        }
        "Escape" => composer.update(Composer::cancel),
        _ => {}
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
    // In a group, `@` offers its members.
    let candidates = move || {
        let query = composer.with(|c| c.mention_query().map(str::to_owned))?;
        state.with(|s| {
            let g = s
                .selected
                .clone()
                .filter(|g| natter_protocol::is_group_id(g))?;
            Some(s.mention_candidates(&g, &query))
        })
    };
    let mode = move || composer.with(|c| c.mode.clone());
    view! {
        <Show when=move || send_error.get().is_some()>
            <div class="send-error" role="alert">{move || send_error.get()}</div>
        </Show>
        {move || match mode() {
            Mode::Replying { name, excerpt, .. } => view! {
                <div class="composing" data-testid="replying">
                    <span>"Replying to "<strong>{name}</strong>": "<span dir="auto">{excerpt}</span></span>
                    <button type="button" class="link" on:click=move |_| composer.update(Composer::cancel)>"Cancel"</button>
                </div>
            }.into_any(),
            Mode::Editing { .. } => view! {
                <div class="composing" data-testid="editing">
                    <span>"Editing your message — Enter saves, Esc cancels"</span>
                    <button type="button" class="link" on:click=move |_| composer.update(Composer::cancel)>"Cancel"</button>
                </div>
            }.into_any(),
            Mode::Writing => ().into_any(),
        }}
        {move || candidates().filter(|c| !c.is_empty()).map(|people| view! {
            <div class="mention-picker" data-testid="mention-picker">
                {people.into_iter().map(|(id, name)| {
                    let (pick_id, pick_name) = (id.clone(), name.clone());
                    view! {
                        <button type="button" data-testid="mention-option" data-user-id=id
                            on:click=move |_| composer.update(|c| c.pick_mention(&pick_id, &pick_name))>
                            {format!("@{name}")}
                        </button>
                    }
                }).collect_view()}
            </div>
        })}
        <form class="composer" on:submit=move |ev: SubmitEvent| { ev.prevent_default(); submit(); }>
            <button type="button" class="attach" data-testid="attach" title="Send a file"
                on:click=attach>
                // A paper clip: the emoji is missing from many desktops' fonts.
                <svg viewBox="0 0 24 24" width="20" height="20" aria-hidden="true">
                    <path d="M16.5 6.5v10a4.5 4.5 0 0 1-9 0V5a3 3 0 0 1 6 0v10.5a1.5 1.5 0 0 1-3 0V6.5"
                        fill="none" stroke="currentColor" stroke-width="1.8" stroke-linecap="round"/>
                </svg>
            </button>
            <textarea data-testid="message-input" rows="1" placeholder="Write a message…"
                spellcheck="true"
                prop:value=move || composer.with(|c| c.draft.clone())
                on:input=on_input
                on:keydown=on_keydown></textarea>
            <button data-testid="send" type="submit">
                {move || if matches!(mode(), Mode::Editing { .. }) { "Save" } else { "Send" }}
            </button>
        </form>
    }
}
