//! How much of a conversation raises notifications: all messages, mentions only (groups), or
//! nothing. The button (`data-testid="mute"`, `data-muted` true when nothing) opens the choice.

use leptos::prelude::*;
use natter_protocol::ipc::Notify;

use super::settings::{change_prefs, preferences_signal};

#[component]
pub fn MuteMenu(
    /// The conversation (a userID or a groupID).
    conversation: Signal<Option<String>>,
    is_group: Signal<bool>,
) -> impl IntoView {
    let prefs = preferences_signal();
    let open = RwSignal::new(false);
    let current = move || {
        let id = conversation.get().unwrap_or_default();
        prefs.with(|p| p.notify(&id))
    };
    let choose = move |what: Notify| {
        open.set(false);
        let Some(id) = conversation.get_untracked() else {
            return;
        };
        change_prefs(prefs, |p| p.set_notify(&id, what));
    };
    let label = move || match current() {
        Notify::All => "Mute",
        Notify::Mentions => "Mentions only",
        Notify::Nothing => "Muted",
    };
    view! {
        <div class="mute-menu">
            <button class="mute" data-testid="mute"
                data-muted=move || (current() == Notify::Nothing).to_string()
                data-notify=move || current().as_str()
                title="Notifications for this conversation"
                on:click=move |_| open.update(|o| *o = !*o)>
                {label}
            </button>
            <Show when=move || open.get()>
                <div class="menu" role="menu">
                    <button data-testid="notify-all" on:click=move |_| choose(Notify::All)>
                        "All messages"
                    </button>
                    <Show when=move || is_group.get()>
                        <button data-testid="notify-mentions" on:click=move |_| choose(Notify::Mentions)>
                            "Mentions only"
                        </button>
                    </Show>
                    <button data-testid="notify-nothing" on:click=move |_| choose(Notify::Nothing)>
                        "Nothing"
                    </button>
                </div>
            </Show>
        </div>
    }
}
