//! A message's text on screen: the Markdown subset the protocol crate parses, made into
//! elements (never into HTML, so nothing typed is ever markup), mentions highlighted, links
//! opening in the system's browser.

use leptos::prelude::*;
use leptos::task::spawn_local;
use natter_protocol::markdown::{Block, Inline, parse};

use crate::dom::warn;
use crate::shell;
use crate::state::split_mentions;

/// Who a message mentions, for highlighting: their names, and ours among them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Mentioned {
    pub names: Vec<String>,
    pub me: Option<String>,
}

#[component]
pub fn Content(content: String, mentioned: Mentioned) -> impl IntoView {
    let blocks = parse(&content);
    view! {
        <div class="bubble content" dir="auto">
            {blocks.into_iter().map(|b| block(b, &mentioned)).collect_view()}
        </div>
    }
}

fn block(b: Block, m: &Mentioned) -> AnyView {
    match b {
        Block::Paragraph(inlines) => view! { <p>{inlines_view(inlines, m)}</p> }.into_any(),
        Block::Code(text) => view! { <pre><code>{text}</code></pre> }.into_any(),
        Block::Quote(blocks) => view! {
            <blockquote>{blocks.into_iter().map(|b| block(b, m)).collect_view()}</blockquote>
        }
        .into_any(),
        Block::List { start: None, items } => view! {
            <ul>{items.into_iter().map(|item| view! { <li>{item.into_iter().map(|b| block(b, m)).collect_view()}</li> }).collect_view()}</ul>
        }
        .into_any(),
        Block::List {
            start: Some(first),
            items,
        } => view! {
            <ol start=first.to_string()>{items.into_iter().map(|item| view! { <li>{item.into_iter().map(|b| block(b, m)).collect_view()}</li> }).collect_view()}</ol>
        }
        .into_any(),
    }
}

fn inlines_view(inlines: Vec<Inline>, m: &Mentioned) -> Vec<AnyView> {
    inlines.into_iter().map(|i| inline(i, m)).collect()
}

fn inline(i: Inline, m: &Mentioned) -> AnyView {
    match i {
        Inline::Text(t) => text_view(t, m),
        Inline::Emphasis(c) => view! { <em>{inlines_view(c, m)}</em> }.into_any(),
        Inline::Strong(c) => view! { <strong>{inlines_view(c, m)}</strong> }.into_any(),
        Inline::Code(c) => view! { <code>{c}</code> }.into_any(),
        Inline::LineBreak => view! { <br/> }.into_any(),
        Inline::Link { url, children } => {
            let open = url.clone();
            view! {
                <a href=url.clone() title=url rel="noopener noreferrer" data-testid="link"
                    on:click=move |ev| {
                        ev.prevent_default();
                        let url = open.clone();
                        spawn_local(async move {
                            if let Err(e) = shell::open_url(url).await {
                                warn("opening a link", e);
                            }
                        });
                    }>
                    {inlines_view(children, m)}
                </a>
            }
            .into_any()
        }
    }
}

fn text_view(t: String, m: &Mentioned) -> AnyView {
    if m.names.is_empty() {
        return t.into_any();
    }
    split_mentions(&t, &m.names)
        .into_iter()
        .map(|(piece, mention)| {
            if !mention {
                return piece.into_any();
            }
            let me = m.me.as_deref().is_some_and(|me| piece == format!("@{me}"));
            view! { <span class="mention" class:me=me data-testid="mention">{piece}</span> }
                .into_any()
        })
        .collect_view()
        .into_any()
}
