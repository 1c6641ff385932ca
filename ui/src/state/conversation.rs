//! One conversation: messages arriving (live, from history, from another device of ours),
//! paging back, read markers both ways, typing shown, and the timeline the panel draws.

use natter_protocol::{Message, MessagePage, ReadMarker};

use super::{ConversationHeader, ConversationView, TimelineItem, UiState};

impl UiState {
    pub(super) fn add_message(&mut self, message: Message) {
        let Some(me) = self.my_id().map(str::to_owned) else {
            return;
        };
        let from_self = message.from == me;
        let peer = if from_self || natter_protocol::is_group_id(&message.to) {
            message.to.clone()
        } else {
            message.from.clone()
        };
        let Some(conversation) = self.conversation_mut(&peer) else {
            return;
        };
        if !from_self {
            // Their message ends their typing.
            conversation.typing_until = None;
        }
        // Counted even in the open conversation: the read marker the window sends (when it
        // is focused) clears it, on every device of ours.
        let mentions_me = message.mentions.contains(&me);
        if insert_sorted(&mut conversation.messages, message) && !from_self {
            conversation.unread += 1;
            if mentions_me {
                conversation.mentions += 1;
            }
        }
    }

    /// Opens a conversation; its unread count clears once its read marker is sent.
    pub fn select(&mut self, id: &str) {
        if self.conversation(id).is_some() {
            if self.selected.as_deref() != Some(id) {
                self.focus = None;
            }
            self.selected = Some(id.to_owned());
        }
    }

    /// The id to page back from, if older messages may exist and none are being loaded.
    pub fn wants_older(&self, id: &str) -> Option<Option<u64>> {
        let u = self.conversation(id)?;
        (!u.history_complete && !u.loading_older).then(|| u.messages.first().map(|m| m.id))
    }

    pub fn set_loading_older(&mut self, id: &str, loading: bool) {
        if let Some(u) = self.conversation_mut(id) {
            u.loading_older = loading;
        }
    }

    /// Adds a page from `fetch messages`.
    pub fn add_older(&mut self, id: &str, page: MessagePage) {
        if let Some(u) = self.conversation_mut(id) {
            u.loading_older = false;
            u.history_complete = !page.has_more;
            for m in page.messages {
                insert_sorted(&mut u.messages, m);
            }
        }
    }

    /// A conversation as shown: stored messages, then pending outbox entries.
    pub fn timeline(&self, id: &str) -> Vec<TimelineItem> {
        let me = self.my_id();
        let mut items: Vec<TimelineItem> = self
            .conversation(id)
            .map(|u| {
                u.messages
                    .iter()
                    .map(|m| {
                        let from_self = Some(m.from.as_str()) == me;
                        TimelineItem::Stored {
                            read: from_self && m.id <= u.their_read_up_to,
                            from_self,
                            message: m.clone(),
                        }
                    })
                    .collect()
            })
            .unwrap_or_default();
        items.extend(
            self.outbox
                .iter()
                .filter(|e| e.to == id)
                .map(|e| TimelineItem::Pending { entry: e.clone() }),
        );
        items
    }

    /// A read marker from the server: ours (another device read a conversation: its badge
    /// clears here too) or the other person's (our messages up to there show as read).
    pub(super) fn apply_read(&mut self, marker: ReadMarker) {
        let Some(me) = self.my_id().map(str::to_owned) else {
            return;
        };
        if marker.from == me {
            if let Some(u) = self.conversation_mut(&marker.to) {
                u.marker_sent = u.marker_sent.max(marker.up_to);
                let unread_now = |mention: bool| {
                    u.messages
                        .iter()
                        .filter(|m| m.from != me && m.id > marker.up_to && !m.deleted)
                        .filter(|m| !mention || m.mentions.contains(&me))
                        .count() as u32
                };
                let (still_unread, still_mentioned) = (unread_now(false), unread_now(true));
                u.unread = u.unread.min(still_unread);
                u.mentions = u.mentions.min(still_mentioned);
            }
        } else if marker.to == me
            && let Some(u) = self.conversation_mut(&marker.from)
        {
            u.their_read_up_to = u.their_read_up_to.max(marker.up_to);
        }
    }

