//! Who is listed: the people (`users`, presence, renames, removals) and the groups, in the
//! order the sidebar shows them.

use natter_protocol::{Group, Message, PresenceChange, Status, User};

use super::conversation::insert_sorted;
use super::{ConversationKind, ConversationView, GroupRow, PersonRow, UiState};

impl UiState {
    pub fn users(&self) -> &[ConversationView] {
        &self.users
    }

    pub fn groups(&self) -> &[ConversationView] {
        &self.groups
    }

    /// A person's name (for group members and message senders).
    pub fn name_of(&self, user_id: &str) -> String {
        self.users
            .iter()
            .find(|u| u.id == user_id)
            .map(|u| u.name.clone())
            .unwrap_or_else(|| "someone".into())
    }

    /// The people as the sidebar lists them.
    pub fn person_rows(&self) -> Vec<PersonRow> {
        self.users
            .iter()
            .map(|u| PersonRow {
                id: u.id.clone(),
                name: u.name.clone(),
                username: u.username().to_owned(),
                connected: u.connected(),
                status: u.status().state,
                status_text: u.status().text,
                unread: u.unread,
                is_self: u.is_self(),
                selected: self.selected.as_deref() == Some(u.id.as_str()),
            })
            .collect()
    }

    /// The groups as the sidebar lists them.
    pub fn group_rows(&self) -> Vec<GroupRow> {
        self.groups
            .iter()
            .map(|g| GroupRow {
                id: g.id.clone(),
                name: g.name.clone(),
                members: g.members().len(),
                unread: g.unread,
                mentions: g.mentions,
                selected: self.selected.as_deref() == Some(g.id.as_str()),
            })
            .collect()
    }

    /// People (userID, name) matching `keep`, for the group dialogs' pickers.
    pub fn people_where(&self, keep: impl Fn(&ConversationView) -> bool) -> Vec<(String, String)> {
        self.users
            .iter()
            .filter(|u| keep(u))
            .map(|u| (u.id.clone(), u.name.clone()))
            .collect()
    }

    fn view_of(&self, user: User) -> ConversationView {
        let is_self = self.my_id() == Some(user.user_id.as_str());
        ConversationView {
            history_complete: user.messages.is_empty(),
            kind: ConversationKind::Person {
                connected: user.connected || is_self,
                is_self,
                status: Status {
                    state: user.status,
                    text: user.status_text.clone(),
                },
                username: user.username.clone(),
            },
            id: user.user_id,
            name: user.display_name.unwrap_or(user.username),
            messages: user.messages,
            unread: u32::try_from(user.unread).unwrap_or(u32::MAX),
            mentions: 0,
            their_read_up_to: user.read_up_to,
            marker_sent: 0,
            typing_until: None,
            loading_older: false,
        }
    }

    fn group_view(&self, group: Group) -> ConversationView {
        ConversationView {
            history_complete: group.messages.is_empty(),
            kind: ConversationKind::Group {
                members: group.members,
            },
            id: group.group_id,
            name: group.name,
            messages: group.messages,
            unread: u32::try_from(group.unread).unwrap_or(u32::MAX),
            mentions: u32::try_from(group.mentions).unwrap_or(u32::MAX),
            their_read_up_to: 0,
            marker_sent: 0,
            typing_until: None,
            loading_older: false,
        }
    }

    /// A fresh `users` (every (re)connect): keeps older pages already loaded; unread counts
    /// and receipts are the server's (they follow the person across devices).
    pub(super) fn replace_users(&mut self, users: Vec<User>) {
        let fresh = users.into_iter().map(|u| self.view_of(u)).collect();
        let old = std::mem::take(&mut self.users);
        self.users = keep_loaded(old, fresh);
        self.sort();
    }

    /// A fresh `groups` (every (re)connect): like `users`, keeps older pages already loaded.
    pub(super) fn replace_groups(&mut self, groups: Vec<Group>) {
        let fresh = groups.into_iter().map(|g| self.group_view(g)).collect();
        let old = std::mem::take(&mut self.groups);
        self.groups = keep_loaded(old, fresh);
        if let Some(sel) = self.selected.clone()
            && natter_protocol::is_group_id(&sel)
            && self.conversation(&sel).is_none()
        {
            self.selected = None;
        }
        self.sort();
    }

    /// A group created, changed or left: we are among its members, or it goes.
    pub(super) fn apply_group(&mut self, group: Group) {
        let me = self.my_id().map(str::to_owned);
        let member = me.is_some_and(|me| group.members.contains(&me));
        if !member {
            self.groups.retain(|g| g.id != group.group_id);
            if self.selected.as_deref() == Some(group.group_id.as_str()) {
                self.selected = None;
            }
            return;
        }
        match self.conversation_mut(&group.group_id) {
            Some(g) => {
                g.name = group.name;
                g.kind = ConversationKind::Group {
                    members: group.members,
                };
            }
            None => {
                let view = self.group_view(group);
                self.groups.push(view);
            }
        }
        self.sort();
    }

