//! Between the desktop shell (`src-tauri`) and its UI (`ui`), never on the network: the Tauri
//! event that carries everything the UI needs, and the commands' argument and result types.
//!
//! The shell emits every change as one [`AppEvent`] on [`EVENT`]; the UI folds them into its
//! state in order. Command names are in [`command`].

use serde::{Deserialize, Serialize};

use crate::{Message, Session, User};

/// The Tauri event name every [`AppEvent`] is emitted under.
pub const EVENT: &str = "natter://event";

/// Tauri command names (the functions in `src-tauri/src/commands.rs`).
pub mod command {
    /// `()` → `()`: the UI listens now; (re)send the state and resume a saved session.
    pub const START: &str = "start";
    /// [`super::LoginArgs`] → `()`: start a new session on a server.
    pub const LOGIN: &str = "login";
    /// [`super::SendArgs`] → [`super::SendOutcome`].
    pub const SEND: &str = "send";
    /// [`super::FetchOlderArgs`] → [`crate::MessagePage`].
    pub const FETCH_OLDER: &str = "fetch_older";
    /// `()` → `()`: revoke the session on the server, then forget it and the outbox.
    pub const LOGOUT: &str = "logout";
    /// [`super::TrustArgs`] → `()`: the person trusts the server certificate they were shown.
    pub const TRUST: &str = "trust";
    /// [`super::SetPasswordArgs`] → `()`: protect one's name with a password, or change it.
    pub const SET_PASSWORD: &str = "set_password";
    /// [`super::MarkReadArgs`]: the open conversation was read up to a message.
    pub const MARK_READ: &str = "mark_read";
    /// [`super::TypingArgs`]: the person is typing to someone (the UI repeats it while they
    /// type).
    pub const TYPING: &str = "typing";
    /// [`super::SetReceiptsArgs`]: whether others see how far the person has read.
    pub const SET_RECEIPTS: &str = "set_receipts";
    /// [`super::ViewingArgs`]: which conversation the window shows (notifications skip it
    /// while the window has the focus).
    pub const VIEWING: &str = "viewing";
    /// [`super::AttentionArgs`]: the unread total, for the window title, the tray and the
    /// urgency hint.
    pub const ATTENTION: &str = "attention";
    /// No arguments: the [`super::Preferences`] in force.
    pub const PREFERENCES: &str = "preferences";
    /// [`super::Preferences`] as `preferences`: replaces them (saved).
    pub const SET_PREFERENCES: &str = "set_preferences";
    /// No arguments: sends the servers found on the LAN so far as a `discovered` event.
    pub const DISCOVERED: &str = "discovered";
    /// [`super::CreateGroupArgs`] → [`crate::Group`].
    pub const CREATE_GROUP: &str = "create_group";
    /// [`super::AddMembersArgs`] → [`crate::Group`].
    pub const ADD_MEMBERS: &str = "add_members";
    /// [`super::GroupArgs`] → `()`: the person leaves the group.
    pub const LEAVE_GROUP: &str = "leave_group";
    /// [`super::SearchArgs`] → [`crate::SearchResults`].
    pub const SEARCH: &str = "search";
    /// [`super::SendFileArgs`] → `()`: uploads the file (progress as `upload` events), then
    /// sends it to `to` through the outbox.
    pub const SEND_FILE: &str = "send_file";
    /// [`super::PickFileArgs`] → `()`: the system's file picker, then as [`SEND_FILE`].
    pub const PICK_FILE: &str = "pick_file";
    /// [`super::FileArgs`] → the path it was saved to, in the Downloads folder.
    pub const SAVE_FILE: &str = "save_file";
    /// [`super::FileArgs`] → a `data:image/png;base64,…` URL of the image's preview.
    pub const PREVIEW: &str = "preview";
    /// [`super::EditArgs`] → [`crate::Edited`].
    pub const EDIT_MESSAGE: &str = "edit_message";
    /// [`super::MessageArgs`] → `()`.
    pub const DELETE_MESSAGE: &str = "delete_message";
    /// [`crate::React`] → [`crate::Reacted`].
    pub const REACT: &str = "react";
    /// [`crate::Status`] → `()`: the person chose a status (the app's own idle away is the
    /// shell's).
    pub const SET_STATUS: &str = "set_status";
    /// [`super::UrlArgs`] → `()`: opens a link of a message in the system's browser.
    pub const OPEN_URL: &str = "open_url";
    /// `()` → `()`: the person used the window (for the idle away where the desktop cannot
    /// say how long it has been idle).
    pub const ACTIVITY: &str = "activity";
    /// `{server: String}` (as typed) → [`crate::AuthInfo`]: how that server signs people in.
    pub const AUTH_INFO: &str = "auth_info";
    /// [`super::ExportArgs`] → `Option<String>`: the conversation saved as a web page and JSON
    /// (the save dialog asks where, unless `path` is given); where it went, `None` if cancelled.
    pub const EXPORT_CONVERSATION: &str = "export_conversation";
    /// No arguments → [`crate::Deployed`]: what the organisation set for this computer.
    pub const DEPLOYED: &str = "deployed";
}

