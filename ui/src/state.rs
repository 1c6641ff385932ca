//! The UI's state and its transitions, as plain Rust: `state + event → new state`.
//!
//! Components only render this and call the shell's commands; every rule (ordering, unread
//! counts, merging history with live messages, the outbox) lives here, with native tests.

use natter_protocol::ipc::{AppEvent, ConnectionState, DiscoveredServer, OutboxEntry, Upload};
use natter_protocol::{Group, Message, MessagePage, Session, User};

/// One conversation of the sidebar: a person, or a group (`is_group`, with its members).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserView {
    /// The userID, or the groupID.
    pub user_id: String,
    /// The person's name, or the group's.
    pub username: String,
    pub is_group: bool,
    /// A group's members (userIDs), in the order they joined.
    pub members: Vec<String>,
    pub connected: bool,
    pub is_self: bool,
    /// Oldest first, no duplicates (by id).
    pub messages: Vec<Message>,
    pub unread: u32,
    /// How far this person has read our messages (their read receipts).
    pub their_read_up_to: u64,
    /// The last read marker sent (or known sent) for this conversation from any of our devices.
    pub marker_sent: u64,
    /// They are typing to us until this time (ms since the epoch, the UI's clock).
    pub typing_until: Option<u64>,
    /// No older messages exist on the server than the first one here.
    pub history_complete: bool,
    pub loading_older: bool,
}

/// What the message panel shows: stored messages, then ours still waiting in the outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TimelineItem {
    Stored {
        message: Message,
        from_self: bool,
        /// Ours only: the other person has read it.
        read: bool,
    },
    Pending {
        entry: OutboxEntry,
    },
}

/// Where a message of ours stands, as `data-status` shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// In the outbox: not stored on the server yet.
    Pending,
    /// Stored (acked) by the server.
    Sent,
    /// The other person has read it.
    Read,
}

impl Delivery {
    pub fn as_str(self) -> &'static str {
        match self {
            Delivery::Pending => "pending",
            Delivery::Sent => "sent",
            Delivery::Read => "read",
        }
    }
}