    /// The read marker to send now, if any: the open conversation, in a focused window, has
    /// messages past the last marker sent. The caller sends it and calls [`Self::marker_sent`].
    pub fn read_to_send(&self, focused: bool) -> Option<(String, u64)> {
        if !focused || !self.is_online() {
            return None;
        }
        let u = self.selected_conversation()?;
        let last = u.messages.last()?.id;
        (last > u.marker_sent).then(|| (u.id.clone(), last))
    }

    pub fn marker_sent(&mut self, id: &str, up_to: u64) {
        if let Some(u) = self.conversation_mut(id) {
            u.marker_sent = u.marker_sent.max(up_to);
            u.unread = 0;
            u.mentions = 0;
        }
    }

    /// The open conversation's header.
    pub fn header(&self) -> Option<ConversationHeader> {
        let c = self.selected_conversation()?;
        Some(ConversationHeader {
            name: c.name.clone(),
            connected: c.connected(),
            status: c.status(),
            is_self: c.is_self(),
            members: c.is_group().then(|| {
                c.members()
                    .iter()
                    .map(|m| self.name_of(m))
                    .collect::<Vec<_>>()
                    .join(", ")
            }),
        })
    }

    /// Whether the open conversation's person is typing at `now_ms`.
    pub fn typing_shown(&self, now_ms: u64) -> Option<&ConversationView> {
        self.selected_conversation()
            .filter(|u| u.typing_until.is_some_and(|until| now_ms < until))
    }
}

/// Inserts by id, oldest first; returns false for a message already there.
pub(super) fn insert_sorted(messages: &mut Vec<Message>, m: Message) -> bool {
    match messages.binary_search_by_key(&m.id, |k| k.id) {
        Ok(_) => false,
        Err(pos) => {
            messages.insert(pos, m);
            true
        }
    }
}

#[cfg(test)]
mod tests {
    use natter_protocol::ReadMarker;
    use natter_protocol::ipc::{AppEvent, OutboxEntry};

    use super::super::TimelineItem;
    use super::super::fixtures::*;
    use super::*;

    #[test]
    fn unread_counts_clear_by_read_markers_only_in_a_focused_window() {
        let mut s = logged_in();
        s.apply(AppEvent::Message {
            message: msg(10, "a", "me"),
        });
        s.apply(AppEvent::Message {
            message: msg(11, "a", "me"),
        });
        assert_eq!(s.conversation("a").unwrap().unread, 2);
        assert_eq!(s.total_unread(), 2);
        s.select("a");
        assert_eq!(
            s.read_to_send(false),
            None,
            "an unfocused window reads nothing"
        );
        assert_eq!(s.conversation("a").unwrap().unread, 2);
        assert_eq!(s.read_to_send(true), Some(("a".into(), 11)));
        s.marker_sent("a", 11);
        assert_eq!(s.conversation("a").unwrap().unread, 0);
        assert_eq!(s.read_to_send(true), None, "sent once");
        s.apply(AppEvent::Message {
            message: msg(12, "a", "me"),
        });
        assert_eq!(s.read_to_send(true), Some(("a".into(), 12)));
        // Our own messages (from another window) are never unread.
        s.apply(AppEvent::Message {
            message: msg(13, "me", "z"),
        });
        assert_eq!(s.conversation("z").unwrap().unread, 0);
        assert_eq!(s.conversation("z").unwrap().messages.len(), 1);
    }

    #[test]
    fn reading_on_another_device_clears_the_badge_here() {
        let mut s = logged_in();
        for id in [10, 11, 12] {
            s.apply(AppEvent::Message {
                message: msg(id, "a", "me"),
            });
        }
        s.apply(AppEvent::Read {
            marker: ReadMarker {
                from: "me".into(),
                to: "a".into(),
                up_to: 11,
            },
        });
        assert_eq!(s.conversation("a").unwrap().unread, 1, "12 is still unread");
        s.select("a");
        assert_eq!(s.read_to_send(true), Some(("a".into(), 12)));
    }

