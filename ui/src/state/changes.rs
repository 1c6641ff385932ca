//! Changes to messages already shown: edits, deletions and reactions (from the server, or our
//! own once acked), and people's statuses. A change to a message that is not loaded (older than
//! the page, or a conversation not opened yet) changes nothing: it is there when paged in.

use natter_protocol::{
    Message, MessageDeleted, MessageEdited, Reaction, ReactionChange, ReplyQuote, Status,
    StatusChange, apply_reaction, excerpt,
};

use super::{ConversationKind, ConversationView, UiState};

impl UiState {
    /// The conversation message `(from, to)` belongs to, seen from here.
    fn conversation_of_change(&mut self, from: &str, to: &str) -> Option<&mut ConversationView> {
        let me = self.my_id()?.to_owned();
        let id = if natter_protocol::is_group_id(to) || from == me {
            to.to_owned()
        } else {
            from.to_owned()
        };
        self.conversation_mut(&id)
    }

    pub(super) fn apply_edit(&mut self, change: MessageEdited) {
        let Some(c) = self.conversation_of_change(&change.from, &change.to) else {
            return;
        };
        if let Some(m) = c.messages.iter_mut().find(|m| m.id == change.id) {
            m.content = change.content.clone();
            m.edited_ts = Some(change.edited_ts);
        }
        requote(c, change.id, Some(excerpt(&change.content)));
    }

    pub(super) fn apply_delete(&mut self, change: MessageDeleted) {
        let me = self.my_id().map(str::to_owned);
        let Some(c) = self.conversation_of_change(&change.from, &change.to) else {
            return;
        };
        if let Some(m) = c.messages.iter_mut().find(|m| m.id == change.id) {
            // An unread one is unread no more.
            let from_me = me.as_deref() == Some(m.from.as_str());
            if !m.deleted && !from_me && m.id > c.marker_sent {
                c.unread = c.unread.saturating_sub(1);
                if me.as_ref().is_some_and(|me| m.mentions.contains(me)) {
                    c.mentions = c.mentions.saturating_sub(1);
                }
            }
            *m = m.tombstone();
        }
        requote(c, change.id, None);
    }

    pub(super) fn apply_reaction(&mut self, change: ReactionChange) {
        let Some(c) = self.conversation_of_change(&change.from, &change.to) else {
            return;
        };
        if let Some(m) = c.messages.iter_mut().find(|m| m.id == change.id) {
            // Already applied (an event about our own reaction from another device) changes
            // nothing; a new emoji past the limit cannot come from the server.
            let _ = apply_reaction(&mut m.reactions, &change.emoji, &change.user_id, change.on);
        }
    }

    pub(super) fn apply_status(&mut self, change: StatusChange) {
        let status = Status {
            state: change.state,
            text: change.text,
        };
        if let Some(c) = self.conversation_mut(&change.user_id)
            && let ConversationKind::Person { status: s, .. } = &mut c.kind
        {
            *s = status;
        }
    }

    /// Our status, as the server has it.
    pub fn my_status(&self) -> Status {
        self.my_id()
            .and_then(|me| self.conversation(me))
            .map(|c| c.status())
            .unwrap_or_default()
    }

    /// Our own status, acked.
    pub fn set_my_status(&mut self, status: Status) {
        if let Some(me) = self.my_id().map(str::to_owned) {
            self.apply_status(StatusChange {
                user_id: me,
                state: status.state,
                text: status.text,
            });
        }
    }

    /// Our own edit, acked: the message as stored now.
    pub fn edited(&mut self, message: Message) {
        self.apply_edit(MessageEdited::of(&message));
    }

    /// Our own deletion, acked.
    pub fn deleted(&mut self, m: &Message) {
        self.apply_delete(MessageDeleted {
            id: m.id,
            from: m.from.clone(),
            to: m.to.clone(),
        });
    }

    /// Our own reaction, acked: the message's reactions now.
    pub fn reacted(&mut self, m: &Message, reactions: Vec<Reaction>) {
        if let Some(c) = self.conversation_of_change(&m.from, &m.to)
            && let Some(shown) = c.messages.iter_mut().find(|x| x.id == m.id)
        {
            shown.reactions = reactions;
        }
    }

    /// A message shown in a conversation, by id.
    pub fn shown_message(&self, conversation: &str, id: u64) -> Option<&Message> {
        self.conversation(conversation)?
            .messages
            .iter()
            .find(|m| m.id == id)
    }
}