/// The connection as the person sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum ConnectionState {
    /// No session: show the login form.
    LoggedOut,
    /// First login in progress.
    Connecting,
    /// `session` has arrived: emits are safe.
    Connected,
    /// Trying to get back (attempt n, from 1).
    Reconnecting { attempt: u32 },
    /// Lost; the next attempt starts in `retry_in_ms`. Sends wait in the outbox.
    Offline { reason: String, retry_in_ms: u64 },
    /// The server refused the handshake (e.g. "invalid username"); nothing is retried.
    Refused { reason: String },
    /// A first login could not reach the server; nothing is retried.
    Unreachable { reason: String },
    /// The server presents a certificate the person has not trusted (first contact), or one
    /// that differs from the one they trusted (`changed`). Nothing is sent until they decide.
    Untrusted { fingerprint: String, changed: bool },
}

impl ConnectionState {
    /// Whether the login form is what the person should see.
    pub fn needs_login(&self) -> bool {
        matches!(
            self,
            ConnectionState::LoggedOut
                | ConnectionState::Refused { .. }
                | ConnectionState::Unreachable { .. }
                | ConnectionState::Untrusted { .. }
        )
    }
}

/// A message waiting to be sent (or for its ack), persisted across restarts of the app.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OutboxEntry {
    pub client_id: String,
    /// A userID, or a groupID (sent as `group message`).
    pub to: String,
    pub content: String,
    /// When it was written, ms since the Unix epoch (shown until the server's `ts` is known).
    pub created_at: i64,
    /// A file already uploaded, sent with the message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attachment: Option<crate::Attachment>,
    /// The message it answers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_to: Option<u64>,
    /// Group members it mentions.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mentions: Vec<String>,
}