    #[test]
    fn receipts_mark_our_messages_read() {
        let mut s = logged_in();
        s.apply(AppEvent::Acked {
            message: msg(5, "me", "b"),
        });
        let status = |s: &UiState| -> Vec<&'static str> {
            s.timeline("b")
                .iter()
                .filter(|i| {
                    !matches!(
                        i,
                        TimelineItem::Stored {
                            from_self: false,
                            ..
                        }
                    )
                })
                .map(|i| i.delivery().as_str())
                .collect()
        };
        assert_eq!(status(&s), ["sent", "sent"]);
        s.apply(AppEvent::Read {
            marker: ReadMarker {
                from: "b".into(),
                to: "me".into(),
                up_to: 2,
            },
        });
        assert_eq!(status(&s), ["read", "sent"]);
        // A marker of someone else's conversation is not about us.
        s.apply(AppEvent::Read {
            marker: ReadMarker {
                from: "b".into(),
                to: "a".into(),
                up_to: 9,
            },
        });
        assert_eq!(status(&s), ["read", "sent"]);
    }

    #[test]
    fn typing_shows_for_a_while_and_ends_with_their_message() {
        let mut s = logged_in();
        s.select("b");
        s.apply(AppEvent::Typing {
            from: "b".into(),
            at_ms: 1_000,
        });
        assert!(s.typing_shown(1_000).is_some());
        assert!(s.typing_shown(5_999).is_some());
        assert!(
            s.typing_shown(6_000).is_none(),
            "gone 5 s after the last one"
        );
        s.apply(AppEvent::Typing {
            from: "b".into(),
            at_ms: 7_000,
        });
        s.apply(AppEvent::Message {
            message: msg(20, "b", "me"),
        });
        assert!(s.typing_shown(7_001).is_none(), "their message ends it");
        s.apply(AppEvent::Typing {
            from: "a".into(),
            at_ms: 8_000,
        });
        assert!(
            s.typing_shown(8_001).is_none(),
            "only the open conversation's"
        );
    }

    #[test]
    fn a_message_seen_twice_is_kept_once() {
        let mut s = logged_in();
        s.apply(AppEvent::Message {
            message: msg(5, "b", "me"),
        });
        s.apply(AppEvent::Message {
            message: msg(5, "b", "me"),
        });
        s.apply(AppEvent::Acked {
            message: msg(2, "me", "b"),
        });
        let ids: Vec<u64> = s
            .conversation("b")
            .unwrap()
            .messages
            .iter()
            .map(|m| m.id)
            .collect();
        assert_eq!(ids, [1, 2, 5]);
        assert_eq!(s.conversation("b").unwrap().unread, 1);
    }

    #[test]
    fn paging_back_merges_and_stops_at_the_start() {
        let mut s = logged_in();
        assert_eq!(s.wants_older("b"), Some(Some(1)));
        s.set_loading_older("b", true);
        assert_eq!(s.wants_older("b"), None, "one page at a time");
        s.add_older(
            "b",
            MessagePage {
                messages: vec![msg(0, "b", "me")],
                has_more: false,
            },
        );
        assert_eq!(s.wants_older("b"), None, "history is complete");
        assert_eq!(s.conversation("b").unwrap().messages.len(), 3);
        assert_eq!(
            s.wants_older("a"),
            None,
            "an empty conversation has nothing older"
        );
    }

    #[test]
    fn the_timeline_shows_pending_outbox_entries_after_stored_messages() {
        let mut s = logged_in();
        let entry = OutboxEntry {
            client_id: "c1".into(),
            to: "b".into(),
            content: "later".into(),
            created_at: 1,
            ..OutboxEntry::default()
        };
        s.apply(AppEvent::Outbox {
            entries: vec![entry.clone()],
        });
        let t = s.timeline("b");
        assert_eq!(t.len(), 3);
        assert!(matches!(
            &t[0],
            TimelineItem::Stored {
                from_self: false,
                ..
            }
        ));
        assert!(matches!(
            &t[1],
            TimelineItem::Stored {
                from_self: true,
                ..
            }
        ));
        assert_eq!(t[2], TimelineItem::Pending { entry });
        assert_eq!(s.timeline("a").len(), 0);
        // Once acked the entry leaves the outbox and the message is stored.
        s.apply(AppEvent::Outbox { entries: vec![] });
        let mut acked = msg(9, "me", "b");
        acked.client_id = Some("c1".into());
        s.apply(AppEvent::Acked { message: acked });
        assert!(matches!(
            s.timeline("b").last(),
            Some(TimelineItem::Stored {
                from_self: true,
                ..
            })
        ));
        assert_eq!(s.timeline("b").len(), 3);
    }
}
