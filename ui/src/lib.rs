//! Natter's interface (Leptos, client-side rendered, inside the Tauri window).
//!
//! - [`state`]: the state and its transitions, plain Rust with native tests.
//! - [`shell`]: calls into the desktop shell (Tauri commands and events).
//! - [`components`]: thin components, one file per view, that render the state and send
//!   intents to the shell; [`dom`]: helpers over the page.
//! - [`App`] (here): the root: listens to the shell, keeps the effects that talk back to it
//!   (unread total, the open conversation, read markers), and shows the login or the chat.

pub mod components;
pub mod dom;
pub mod shell;
pub mod state;

use leptos::prelude::*;
use leptos::task::spawn_local;
use natter_protocol::ipc::{AppEvent, Preferences};

use crate::components::chat::Chat;
use crate::components::login::Login;
use crate::dom::{now_ms, on_input, ticker, warn, window_focus};
use crate::state::{ACTIVITY_EVERY_MS, Throttle, UiState};

#[component]
pub fn App() -> impl IntoView {
    let state = RwSignal::new(UiState::default());
    // Logging in before the shell's events are heard would lose them: the form waits.
    let listening = RwSignal::new(false);
    let focused = window_focus();
    // One clock for what expires on its own ("… is typing").
    provide_context(ticker(1_000));
    // The shell goes away by itself on an idle desktop; where the desktop does not say, it
    // counts from the last input here.
    let activity = StoredValue::new(Throttle::every(ACTIVITY_EVERY_MS));
    on_input(move || {
        let mut throttle = activity.get_value();
        let due = throttle.due(now_ms());
        activity.set_value(throttle);
        if due {
            spawn_local(async {
                let _ = shell::activity().await;
            });
        }
    });
    spawn_local(async move {
        let on_event = move |ev| {
            let ev = match ev {
                AppEvent::Typing { from, .. } => AppEvent::Typing {
                    from,
                    at_ms: now_ms(),
                },
                // Files dropped on the window go to the open conversation.
                AppEvent::Dropped { paths } => {
                    if let Some(to) = state.with_untracked(|s| s.selected.clone()) {
                        for path in paths {
                            let to = to.clone();
                            spawn_local(async move {
                                if let Err(e) = shell::send_file(to, path).await {
                                    warn("sending a dropped file", e);
                                }
                            });
                        }
                    }
                    return;
                }
                ev => ev,
            };
            state.update(|s| s.apply(ev));
        };
        if let Err(e) = shell::on_event(on_event).await {
            web_sys::console::error_1(&format!("cannot listen to the shell: {e}").into());
            return;
        }
        listening.set(true);
        if let Err(e) = shell::discovered().await {
            web_sys::console::warn_1(&format!("discovered servers: {e}").into());
        }
        if let Err(e) = shell::start().await {
            web_sys::console::error_1(&format!("start failed: {e}").into());
        }
    });
    // The shell shows the unread total in the window title and the tray, and asks for
    // attention when it grows in the background.
    // Memos: the effects run when the value changes, not on every event the state applies.
    let unread = Memo::new(move |_| state.with(|s| s.total_unread()));
    Effect::new(move |_| {
        let unread = unread.get();
        spawn_local(async move {
            let _ = shell::attention(unread).await;
        });
    });
    // Notifications skip the conversation on screen.
    let selected = Memo::new(move |_| state.with(|s| s.selected.clone()));
    Effect::new(move |_| {
        let with = selected.get();
        spawn_local(async move {
            let _ = shell::viewing(with).await;
        });
    });
    let prefs = RwSignal::new(Preferences::default());
    provide_context(prefs);
    let deployed = RwSignal::new(natter_protocol::Deployed::default());
    provide_context(deployed);
    spawn_local(async move {
        match shell::preferences().await {
            Ok(p) => prefs.set(p),
            Err(e) => web_sys::console::warn_1(&format!("preferences: {e}").into()),
        }
        match shell::deployed().await {
            Ok(d) => deployed.set(d),
            Err(e) => web_sys::console::warn_1(&format!("deployed settings: {e}").into()),
        }
    });
    // The open conversation in a focused window is read: its marker goes to the server, which
    // clears the badge on every device of ours and tells the sender.
    Effect::new(move |_| {
        let Some((with, up_to)) = state.with(|s| s.read_to_send(focused.get())) else {
            return;
        };
        state.update(|s| s.marker_sent(&with, up_to));
        spawn_local(async move {
            if let Err(e) = shell::mark_read(with, up_to).await {
                web_sys::console::warn_1(&format!("read marker not sent: {e}").into());
            }
        });
    });
    view! {
        <Show when=move || state.with(|s| s.shows_login()) fallback=move || view! { <Chat state/> }>
            <Login state listening/>
        </Show>
    }
}
