//! Search results, and the message a result brings into view (paging back until it is loaded).

use natter_protocol::Message;

use super::{SearchHit, UiState};

impl UiState {
    /// Shows search results (newest first).
    pub fn set_search(&mut self, q: String, results: Vec<Message>) {
        self.search = Some((q, results));
    }

    pub fn clear_search(&mut self) {
        self.search = None;
    }

    /// The results as listed: each with its sender's name and its conversation's.
    pub fn search_hits(&self) -> Vec<SearchHit> {
        let Some((_, found)) = &self.search else {
            return Vec::new();
        };
        found
            .iter()
            .map(|m| SearchHit {
                sender: self.name_of(&m.from),
                place: self
                    .conversation_of(m)
                    .and_then(|c| self.conversation(&c).map(|u| u.name.clone()))
                    .unwrap_or_default(),
                message: m.clone(),
            })
            .collect()
    }

    /// The conversation a message belongs to, seen from here.
    pub fn conversation_of(&self, m: &Message) -> Option<String> {
        let me = self.my_id()?;
        Some(if natter_protocol::is_group_id(&m.to) || m.from == me {
            m.to.clone()
        } else {
            m.from.clone()
        })
    }

    /// Opens a search result: its conversation, with the message brought into view (older
    /// pages are loaded until it is there: see [`Self::focus_needs_older`]).
    pub fn open_result(&mut self, m: &Message) {
        if let Some(c) = self.conversation_of(m) {
            self.select(&c);
            if self.selected.as_deref() == Some(c.as_str()) {
                self.focus = Some(m.id);
            }
        }
    }

    /// Brings message `id` of the open conversation into view (a reply's original), paging
    /// back as a search result does.
    pub fn jump_to(&mut self, id: u64) {
        if self.selected.is_some() {
            self.focus = Some(id);
        }
    }

    /// Whether the focused message is older than what the open conversation has loaded (and
    /// older pages exist).
    pub fn focus_needs_older(&self) -> bool {
        let (Some(focus), Some(u)) = (self.focus, self.selected_conversation()) else {
            return false;
        };
        !u.history_complete && u.messages.first().is_none_or(|m| m.id > focus)
    }
}

#[cfg(test)]
mod tests {
    use natter_protocol::ipc::AppEvent;
    use natter_protocol::{MessagePage, User};

    use super::super::fixtures::*;

    #[test]
    fn a_search_result_opens_its_conversation_and_pages_back_to_it() {
        let mut s = logged_in();
        s.apply(AppEvent::Users {
            users: vec![User {
                user_id: "bob".into(),
                username: "bob".into(),
                connected: true,
                messages: vec![msg(50, "bob", "me")],
                ..User::default()
            }],
        });
        let old = msg(10, "bob", "me");
        s.set_search("m10".into(), vec![old.clone()]);
        s.open_result(&old);
        assert_eq!(s.selected.as_deref(), Some("bob"));
        assert_eq!(s.focus, Some(10));
        assert!(
            s.focus_needs_older(),
            "message 10 is older than what is loaded"
        );
        s.add_older(
            "bob",
            MessagePage {
                messages: vec![old.clone()],
                has_more: true,
            },
        );
        assert!(!s.focus_needs_older());
        s.select("bob");
        assert_eq!(
            s.focus,
            Some(10),
            "selecting the same conversation keeps the focus"
        );
    }
}