    /// People coming and going, in order: the last change of a user is where they are.
    pub(super) fn apply_presence(&mut self, changes: Vec<PresenceChange>) {
        for change in changes {
            match (self.conversation_mut(&change.user_id), change.username) {
                (Some(u), username) => {
                    if let ConversationKind::Person {
                        connected,
                        username: login,
                        ..
                    } = &mut u.kind
                    {
                        *connected = change.connected;
                        if let Some(name) = &username {
                            login.clone_from(name);
                        }
                    }
                    if let Some(name) = change.display_name.or(username) {
                        u.name = name;
                    }
                }
                // Someone new: listed, under the name the server gives.
                (None, Some(username)) if change.connected => {
                    let view = self.view_of(User {
                        user_id: change.user_id,
                        username,
                        display_name: change.display_name,
                        connected: true,
                        ..User::default()
                    });
                    self.users.push(view);
                }
                (None, _) => {}
            }
        }
        self.sort();
    }

    pub(super) fn rename(&mut self, user_id: &str, username: String) {
        if let Some(u) = self.conversation_mut(user_id)
            && let ConversationKind::Person {
                username: login, ..
            } = &mut u.kind
        {
            // A name the directory gives stays what people see.
            if u.name == *login {
                u.name = username.clone();
            }
            login.clone_from(&username);
        }
        if let Some(me) = self.me.as_mut().filter(|m| m.user_id == user_id) {
            me.username = username;
        }
        self.sort();
    }

    pub(super) fn remove_user(&mut self, user_id: &str) {
        self.users.retain(|u| u.id != user_id);
        if self.selected.as_deref() == Some(user_id) {
            self.selected = None;
        }
    }

    fn sort(&mut self) {
        self.groups.sort_by(|a, b| {
            a.name
                .to_lowercase()
                .cmp(&b.name.to_lowercase())
                .then_with(|| a.id.cmp(&b.id))
        });
        self.users.sort_by(|a, b| {
            b.is_self()
                .cmp(&a.is_self())
                .then_with(|| a.name.to_lowercase().cmp(&b.name.to_lowercase()))
                .then_with(|| a.id.cmp(&b.id))
        });
    }
}

