//! One message: its bubble, sender, time and status, and a file it carries.

use leptos::prelude::*;
use leptos::task::spawn_local;

use super::actions::{Actions, Reactions};
use super::content::{Content, Mentioned};
use crate::dom::{clock, warn};
use crate::shell;
use crate::state::{Composer, TimelineItem, UiState};

#[component]
pub fn MessageRow(
    state: RwSignal<UiState>,
    /// What Reply and Edit put the composer to.
    composer: RwSignal<Composer>,
    item: TimelineItem,
    online: Signal<bool>,
    /// The message a search result or a reply's quote brings into view.
    focus: Memo<Option<u64>>,
) -> impl IntoView {
    let status = item.delivery().as_str();
    match item {
        TimelineItem::Stored {
            message,
            from_self,
            read,
        } => {
            let me = state.with_untracked(|s| s.me.as_ref().map(|m| m.user_id.clone()));
            let mentions_me = me.as_ref().is_some_and(|me| message.mentions.contains(me));
            let mentioned = state.with_untracked(|s| Mentioned {
                names: message.mentions.iter().map(|u| s.name_of(u)).collect(),
                me: me.as_ref().map(|m| s.name_of(m)),
            });
            let group = natter_protocol::is_group_id(&message.to);
            let body = if message.deleted {
                view! { <div class="bubble deleted">"Message deleted"</div> }.into_any()
            } else {
                view! {
                    {message.reply_to.clone().map(|q| view! { <Quote state quote=q/> })}
                    {message.attachment.clone().map(|a| view! { <AttachmentView attachment=a/> })}
                    {(!message.content.is_empty()).then(|| view! {
                        <Content content=message.content.clone() mentioned=mentioned.clone()/>
                    })}
                    {(!message.reactions.is_empty()).then(|| view! {
                        <Reactions state message=message.clone()/>
                    })}
                }
                .into_any()
            };
            view! {
                <div data-testid="message" data-from-self=from_self.to_string()
                    data-message-id=message.id.to_string() data-status=status
                    data-edited=message.edited_ts.is_some().to_string()
                    data-deleted=message.deleted.to_string()
                    data-mentions-me=mentions_me.to_string() tabindex="0"
                    class="msg" class:self=from_self class:mentions-me=mentions_me
                    class:focused=focused_row(focus, message.id)>
                    {(group && !from_self).then(|| view! {
                        <div class="sender">{state.with_untracked(|s| s.name_of(&message.from))}</div>
                    })}
                    {body}
                    <div class="meta">
                        {clock(message.ts)}
                        {(message.edited_ts.is_some() && !message.deleted).then(|| view! {
                            <span class="edited" title="edited">" (edited)"</span>
                        })}
                        {from_self.then(|| if read {
                            view! { <span class="tick read" title="read">" ✓✓"</span> }.into_any()
                        } else {
                            view! { <span class="tick" title="sent">" ✓"</span> }.into_any()
                        })}
                    </div>
                    {(!message.deleted).then(|| view! {
                        <Actions state composer message=message.clone() from_self/>
                    })}
                </div>
            }
            .into_any()
        }
        TimelineItem::Pending { entry } => view! {
            <div data-testid="message" data-from-self="true" data-status=status
                class="msg self pending">
                {entry.attachment.clone().map(|a| view! {
                    <div class="bubble file-card">{format!("{} · {}", a.name, size_text(a.size))}</div>
                })}
                {(!entry.content.is_empty()).then(|| view! {
                    <div class="bubble" dir="auto">{entry.content.clone()}</div>
                })}
                <div class="meta">
                    {move || if online.get() { "sending…" } else { "offline — will send when reconnected" }}
                </div>
            </div>
        }
        .into_any(),
    }
}

