//! The login form and the trust prompt for a server's certificate.

use leptos::ev::SubmitEvent;
use leptos::prelude::*;
use leptos::task::spawn_local;
use natter_protocol::ipc::{ConnectionState, LoginArgs};

use crate::shell;
use crate::state::{UiState, deployed};

/// What the organisation deployed, as the shell said at start.
pub fn deployed_signal() -> RwSignal<natter_protocol::Deployed> {
    use_context::<RwSignal<natter_protocol::Deployed>>()
        .unwrap_or_else(|| RwSignal::new(natter_protocol::Deployed::default()))
}

#[component]
pub fn Login(state: RwSignal<UiState>, listening: RwSignal<bool>) -> impl IntoView {
    let server = RwSignal::new(String::new());
    let username = RwSignal::new(String::new());
    let password = RwSignal::new(String::new());
    let join_password = RwSignal::new(String::new());
    let local_error = RwSignal::new(None::<String>);
    let directory = directory_of(server);
    let deployed = deployed_signal();
    let locked = move || deployed.with(|d| d.locked_server().is_some());
    // Offer the last server used (or the organisation's; its fixed one, if it fixed one).
    Effect::new(move |_| {
        let last = state.with(|s| s.server_url.clone());
        let initial = deployed.with(|d| deployed::initial_server(d, last.as_deref()));
        if let Some(url) = initial
            && (server.get_untracked().is_empty() || locked())
        {
            server.set(url);
        }
    });
    let busy =
        move || !listening.get() || state.with(|s| s.connection == ConnectionState::Connecting);
    let submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        local_error.set(None);
        let optional = |s: String| (!s.is_empty()).then_some(s);
        let args = LoginArgs {
            server_url: server.get_untracked(),
            username: username.get_untracked(),
            password: optional(password.get_untracked()),
            join_password: optional(join_password.get_untracked()),
        };
        spawn_local(async move {
            if let Err(e) = shell::login(args).await {
                local_error.set(Some(e));
            }
        });
    };
    let error = move || {
        local_error
            .get()
            .or_else(|| state.with(|s| s.login_error()))
    };
    view! {
        <main class="login">
            <form class="login-card" on:submit=submit>
                <div class="brand">
                    <img src="icon.png" alt=""/>
                    <h1>"Natter"</h1>
                </div>
                <p class="tagline">"Private messages on your network"</p>
                <Show when=move || {
                    deployed.with(deployed::lists_discovered) && state.with(|s| !s.discovered.is_empty())
                }>
                    <div class="discovered">
                        <span class="hint">"On your network:"</span>
                        <For each=move || state.with(|s| s.discovered.clone())
                            key=|d| d.address.clone() let:found>
                            <button type="button" class="discovered-server"
                                data-testid="discovered-server" data-address=found.address.clone()
                                on:click={
                                    let address = found.address.clone();
                                    move |_| server.set(address.clone())
                                }>
                                <strong>{found.name.clone()}</strong>
                                <span class="address">{found.address.clone()}</span>
                            </button>
                        </For>
                    </div>
                </Show>
                <label>
                    "Server address"
                    <input data-testid="server-url" bind:value=server
                        placeholder="192.168.1.20:3000" readonly=locked
                        autocomplete="off" spellcheck="false"/>
                    <Show when=locked fallback=|| view! {
                        <small class="hint">"Several nodes of one cluster? Separate them with commas."</small>
                    }>
                        <small class="hint by-organisation" data-testid="server-locked">
                            "Set by your organisation"
                        </small>
                    </Show>
                </label>
                <Show when=move || directory.get()>
                    <p class="directory-sign-in" data-testid="directory-sign-in">
                        "Sign in with your network account"
                    </p>
                </Show>
                <label>
                    {move || if directory.get() { "Network user name" } else { "Your name" }}
                    <input data-testid="username" bind:value=username maxlength="32"
                        autocomplete="off" autofocus/>
                </label>
                <label>
                    {move || if directory.get() { "Network password" } else { "Password" }}
                    <input data-testid="password" type="password" bind:value=password
                        autocomplete="current-password" required=move || directory.get()/>
                    <small class="hint">
                        {move || if directory.get() {
                            "Your office account's: the server checks it with the directory and keeps nothing."
                        } else {
                            "Optional for a new name: protects it, and lets you sign in from another computer."
                        }}
                    </small>
                </label>
                <label>
                    "Join password"
                    <input data-testid="join-password" type="password" bind:value=join_password
                        autocomplete="off"/>
                    <small class="hint">"Only if the server's operator gave you one."</small>
                </label>
                <Show when=move || error().is_some()>
                    <p class="error" data-testid="login-error" role="alert">{move || error()}</p>
                </Show>
                <TrustPrompt state local_error/>
                <button data-testid="login" type="submit" disabled=busy>
                    {move || {
                        if !listening.get() {
                            "Starting…"
                        } else if busy() {
                            "Connecting…"
                        } else {
                            "Log in"
                        }
                    }}
                </button>
            </form>
        </main>
    }
}

/// Whether the server typed in `server` signs people in with the office directory, asked a
/// moment after the address stops changing (a typo on the way is never asked about).
fn directory_of(server: RwSignal<String>) -> Signal<bool> {
    let directory = RwSignal::new(false);
    let pending = StoredValue::new(None::<TimeoutHandle>);
    Effect::new(move |_| {
        let typed = server.get();
        if let Some(h) = pending.get_value() {
            h.clear();
        }
        let handle = set_timeout_with_handle(
            move || {
                spawn_local(async move {
                    let asked = typed.clone();
                    let info = shell::auth_info(asked).await;
                    // Only the answer about what is typed now counts.
                    if server.get_untracked() == typed {
                        directory.set(info.is_ok_and(|i| i.directory));
                    }
                });
            },
            std::time::Duration::from_millis(400),
        );
        pending.set_value(handle.ok());
    });
    directory.into()
}

/// The certificate the server presents, for the person to compare with what its operator
/// told them (the server prints it at start) before anything is sent.
#[component]
fn TrustPrompt(state: RwSignal<UiState>, local_error: RwSignal<Option<String>>) -> impl IntoView {
    let prompt = move || state.with(|s| s.trust_prompt());
    let trust = move |_| {
        let Some((fingerprint, _)) = state.with_untracked(|s| s.trust_prompt()) else {
            return;
        };
        spawn_local(async move {
            if let Err(e) = shell::trust(fingerprint).await {
                local_error.set(Some(e));
            }
        });
    };
    view! {
        <Show when=move || prompt().is_some()>
            <div class="trust" role="dialog">
                <p>
                    {move || if prompt().is_some_and(|p| p.1) {
                        "The server now presents this certificate:"
                    } else {
                        "First connection to this server. Its certificate fingerprint (SHA-256) is:"
                    }}
                </p>
                <code data-testid="fingerprint">{move || prompt().map(|p| p.0)}</code>
                <p class="hint">"Compare it with the one the server printed when it started (ask whoever runs it)."</p>
                <button data-testid="trust" type="button" on:click=trust>
                    {move || if prompt().is_some_and(|p| p.1) {
                        "Trust the new certificate"
                    } else {
                        "It matches — trust this server"
                    }}
                </button>
            </div>
        </Show>
    }
}