/// A fresh list from the server, keeping what was loaded of each conversation still in it:
/// older pages, whether history is complete, the receipts already seen.
fn keep_loaded(
    mut old: Vec<ConversationView>,
    fresh: Vec<ConversationView>,
) -> Vec<ConversationView> {
    fresh
        .into_iter()
        .map(|mut view| {
            if let Some(pos) = old.iter().position(|o| o.id == view.id) {
                let prev = old.swap_remove(pos);
                let recent: Vec<Message> = std::mem::take(&mut view.messages);
                view.history_complete = prev.history_complete;
                view.messages = prev.messages;
                view.their_read_up_to = view.their_read_up_to.max(prev.their_read_up_to);
                for m in recent {
                    insert_sorted(&mut view.messages, m);
                }
            }
            view
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use natter_protocol::ipc::AppEvent;
    use natter_protocol::{MessagePage, PresenceChange, User};

    use super::UiState;

    use super::super::fixtures::*;

    #[test]
    fn self_first_then_by_name_ignoring_case() {
        let s = logged_in();
        assert_eq!(names(&s), ["me", "alice", "Bob", "zoe"]);
        assert!(s.users()[0].is_self());
        assert!(
            s.users()[0].connected(),
            "self is online even if the list says otherwise"
        );
        assert!(!s.shows_login());
    }

    #[test]
    fn a_presence_batch_applies_in_order() {
        let mut s = logged_in();
        use natter_protocol::PresenceChange as P;
        s.apply(AppEvent::Presence {
            changes: vec![
                P::offline("a"),
                P::online("c", "carol"),
                P::offline("z"),
                P::online("a", "alice"),
                P::offline("c"),
                P::offline("nobody"),
            ],
        });
        assert!(
            s.conversation("a").unwrap().connected(),
            "went and came back"
        );
        assert!(!s.conversation("c").unwrap().connected(), "came and went");
        assert!(!s.conversation("z").unwrap().connected());
        assert!(
            s.conversation("nobody").is_none(),
            "a departure lists no one"
        );
        assert_eq!(names(&s), ["me", "alice", "Bob", "carol", "zoe"]);
    }

    #[test]
    fn a_new_users_list_keeps_older_pages_and_takes_the_servers_counts() {
        let mut s = logged_in();
        s.add_older(
            "b",
            MessagePage {
                messages: vec![msg(0, "me", "b")],
                has_more: false,
            },
        );
        // Reconnect: the server sends its recent window, with one message we missed.
        s.apply(AppEvent::Users {
            users: vec![
                user("me", "me", true, vec![]),
                User {
                    unread: 1,
                    read_up_to: 2,
                    ..user(
                        "b",
                        "Bob",
                        true,
                        vec![msg(1, "b", "me"), msg(2, "me", "b"), msg(7, "b", "me")],
                    )
                },
            ],
        });
        let b = s.conversation("b").unwrap();
        let ids: Vec<u64> = b.messages.iter().map(|m| m.id).collect();
        assert_eq!(ids, [0, 1, 2, 7]);
        assert_eq!(b.unread, 1);
        assert_eq!(b.their_read_up_to, 2);
        assert!(b.history_complete);
        assert!(
            s.conversation("a").is_none(),
            "users gone from the list are gone"
        );
    }

    #[test]
    fn people_show_the_names_the_directory_gives_them() {
        let mut s = logged_in();
        s.apply(AppEvent::Users {
            users: vec![
                user("me", "me", true, vec![]),
                User {
                    display_name: Some("Alice Liddell".into()),
                    ..user("a", "alice", true, vec![])
                },
            ],
        });
        let row = |s: &UiState, id: &str| {
            s.person_rows()
                .into_iter()
                .find(|r| r.id == id)
                .expect("listed")
        };
        let alice = row(&s, "a");
        assert_eq!(
            (alice.name.as_str(), alice.username.as_str()),
            ("Alice Liddell", "alice")
        );
        assert_eq!(s.name_of("a"), "Alice Liddell");
        // A newcomer comes with theirs; a rename of the login keeps it.
        s.apply(AppEvent::Presence {
            changes: vec![PresenceChange {
                user_id: "n".into(),
                username: Some("bob".into()),
                display_name: Some("Bob Builder".into()),
                connected: true,
            }],
        });
        assert_eq!(s.name_of("n"), "Bob Builder");
        s.apply(AppEvent::UserRenamed {
            user_id: "a".into(),
            username: "alice2".into(),
        });
        let alice = row(&s, "a");
        assert_eq!(
            (alice.name.as_str(), alice.username.as_str()),
            ("Alice Liddell", "alice2")
        );
    }

    #[test]
    fn renames_and_removals_update_the_list() {
        let mut s = logged_in();
        s.select("a");
        s.apply(AppEvent::UserRenamed {
            user_id: "a".into(),
            username: "Aaron".into(),
        });
        assert_eq!(s.conversation("a").unwrap().name, "Aaron");
        s.apply(AppEvent::UserRemoved {
            user_id: "a".into(),
        });
        assert!(s.conversation("a").is_none());
        assert_eq!(s.selected, None);
        s.apply(AppEvent::UserRenamed {
            user_id: "me".into(),
            username: "Me Myself".into(),
        });
        assert_eq!(s.me.as_ref().unwrap().username, "Me Myself");
    }

    #[test]
    fn groups_count_unread_and_go_when_left() {
        let mut s = logged_in();
        let mut g = group("g-1", &["me", "bob"]);
        g.messages = vec![msg(1, "bob", "g-1")];
        g.unread = 1;
        s.apply(AppEvent::Groups { groups: vec![g] });
        assert_eq!(s.groups().len(), 1);
        assert_eq!(s.total_unread(), 1);
        s.apply(AppEvent::Message {
            message: msg(2, "bob", "g-1"),
        });
        s.apply(AppEvent::Message {
            message: msg(3, "me", "g-1"),
        });
        let view = s.conversation("g-1").unwrap();
        assert_eq!(view.messages.len(), 3, "group messages land in the group");
        assert_eq!(view.unread, 2, "our own message is not unread");
        // Read on another device.
        s.apply(AppEvent::Read {
            marker: natter_protocol::ReadMarker {
                from: "me".into(),
                to: "g-1".into(),
                up_to: 3,
            },
        });
        assert_eq!(s.total_unread(), 0);
        s.select("g-1");
        // Someone else left: the group stays; we left: it goes, and is no longer open.
        s.apply(AppEvent::Group {
            group: group("g-1", &["me"]),
        });
        assert_eq!(s.conversation("g-1").unwrap().members(), ["me"]);
        s.apply(AppEvent::Group {
            group: group("g-1", &["bob"]),
        });
        assert!(s.groups().is_empty());
        assert_eq!(s.selected, None);
        // Added to a new one.
        s.apply(AppEvent::Group {
            group: group("g-2", &["bob", "me"]),
        });
        assert_eq!(s.groups()[0].name, "team g-2");
    }
}
