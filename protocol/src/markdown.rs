//! How message content reads: a safe Markdown subset. The window shows emphasis, strong,
//! inline code, fenced code blocks (kept as typed), quotes, lists and links (http, https and
//! mail only, opened in the system's browser); raw HTML is text, never markup, and no image is
//! ever loaded (an image becomes a link to it). Line breaks are kept, as in a chat. A
//! notification shows the plain text.
//!
//! [`parse`] gives a tree the UI turns into elements (never into HTML); [`plain_text`] what a
//! notification shows.

use pulldown_cmark::{Event, Parser, Tag, TagEnd};

/// A block of a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Block {
    Paragraph(Vec<Inline>),
    /// A code block, its text exactly as typed.
    Code(String),
    Quote(Vec<Block>),
    /// `start`: the first number of an ordered list; `None` for bullets.
    List {
        start: Option<u64>,
        items: Vec<Vec<Block>>,
    },
}

/// A run of text in a block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Inline {
    Text(String),
    Emphasis(Vec<Inline>),
    Strong(Vec<Inline>),
    Code(String),
    /// `url` is http(s) or mailto: anything else stays text.
    Link {
        url: String,
        children: Vec<Inline>,
    },
    LineBreak,
}

/// Whether a link may point there: the system browser opens web and mail links only.
pub fn is_safe_url(url: &str) -> bool {
    let lower = url.trim().to_ascii_lowercase();
    ["http://", "https://", "mailto:"]
        .iter()
        .any(|scheme| lower.starts_with(scheme) && lower.len() > scheme.len())
}

/// Content as blocks of the subset.
pub fn parse(content: &str) -> Vec<Block> {
    let mut b = Builder::default();
    for event in Parser::new(content) {
        b.event(event);
    }
    b.finish()
}

/// What an open container collects.
enum Frame {
    Blocks(Vec<Block>),
    Inlines(Vec<Inline>),
    Code(String),
    List {
        start: Option<u64>,
        items: Vec<Vec<Block>>,
    },
    /// A link (an image too): its URL, `None` when not safe.
    Link(Option<String>, Vec<Inline>),
}

/// Builds the tree from the parser's events: a stack of the containers open.
struct Builder {
    stack: Vec<Frame>,
}

impl Default for Builder {
    fn default() -> Self {
        Self {
            stack: vec![Frame::Blocks(Vec::new())],
        }
    }
}

impl Builder {
    fn event(&mut self, event: Event<'_>) {
        match event {
            Event::Start(tag) => self.start(tag),
            Event::End(end) => self.end(end),
            Event::Text(t) => self.text(&t),
            Event::Code(c) => self.inline(Inline::Code(c.into_string())),
            // Markup typed by a person is what they typed: text.
            Event::Html(h) | Event::InlineHtml(h) => self.text(&h),
            Event::SoftBreak | Event::HardBreak => self.inline(Inline::LineBreak),
            Event::Rule => self.text("———"),
            Event::TaskListMarker(done) => self.text(if done { "☑ " } else { "☐ " }),
            Event::FootnoteReference(f) => self.text(&format!("[^{f}]")),
            Event::InlineMath(m) | Event::DisplayMath(m) => self.text(&m),
        }
    }

    fn start(&mut self, tag: Tag<'_>) {
        let frame = match tag {
            Tag::Paragraph | Tag::Heading { .. } | Tag::TableCell => Frame::Inlines(Vec::new()),
            Tag::CodeBlock(_) => Frame::Code(String::new()),
            Tag::BlockQuote(_) | Tag::Item | Tag::HtmlBlock => Frame::Blocks(Vec::new()),
            Tag::List(start) => Frame::List {
                start,
                items: Vec::new(),
            },
            Tag::Emphasis
            | Tag::Strong
            | Tag::Strikethrough
            | Tag::Superscript
            | Tag::Subscript => Frame::Inlines(Vec::new()),
            Tag::Link { dest_url, .. } | Tag::Image { dest_url, .. } => Frame::Link(
                is_safe_url(&dest_url).then(|| dest_url.into_string()),
                Vec::new(),
            ),
            // Tables and the rest: their text, in a block.
            _ => Frame::Blocks(Vec::new()),
        };
        self.stack.push(frame);
    }

