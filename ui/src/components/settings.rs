//! Settings: the password, read receipts, and the desktop preferences.

use leptos::ev::SubmitEvent;
use leptos::prelude::*;
use leptos::task::spawn_local;
use natter_protocol::ipc::{Preferences, SetPasswordArgs};

use crate::shell;
use crate::state::UiState;

/// Setting or changing one's password (needed to sign in from another computer).
#[component]
pub fn Settings(state: RwSignal<UiState>) -> impl IntoView {
    let prefs = preferences_signal();
    let deployed = super::login::deployed_signal();
    let receipts = move || state.with(|s| s.me.as_ref().is_none_or(|m| m.receipts));
    let toggle_receipts = move |ev: leptos::ev::Event| {
        let send = event_target_checked(&ev);
        state.update(|s| {
            if let Some(me) = s.me.as_mut() {
                me.receipts = send;
            }
        });
        spawn_local(async move {
            if let Err(e) = shell::set_receipts(send).await {
                web_sys::console::warn_1(&format!("receipts setting not sent: {e}").into());
            }
        });
    };
    let current = RwSignal::new(String::new());
    let new = RwSignal::new(String::new());
    let outcome = RwSignal::new(None::<Result<(), String>>);
    let submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        let current_password = Some(current.get_untracked()).filter(|c| !c.is_empty());
        let args = SetPasswordArgs {
            password: new.get_untracked(),
            current_password,
        };
        spawn_local(async move {
            let result = shell::set_password(args).await;
            if result.is_ok() {
                current.set(String::new());
                new.set(String::new());
            }
            outcome.set(Some(result));
        });
    };
    view! {
        <form class="settings" data-testid="settings-panel" on:submit=submit>
            <h2>"Password"</h2>
            <input data-testid="current-password" type="password" bind:value=current
                placeholder="Current password (if you have one)" autocomplete="current-password"/>
            <input data-testid="new-password" type="password" bind:value=new
                placeholder="New password (8 characters or more)" autocomplete="new-password"/>
            <button data-testid="set-password" type="submit">"Set password"</button>
            {move || outcome.get().map(|r| match r {
                Ok(()) => view! { <p class="ok" data-testid="password-result">"Password saved."</p> }.into_any(),
                Err(e) => view! { <p class="error" data-testid="password-result" role="alert">{e}</p> }.into_any(),
            })}
            <h2>"Privacy"</h2>
            <label class="check">
                <input data-testid="receipts" type="checkbox" prop:checked=receipts
                    on:change=toggle_receipts/>
                "Send read receipts (your own devices always sync)"
            </label>
            <h2>"Notifications"</h2>
            <PrefToggle prefs testid="dnd" label="Do not disturb"
                get=|p| p.do_not_disturb set=|p, on| p.do_not_disturb = on/>
            <PrefToggle prefs testid="hide-text" label="Hide message text in notifications"
                get=|p| p.hide_text set=|p, on| p.hide_text = on/>
            <PrefToggle prefs testid="autostart" label="Start Natter when I log in"
                get=|p| p.autostart set=|p, on| p.autostart = on
                fixed=Signal::derive(move || deployed.with(|d| d.autostart.is_some()))/>
        </form>
    }
}

/// One on/off preference as a checkbox; `fixed` when the organisation set it.
#[component]
fn PrefToggle(
    prefs: RwSignal<Preferences>,
    testid: &'static str,
    label: &'static str,
    get: fn(&Preferences) -> bool,
    set: fn(&mut Preferences, bool),
    #[prop(optional, into)] fixed: Signal<bool>,
) -> impl IntoView {
    view! {
        <label class="check">
            <input data-testid=testid type="checkbox" prop:checked=move || prefs.with(get)
                disabled=move || fixed.get()
                on:change=move |ev| {
                    let on = event_target_checked(&ev);
                    change_prefs(prefs, |p| set(p, on));
                }/>
            {label}
            <Show when=move || fixed.get()>
                <small class="hint by-organisation">" — set by your organisation"</small>
            </Show>
        </label>
    }
}

/// The preferences the shell holds, shared by the components that change them.
pub fn preferences_signal() -> RwSignal<Preferences> {
    use_context::<RwSignal<Preferences>>().unwrap_or_else(|| RwSignal::new(Preferences::default()))
}

/// Changes the preferences here and in the shell (which saves them).
pub fn change_prefs(prefs: RwSignal<Preferences>, change: impl FnOnce(&mut Preferences)) {
    prefs.update(change);
    let current = prefs.get_untracked();
    spawn_local(async move {
        if let Err(e) = shell::set_preferences(current).await {
            web_sys::console::warn_1(&format!("preferences not saved: {e}").into());
        }
    });
}
