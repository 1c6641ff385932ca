//! What a person does to a message: answer it, react to it, and (their own) edit or delete it;
//! and the reactions under it, each a chip that toggles ours.

use leptos::prelude::*;
use leptos::task::spawn_local;
use natter_protocol::Message;

use crate::shell;
use crate::state::{Composer, UiState};

/// What the reaction picker offers.
pub const PICKER: &[&str] = &[
    "👍", "❤️", "😂", "😮", "😢", "🎉", "🙏", "👀", "✅", "🔥", "👏", "🤔", "😄", "🚀", "💯", "👌",
];

/// Adds or takes back our reaction, then shows the reactions as the server has them.
fn toggle(
    state: RwSignal<UiState>,
    error: RwSignal<Option<String>>,
    m: &Message,
    emoji: &str,
    on: bool,
) {
    let (m, emoji) = (m.clone(), emoji.to_owned());
    spawn_local(async move {
        match shell::react(m.id, emoji, on).await {
            Ok(r) => state.update(|s| s.reacted(&m, r.reactions)),
            Err(e) => error.set(Some(e)),
        }
    });
}

/// The reactions under a message: a chip per emoji with its count, ours highlighted; a click
/// adds or takes back ours.
#[component]
pub fn Reactions(state: RwSignal<UiState>, message: Message) -> impl IntoView {
    let me = state.with_untracked(|s| s.me.as_ref().map(|m| m.user_id.clone()));
    let error = RwSignal::new(None::<String>);
    let chips = message
        .reactions
        .iter()
        .map(|r| {
            let mine = me.as_ref().is_some_and(|me| r.users.contains(me));
            let who = state.with_untracked(|s| {
                r.users
                    .iter()
                    .map(|u| s.name_of(u))
                    .collect::<Vec<_>>()
                    .join(", ")
            });
            let (m, emoji) = (message.clone(), r.emoji.clone());
            view! {
                <button type="button" class="reaction" class:mine=mine data-testid="reaction"
                    data-emoji=r.emoji.clone() data-count=r.users.len().to_string()
                    data-mine=mine.to_string() title=who
                    on:click=move |_| toggle(state, error, &m, &emoji, !mine)>
                    {r.emoji.clone()}<span class="count">{r.users.len()}</span>
                </button>
            }
        })
        .collect_view();
    view! {
        <div class="reactions">{chips}</div>
        {move || error.get().map(|e| view! { <div class="error" role="alert">{e}</div> })}
    }
}

/// The actions of a message, shown when it is hovered or focused.
#[component]
pub fn Actions(
    state: RwSignal<UiState>,
    composer: RwSignal<Composer>,
    message: Message,
    from_self: bool,
) -> impl IntoView {
    let picking = RwSignal::new(false);
    let confirming = RwSignal::new(false);
    let error = RwSignal::new(None::<String>);
    let reply = {
        let m = message.clone();
        move |_| {
            let name = state.with_untracked(|s| s.name_of(&m.from));
            composer.update(|c| c.reply_to(&m, name));
            focus_composer();
        }
    };
    let edit = {
        let m = message.clone();
        move |_| {
            composer.update(|c| c.edit(&m));
            focus_composer();
        }
    };
    let delete = {
        let m = message.clone();
        move |_| {
            let m = m.clone();
            confirming.set(false);
            spawn_local(async move {
                match shell::delete_message(m.id).await {
                    Ok(()) => state.update(|s| s.deleted(&m)),
                    Err(e) => error.set(Some(e)),
                }
            });
        }
    };
    let options = PICKER
        .iter()
        .map(|emoji| {
            let m = message.clone();
            let mine = state.with_untracked(|s| {
                let me = s.me.as_ref().map(|m| m.user_id.clone());
                m.reactions
                    .iter()
                    .any(|r| r.emoji == *emoji && me.as_ref().is_some_and(|me| r.users.contains(me)))
            });
            view! {
                <button type="button" data-testid="emoji-option" data-emoji=*emoji
                    on:click=move |_| { picking.set(false); toggle(state, error, &m, emoji, !mine); }>
                    {*emoji}
                </button>
            }
        })
        .collect_view();
    view! {
        <div class="actions" data-testid="message-actions">
            <button type="button" data-testid="reply" title="Reply" on:click=reply>"Reply"</button>
            <button type="button" data-testid="react" title="React"
                on:click=move |_| picking.update(|p| *p = !*p)>"React"</button>
            {from_self.then(|| view! {
                <button type="button" data-testid="edit" title="Edit" on:click=edit>"Edit"</button>
                <button type="button" data-testid="delete" title="Delete"
                    on:click=move |_| confirming.set(true)>"Delete"</button>
            })}
        </div>
        <Show when=move || picking.get()>
            <div class="emoji-picker" data-testid="emoji-picker">{options.clone()}</div>
        </Show>
        <Show when=move || confirming.get()>
            <div class="confirm" data-testid="confirm-delete" role="alertdialog">
                "Delete this message for everyone?"
                <button type="button" data-testid="confirm-delete-yes" on:click=delete.clone()>"Delete"</button>
                <button type="button" on:click=move |_| confirming.set(false)>"Cancel"</button>
            </div>
        </Show>
        {move || error.get().map(|e| view! { <div class="error" role="alert">{e}</div> })}
    }
}

/// Puts the keyboard in the composer (after Reply or Edit).
fn focus_composer() {
    use wasm_bindgen::JsCast;
    if let Some(el) = web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| {
            d.query_selector("[data-testid=message-input]")
                .ok()
                .flatten()
        })
        .and_then(|e| e.dyn_into::<web_sys::HtmlElement>().ok())
    {
        let _ = el.focus();
    }
}
