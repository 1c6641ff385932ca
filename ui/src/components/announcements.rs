//! The operator's announcements as banners above the conversation, each dismissable (the
//! person's choice is kept with their preferences).

use leptos::prelude::*;

use super::settings::{change_prefs, preferences_signal};
use crate::dom::now_ms;
use crate::state::UiState;

#[component]
pub fn Announcements(state: RwSignal<UiState>) -> impl IntoView {
    let prefs = preferences_signal();
    let banners = move || prefs.with(|p| state.with(|s| s.banners(now_ms() as i64, p)));
    view! {
        <For each=banners key=|a| a.id let(a)>
            <div class="announcement" data-testid="announcement" role="alert"
                data-announcement-id=a.id.to_string()>
                <span class="badge">"Announcement"</span>
                <span class="text" dir="auto">{a.text.clone()}</span>
                <button type="button" class="link" data-testid="dismiss-announcement"
                    title="Dismiss"
                    on:click=move |_| change_prefs(prefs, |p| {
                        p.dismissed_announcements.insert(a.id);
                    })>
                    "Dismiss"
                </button>
            </div>
        </For>
    }
}