/// Everything the UI learns, in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum AppEvent {
    /// The connection changed; `server_url` is the server in use (or last tried).
    Connection {
        state: ConnectionState,
        server_url: Option<String>,
        /// Whether the server in use is reached over TLS (with a pinned certificate).
        #[serde(default)]
        secure: bool,
    },
    /// The server's `session`: who we are.
    Session { session: Session },
    /// The server's `users` (sent at every (re)connect): replaces the list.
    Users { users: Vec<User> },
    /// People coming and going, in the order they did: the server's `presence` (the app asks
    /// for it batched), or one `user connected` / `user disconnected` from a server that does
    /// not batch.
    Presence { changes: Vec<crate::PresenceChange> },
    /// The server's `user renamed`.
    UserRenamed {
        #[serde(rename = "userID")]
        user_id: String,
        username: String,
    },
    /// The server's `user removed`.
    UserRemoved {
        #[serde(rename = "userID")]
        user_id: String,
    },
    /// A message arrived: from someone else, or a copy of one sent from another window.
    Message { message: Message },
    /// One of our outbox entries was stored by the server.
    Acked { message: Message },
    /// The outbox now holds exactly these entries, oldest first.
    Outbox { entries: Vec<OutboxEntry> },
    /// A read marker: one of ours (from another device) or the other person's.
    Read { marker: crate::ReadMarker },
    /// The Natter servers announced on the LAN right now.
    Discovered { servers: Vec<DiscoveredServer> },
    /// The person chose a notification of `user_id`'s messages: open that conversation.
    Open {
        #[serde(rename = "userID")]
        user_id: String,
    },
    /// `from` is typing to us; `at_ms` is when the UI received it (filled in by the UI).
    Typing {
        from: String,
        #[serde(default)]
        at_ms: u64,
    },
    /// The server's `groups` (sent at every (re)connect): replaces the list.
    Groups { groups: Vec<crate::Group> },
    /// The server's `group`: a group created, changed, or left (we are not in `members`).
    Group { group: crate::Group },
    /// How an upload stands.
    Upload { upload: Upload },
    /// Files were dropped on the window: send them to the open conversation.
    Dropped { paths: Vec<String> },
    /// The server's `message edited`.
    MessageEdited { change: crate::MessageEdited },
    /// The server's `message deleted`.
    MessageDeleted { change: crate::MessageDeleted },
    /// The server's `reaction`.
    Reaction { change: crate::ReactionChange },
    /// The server's `status` (someone else's, or ours from another device or the app itself).
    Status { change: crate::StatusChange },
    /// The server's `announcements` at login: the ones standing (replaces the list).
    Announcements {
        announcements: Vec<crate::Announcement>,
    },
    /// The server's `announcement`: a new one from the operator.
    Announcement { announcement: crate::Announcement },
    /// The server's `announcement withdrawn`.
    AnnouncementWithdrawn { id: u64 },
}

/// An upload in progress, finished or failed, as the conversation shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Upload {
    /// Unique per upload, for the UI to update one row.
    pub id: u64,
    /// The conversation it goes to.
    pub to: String,
    pub name: String,
    pub sent: u64,
    pub total: u64,
    /// `None` while it runs; then `Ok` (it is in the outbox now) or the error.
    #[serde(default)]
    pub done: Option<Result<(), String>>,
}

/// [`command::LOGIN`] arguments.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LoginArgs {
    pub server_url: String,
    pub username: String,
    /// The account's password (creates it for a new name, signs in to an existing one).
    #[serde(default)]
    pub password: Option<String>,
    /// The server's join password, if it has one.
    #[serde(default)]
    pub join_password: Option<String>,
}

/// [`command::TRUST`] arguments: the fingerprint the person saw and accepted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrustArgs {
    pub fingerprint: String,
}

/// [`command::SET_PASSWORD`] arguments.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SetPasswordArgs {
    pub password: String,
    #[serde(default)]
    pub current_password: Option<String>,
}

/// [`command::SEND`] arguments.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SendArgs {
    pub to: String,
    pub content: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_to: Option<u64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mentions: Vec<String>,
}

/// [`command::EDIT_MESSAGE`] arguments.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EditArgs {
    pub id: u64,
    pub content: String,
}

/// [`command::DELETE_MESSAGE`] arguments.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageArgs {
    pub id: u64,
}

/// [`command::OPEN_URL`] arguments.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UrlArgs {
    pub url: String,
}

/// [`command::SEND`] result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum SendOutcome {
    /// Stored by the server: this is the message everyone sees.
    Sent { message: Message },
    /// Not acked yet (offline, or slow): it waits in the outbox and goes out by itself.
    Queued { entry: OutboxEntry },
}

/// [`command::FETCH_OLDER`] arguments.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MarkReadArgs {
    pub with: String,
    pub up_to: u64,
}

