//! The UI's state and its transitions, as plain Rust: `state + event → new state`.
//!
//! Components only render this and call the shell's commands; every rule lives here, with
//! native tests: [`roster`] (who is listed, presence, ordering), [`conversation`] (messages,
//! history paging, read markers, typing shown, the timeline), [`changes`] (edits, deletions,
//! reactions, statuses), [`search`] (results and the
//! message they bring into view), [`uploads`], [`typing`] (how often we say we type, or that the window is used),
//! [`compose`] (shortcodes, the `@` picker, replying and editing), [`announcements`]
//! (the operator's banners), [`deployed`] (what the organisation fixed), and
//! [`views`], what the components are given to render.

mod announcements;
mod changes;
mod compose;
mod conversation;
pub mod deployed;
#[cfg(test)]
mod fixtures;
mod roster;
mod search;
mod typing;
mod uploads;
mod views;

use natter_protocol::Session;
use natter_protocol::ipc::{AppEvent, ConnectionState, DiscoveredServer, OutboxEntry, Upload};
use natter_protocol::{Message, TYPING_SHOWS_MS};

pub use self::compose::{Composer, Intent, Mode, replace_shortcode, split_mentions};
pub use self::typing::{ACTIVITY_EVERY_MS, Throttle};
pub use self::views::{
    ConversationHeader, ConversationKind, ConversationView, Delivery, GroupRow, PersonRow,
    SearchHit, TimelineItem,
};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UiState {
    pub connection: ConnectionState,
    pub server_url: Option<String>,
    /// The server in use is reached over TLS with a pinned certificate.
    pub secure: bool,
    pub me: Option<Session>,
    /// People: self first, then by name (case-insensitive), then by id.
    users: Vec<ConversationView>,
    /// The person's groups, by name.
    groups: Vec<ConversationView>,
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
    /// The operator's announcements standing (as the server last said).
    announcements: Vec<natter_protocol::Announcement>,
}

impl Default for UiState {
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
            announcements: Vec::new(),
        }
    }
}

impl UiState {
    /// A conversation by id: a person's or a group's.
    pub fn conversation(&self, id: &str) -> Option<&ConversationView> {
        self.users
            .iter()
            .chain(self.groups.iter())
            .find(|u| u.id == id)
    }

    fn conversation_mut(&mut self, id: &str) -> Option<&mut ConversationView> {
        self.users
            .iter_mut()
            .chain(self.groups.iter_mut())
            .find(|u| u.id == id)
    }

    pub fn selected_conversation(&self) -> Option<&ConversationView> {
        self.selected
            .as_deref()
            .and_then(|id| self.conversation(id))
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

    /// Forgets who we talk with (logged out, or another identity).
    fn forget_conversations(&mut self) {
        self.users.clear();
        self.groups.clear();
        self.selected = None;
        self.search = None;
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
                    self.forget_conversations();
                }
                self.connection = state;
            }
            AppEvent::Session { session } => {
                if self.my_id() != Some(session.user_id.as_str()) {
                    self.forget_conversations();
                }
                self.me = Some(session);
            }
            AppEvent::Users { users } => self.replace_users(users),
            AppEvent::Presence { changes } => self.apply_presence(changes),
            AppEvent::UserRenamed { user_id, username } => self.rename(&user_id, username),
            AppEvent::UserRemoved { user_id } => self.remove_user(&user_id),
            AppEvent::Message { message } | AppEvent::Acked { message } => {
                self.add_message(message)
            }
            AppEvent::Outbox { entries } => self.outbox = entries,
            AppEvent::Read { marker } => self.apply_read(marker),
            AppEvent::Open { user_id } => self.select(&user_id),
            AppEvent::Discovered { servers } => self.discovered = servers,
            AppEvent::Typing { from, at_ms } => {
                if let Some(u) = self.users.iter_mut().find(|u| u.id == from) {
                    u.typing_until = Some(at_ms + TYPING_SHOWS_MS);
                }
            }
            AppEvent::Groups { groups } => self.replace_groups(groups),
            AppEvent::Group { group } => self.apply_group(group),
            AppEvent::Upload { upload } => self.apply_upload(upload),
            // The page hands them to the shell (it knows the open conversation).
            AppEvent::Dropped { .. } => {}
            AppEvent::MessageEdited { change } => self.apply_edit(change),
            AppEvent::MessageDeleted { change } => self.apply_delete(change),
            AppEvent::Reaction { change } => self.apply_reaction(change),
            AppEvent::Status { change } => self.apply_status(change),
            AppEvent::Announcements { announcements } => self.replace_announcements(announcements),
            AppEvent::Announcement { announcement } => self.add_announcement(announcement),
            AppEvent::AnnouncementWithdrawn { id } => self.withdraw_announcement(id),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::fixtures::*;
    use super::*;

    #[test]
    fn servers_found_on_the_lan_are_listed_and_replaced() {
        let mut s = UiState::default();
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
    fn a_different_session_starts_from_scratch() {
        let mut s = logged_in();
        s.select("b");
        s.apply(AppEvent::Session {
            session: session("other"),
        });
        assert!(s.users().is_empty());
        assert!(s.selected.is_none());
    }
}