    fn end(&mut self, end: TagEnd) {
        let Some(frame) = self.stack.pop() else {
            return;
        };
        match (end, frame) {
            (TagEnd::Emphasis, Frame::Inlines(i)) => self.inline(Inline::Emphasis(i)),
            (TagEnd::Strong, Frame::Inlines(i)) => self.inline(Inline::Strong(i)),
            (TagEnd::Heading(_), Frame::Inlines(i)) => {
                self.block(Block::Paragraph(vec![Inline::Strong(i)]))
            }
            (_, Frame::Inlines(i)) if is_block_end(end) => self.block(Block::Paragraph(i)),
            (_, Frame::Inlines(i)) => i.into_iter().for_each(|x| self.inline(x)),
            (_, Frame::Code(text)) => self.block(Block::Code(text)),
            (TagEnd::BlockQuote(_), Frame::Blocks(b)) => self.block(Block::Quote(b)),
            (TagEnd::Item, Frame::Blocks(b)) => {
                if let Some(Frame::List { items, .. }) = self.stack.last_mut() {
                    items.push(b);
                } else {
                    b.into_iter().for_each(|x| self.block(x));
                }
            }
            (_, Frame::Blocks(b)) => b.into_iter().for_each(|x| self.block(x)),
            (_, Frame::List { start, items }) => self.block(Block::List { start, items }),
            (_, Frame::Link(Some(url), children)) => {
                let children = if children.is_empty() {
                    vec![Inline::Text(url.clone())]
                } else {
                    children
                };
                self.inline(Inline::Link { url, children })
            }
            (_, Frame::Link(None, children)) => children.into_iter().for_each(|x| self.inline(x)),
        }
    }

    fn text(&mut self, t: &str) {
        if let Some(Frame::Code(code)) = self.stack.last_mut() {
            code.push_str(t);
            return;
        }
        let in_link = matches!(self.stack.last(), Some(Frame::Link(..)));
        if in_link {
            self.inline(Inline::Text(t.to_owned()));
        } else {
            for piece in linkify(t) {
                self.inline(piece);
            }
        }
    }

    /// Adds an inline to the innermost frame that takes inlines (a tight list's item has no
    /// paragraph: its text makes one).
    fn inline(&mut self, inline: Inline) {
        match self.stack.last_mut() {
            Some(Frame::Inlines(v)) | Some(Frame::Link(_, v)) => v.push(inline),
            Some(Frame::Code(code)) => {
                if let Inline::Text(t) = inline {
                    code.push_str(&t);
                }
            }
            Some(Frame::Blocks(blocks)) => match blocks.last_mut() {
                Some(Block::Paragraph(p)) => p.push(inline),
                _ => blocks.push(Block::Paragraph(vec![inline])),
            },
            Some(Frame::List { .. }) | None => {}
        }
    }

    fn block(&mut self, block: Block) {
        match self.stack.last_mut() {
            Some(Frame::Blocks(blocks)) => blocks.push(block),
            Some(Frame::List { items, .. }) => items.push(vec![block]),
            Some(Frame::Inlines(v)) | Some(Frame::Link(_, v)) => v.extend(inlines_of(block)),
            Some(Frame::Code(code)) => code.push_str(&plain_of_blocks(&[block])),
            None => {}
        }
    }

    fn finish(mut self) -> Vec<Block> {
        while self.stack.len() > 1 {
            self.end(TagEnd::Paragraph);
        }
        match self.stack.pop() {
            Some(Frame::Blocks(b)) => b,
            _ => Vec::new(),
        }
    }
}

fn is_block_end(end: TagEnd) -> bool {
    matches!(end, TagEnd::Paragraph | TagEnd::TableCell)
}

/// A block flattened into inlines (a block where only inlines fit).
fn inlines_of(block: Block) -> Vec<Inline> {
    match block {
        Block::Paragraph(i) => i,
        other => vec![Inline::Text(plain_of_blocks(&[other]))],
    }
}

/// Plain web links in text become links; what ends a sentence stays out of them.
fn linkify(text: &str) -> Vec<Inline> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(at) = ["https://", "http://"]
        .iter()
        .filter_map(|s| rest.find(s))
        .min()
    {
        let tail = &rest[at..];
        let end = tail.find(char::is_whitespace).unwrap_or(tail.len());
        let url = tail[..end].trim_end_matches(['.', ',', ';', ':', '!', '?', ')', '\'', '"']);
        if !is_safe_url(url) {
            break;
        }
        if at > 0 {
            out.push(Inline::Text(rest[..at].to_owned()));
        }
        out.push(Inline::Link {
            url: url.to_owned(),
            children: vec![Inline::Text(url.to_owned())],
        });
        rest = &rest[at + url.len()..];
    }
    if !rest.is_empty() {
        out.push(Inline::Text(rest.to_owned()));
    }
    out
}

