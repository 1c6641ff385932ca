//! A conversation as a self-contained web page: readable offline, images inside it (their
//! previews as `data:` URLs), the window's rendering rules (the protocol crate's Markdown
//! subset, every text escaped, raw HTML shown as typed), no script and nothing loaded from
//! anywhere (a Content-Security-Policy says so to the browser opening it).

use std::collections::HashMap;
use std::fmt::Write as _;

use natter_protocol::Message;
use natter_protocol::markdown::{Block, Inline, parse};

/// Text made safe for HTML, in content and in quoted attributes.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn inlines(out: &mut String, items: &[Inline]) {
    for i in items {
        match i {
            Inline::Text(t) => out.push_str(&escape(t)),
            Inline::Emphasis(c) => {
                out.push_str("<em>");
                inlines(out, c);
                out.push_str("</em>");
            }
            Inline::Strong(c) => {
                out.push_str("<strong>");
                inlines(out, c);
                out.push_str("</strong>");
            }
            Inline::Code(t) => {
                let _ = write!(out, "<code>{}</code>", escape(t));
            }
            Inline::Link { url, children } => {
                let _ = write!(
                    out,
                    "<a href=\"{}\" rel=\"noopener noreferrer\">",
                    escape(url)
                );
                inlines(out, children);
                out.push_str("</a>");
            }
            Inline::LineBreak => out.push_str("<br>"),
        }
    }
}

fn blocks(out: &mut String, items: &[Block]) {
    for b in items {
        match b {
            Block::Paragraph(c) => {
                out.push_str("<p>");
                inlines(out, c);
                out.push_str("</p>");
            }
            Block::Code(t) => {
                let _ = write!(out, "<pre><code>{}</code></pre>", escape(t));
            }
            Block::Quote(c) => {
                out.push_str("<blockquote>");
                blocks(out, c);
                out.push_str("</blockquote>");
            }
            Block::List { start, items } => {
                match start {
                    Some(n) => {
                        let _ = write!(out, "<ol start=\"{n}\">");
                    }
                    None => out.push_str("<ul>"),
                }
                for item in items {
                    out.push_str("<li>");
                    blocks(out, item);
                    out.push_str("</li>");
                }
                out.push_str(if start.is_some() { "</ol>" } else { "</ul>" });
            }
        }
    }
}

/// A message's content as the window shows it.
pub fn content(text: &str) -> String {
    let mut out = String::new();
    blocks(&mut out, &parse(text));
    out
}

/// When: `2026-12-03 14:05 UTC`.
fn when(ts: i64) -> String {
    let t =
        std::time::UNIX_EPOCH + std::time::Duration::from_millis(u64::try_from(ts).unwrap_or(0));
    let s = humantime::format_rfc3339_seconds(t).to_string();
    // 2026-12-03T14:05:09Z → 2026-12-03 14:05 UTC
    format!("{} {} UTC", &s[..10], &s[11..16])
}

const STYLE: &str = "body{font:15px/1.45 system-ui,sans-serif;max-width:760px;margin:24px auto;\
padding:0 16px;color:#1d2130;background:#fff}h1{font-size:20px}.msg{margin:10px 0;padding:8px 12px;\
border-radius:10px;background:#f1f3f8}.msg.self{background:#e3e9ff}.meta{font-size:12px;color:#6b7080}\
.who{font-weight:600}.quote{border-left:3px solid #5b6cff;padding:2px 8px;margin:4px 0;font-size:13px;\
color:#4a4f60}pre{background:#e9ebf1;padding:8px;border-radius:6px;overflow:auto}.deleted{font-style:italic;\
color:#6b7080}img{max-width:320px;border-radius:6px;display:block;margin:4px 0}.reactions{font-size:13px}";