/// What a reply answers: the original's author and the start of its text (or that it was
/// deleted). A click brings the original into view, paging back to it.
#[component]
fn Quote(state: RwSignal<UiState>, quote: natter_protocol::ReplyQuote) -> impl IntoView {
    let name = state.with_untracked(|s| s.name_of(&quote.from));
    // The excerpt is the start of the original as typed: shown as its words, without marks.
    let text = match (&quote.excerpt, quote.deleted) {
        (Some(e), false) => natter_protocol::markdown::plain_text(e),
        _ => "Message deleted".into(),
    };
    let id = quote.id;
    view! {
        <button type="button" class="reply-quote" data-testid="reply-quote"
            data-reply-to=id.to_string() data-deleted=quote.deleted.to_string()
            on:click=move |_| state.update(|s| s.jump_to(id))>
            <span class="who">{name}</span>
            <span class="what" dir="auto">{text}</span>
        </button>
    }
}

/// Whether the message `id` is the one to bring into view (a search result), scrolling it
/// there once its row is on the page.
/// Reads a memo, so a row reacts to the focus changing, not to every event the state applies.
fn focused_row(focus: Memo<Option<u64>>, id: u64) -> impl Fn() -> bool + Copy + 'static {
    let focused = move || focus.get() == Some(id);
    Effect::new(move |_| {
        if !focused() {
            return;
        }
        // After this render's other effects (which may still move the scroll position).
        let selector = format!("[data-testid=message][data-message-id=\"{id}\"]");
        request_animation_frame(move || {
            if let Some(el) = web_sys::window()
                .and_then(|w| w.document())
                .and_then(|d| d.query_selector(&selector).ok().flatten())
            {
                el.scroll_into_view();
            }
        });
    });
    focused
}

thread_local! {
    /// Previews already fetched, by fileID: a row drawn again (a receipt changed its key, the
    /// conversation was opened again) shows its image without asking the server again.
    static PREVIEWS: std::cell::RefCell<std::collections::HashMap<String, String>> =
        Default::default();
}

/// A file in a message: an image shows its preview inline; anything else is a card with its
/// name and size. A click saves it to the Downloads folder.
#[component]
fn AttachmentView(attachment: natter_protocol::Attachment) -> impl IntoView {
    let preview = RwSignal::new(None::<String>);
    if natter_protocol::files::has_preview(&attachment.media_type) {
        let (id, name) = (attachment.file_id.clone(), attachment.name.clone());
        match PREVIEWS.with_borrow(|p| p.get(&id).cloned()) {
            Some(url) => preview.set(Some(url)),
            None => spawn_local(async move {
                match shell::preview(id.clone(), name).await {
                    Ok(url) => {
                        PREVIEWS.with_borrow_mut(|p| p.insert(id, url.clone()));
                        preview.set(Some(url));
                    }
                    Err(e) => warn("image preview", e),
                }
            }),
        }
    }
    let saved = RwSignal::new(None::<Result<String, String>>);
    let save = {
        let (id, name) = (attachment.file_id.clone(), attachment.name.clone());
        move |_| {
            let (id, name) = (id.clone(), name.clone());
            spawn_local(async move {
                saved.set(Some(shell::save_file(id, name).await));
            });
        }
    };
    let size = size_text(attachment.size);
    view! {
        <div class="attachment" data-testid="attachment" data-file-id=attachment.file_id.clone()
            data-type=attachment.media_type.clone() title="Save to Downloads" on:click=save>
            {move || preview.get().map(|url| view! {
                <img data-testid="preview" class="preview" src=url alt=""/>
            })}
            <div class="file-card">
                <span class="file-name" dir="auto">{attachment.name.clone()}</span>
                <span class="file-size">{size}</span>
            </div>
            {move || saved.get().map(|r| match r {
                Ok(path) => view! { <div class="saved" data-testid="saved">{format!("Saved to {path}")}</div> }.into_any(),
                Err(e) => view! { <div class="error" role="alert">{e}</div> }.into_any(),
            })}
        </div>
    }
}

/// A byte count as people read it.
fn size_text(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["KB", "MB", "GB", "TB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}
