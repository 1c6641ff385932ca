//! The composer's rules, as plain Rust: `:shortcode:` becoming its emoji as it is typed, the
//! `@` member picker, answering a message, editing one (↑ in an empty composer edits the last
//! of ours), and what a send or a save carries.

use natter_protocol::markdown::plain_text;
use natter_protocol::{Message, excerpt};

use super::UiState;

/// What the composer is doing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Mode {
    #[default]
    Writing,
    /// Answering message `id` (by `name`, who wrote `excerpt`).
    Replying {
        id: u64,
        name: String,
        excerpt: String,
    },
    /// Changing our message `id`.
    Editing { id: u64 },
}

/// What the composer hands over when the person presses Enter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Intent {
    Send {
        content: String,
        reply_to: Option<u64>,
        mentions: Vec<String>,
    },
    Edit {
        id: u64,
        content: String,
    },
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Composer {
    pub draft: String,
    pub mode: Mode,
    /// Members picked with `@` (userID, name), kept while their `@name` is in the text.
    picked: Vec<(String, String)>,
}

/// Characters of a shortcode (`:thumbsup:`, `:+1:`, `:t-rex:`).
fn shortcode_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '+' | '-')
}

/// `text` with a `:shortcode:` just closed at its end replaced by its emoji.
pub fn replace_shortcode(text: &str) -> Option<String> {
    let body = text.strip_suffix(':')?;
    let start = body.rfind(':')?;
    let name = &body[start + 1..];
    if name.is_empty() || !name.chars().all(shortcode_char) {
        return None;
    }
    let emoji = emojis::get_by_shortcode(name)?;
    Some(format!("{}{}", &body[..start], emoji.as_str()))
}

impl Composer {
    /// The text after an input event.
    pub fn typed(&mut self, text: String) {
        self.draft = replace_shortcode(&text).unwrap_or(text);
    }

    /// The `@…` being typed at the end of the draft (after a space or at its start), for
    /// the member picker.
    pub fn mention_query(&self) -> Option<&str> {
        let at = self.draft.rfind('@')?;
        let before = self.draft[..at].chars().next_back();
        let query = &self.draft[at + 1..];
        let starts_word = before.is_none_or(char::is_whitespace);
        (starts_word && !query.contains(char::is_whitespace)).then_some(query)
    }

    /// Completes the `@…` being typed with a member.
    pub fn pick_mention(&mut self, user_id: &str, name: &str) {
        let Some(at) = self.draft.rfind('@') else {
            return;
        };
        self.draft.truncate(at);
        self.draft.push('@');
        self.draft.push_str(name);
        self.draft.push(' ');
        if !self.picked.iter().any(|(id, _)| id == user_id) {
            self.picked.push((user_id.to_owned(), name.to_owned()));
        }
    }

    /// The members mentioned: picked, and their `@name` still in the text.
    pub fn mentions(&self) -> Vec<String> {
        self.picked
            .iter()
            .filter(|(_, name)| self.draft.contains(&format!("@{name}")))
            .map(|(id, _)| id.clone())
            .collect()
    }

    /// Answers `m` (written by `name`).
    pub fn reply_to(&mut self, m: &Message, name: String) {
        self.mode = Mode::Replying {
            id: m.id,
            name,
            excerpt: excerpt(&plain_text(&m.content)),
        };
    }

    /// Changes our message `m`: its text in the composer.
    pub fn edit(&mut self, m: &Message) {
        self.mode = Mode::Editing { id: m.id };
        self.draft = m.content.clone();
    }

    /// Esc: back to writing (an edit's draft goes with it).
    pub fn cancel(&mut self) {
        if matches!(self.mode, Mode::Editing { .. }) {
            self.draft.clear();
        }
        self.mode = Mode::Writing;
        self.picked.clear();
    }

    /// Enter: what to do, and the composer empties; `None` for nothing to send.
    pub fn take(&mut self) -> Option<Intent> {
        if self.draft.trim().is_empty() {
            return None;
        }
        let mentions = self.mentions();
        let content = std::mem::take(&mut self.draft);
        let intent = match std::mem::take(&mut self.mode) {
            Mode::Editing { id } => Intent::Edit { id, content },
            Mode::Replying { id, .. } => Intent::Send {
                content,
                reply_to: Some(id),
                mentions,
            },
            Mode::Writing => Intent::Send {
                content,
                reply_to: None,
                mentions,
            },
        };
        self.picked.clear();
        Some(intent)
    }
}

impl UiState {
    /// The newest of our messages in a conversation that can still be edited (↑).
    pub fn last_own_message(&self, conversation: &str) -> Option<&Message> {
        let me = self.my_id()?;
        self.conversation(conversation)?
            .messages
            .iter()
            .rev()
            .find(|m| m.from == me && !m.deleted)
    }

    /// The members of a group whose name starts with `query` (case-insensitive), but us, for
    /// the `@` picker: (userID, name).
    pub fn mention_candidates(&self, group: &str, query: &str) -> Vec<(String, String)> {
        let (Some(g), Some(me)) = (self.conversation(group), self.my_id()) else {
            return Vec::new();
        };
        let query = query.to_lowercase();
        g.members()
            .iter()
            .filter(|m| m.as_str() != me)
            .map(|m| (m.clone(), self.name_of(m)))
            .filter(|(_, name)| name.to_lowercase().starts_with(&query))
            .collect()
    }
}

