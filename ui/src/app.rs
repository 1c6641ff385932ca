//! The components: they read [`AppState`] and turn clicks into shell calls. No rules here.

use leptos::ev::SubmitEvent;
use leptos::prelude::*;
use leptos::task::spawn_local;
use natter_protocol::ipc::{AppEvent, ConnectionState, LoginArgs, Preferences, SetPasswordArgs};
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::Closure;

use crate::shell;
use crate::state::{AppState, TimelineItem};

/// Shows a failed call in the console: the page has nowhere better for background errors.
fn warn(what: &str, e: String) {
    web_sys::console::warn_1(&format!("{what}: {e}").into());
}

#[component]
pub fn App() -> impl IntoView {
    let state = RwSignal::new(AppState::default());
    // Logging in before the shell's events are heard would lose them: the form waits.
    let listening = RwSignal::new(false);
    let focused = window_focus();
    // One clock for what expires on its own ("… is typing").
    provide_context(ticker(1_000));
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
    spawn_local(async move {
        match shell::preferences().await {
            Ok(p) => prefs.set(p),
            Err(e) => web_sys::console::warn_1(&format!("preferences: {e}").into()),
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

#[component]
fn Login(state: RwSignal<AppState>, listening: RwSignal<bool>) -> impl IntoView {
    let server = RwSignal::new(String::new());
    let username = RwSignal::new(String::new());
    let password = RwSignal::new(String::new());
    let join_password = RwSignal::new(String::new());
    let local_error = RwSignal::new(None::<String>);
    // Offer the last server used.
    Effect::new(move |_| {
        if let Some(url) = state.with(|s| s.server_url.clone())
            && server.get_untracked().is_empty()
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
                <Show when=move || state.with(|s| !s.discovered.is_empty())>
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
                        placeholder="192.168.1.20:3000"
                        autocomplete="off" spellcheck="false"/>
                    <small class="hint">"Several nodes of one cluster? Separate them with commas."</small>
                </label>
                <label>
                    "Your name"
                    <input data-testid="username" bind:value=username maxlength="32"
                        autocomplete="off" autofocus/>
                </label>
                <label>
                    "Password"
                    <input data-testid="password" type="password" bind:value=password
                        autocomplete="current-password"/>
                    <small class="hint">"Optional for a new name: protects it, and lets you sign in from another computer."</small>
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

/// The certificate the server presents, for the person to compare with what its operator
/// told them (the server prints it at start) before anything is sent.
#[component]
fn TrustPrompt(state: RwSignal<AppState>, local_error: RwSignal<Option<String>>) -> impl IntoView {
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

#[component]
fn Chat(state: RwSignal<AppState>) -> impl IntoView {
    let my_name = move || {
        state.with(|s| {
            s.me.as_ref()
                .map(|m| m.username.clone())
                .unwrap_or_default()
        })
    };
    let online = move || state.with(|s| s.is_online());
    let show_settings = RwSignal::new(false);
    let show_new_group = RwSignal::new(false);
    let group_rows = move || {
        state.with(|s| {
            s.groups()
                .iter()
                .map(|g| {
                    (
                        g.user_id.clone(),
                        g.username.clone(),
                        g.members.len(),
                        g.unread,
                        s.selected.as_deref() == Some(g.user_id.as_str()),
                    )
                })
                .collect::<Vec<_>>()
        })
    };
    let rows = move || {
        state.with(|s| {
            s.users()
                .iter()
                .map(|u| {
                    (
                        u.user_id.clone(),
                        u.username.clone(),
                        u.connected,
                        u.unread,
                        u.is_self,
                        s.selected.as_deref() == Some(u.user_id.as_str()),
                    )
                })
                .collect::<Vec<_>>()
        })
    };
    view! {
        <div class="chat">
            <aside class="sidebar">
                <header class="me">
                    <div class="avatar">{move || initial(&my_name())}</div>
                    <div class="me-text">
                        <div class="me-name">{my_name}</div>
                        <div class="status" data-testid="status" class:online=online
                            data-secure=move || state.with(|s| s.secure.to_string())>
                            {move || state.with(|s| s.status_text())}
                            {move || format!(" · {}", state.with(|s| s.security_text()))}
                        </div>
                    </div>
                    <button class="settings-toggle" title="Settings" data-testid="settings"
                        on:click=move |_| show_settings.update(|v| *v = !*v)>
                        "⚙"
                    </button>
                    <button class="logout" title="Log out" data-testid="logout"
                        on:click=move |_| spawn_local(async { let _ = shell::logout().await; })>
                        "Log out"
                    </button>
                </header>
                <Show when=move || show_settings.get()>
                    <Settings state/>
                </Show>
                <Search state/>
                <div class="section-title">
                    <span>"Groups"</span>
                    <button class="new-group" data-testid="new-group" title="New group"
                        on:click=move |_| show_new_group.update(|v| *v = !*v)>"+ New group"</button>
                </div>
                <Show when=move || show_new_group.get()>
                    <NewGroup state open=show_new_group/>
                </Show>
                <ul class="groups">
                    <For each=group_rows key=|r| r.clone() let(row)>
                        <GroupRow state row/>
                    </For>
                </ul>
                <div class="section-title"><span>"People"</span></div>
                <ul class="users">
                    <For each=rows key=|r| r.clone() let(row)>
                        <UserRow state row/>
                    </For>
                </ul>
            </aside>
            <section class="panel">
                <Show when=move || state.with(|s| s.selected_user().is_some())
                    fallback=|| view! { <div class="empty">"Pick someone to start a conversation."</div> }>
                    <Conversation state/>
                </Show>
            </section>
        </div>
    }
}

/// Setting or changing one's password (needed to sign in from another computer).
#[component]
fn Settings(state: RwSignal<AppState>) -> impl IntoView {
    let prefs = preferences_signal();
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
                get=|p| p.autostart set=|p, on| p.autostart = on/>
        </form>
    }
}

/// One on/off preference as a checkbox.
#[component]
fn PrefToggle(
    prefs: RwSignal<Preferences>,
    testid: &'static str,
    label: &'static str,
    get: fn(&Preferences) -> bool,
    set: fn(&mut Preferences, bool),
) -> impl IntoView {
    view! {
        <label class="check">
            <input data-testid=testid type="checkbox" prop:checked=move || prefs.with(get)
                on:change=move |ev| {
                    let on = event_target_checked(&ev);
                    change_prefs(prefs, |p| set(p, on));
                }/>
            {label}
        </label>
    }
}

/// The preferences the shell holds, shared by the components that change them.
fn preferences_signal() -> RwSignal<Preferences> {
    use_context::<RwSignal<Preferences>>().unwrap_or_else(|| RwSignal::new(Preferences::default()))
}

/// Changes the preferences here and in the shell (which saves them).
fn change_prefs(prefs: RwSignal<Preferences>, change: impl FnOnce(&mut Preferences)) {
    prefs.update(change);
    let current = prefs.get_untracked();
    spawn_local(async move {
        if let Err(e) = shell::set_preferences(current).await {
            web_sys::console::warn_1(&format!("preferences not saved: {e}").into());
        }
    });
}

/// The search box and its results; a result opens its conversation at that message.
#[component]
fn Search(state: RwSignal<AppState>) -> impl IntoView {
    let q = RwSignal::new(String::new());
    let error = RwSignal::new(None::<String>);
    let run = move || {
        let query = q.get_untracked();
        if query.trim().is_empty() {
            state.update(|s| s.clear_search());
            return;
        }
        error.set(None);
        spawn_local(async move {
            match shell::search(query.clone(), None).await {
                Ok(found) => state.update(|s| s.set_search(query, found.messages)),
                Err(e) => error.set(Some(e)),
            }
        });
    };
    let results = move || {
        state.with(|s| {
            s.search
                .as_ref()
                .map(|(_, found)| {
                    found
                        .iter()
                        .map(|m| {
                            let place = s
                                .conversation_of(m)
                                .and_then(|c| s.user(&c).map(|u| u.username.clone()))
                                .unwrap_or_default();
                            (m.clone(), s.name_of(&m.from), place)
                        })
                        .collect::<Vec<_>>()
                })
                .unwrap_or_default()
        })
    };
    view! {
        <form class="search" on:submit=move |ev: SubmitEvent| { ev.prevent_default(); run(); }>
            <input data-testid="search" type="search" placeholder="Search messages…"
                bind:value=q/>
        </form>
        {move || error.get().map(|e| view! { <p class="error search-error" role="alert">{e}</p> })}
        <Show when=move || state.with(|s| s.search.is_some())>
            <div class="search-results">
                <div class="search-head">
                    {move || format!("{} found", results().len())}
                    <button class="link" data-testid="close-search"
                        on:click=move |_| { q.set(String::new()); state.update(|s| s.clear_search()); }>
                        "Close"
                    </button>
                </div>
                <For each=results key=|(m, _, _)| m.id let:found>
                    <button type="button" class="search-result" data-testid="search-result"
                        data-message-id=found.0.id.to_string()
                        on:click={
                            let m = found.0.clone();
                            move |_| state.update(|s| s.open_result(&m))
                        }>
                        <span class="where">{format!("{} · {}", found.1, found.2)}</span>
                        <span class="what" dir="auto">{found.0.content.clone()}</span>
                    </button>
                </For>
            </div>
        </Show>
    }
}

/// Naming a group and picking its members.
#[component]
fn NewGroup(state: RwSignal<AppState>, open: RwSignal<bool>) -> impl IntoView {
    let name = RwSignal::new(String::new());
    let picked = RwSignal::new(std::collections::BTreeSet::<String>::new());
    let error = RwSignal::new(None::<String>);
    let people = move || {
        state.with(|s| {
            s.users()
                .iter()
                .filter(|u| !u.is_self)
                .map(|u| (u.user_id.clone(), u.username.clone()))
                .collect::<Vec<_>>()
        })
    };
    let submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        let members: Vec<String> = picked.get_untracked().into_iter().collect();
        let group_name = name.get_untracked();
        spawn_local(async move {
            match shell::create_group(group_name, members).await {
                Ok(group) => {
                    open.set(false);
                    state.update(|s| {
                        s.apply(AppEvent::Group {
                            group: group.clone(),
                        });
                        s.select(&group.group_id);
                    });
                }
                Err(e) => error.set(Some(e)),
            }
        });
    };
    view! {
        <form class="new-group-form" data-testid="new-group-form" on:submit=submit>
            <input data-testid="group-name" placeholder="Group name" bind:value=name maxlength="64"/>
            <div class="pick">
                <PeoplePicker people=Signal::derive(people) picked testid="group-member"/>
            </div>
            {move || error.get().map(|e| view! { <p class="error" role="alert">{e}</p> })}
            <button type="submit" data-testid="create-group">"Create group"</button>
        </form>
    }
}

/// A checkbox per person `(userID, name)`; the ticked ones are in `picked`.
#[component]
fn PeoplePicker(
    people: Signal<Vec<(String, String)>>,
    picked: RwSignal<std::collections::BTreeSet<String>>,
    testid: &'static str,
) -> impl IntoView {
    view! {
        <For each=move || people.get() key=|p| p.0.clone() let:person>
            <label class="check">
                <input type="checkbox" data-testid=testid data-user-id=person.0.clone()
                    on:change={
                        let id = person.0.clone();
                        move |ev| {
                            let on = event_target_checked(&ev);
                            picked.update(|p| {
                                if on {
                                    p.insert(id.clone());
                                } else {
                                    p.remove(&id);
                                }
                            });
                        }
                    }/>
                {person.1.clone()}
            </label>
        </For>
    }
}

/// Adding people to the open group: everyone not in it yet, ticked, then added.
#[component]
fn AddPeople(state: RwSignal<AppState>, open: RwSignal<bool>) -> impl IntoView {
    let picked = RwSignal::new(std::collections::BTreeSet::<String>::new());
    let error = RwSignal::new(None::<String>);
    let outside = move || {
        state.with(|s| {
            let members = s
                .selected_user()
                .map(|g| g.members.clone())
                .unwrap_or_default();
            s.users()
                .iter()
                .filter(|u| !members.contains(&u.user_id))
                .map(|u| (u.user_id.clone(), u.username.clone()))
                .collect::<Vec<_>>()
        })
    };
    let submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        let Some(group_id) = state.with_untracked(|s| s.selected.clone()) else {
            return;
        };
        let members: Vec<String> = picked.get_untracked().into_iter().collect();
        spawn_local(async move {
            match shell::add_members(group_id, members).await {
                Ok(group) => {
                    state.update(|s| s.apply(AppEvent::Group { group }));
                    open.set(false);
                }
                Err(e) => error.set(Some(e)),
            }
        });
    };
    view! {
        <form class="add-people" data-testid="add-people-form" on:submit=submit>
            <PeoplePicker people=Signal::derive(outside) picked testid="add-member"/>
            {move || error.get().map(|e| view! { <p class="error" role="alert">{e}</p> })}
            <button type="submit" data-testid="add-members">"Add"</button>
        </form>
    }
}

/// What a group row shows: id, name, member count, unread, selected.
type GroupRowData = (String, String, usize, u32, bool);

#[component]
fn GroupRow(state: RwSignal<AppState>, row: GroupRowData) -> impl IntoView {
    let (id, name, members, unread, selected) = row;
    let select_id = id.clone();
    let letter = initial(&name);
    let name_attr = name.clone();
    view! {
        <li data-testid="group" data-group-id=id data-name=name_attr
            class="user group" class:selected=selected
            on:click=move |_| state.update(|s| s.select(&select_id))>
            <span class="avatar small group-avatar">{letter}</span>
            <span class="name">{name}<span class="members-count">{format!(" · {members}")}</span></span>
            {(unread > 0).then(|| view! {
                <span class="unread" data-testid="unread">{unread}</span>
            })}
        </li>
    }
}

/// What a user row shows; a change of any field re-renders the row.
type Row = (String, String, bool, u32, bool, bool);

#[component]
fn UserRow(state: RwSignal<AppState>, row: Row) -> impl IntoView {
    let (id, name, connected, unread, is_self, selected) = row;
    let letter = initial(&name);
    let select_id = id.clone();
    let name_attr = name.clone();
    view! {
        <li data-testid="user" data-user-id=id data-username=name_attr
            data-connected=connected.to_string()
            class="user" class:selected=selected class:online=connected
            on:click=move |_| state.update(|s| s.select(&select_id))>
            <span class="dot" title=if connected { "online" } else { "offline" }></span>
            <span class="avatar small">{letter}</span>
            <span class="name">
                {name}
                {is_self.then(|| view! { <span class="yourself">" (yourself)"</span> })}
            </span>
            {(unread > 0).then(|| view! {
                <span class="unread" data-testid="unread">{unread}</span>
            })}
        </li>
    }
}

#[component]
fn Conversation(state: RwSignal<AppState>) -> impl IntoView {
    let peer = move || {
        state.with(|s| {
            s.selected_user().map(|u| {
                (
                    u.user_id.clone(),
                    u.username.clone(),
                    u.connected,
                    u.is_self,
                )
            })
        })
    };
    let members = move || {
        state.with(|s| {
            s.selected_user().filter(|u| u.is_group).map(|g| {
                g.members
                    .iter()
                    .map(|m| s.name_of(m))
                    .collect::<Vec<_>>()
                    .join(", ")
            })
        })
    };
    let adding = RwSignal::new(false);
    let leave = move |_| {
        let Some(id) = state.with_untracked(|s| s.selected.clone()) else {
            return;
        };
        spawn_local(async move {
            if let Err(e) = shell::leave_group(id).await {
                warn("leaving the group", e);
            }
        });
    };
    let uploads = move || {
        state.with(|s| {
            s.selected
                .as_deref()
                .map(|id| s.uploads_to(id))
                .unwrap_or_default()
        })
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
    let online = move || state.with(|s| s.is_online());
    let items = move || {
        state.with(|s| {
            s.selected
                .as_deref()
                .map(|id| s.timeline(id))
                .unwrap_or_default()
        })
    };
    let loading = move || state.with(|s| s.selected_user().is_some_and(|u| u.loading_older));
    let focus = Memo::new(move |_| state.with(|s| s.focus));

    let list = NodeRef::<leptos::html::Div>::new();
    let pinned = StoredValue::new(true);
    // Distance from the bottom before older messages were put on top, to stay in place.
    let anchor = StoredValue::new(None::<i32>);

    let load_older = move || {
        let Some(id) = state.with_untracked(|s| s.selected.clone()) else {
            return;
        };
        let Some(before) = state.with_untracked(|s| s.wants_older(&id)) else {
            return;
        };
        if !state.with_untracked(|s| s.is_online()) {
            return;
        }
        if let Some(el) = list.get_untracked() {
            anchor.set_value(Some(el.scroll_height() - el.scroll_top()));
        }
        state.update(|s| s.set_loading_older(&id, true));
        spawn_local(async move {
            match shell::fetch_older(id.clone(), before).await {
                Ok(page) => state.update(|s| s.add_older(&id, page)),
                Err(_) => state.update(|s| s.set_loading_older(&id, false)),
            }
        });
    };

    // After each change of the timeline: keep the view at the bottom, or where it was when
    // older messages were added on top; fill a short view with older messages.
    Effect::new(move |_| {
        items();
        let Some(el) = list.get() else { return };
        if let Some(from_bottom) = anchor.get_value() {
            anchor.set_value(None);
            el.set_scroll_top(el.scroll_height() - from_bottom);
        } else if pinned.get_value() {
            el.set_scroll_top(el.scroll_height());
        }
        if el.scroll_height() <= el.client_height() {
            load_older();
        }
    });
    // Switching conversation starts at the bottom.
    Effect::new(move |_| {
        state.with(|s| s.selected.clone());
        pinned.set_value(true);
    });
    // A search result: page back until its message is loaded (its row then brings itself
    // into view), and stop following the bottom meanwhile.
    Effect::new(move |_| {
        items();
        if state.with(|s| s.focus.is_none()) {
            return;
        }
        pinned.set_value(false);
        if state.with_untracked(|s| s.focus_needs_older()) {
            load_older();
        }
    });

    let on_scroll = move |_| {
        let Some(el) = list.get_untracked() else {
            return;
        };
        pinned.set_value(el.scroll_height() - el.scroll_top() - el.client_height() < 40);
        if el.scroll_top() < 60 {
            load_older();
        }
    };

    let draft = RwSignal::new(String::new());
    let send_error = RwSignal::new(None::<String>);
    // While the person types, the other side hears it every few seconds.
    let typing_sent = StoredValue::new(0u64);
    let on_input = move |_| {
        let now = now_ms();
        if now < typing_sent.get_value() + natter_protocol::TYPING_REPEAT_MS
            || !state.with_untracked(|s| s.is_online())
        {
            return;
        }
        let Some(to) = state.with_untracked(|s| s.selected.clone()) else {
            return;
        };
        typing_sent.set_value(now);
        spawn_local(async move {
            let _ = shell::typing(to).await;
        });
    };
    let clock_tick = use_context::<ReadSignal<u64>>().unwrap_or_else(|| signal(0).0);
    let typing = move || {
        let now = clock_tick.get().max(now_ms());
        state.with(|s| s.typing_shown(now).map(|u| u.username.clone()))
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
        typing_sent.set_value(0);
        pinned.set_value(true);
        spawn_local(async move {
            if let Err(e) = shell::send(to, content).await {
                send_error.set(Some(e));
            }
        });
    };

    let prefs = preferences_signal();
    let muted = move || {
        let id = state.with(|s| s.selected.clone()).unwrap_or_default();
        prefs.with(|p| p.muted.contains(&id))
    };
    let toggle_mute = move |_| {
        let Some(id) = state.with_untracked(|s| s.selected.clone()) else {
            return;
        };
        change_prefs(prefs, |p| {
            if !p.muted.remove(&id) {
                p.muted.insert(id);
            }
        });
    };
    view! {
        <header class="peer">
            {move || peer().map(|(_, name, connected, is_self)| view! {
                <div class="avatar">{initial(&name)}</div>
                <div class="peer-text">
                    <div class="peer-name">{name}{is_self.then_some(" (yourself)")}</div>
                    {match members() {
                        Some(list) => view! {
                            <div class="peer-status" data-testid="members">{list}</div>
                        }.into_any(),
                        None => view! {
                            <div class="peer-status" class:online=connected>
                                {if connected { "online" } else { "offline" }}
                            </div>
                        }.into_any(),
                    }}
                </div>
            })}
            <Show when=move || members().is_some()>
                <button class="mute" data-testid="add-people"
                    on:click=move |_| adding.update(|v| *v = !*v)>"Add people"</button>
                <button class="leave" data-testid="leave-group" on:click=leave>"Leave"</button>
            </Show>
            <button class="mute" data-testid="mute" data-muted=move || muted().to_string()
                title="Notifications for this conversation" on:click=toggle_mute>
                {move || if muted() { "Muted" } else { "Mute" }}
            </button>
        </header>
        <Show when=move || adding.get() && members().is_some()>
            <AddPeople state open=adding/>
        </Show>
        <div class="messages" node_ref=list on:scroll=on_scroll>
            <Show when=loading>
                <div class="loading-older">"Loading older messages…"</div>
            </Show>
            <For each=items key=item_key let:item>
                <MessageRow state item online=Signal::derive(online) focus/>
            </For>
            <For each=uploads key=|u| (u.id, u.sent, u.done.clone()) let:upload>
                <div class="msg self upload" data-testid="upload" data-failed=upload.done.is_some().to_string()>
                    <div class="bubble">
                        <div class="file-name">{upload.name.clone()}</div>
                        {match upload.done.clone() {
                            Some(Err(e)) => view! {
                                <div class="error" role="alert">{e}
                                    <button class="link" on:click=move |_| state.update(|s| s.dismiss_upload(upload.id))>"Dismiss"</button>
                                </div>
                            }.into_any(),
                            _ => view! {
                                <progress max=upload.total.max(1).to_string() value=upload.sent.to_string()></progress>
                            }.into_any(),
                        }}
                    </div>
                </div>
            </For>
        </div>
        {move || typing().map(|name| view! {
            <div class="typing" data-testid="typing">{format!("{name} is typing…")}</div>
        })}
        <Show when=move || !online()>
            <div class="offline-banner" data-testid="offline-banner">
                "Offline — messages will send when reconnected"
            </div>
        </Show>
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

/// A row is drawn again when its key changes: the status is part of it (✓ becomes ✓✓).
fn item_key(item: &TimelineItem) -> String {
    match item {
        TimelineItem::Stored { message, read, .. } => format!("m{}-{read}", message.id),
        TimelineItem::Pending { entry } => format!("p{}", entry.client_id),
    }
}

#[component]
fn MessageRow(
    state: RwSignal<AppState>,
    item: TimelineItem,
    online: Signal<bool>,
    /// The message a search result brings into view.
    focus: Memo<Option<u64>>,
) -> impl IntoView {
    let status = item.delivery().as_str();
    match item {
        TimelineItem::Stored {
            message,
            from_self,
            read,
        } => view! {
            <div data-testid="message" data-from-self=from_self.to_string()
                data-message-id=message.id.to_string() data-status=status
                class="msg" class:self=from_self class:focused=focused_row(focus, message.id)>
                {(natter_protocol::is_group_id(&message.to) && !from_self).then(|| view! {
                    <div class="sender">{state.with_untracked(|s| s.name_of(&message.from))}</div>
                })}
                {message.attachment.clone().map(|a| view! { <AttachmentView attachment=a/> })}
                {(!message.content.is_empty()).then(|| view! {
                    <div class="bubble" dir="auto">{message.content.clone()}</div>
                })}
                <div class="meta">
                    {clock(message.ts)}
                    {from_self.then(|| if read {
                        view! { <span class="tick read" title="read">" ✓✓"</span> }.into_any()
                    } else {
                        view! { <span class="tick" title="sent">" ✓"</span> }.into_any()
                    })}
                </div>
            </div>
        }
        .into_any(),
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

fn now_ms() -> u64 {
    js_sys::Date::now() as u64
}

/// A signal set to the time every `every_ms`, for what expires on its own (typing).
fn ticker(every_ms: i32) -> ReadSignal<u64> {
    let (now, set_now) = signal(now_ms());
    let tick = Closure::<dyn FnMut()>::new(move || set_now.set(now_ms()));
    if let Some(w) = web_sys::window() {
        let _ = w.set_interval_with_callback_and_timeout_and_arguments_0(
            tick.as_ref().unchecked_ref(),
            every_ms,
        );
    }
    // Lives as long as the page.
    tick.forget();
    now
}

/// Whether the window has the keyboard focus, kept current by its focus and blur events.
fn window_focus() -> ReadSignal<bool> {
    let window = web_sys::window();
    let initially = window
        .as_ref()
        .and_then(|w| w.document())
        .and_then(|d| d.has_focus().ok())
        .unwrap_or(true);
    let (focused, set_focused) = signal(initially);
    if let Some(w) = window {
        for (name, value) in [("focus", true), ("blur", false)] {
            let listener = Closure::<dyn FnMut()>::new(move || set_focused.set(value));
            let _ = w.add_event_listener_with_callback(name, listener.as_ref().unchecked_ref());
            listener.forget();
        }
    }
    focused
}

/// `HH:MM` in local time.
fn clock(ts_ms: i64) -> String {
    let d = js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(ts_ms as f64));
    format!("{:02}:{:02}", d.get_hours(), d.get_minutes())
}

fn initial(name: &str) -> String {
    name.chars()
        .next()
        .map(|c| c.to_uppercase().collect())
        .unwrap_or_default()
}