/// Replies in `c` to message `id` quote `excerpt` now (`None`: it was deleted).
fn requote(c: &mut ConversationView, id: u64, excerpt: Option<String>) {
    for m in c.messages.iter_mut() {
        if let Some(q) = m.reply_to.as_mut().filter(|q| q.id == id) {
            *q = ReplyQuote {
                id,
                from: std::mem::take(&mut q.from),
                deleted: excerpt.is_none(),
                excerpt: excerpt.clone(),
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use natter_protocol::ipc::AppEvent;
    use natter_protocol::{StatusState, User};

    use super::super::fixtures::*;
    use super::*;

    fn edit(id: u64, from: &str, to: &str, content: &str) -> AppEvent {
        AppEvent::MessageEdited {
            change: MessageEdited {
                id,
                from: from.into(),
                to: to.into(),
                content: content.into(),
                edited_ts: 99,
            },
        }
    }

    #[test]
    fn an_edit_changes_the_message_and_the_replies_quoting_it() {
        let mut s = logged_in();
        let mut reply = msg(3, "me", "b");
        reply.reply_to = Some(ReplyQuote {
            id: 1,
            from: "b".into(),
            excerpt: Some("m1".into()),
            deleted: false,
        });
        s.apply(AppEvent::Acked { message: reply });
        s.apply(edit(1, "b", "me", "fixed"));
        let b = s.conversation("b").unwrap();
        assert_eq!(b.messages[0].content, "fixed");
        assert_eq!(b.messages[0].edited_ts, Some(99));
        assert_eq!(
            b.messages[2].reply_to.as_ref().unwrap().excerpt.as_deref(),
            Some("fixed")
        );
    }

    #[test]
    fn changes_to_what_is_not_loaded_change_nothing() {
        let mut s = logged_in();
        let before = s.clone();
        s.apply(edit(500, "b", "me", "old page"));
        s.apply(edit(1, "stranger", "me", "x"));
        s.apply(AppEvent::MessageDeleted {
            change: MessageDeleted {
                id: 500,
                from: "z".into(),
                to: "me".into(),
            },
        });
        s.apply(AppEvent::Reaction {
            change: ReactionChange {
                id: 7,
                from: "g-nope".into(),
                to: "g-nope".into(),
                emoji: "👍".into(),
                user_id: "b".into(),
                on: true,
            },
        });
        assert_eq!(s, before);
    }

    #[test]
    fn a_deletion_leaves_a_tombstone_and_takes_its_unread_count() {
        let mut s = logged_in();
        let mut m = msg(10, "a", "me");
        m.content = "oops".into();
        s.apply(AppEvent::Message { message: m });
        assert_eq!(s.conversation("a").unwrap().unread, 1);
        s.apply(AppEvent::MessageDeleted {
            change: MessageDeleted {
                id: 10,
                from: "a".into(),
                to: "me".into(),
            },
        });
        let a = s.conversation("a").unwrap();
        assert!(a.messages[0].deleted && a.messages[0].content.is_empty());
        assert_eq!(a.unread, 0);
        // Twice (another device of ours saw it too): still nothing to count.
        s.apply(AppEvent::MessageDeleted {
            change: MessageDeleted {
                id: 10,
                from: "a".into(),
                to: "me".into(),
            },
        });
        assert_eq!(s.conversation("a").unwrap().unread, 0);
    }

    #[test]
    fn reactions_from_others_and_ours() {
        let mut s = logged_in();
        let change = |user: &str, on| AppEvent::Reaction {
            change: ReactionChange {
                id: 1,
                from: "b".into(),
                to: "me".into(),
                emoji: "👍".into(),
                user_id: user.into(),
                on,
            },
        };
        s.apply(change("b", true));
        s.apply(change("b", true));
        assert_eq!(s.shown_message("b", 1).unwrap().reactions[0].users, ["b"]);
        let m = s.shown_message("b", 1).unwrap().clone();
        s.reacted(
            &m,
            vec![Reaction {
                emoji: "👍".into(),
                users: vec!["b".into(), "me".into()],
            }],
        );
        s.apply(change("b", false));
        assert_eq!(s.shown_message("b", 1).unwrap().reactions[0].users, ["me"]);
    }

    #[test]
    fn statuses_show_on_people() {
        let mut s = logged_in();
        s.apply(AppEvent::Users {
            users: vec![User {
                status: StatusState::Busy,
                status_text: Some("call".into()),
                ..user("b", "Bob", true, vec![])
            }],
        });
        assert_eq!(
            s.conversation("b").unwrap().status().state,
            StatusState::Busy
        );
        s.apply(AppEvent::Status {
            change: StatusChange {
                user_id: "b".into(),
                state: StatusState::Away,
                text: None,
            },
        });
        let row = s.person_rows().into_iter().find(|r| r.id == "b").unwrap();
        assert_eq!((row.status, row.status_text), (StatusState::Away, None));
    }

    #[test]
    fn mentions_count_until_read() {
        let mut s = logged_in();
        s.apply(AppEvent::Groups {
            groups: vec![group("g-1", &["me", "b"])],
        });
        let mut m = msg(20, "b", "g-1");
        m.mentions = vec!["me".into()];
        s.apply(AppEvent::Message { message: m });
        s.apply(AppEvent::Message {
            message: msg(21, "b", "g-1"),
        });
        let row = s.group_rows().remove(0);
        assert_eq!((row.unread, row.mentions), (2, 1));
        s.select("g-1");
        let (with, up_to) = s.read_to_send(true).unwrap();
        s.marker_sent(&with, up_to);
        assert_eq!(s.group_rows()[0].mentions, 0);
    }
}