impl TimelineItem {
    pub fn delivery(&self) -> Delivery {
        match self {
            TimelineItem::Pending { .. } => Delivery::Pending,
            TimelineItem::Stored { read: true, .. } => Delivery::Read,
            TimelineItem::Stored { .. } => Delivery::Sent,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppState {
    pub connection: ConnectionState,
    pub server_url: Option<String>,
    /// The server in use is reached over TLS with a pinned certificate.
    pub secure: bool,
    pub me: Option<Session>,
    /// Self first, then by name (case-insensitive), then by id.
    users: Vec<UserView>,
    /// The person's groups, by name.
    groups: Vec<UserView>,
    pub selected: Option<String>,
    pub outbox: Vec<OutboxEntry>,
    /// Servers announced on the LAN, for the login screen.
    pub discovered: Vec<DiscoveredServer>,
    /// Uploads running or failed (a finished one is in the outbox).
    pub uploads: Vec<Upload>,
    /// The last search and its results (newest first).
    pub search: Option<(String, Vec<Message>)>,
    /// A message to bring into view (a search result), loaded by paging back if needed.
    pub focus: Option<u64>,
}

impl Default for AppState {
    fn default() -> Self {
        Self {
            connection: ConnectionState::LoggedOut,
            server_url: None,
            secure: false,
            me: None,
            users: Vec::new(),
            groups: Vec::new(),
            selected: None,
            outbox: Vec::new(),
            discovered: Vec::new(),
            uploads: Vec::new(),
            search: None,
            focus: None,
        }
    }
}

impl AppState {
    pub fn users(&self) -> &[UserView] {
        &self.users
    }

    pub fn groups(&self) -> &[UserView] {
        &self.groups
    }

    /// A conversation by id: a person's or a group's.
    pub fn user(&self, id: &str) -> Option<&UserView> {
        self.users
            .iter()
            .chain(self.groups.iter())
            .find(|u| u.user_id == id)
    }

    fn user_mut(&mut self, id: &str) -> Option<&mut UserView> {
        self.users
            .iter_mut()
            .chain(self.groups.iter_mut())
            .find(|u| u.user_id == id)
    }

    /// A person's name (for group members and message senders).
    pub fn name_of(&self, user_id: &str) -> String {
        self.users
            .iter()
            .find(|u| u.user_id == user_id)
            .map(|u| u.username.clone())
            .unwrap_or_else(|| "someone".into())
    }

    pub fn selected_user(&self) -> Option<&UserView> {
        self.selected.as_deref().and_then(|id| self.user(id))
    }

    fn my_id(&self) -> Option<&str> {
        self.me.as_ref().map(|m| m.user_id.as_str())
    }

    /// Whether the login form is what to show.
    pub fn shows_login(&self) -> bool {
        self.me.is_none() || self.connection.needs_login()
    }

    /// Whether sends go out now (otherwise they wait in the outbox).
    pub fn is_online(&self) -> bool {
        self.connection == ConnectionState::Connected
    }

    /// The own connection state, as words for the status line.
    pub fn status_text(&self) -> String {
        match &self.connection {
            ConnectionState::LoggedOut => "Not logged in".into(),
            ConnectionState::Connecting => "Connecting…".into(),
            ConnectionState::Connected => "Connected".into(),
            ConnectionState::Reconnecting { attempt } => {
                format!("Offline — reconnecting (attempt {attempt})…")
            }
            ConnectionState::Offline { retry_in_ms, .. } => format!(
                "Offline — retrying in {}s",
                retry_in_ms.div_ceil(1000).max(1)
            ),
            ConnectionState::Refused { reason } => format!("Refused: {reason}"),
            ConnectionState::Unreachable { reason } => format!("Unreachable: {reason}"),
            ConnectionState::Untrusted { changed: true, .. } => {
                "Blocked: the server's certificate changed".into()
            }
            ConnectionState::Untrusted { .. } => "Waiting for you to trust the server".into(),
        }
    }

    /// What the status line adds about encryption.
    pub fn security_text(&self) -> &'static str {
        if self.secure {
            "encrypted"
        } else {
            "not encrypted"
        }
    }

    /// The certificate the person must decide about: its fingerprint, and whether it
    /// replaces one they trusted before.
    pub fn trust_prompt(&self) -> Option<(String, bool)> {
        match &self.connection {
            ConnectionState::Untrusted {
                fingerprint,
                changed,
            } => Some((fingerprint.clone(), *changed)),
            _ => None,
        }
    }

    /// The error to show at the login form, if the last attempt failed.
    pub fn login_error(&self) -> Option<String> {
        match &self.connection {
            ConnectionState::Refused { reason } => Some(reason.clone()),
            ConnectionState::Unreachable { reason } => Some(reason.clone()),
            ConnectionState::Untrusted { changed: true, .. } => Some(
                "The server's certificate changed. Nothing was sent. If you did not expect \
                 this (the server was not reinstalled), someone may be listening in: check the \
                 fingerprint with whoever runs the server before trusting it."
                    .into(),
            ),
            _ => None,
        }
    }

    pub fn total_unread(&self) -> u32 {
        self.users
            .iter()
            .chain(self.groups.iter())
            .map(|u| u.unread)
            .sum()
    }

    /// Applies one event from the shell.
    pub fn apply(&mut self, event: AppEvent) {
        match event {
            AppEvent::Connection {
                state,
                server_url,
                secure,
            } => {
                if server_url.is_some() {
                    self.server_url = server_url;
                }
                self.secure = secure;
                if state == ConnectionState::LoggedOut {
                    self.me = None;
                    self.users.clear();
                    self.groups.clear();
                    self.selected = None;
                    self.search = None;
                }
                self.connection = state;
            }
            AppEvent::Session { session } => {
                if self.my_id() != Some(session.user_id.as_str()) {
                    self.users.clear();
                    self.groups.clear();
                    self.selected = None;
                    self.search = None;
                }
                self.me = Some(session);
            }
            AppEvent::Users { users } => self.replace_users(users),
            AppEvent::Presence { changes } => {
                // In order: the last change of a user is where they are.
                for change in changes {
                    match (self.user_mut(&change.user_id), change.username) {
                        (Some(u), username) => {
                            u.connected = change.connected;
                            if let Some(name) = username {
                                u.username = name;
                            }
                        }
                        // Someone new: listed, under the name the server gives.
                        (None, Some(username)) if change.connected => {
                            let view = self.view_of(User {
                                user_id: change.user_id,
                                username,
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
            AppEvent::UserRenamed { user_id, username } => {
                if let Some(u) = self.user_mut(&user_id) {
                    u.username = username.clone();
                }
                if let Some(me) = self.me.as_mut().filter(|m| m.user_id == user_id) {
                    me.username = username;
                }
                self.sort();
            }
            AppEvent::UserRemoved { user_id } => {
                self.users.retain(|u| u.user_id != user_id);
                if self.selected.as_deref() == Some(user_id.as_str()) {
                    self.selected = None;
                }
            }
            AppEvent::Message { message } | AppEvent::Acked { message } => {
                self.add_message(message)
            }
            AppEvent::Outbox { entries } => self.outbox = entries,
            AppEvent::Read { marker } => self.apply_read(marker),
            AppEvent::Open { user_id } => self.select(&user_id),
            AppEvent::Discovered { servers } => self.discovered = servers,
            AppEvent::Typing { from, at_ms } => {
                if let Some(u) = self.users.iter_mut().find(|u| u.user_id == from) {
                    u.typing_until = Some(at_ms + natter_protocol::TYPING_SHOWS_MS);
                }
            }
            AppEvent::Groups { groups } => self.replace_groups(groups),
            AppEvent::Group { group } => self.apply_group(group),
            AppEvent::Upload { upload } => self.apply_upload(upload),
            // The page hands them to the shell (it knows the open conversation).
            AppEvent::Dropped { .. } => {}
        }
    }

    fn group_view(&self, group: Group) -> UserView {
        UserView {
            history_complete: group.messages.is_empty(),
            connected: true,
            is_self: false,
            is_group: true,
            user_id: group.group_id,
            username: group.name,
            members: group.members,
            messages: group.messages,
            unread: u32::try_from(group.unread).unwrap_or(u32::MAX),
            their_read_up_to: 0,
            marker_sent: 0,
            typing_until: None,
            loading_older: false,
        }
    }

    /// A fresh `groups` (every (re)connect): like `users`, keeps older pages already loaded.
    fn replace_groups(&mut self, groups: Vec<Group>) {
        let mut old = std::mem::take(&mut self.groups);
        for group in groups {
            let mut view = self.group_view(group);
            if let Some(pos) = old.iter().position(|o| o.user_id == view.user_id) {
                let prev = old.swap_remove(pos);
                let fresh = std::mem::take(&mut view.messages);
                view.history_complete = prev.history_complete;
                view.messages = prev.messages;
                for m in fresh {
                    insert_sorted(&mut view.messages, m);
                }
            }
            self.groups.push(view);
        }
        if let Some(sel) = self.selected.clone()
            && natter_protocol::is_group_id(&sel)
            && self.user(&sel).is_none()
        {
            self.selected = None;
        }
        self.sort();
    }

    /// A group created, changed or left: we are among its members, or it goes.
    fn apply_group(&mut self, group: Group) {
        let me = self.my_id().map(str::to_owned);
        let member = me.is_some_and(|me| group.members.contains(&me));
        if !member {
            self.groups.retain(|g| g.user_id != group.group_id);
            if self.selected.as_deref() == Some(group.group_id.as_str()) {
                self.selected = None;
            }
            return;
        }
        match self.user_mut(&group.group_id) {
            Some(g) => {
                g.username = group.name;
                g.members = group.members;
            }
            None => {
                let view = self.group_view(group);
                self.groups.push(view);
            }
        }
        self.sort();
    }

    /// An upload's progress: a finished one leaves (its message is in the outbox), a failed
    /// one stays to say why until [`Self::dismiss_upload`].
    fn apply_upload(&mut self, upload: Upload) {
        self.uploads.retain(|u| u.id != upload.id);
        if upload.done != Some(Ok(())) {
            self.uploads.push(upload);
        }
    }

    pub fn dismiss_upload(&mut self, id: u64) {
        self.uploads.retain(|u| u.id != id);
    }

    /// The uploads of one conversation.
    pub fn uploads_to(&self, id: &str) -> Vec<Upload> {
        self.uploads
            .iter()
            .filter(|u| u.to == id)
            .cloned()
            .collect()
    }

    /// Shows search results (newest first).
    pub fn set_search(&mut self, q: String, results: Vec<Message>) {
        self.search = Some((q, results));
    }

    pub fn clear_search(&mut self) {
        self.search = None;
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

    /// Whether the focused message is older than what the open conversation has loaded (and
    /// older pages exist).
    pub fn focus_needs_older(&self) -> bool {
        let (Some(focus), Some(u)) = (self.focus, self.selected_user()) else {
            return false;
        };
        !u.history_complete && u.messages.first().is_none_or(|m| m.id > focus)
    }

    /// A read marker from the server: ours (another device read a conversation: its badge
    /// clears here too) or the other person's (our messages up to there show as read).
    fn apply_read(&mut self, marker: natter_protocol::ReadMarker) {
        let Some(me) = self.my_id().map(str::to_owned) else {
            return;
        };
        if marker.from == me {
            if let Some(u) = self.user_mut(&marker.to) {
                u.marker_sent = u.marker_sent.max(marker.up_to);
                let still_unread = u
                    .messages
                    .iter()
                    .filter(|m| m.from != me && m.id > marker.up_to)
                    .count() as u32;
                u.unread = u.unread.min(still_unread);
            }
        } else if marker.to == me
            && let Some(u) = self.user_mut(&marker.from)
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
        let u = self.selected_user()?;
        let last = u.messages.last()?.id;
        (last > u.marker_sent).then(|| (u.user_id.clone(), last))
    }

    pub fn marker_sent(&mut self, user_id: &str, up_to: u64) {
        if let Some(u) = self.user_mut(user_id) {
            u.marker_sent = u.marker_sent.max(up_to);
            u.unread = 0;
        }
    }

    /// Whether the open conversation's person is typing at `now_ms`.
    pub fn typing_shown(&self, now_ms: u64) -> Option<&UserView> {
        self.selected_user()
            .filter(|u| u.typing_until.is_some_and(|until| now_ms < until))
    }

    fn view_of(&self, user: User) -> UserView {
        let is_self = self.my_id() == Some(user.user_id.as_str());
        UserView {
            history_complete: user.messages.is_empty(),
            connected: user.connected || is_self,
            is_self,
            is_group: false,
            members: Vec::new(),
            user_id: user.user_id,
            username: user.username,
            messages: user.messages,
            unread: u32::try_from(user.unread).unwrap_or(u32::MAX),
            their_read_up_to: user.read_up_to,
            marker_sent: 0,
            typing_until: None,
            loading_older: false,
        }
    }

    /// A fresh `users` (every (re)connect): keeps older pages already loaded; unread counts
    /// and receipts are the server's (they follow the person across devices).
    fn replace_users(&mut self, users: Vec<User>) {
        let mut old = std::mem::take(&mut self.users);
        for user in users {
            let mut view = self.view_of(user);
            if let Some(pos) = old.iter().position(|o| o.user_id == view.user_id) {
                let prev = old.swap_remove(pos);
                let fresh: Vec<Message> = std::mem::take(&mut view.messages);
                view.history_complete = prev.history_complete;
                view.messages = prev.messages;
                view.their_read_up_to = view.their_read_up_to.max(prev.their_read_up_to);
                for m in fresh {
                    insert_sorted(&mut view.messages, m);
                }
            }
            self.users.push(view);
        }
        self.sort();
    }

    fn add_message(&mut self, message: Message) {
        let Some(me) = self.my_id().map(str::to_owned) else {
            return;
        };
        let from_self = message.from == me;
        let peer = if from_self || natter_protocol::is_group_id(&message.to) {
            message.to.clone()
        } else {
            message.from.clone()
        };
        let Some(user) = self.user_mut(&peer) else {
            return;
        };
        if !from_self {
            // Their message ends their typing.
            user.typing_until = None;
        }
        // Counted even in the open conversation: the read marker the window sends (when it
        // is focused) clears it, on every device of ours.
        if insert_sorted(&mut user.messages, message) && !from_self {
            user.unread += 1;
        }
    }

    /// Opens a conversation; its unread count clears once its read marker is sent.
    pub fn select(&mut self, user_id: &str) {
        if self.user(user_id).is_some() {
            if self.selected.as_deref() != Some(user_id) {
                self.focus = None;
            }
            self.selected = Some(user_id.to_owned());
        }
    }

    /// The id to page back from, if older messages may exist and none are being loaded.
    pub fn wants_older(&self, user_id: &str) -> Option<Option<u64>> {
        let u = self.user(user_id)?;
        (!u.history_complete && !u.loading_older).then(|| u.messages.first().map(|m| m.id))
    }

    pub fn set_loading_older(&mut self, user_id: &str, loading: bool) {
        if let Some(u) = self.user_mut(user_id) {
            u.loading_older = loading;
        }
    }

    /// Adds a page from `fetch messages`.
    pub fn add_older(&mut self, user_id: &str, page: MessagePage) {
        if let Some(u) = self.user_mut(user_id) {
            u.loading_older = false;
            u.history_complete = !page.has_more;
            for m in page.messages {
                insert_sorted(&mut u.messages, m);
            }
        }
    }

    /// The selected conversation as shown: stored messages, then pending outbox entries.
    pub fn timeline(&self, user_id: &str) -> Vec<TimelineItem> {
        let me = self.my_id();
        let mut items: Vec<TimelineItem> = self
            .user(user_id)
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
                .filter(|e| e.to == user_id)
                .map(|e| TimelineItem::Pending { entry: e.clone() }),
        );
        items
    }

    fn sort(&mut self) {
        self.groups.sort_by(|a, b| {
            a.username
                .to_lowercase()
                .cmp(&b.username.to_lowercase())
                .then_with(|| a.user_id.cmp(&b.user_id))
        });
        self.users.sort_by(|a, b| {
            b.is_self
                .cmp(&a.is_self)
                .then_with(|| a.username.to_lowercase().cmp(&b.username.to_lowercase()))
                .then_with(|| a.user_id.cmp(&b.user_id))
        });
    }
}

/// Inserts by id, oldest first; returns false for a message already there.
fn insert_sorted(messages: &mut Vec<Message>, m: Message) -> bool {
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
    use super::*;
    use natter_protocol::ReadMarker;

    fn session(id: &str) -> Session {
        Session {
            session_id: format!("secret-{id}"),
            user_id: id.into(),
            username: id.into(),
            receipts: true,
        }
    }

    fn user(id: &str, name: &str, connected: bool, messages: Vec<Message>) -> User {
        User {
            user_id: id.into(),
            username: name.into(),
            connected,
            messages,
            ..User::default()
        }
    }

    fn msg(id: u64, from: &str, to: &str) -> Message {
        Message {
            id,
            content: format!("m{id}"),
            from: from.into(),
            to: to.into(),
            ts: 1_700_000_000_000 + id as i64,
            client_id: None,
            attachment: None,
        }
    }

    fn logged_in() -> AppState {
        let mut s = AppState::default();
        s.apply(AppEvent::Session {
            session: session("me"),
        });
        s.apply(AppEvent::Connection {
            state: ConnectionState::Connected,
            server_url: Some("http://h:3000".into()),
            secure: false,
        });
        s.apply(AppEvent::Users {
            users: vec![
                user("z", "zoe", true, vec![]),
                user(
                    "b",
                    "Bob",
                    false,
                    vec![msg(1, "b", "me"), msg(2, "me", "b")],
                ),
                user("me", "me", false, vec![]),
                user("a", "alice", true, vec![]),
            ],
        });
        s
    }

    fn names(s: &AppState) -> Vec<&str> {
        s.users().iter().map(|u| u.username.as_str()).collect()
    }

    #[test]
    fn self_first_then_by_name_ignoring_case() {
        let s = logged_in();
        assert_eq!(names(&s), ["me", "alice", "Bob", "zoe"]);
        assert!(s.users()[0].is_self);
        assert!(
            s.users()[0].connected,
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
        assert!(s.user("a").unwrap().connected, "went and came back");
        assert!(!s.user("c").unwrap().connected, "came and went");
        assert!(!s.user("z").unwrap().connected);
        assert!(s.user("nobody").is_none(), "a departure lists no one");
        assert_eq!(names(&s), ["me", "alice", "Bob", "carol", "zoe"]);
    }

    #[test]
    fn unread_counts_clear_by_read_markers_only_in_a_focused_window() {
        let mut s = logged_in();
        s.apply(AppEvent::Message {
            message: msg(10, "a", "me"),
        });
        s.apply(AppEvent::Message {
            message: msg(11, "a", "me"),
        });
        assert_eq!(s.user("a").unwrap().unread, 2);
        assert_eq!(s.total_unread(), 2);
        s.select("a");
        assert_eq!(
            s.read_to_send(false),
            None,
            "an unfocused window reads nothing"
        );
        assert_eq!(s.user("a").unwrap().unread, 2);
        assert_eq!(s.read_to_send(true), Some(("a".into(), 11)));
        s.marker_sent("a", 11);
        assert_eq!(s.user("a").unwrap().unread, 0);
        assert_eq!(s.read_to_send(true), None, "sent once");
        s.apply(AppEvent::Message {
            message: msg(12, "a", "me"),
        });
        assert_eq!(s.read_to_send(true), Some(("a".into(), 12)));
        // Our own messages (from another window) are never unread.
        s.apply(AppEvent::Message {
            message: msg(13, "me", "z"),
        });
        assert_eq!(s.user("z").unwrap().unread, 0);
        assert_eq!(s.user("z").unwrap().messages.len(), 1);
    }

    #[test]
    fn servers_found_on_the_lan_are_listed_and_replaced() {
        let mut s = AppState::default();
        let office = DiscoveredServer {
            name: "Office".into(),
            address: "192.168.1.20:3000".into(),
            fingerprint: None,
        };
        s.apply(AppEvent::Discovered {
            servers: vec![office.clone()],
        });
        assert_eq!(s.discovered, [office]);
        s.apply(AppEvent::Discovered { servers: vec![] });
        assert!(s.discovered.is_empty(), "a server that left is gone");
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
        assert_eq!(s.user("a").unwrap().unread, 1, "12 is still unread");
        s.select("a");
        assert_eq!(s.read_to_send(true), Some(("a".into(), 12)));
    }

    #[test]
    fn receipts_mark_our_messages_read() {
        let mut s = logged_in();
        s.apply(AppEvent::Acked {
            message: msg(5, "me", "b"),
        });
        let status = |s: &AppState| -> Vec<&'static str> {
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
        let ids: Vec<u64> = s.user("b").unwrap().messages.iter().map(|m| m.id).collect();
        assert_eq!(ids, [1, 2, 5]);
        assert_eq!(s.user("b").unwrap().unread, 1);
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
        let b = s.user("b").unwrap();
        let ids: Vec<u64> = b.messages.iter().map(|m| m.id).collect();
        assert_eq!(ids, [0, 1, 2, 7]);
        assert_eq!(b.unread, 1);
        assert_eq!(b.their_read_up_to, 2);
        assert!(b.history_complete);
        assert!(s.user("a").is_none(), "users gone from the list are gone");
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
        assert_eq!(s.user("b").unwrap().messages.len(), 3);
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
            attachment: None,
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

    #[test]
    fn connection_states_drive_the_login_form_and_status() {
        let mut s = logged_in();
        s.apply(AppEvent::Connection {
            state: ConnectionState::Offline {
                reason: "connection lost".into(),
                retry_in_ms: 1500,
            },
            server_url: None,
            secure: false,
        });
        assert!(!s.shows_login(), "offline keeps the chat");
        assert!(!s.is_online());
        assert_eq!(s.status_text(), "Offline — retrying in 2s");
        assert_eq!(s.server_url.as_deref(), Some("http://h:3000"));
        s.apply(AppEvent::Connection {
            state: ConnectionState::Reconnecting { attempt: 3 },
            server_url: None,
            secure: false,
        });
        assert!(s.status_text().contains("attempt 3"));
        s.apply(AppEvent::Connection {
            state: ConnectionState::Refused {
                reason: "invalid username".into(),
            },
            server_url: None,
            secure: false,
        });
        assert!(s.shows_login());
        assert_eq!(s.login_error().as_deref(), Some("invalid username"));
        s.apply(AppEvent::Connection {
            state: ConnectionState::LoggedOut,
            server_url: None,
            secure: false,
        });
        assert!(s.me.is_none() && s.users().is_empty());
    }

    #[test]
    fn an_untrusted_certificate_is_a_decision_for_the_person() {
        let mut s = logged_in();
        s.apply(AppEvent::Connection {
            state: ConnectionState::Connected,
            server_url: None,
            secure: true,
        });
        assert_eq!(s.security_text(), "encrypted");
        s.apply(AppEvent::Connection {
            state: ConnectionState::Untrusted {
                fingerprint: "AB:CD".into(),
                changed: true,
            },
            server_url: None,
            secure: true,
        });
        assert!(s.shows_login(), "the decision is made at the login screen");
        assert_eq!(s.trust_prompt(), Some(("AB:CD".into(), true)));
        assert!(s.login_error().unwrap().contains("certificate changed"));
        assert!(s.status_text().contains("certificate changed"));
        s.apply(AppEvent::Connection {
            state: ConnectionState::Untrusted {
                fingerprint: "AB:CD".into(),
                changed: false,
            },
            server_url: None,
            secure: true,
        });
        assert_eq!(s.login_error(), None, "a first contact is no error");
    }

    #[test]
    fn renames_and_removals_update_the_list() {
        let mut s = logged_in();
        s.select("a");
        s.apply(AppEvent::UserRenamed {
            user_id: "a".into(),
            username: "Aaron".into(),
        });
        assert_eq!(s.user("a").unwrap().username, "Aaron");
        s.apply(AppEvent::UserRemoved {
            user_id: "a".into(),
        });
        assert!(s.user("a").is_none());
        assert_eq!(s.selected, None);
        s.apply(AppEvent::UserRenamed {
            user_id: "me".into(),
            username: "Me Myself".into(),
        });
        assert_eq!(s.me.as_ref().unwrap().username, "Me Myself");
    }

    #[test]
    fn a_different_session_starts_from_scratch() {
        let mut s = logged_in();
        s.select("b");
        s.apply(AppEvent::Session {
            session: session("other"),
        });
        assert!(s.users().is_empty());
        assert!(s.selected.is_none());
    }

    fn group(id: &str, members: &[&str]) -> Group {
        Group {
            group_id: id.into(),
            name: format!("team {id}"),
            members: members.iter().map(|m| (*m).into()).collect(),
            created_by: members[0].into(),
            ..Group::default()
        }
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
        let view = s.user("g-1").unwrap();
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
        assert_eq!(s.user("g-1").unwrap().members, ["me"]);
        s.apply(AppEvent::Group {
            group: group("g-1", &["bob"]),
        });
        assert!(s.groups().is_empty());
        assert_eq!(s.selected, None);
        // Added to a new one.
        s.apply(AppEvent::Group {
            group: group("g-2", &["bob", "me"]),
        });
        assert_eq!(s.groups()[0].username, "team g-2");
    }

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

    #[test]
    fn finished_uploads_leave_and_failed_ones_stay() {
        let mut s = logged_in();
        let up = |done| Upload {
            id: 7,
            to: "bob".into(),
            name: "a.png".into(),
            sent: 5,
            total: 10,
            done,
        };
        s.apply(AppEvent::Upload { upload: up(None) });
        assert_eq!(s.uploads_to("bob").len(), 1);
        s.apply(AppEvent::Upload {
            upload: up(Some(Ok(()))),
        });
        assert!(s.uploads.is_empty());
        s.apply(AppEvent::Upload {
            upload: up(Some(Err("too large".into()))),
        });
        assert_eq!(s.uploads_to("bob")[0].done, Some(Err("too large".into())));
        s.dismiss_upload(7);
        assert!(s.uploads.is_empty());
    }
}