fn plain_of_inlines(inlines: &[Inline], out: &mut String) {
    for i in inlines {
        match i {
            Inline::Text(t) | Inline::Code(t) => out.push_str(t),
            Inline::Emphasis(c) | Inline::Strong(c) | Inline::Link { children: c, .. } => {
                plain_of_inlines(c, out)
            }
            Inline::LineBreak => out.push('\n'),
        }
    }
}

fn plain_of_blocks(blocks: &[Block]) -> String {
    let mut out = String::new();
    for b in blocks {
        if !out.is_empty() {
            out.push('\n');
        }
        match b {
            Block::Paragraph(i) => plain_of_inlines(i, &mut out),
            Block::Code(c) => out.push_str(c.trim_end_matches('\n')),
            Block::Quote(inner) => out.push_str(&plain_of_blocks(inner)),
            Block::List { items, .. } => {
                let lines: Vec<String> = items.iter().map(|item| plain_of_blocks(item)).collect();
                out.push_str(&lines.join("\n"));
            }
        }
    }
    out
}

/// Content as plain text, for notifications: the words, without Markdown's marks.
pub fn plain_text(content: &str) -> String {
    plain_of_blocks(&parse(content))
}

#[cfg(test)]
mod tests {
    use super::*;
    use Inline::*;

    fn text(s: &str) -> Inline {
        Text(s.into())
    }

    #[test]
    fn emphasis_strong_code_and_line_breaks() {
        assert_eq!(
            parse("*so* **very** `x = 1`\nsecond line"),
            [Block::Paragraph(vec![
                Emphasis(vec![text("so")]),
                text(" "),
                Strong(vec![text("very")]),
                text(" "),
                Code("x = 1".into()),
                LineBreak,
                text("second line"),
            ])]
        );
    }

    #[test]
    fn code_keeps_its_shape() {
        let typed = "```\nfn main() {\n    println!(\"<b>hi</b>\");\n}\n```";
        assert_eq!(
            parse(typed),
            [Block::Code(
                "fn main() {\n    println!(\"<b>hi</b>\");\n}\n".into()
            )]
        );
    }

    #[test]
    fn html_is_text_and_images_never_load() {
        assert_eq!(
            parse("<script>alert(1)</script>"),
            [Block::Paragraph(vec![text("<script>alert(1)</script>")])]
        );
        assert_eq!(
            parse("a <img src=x onerror=alert(1)> b"),
            [Block::Paragraph(vec![
                text("a "),
                text("<img src=x onerror=alert(1)>"),
                text(" b")
            ])]
        );
        assert_eq!(
            parse("![cat](https://example.com/cat.png)"),
            [Block::Paragraph(vec![Link {
                url: "https://example.com/cat.png".into(),
                children: vec![text("cat")]
            }])]
        );
    }

    #[test]
    fn only_web_and_mail_links_are_links() {
        assert_eq!(
            parse("[x](javascript:alert(1)) and see https://example.com/a, ok"),
            [Block::Paragraph(vec![
                text("x"),
                text(" and see "),
                Link {
                    url: "https://example.com/a".into(),
                    children: vec![text("https://example.com/a")]
                },
                text(", ok"),
            ])]
        );
        assert!(is_safe_url("mailto:bob@example.com"));
        assert!(!is_safe_url("file:///etc/passwd") && !is_safe_url("https://"));
    }

    #[test]
    fn quotes_and_lists() {
        assert_eq!(
            parse("> quoted\n\n- one\n- two\n\n3. three"),
            [
                Block::Quote(vec![Block::Paragraph(vec![text("quoted")])]),
                Block::List {
                    start: None,
                    items: vec![
                        vec![Block::Paragraph(vec![text("one")])],
                        vec![Block::Paragraph(vec![text("two")])]
                    ]
                },
                Block::List {
                    start: Some(3),
                    items: vec![vec![Block::Paragraph(vec![text("three")])]]
                },
            ]
        );
    }

    #[test]
    fn notifications_get_the_words() {
        assert_eq!(plain_text("**lunch** at `12`?"), "lunch at 12?");
        assert_eq!(plain_text("# Big\n\n<b>x</b>"), "Big\n<b>x</b>");
        assert_eq!(plain_text("- a\n- b"), "a\nb");
    }
}