/// A server found on the LAN (mDNS), as the login screen lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiscoveredServer {
    pub name: String,
    /// `host:port`, what the person would type.
    pub address: String,
    /// Its certificate's fingerprint as announced (unauthenticated: the trust prompt decides).
    pub fingerprint: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ViewingArgs {
    pub with: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttentionArgs {
    pub unread: u32,
}

/// What the person chose about being disturbed; kept by the app per OS user.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Preferences {
    /// No notifications at all (unread counts still show).
    pub do_not_disturb: bool,
    /// Notifications name the sender but do not show the text.
    pub hide_text: bool,
    /// Conversations (userIDs, groupIDs) whose messages raise no notification.
    pub muted: std::collections::BTreeSet<String>,
    /// Groups whose messages raise a notification only when they mention the person.
    pub mentions_only: std::collections::BTreeSet<String>,
    /// Natter starts when the person logs in to the computer.
    pub autostart: bool,
    /// Set by the app, not the person: the status is away because they left the desktop
    /// idle (it comes back to available on activity); a state they chose stays.
    pub auto_away: bool,
    /// Announcements the person dismissed (their ids), so their banners stay closed.
    pub dismissed_announcements: std::collections::BTreeSet<u64>,
}

/// How much of a conversation raises notifications.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Notify {
    All,
    /// Only the messages that mention the person (groups).
    Mentions,
    Nothing,
}

impl Notify {
    pub fn as_str(self) -> &'static str {
        match self {
            Notify::All => "all",
            Notify::Mentions => "mentions",
            Notify::Nothing => "nothing",
        }
    }
}

impl Preferences {
    /// Whether announcement `a` is shown at `now_ms` (a banner, a notification): it stands
    /// and the person did not dismiss it.
    pub fn shows(&self, a: &crate::Announcement, now_ms: i64) -> bool {
        a.active_at(now_ms) && !self.dismissed_announcements.contains(&a.id)
    }

    /// What `conversation` notifies of.
    pub fn notify(&self, conversation: &str) -> Notify {
        if self.muted.contains(conversation) {
            Notify::Nothing
        } else if self.mentions_only.contains(conversation) {
            Notify::Mentions
        } else {
            Notify::All
        }
    }

    /// Makes `conversation` notify of `what`.
    pub fn set_notify(&mut self, conversation: &str, what: Notify) {
        self.muted.remove(conversation);
        self.mentions_only.remove(conversation);
        match what {
            Notify::All => {}
            Notify::Mentions => {
                self.mentions_only.insert(conversation.to_owned());
            }
            Notify::Nothing => {
                self.muted.insert(conversation.to_owned());
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetPreferencesArgs {
    pub preferences: Preferences,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TypingArgs {
    pub to: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetReceiptsArgs {
    pub send: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateGroupArgs {
    pub name: String,
    pub members: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AddMembersArgs {
    pub group_id: String,
    pub members: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GroupArgs {
    pub group_id: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExportArgs {
    pub with: String,
    pub title: String,
    pub path: Option<String>,
}

/// [`command::AUTH_INFO`]'s argument: the server address as typed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthInfoArgs {
    pub server: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SearchArgs {
    pub q: String,
    pub with: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SendFileArgs {
    pub to: String,
    pub path: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PickFileArgs {
    pub to: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FileArgs {
    pub file_id: String,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FetchOlderArgs {
    pub with: String,
    pub before: Option<u64>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn events_are_tagged_for_the_ui() {
        let e = AppEvent::Connection {
            state: ConnectionState::Reconnecting { attempt: 2 },
            server_url: Some("http://h:3000".into()),
            secure: false,
        };
        assert_eq!(
            serde_json::to_value(&e).unwrap(),
            json!({"type": "connection", "state": {"state": "reconnecting", "attempt": 2},
                   "server_url": "http://h:3000", "secure": false})
        );
        let back: AppEvent = serde_json::from_value(serde_json::to_value(&e).unwrap()).unwrap();
        assert_eq!(back, e);
    }
}