/// `text` cut where `@name` of a mentioned member stands: (piece, whether it is a mention).
pub fn split_mentions(text: &str, names: &[String]) -> Vec<(String, bool)> {
    let mut out = Vec::new();
    let mut rest = text;
    loop {
        let found = names
            .iter()
            .filter_map(|n| rest.find(&format!("@{n}")).map(|at| (at, n.len() + 1)))
            .min();
        let Some((at, len)) = found else {
            if !rest.is_empty() {
                out.push((rest.to_owned(), false));
            }
            return out;
        };
        if at > 0 {
            out.push((rest[..at].to_owned(), false));
        }
        out.push((rest[at..at + len].to_owned(), true));
        rest = &rest[at + len..];
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::*;
    use super::*;
    use natter_protocol::ipc::AppEvent;

    #[test]
    fn a_shortcode_becomes_its_emoji_when_closed() {
        assert_eq!(
            replace_shortcode("great :thumbsup:").as_deref(),
            Some("great 👍")
        );
        assert_eq!(replace_shortcode(":+1:").as_deref(), Some("👍"));
        assert_eq!(replace_shortcode("at 12:30:"), None, "not a shortcode");
        assert_eq!(replace_shortcode(":nosuchemoji:"), None);
        assert_eq!(replace_shortcode("half :smile"), None, "not closed yet");
        let mut c = Composer::default();
        c.typed("ok :tada:".into());
        assert_eq!(c.draft, "ok 🎉");
    }

    #[test]
    fn the_member_picker_completes_and_mentions_follow_the_text() {
        let mut c = Composer::default();
        c.typed("hi @bo".into());
        assert_eq!(c.mention_query(), Some("bo"));
        c.pick_mention("b", "Bob");
        assert_eq!(c.draft, "hi @Bob ");
        assert_eq!(c.mention_query(), None);
        c.typed("hi @Bob and @".into());
        assert_eq!(c.mention_query(), Some(""));
        c.pick_mention("a", "alice");
        assert_eq!(c.mentions(), ["b", "a"]);
        c.typed("hi and @alice ".into());
        assert_eq!(c.mentions(), ["a"], "Bob's @ was removed");
        c.typed("mail me@work".into());
        assert_eq!(c.mention_query(), None, "an @ inside a word");
    }

    #[test]
    fn the_replying_banner_shows_words_not_marks() {
        let mut c = Composer::default();
        let m = Message {
            content: "the **new** place, `here`?".into(),
            ..msg(3, "b", "me")
        };
        c.reply_to(&m, "Bob".into());
        let Mode::Replying { excerpt, .. } = &c.mode else {
            panic!("replying: {:?}", c.mode);
        };
        assert_eq!(excerpt, "the new place, here?");
    }

    #[test]
    fn reply_edit_cancel_and_take() {
        let mut s = logged_in();
        s.apply(AppEvent::Acked {
            message: msg(7, "me", "b"),
        });
        let mut c = Composer::default();
        let theirs = s.shown_message("b", 1).unwrap().clone();
        c.reply_to(&theirs, "Bob".into());
        c.typed("sure".into());
        assert_eq!(
            c.take(),
            Some(Intent::Send {
                content: "sure".into(),
                reply_to: Some(1),
                mentions: vec![]
            })
        );
        assert_eq!(c.mode, Mode::Writing);
        // ↑ edits our newest message.
        let mine = s.last_own_message("b").unwrap().clone();
        assert_eq!(mine.id, 7);
        c.edit(&mine);
        assert_eq!(c.draft, "m7");
        c.cancel();
        assert!(c.draft.is_empty() && c.mode == Mode::Writing, "Esc");
        c.edit(&mine);
        c.typed("m7, fixed".into());
        assert_eq!(
            c.take(),
            Some(Intent::Edit {
                id: 7,
                content: "m7, fixed".into()
            })
        );
        assert_eq!(c.take(), None, "nothing left");
    }

    #[test]
    fn mention_candidates_are_other_members_by_prefix() {
        let mut s = logged_in();
        s.apply(AppEvent::Groups {
            groups: vec![group("g-1", &["me", "b", "a", "z"])],
        });
        let names = |q| {
            s.mention_candidates("g-1", q)
                .into_iter()
                .map(|(_, n)| n)
                .collect::<Vec<_>>()
        };
        assert_eq!(names(""), ["Bob", "alice", "zoe"]);
        assert_eq!(names("b"), ["Bob"]);
        assert!(names("x").is_empty());
    }

    #[test]
    fn mentions_are_cut_out_of_text_for_highlighting() {
        let names = vec!["Bob".to_owned(), "alice".to_owned()];
        assert_eq!(
            split_mentions("hi @Bob, ask @alice.", &names),
            [
                ("hi ".to_owned(), false),
                ("@Bob".to_owned(), true),
                (", ask ".to_owned(), false),
                ("@alice".to_owned(), true),
                (".".to_owned(), false)
            ]
        );
        assert_eq!(
            split_mentions("no one", &names),
            [("no one".to_owned(), false)]
        );
    }
}
