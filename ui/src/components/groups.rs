//! Group dialogs: a new group, and adding people to one.

use leptos::ev::SubmitEvent;
use leptos::prelude::*;
use leptos::task::spawn_local;
use natter_protocol::ipc::AppEvent;

use crate::shell;
use crate::state::UiState;

/// Naming a group and picking its members.
#[component]
pub fn NewGroup(state: RwSignal<UiState>, open: RwSignal<bool>) -> impl IntoView {
    let name = RwSignal::new(String::new());
    let picked = RwSignal::new(std::collections::BTreeSet::<String>::new());
    let error = RwSignal::new(None::<String>);
    let people = move || state.with(|s| s.people_where(|u| !u.is_self()));
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
pub fn AddPeople(state: RwSignal<UiState>, open: RwSignal<bool>) -> impl IntoView {
    let picked = RwSignal::new(std::collections::BTreeSet::<String>::new());
    let error = RwSignal::new(None::<String>);
    let outside = move || {
        state.with(|s| {
            let members = s
                .selected_conversation()
                .map(|g| g.members().to_vec())
                .unwrap_or_default();
            s.people_where(|u| !members.contains(&u.id))
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