/// The page: `title`, then every message (oldest first), senders named from `names`, image
/// previews from `images` (fileID → `data:` URL), `me` marking our own.
pub fn page(
    title: &str,
    messages: &[Message],
    names: &HashMap<String, String>,
    images: &HashMap<String, String>,
    me: &str,
) -> String {
    let name = |id: &str| names.get(id).cloned().unwrap_or_else(|| id.to_owned());
    let mut out = String::new();
    let _ = write!(
        out,
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\">\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; img-src data:; style-src 'unsafe-inline'\">\
         <meta name=\"referrer\" content=\"no-referrer\">\
         <title>{t}</title><style>{STYLE}</style></head><body><h1>{t}</h1>\
         <p class=\"meta\">Exported from Natter: {n} messages.</p>",
        t = escape(title),
        n = messages.len()
    );
    for m in messages {
        let own = if m.from == me { " self" } else { "" };
        let _ = write!(
            out,
            "<div class=\"msg{own}\" id=\"m{}\"><div class=\"meta\"><span class=\"who\">{}</span> · {}{}</div>",
            m.id,
            escape(&name(&m.from)),
            when(m.ts),
            if m.edited_ts.is_some() && !m.deleted {
                " (edited)"
            } else {
                ""
            }
        );
        if m.deleted {
            out.push_str("<p class=\"deleted\">Message deleted</p></div>");
            continue;
        }
        if let Some(q) = &m.reply_to {
            let quoted = match (&q.excerpt, q.deleted) {
                (Some(e), false) => natter_protocol::markdown::plain_text(e),
                _ => "Message deleted".into(),
            };
            let _ = write!(
                out,
                "<div class=\"quote\"><span class=\"who\">{}</span>: {}</div>",
                escape(&name(&q.from)),
                escape(&quoted)
            );
        }
        if let Some(a) = &m.attachment {
            match images.get(&a.file_id) {
                Some(url) if url.starts_with("data:image/") => {
                    let _ = write!(
                        out,
                        "<img src=\"{}\" alt=\"{}\">",
                        escape(url),
                        escape(&a.name)
                    );
                }
                _ => {
                    let _ = write!(out, "<p>📎 {} ({} bytes)</p>", escape(&a.name), a.size);
                }
            }
        }
        out.push_str(&content(&m.content));
        if !m.reactions.is_empty() {
            out.push_str("<div class=\"reactions\">");
            for r in &m.reactions {
                let _ = write!(out, "{} {} ", escape(&r.emoji), r.users.len());
            }
            out.push_str("</div>");
        }
        out.push_str("</div>");
    }
    out.push_str("</body></html>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(id: u64, from: &str, content: &str) -> Message {
        Message {
            id,
            from: from.into(),
            to: "b".into(),
            content: content.into(),
            ts: 1_796_303_820_881,
            ..Message::default()
        }
    }

    #[test]
    fn markup_in_messages_stays_text_and_nothing_is_loaded() {
        let names = HashMap::from([("a".to_owned(), "Alice <3".to_owned())]);
        let html = page(
            "Chat with <b>Bob</b>",
            &[
                msg(
                    1,
                    "a",
                    "<script>alert(1)</script>\n\n**bold** [x](javascript:alert(1)) https://example.com",
                ),
                msg(2, "b", "<img src=x onerror=alert(2)>"),
            ],
            &names,
            &HashMap::new(),
            "a",
        );
        assert!(!html.contains("<script>alert"), "{html}");
        assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(html.contains("&lt;img src=x onerror=alert(2)&gt;"));
        assert!(
            !html.contains("href=\"javascript"),
            "unsafe links stay text: {html}"
        );
        assert!(html.contains("<strong>bold</strong>"));
        assert!(html.contains("href=\"https://example.com\""));
        assert!(html.contains("Alice &lt;3"));
        assert!(html.contains("Chat with &lt;b&gt;Bob&lt;/b&gt;"));
        assert!(html.contains("default-src 'none'"));
        // The only images are data URLs.
        assert_eq!(html.matches("<img").count(), 0);
    }

    #[test]
    fn images_are_inside_the_page_and_deleted_messages_say_so() {
        let mut with_file = msg(3, "a", "");
        with_file.attachment = Some(natter_protocol::Attachment {
            file_id: "f1".into(),
            name: "beach.png".into(),
            size: 10,
            media_type: "image/png".into(),
        });
        let gone = Message {
            deleted: true,
            ..msg(4, "b", "secret")
        };
        let images = HashMap::from([("f1".to_owned(), "data:image/png;base64,AAAA".to_owned())]);
        let html = page("t", &[with_file, gone], &HashMap::new(), &images, "a");
        assert!(html.contains("<img src=\"data:image/png;base64,AAAA\" alt=\"beach.png\">"));
        assert!(html.contains("Message deleted") && !html.contains("secret"));
        assert!(html.contains("2026-12-03 "), "{html}");
    }
}
