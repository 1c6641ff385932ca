//! Our status: available, away or busy, and a text, chosen from the header. (The app also goes
//! away by itself when the desktop is idle; that is the shell's.)

use leptos::ev::SubmitEvent;
use leptos::prelude::*;
use leptos::task::spawn_local;
use natter_protocol::{Status, StatusState};

use crate::shell;
use crate::state::UiState;

const STATES: [(StatusState, &str); 3] = [
    (StatusState::Available, "Available"),
    (StatusState::Away, "Away"),
    (StatusState::Busy, "Busy — no notifications"),
];

#[component]
pub fn StatusMenu(state: RwSignal<UiState>) -> impl IntoView {
    let open = RwSignal::new(false);
    let mine = Memo::new(move |_| state.with(|s| s.my_status()));
    let text = RwSignal::new(String::new());
    let error = RwSignal::new(None::<String>);
    let set = move |status: Status| {
        error.set(None);
        spawn_local(async move {
            match shell::set_status(status.clone()).await {
                Ok(()) => {
                    state.update(|s| s.set_my_status(status));
                    open.set(false);
                }
                Err(e) => error.set(Some(e)),
            }
        });
    };
    let choose = move |st: StatusState| {
        let text = Some(text.get_untracked().trim().to_owned()).filter(|t| !t.is_empty());
        set(Status { state: st, text });
    };
    let save_text = move |ev: SubmitEvent| {
        ev.prevent_default();
        choose(mine.get_untracked().state);
    };
    view! {
        <div class="status-menu">
            <button type="button" class=move || format!("status-button {}", mine.get().state.as_str())
                data-testid="status-menu" data-state=move || mine.get().state.as_str()
                title="Your status"
                on:click=move |_| {
                    text.set(mine.get_untracked().text.unwrap_or_default());
                    open.update(|o| *o = !*o);
                }>
                <span class="dot"></span>
                {move || mine.get().text.unwrap_or_else(|| mine.get().state.as_str().to_owned())}
            </button>
            <Show when=move || open.get()>
                <div class="menu" role="menu">
                    {STATES.iter().map(|(st, label)| {
                        let st = *st;
                        view! {
                            <button type="button" data-testid="status-option" data-state=st.as_str()
                                class:chosen=move || mine.get().state == st
                                on:click=move |_| choose(st)>
                                <span class=format!("dot {}", st.as_str())></span>{*label}
                            </button>
                        }
                    }).collect_view()}
                    <form on:submit=save_text>
                        <input data-testid="status-text" maxlength="80" placeholder="What are you up to?"
                            bind:value=text/>
                    </form>
                    {move || error.get().map(|e| view! { <p class="error" role="alert">{e}</p> })}
                </div>
            </Show>
        </div>
    }
}
