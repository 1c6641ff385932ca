//! The search box and its results.

use leptos::ev::SubmitEvent;
use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::shell;
use crate::state::UiState;

/// The search box and its results; a result opens its conversation at that message.
#[component]
pub fn Search(state: RwSignal<UiState>) -> impl IntoView {
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
    let results = move || state.with(|s| s.search_hits());
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
                <For each=results key=|hit| hit.message.id let:hit>
                    <button type="button" class="search-result" data-testid="search-result"
                        data-message-id=hit.message.id.to_string()
                        on:click={
                            let m = hit.message.clone();
                            move |_| state.update(|s| s.open_result(&m))
                        }>
                        <span class="where">{format!("{} · {}", hit.sender, hit.place)}</span>
                        <span class="what" dir="auto">{hit.message.content.clone()}</span>
                    </button>
                </For>
            </div>
        </Show>
    }
}
