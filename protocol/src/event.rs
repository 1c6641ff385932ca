//! Event names, exactly as the guide spells them, and ours beside them.

/// Server → own socket, right after the handshake: [`crate::Session`].
pub const SESSION: &str = "session";
/// Server → own socket, after `session`: every known user, as a list of [`crate::User`].
pub const USERS: &str = "users";
/// Server → everyone else: a [`crate::User`] whose first socket just connected.
pub const USER_CONNECTED: &str = "user connected";
/// Server → everyone else: the userID (a bare string) of a user whose last socket left.
pub const USER_DISCONNECTED: &str = "user disconnected";
/// Extension. Server → the sockets that asked for it in the handshake
/// ([`crate::Auth::batch_presence`]), instead of `user connected` and `user disconnected`:
/// a list of [`crate::PresenceChange`] in the order they happened, one event per short
/// window. A login storm then costs each socket a few events instead of one per newcomer.
/// A socket may find its own user's changes in it.
pub const PRESENCE: &str = "presence";
/// Client → server: [`crate::SendMessage`]; server → recipient and sender's other sockets:
/// [`crate::Message`]. The ack (if asked for) is a [`crate::Reply`] of a [`crate::Message`].
pub const PRIVATE_MESSAGE: &str = "private message";
/// Extension. Client → server with an ack: [`crate::FetchMessages`]; the ack is a
/// [`crate::Reply`] of a [`crate::MessagePage`].
pub const FETCH_MESSAGES: &str = "fetch messages";
/// Extension. Client → server with an ack: revoke the session that sends it (every socket
/// of that session is disconnected; the sessionID is refused afterwards). Ack: `{ok: true}`.
pub const LOGOUT: &str = "logout";
/// Extension. Client → server with an ack: [`crate::SetPassword`]; ack `{ok: true}` or
/// `{error, code}`.
pub const SET_PASSWORD: &str = "set password";
/// Extension. Server → everyone: [`crate::UserRenamed`] after an operator renamed a user.
pub const USER_RENAMED: &str = "user renamed";
/// Extension. Server → everyone: the userID (a bare string) of a user an operator removed.
pub const USER_REMOVED: &str = "user removed";
/// Extension. Client → server with an ack: [`crate::MarkRead`]; ack `{ok: true}` or
/// `{error, code}`. Server → the reader's other sockets and (unless the reader turned
/// receipts off) the peer's sockets: [`crate::ReadMarker`].
pub const READ: &str = "read";
/// Extension. Client → server: [`crate::TypingTo`] (no ack); server → the recipient's
/// sockets only: [`crate::TypingFrom`]. Not stored.
pub const TYPING: &str = "typing";
/// Extension. Client → server with an ack: [`crate::SetReceipts`]; ack `{ok: true}`.
pub const SET_RECEIPTS: &str = "set receipts";
/// Extension. Client → server with an ack: [`crate::CreateGroup`]; the ack is a
/// [`crate::Reply`] of the new [`crate::Group`]. Every member's sockets get [`GROUP`].
pub const CREATE_GROUP: &str = "create group";
/// Extension. Server → every member's sockets: a [`crate::Group`] that was created or whose
/// members changed (a person who left gets it too, without themselves in `members`).
pub const GROUP: &str = "group";
/// Extension. Client → server with an ack: [`crate::AddMembers`] (members only); the ack is
/// a [`crate::Reply`] of the updated [`crate::Group`].
pub const ADD_MEMBERS: &str = "add members";
/// Extension. Client → server with an ack: [`crate::LeaveGroup`]; ack `{ok: true}`.
pub const LEAVE_GROUP: &str = "leave group";
/// Extension. Client → server with an ack: [`crate::SendMessage`] with `to` a groupID; the
/// ack is a [`crate::Reply`] of the stored [`crate::Message`]. Server → every member's
/// sockets but the sending one: the [`crate::Message`].
pub const GROUP_MESSAGE: &str = "group message";
/// Extension. Server → own socket, after `users`: the person's groups, a list of
/// [`crate::Group`] with their recent messages.
pub const GROUPS: &str = "groups";
/// Extension. Client → server with an ack: [`crate::SearchMessages`]; the ack is a
/// [`crate::Reply`] of [`crate::SearchResults`].
pub const SEARCH_MESSAGES: &str = "search messages";
/// Extension. Client → server with an ack: [`crate::EditMessage`] (the author only); the ack is
/// a [`crate::Reply`] of [`crate::Edited`]. The conversation's other sockets get
/// [`MESSAGE_EDITED`].
pub const EDIT_MESSAGE: &str = "edit message";
/// Extension. Server → the conversation's other sockets: [`crate::MessageEdited`].
pub const MESSAGE_EDITED: &str = "message edited";
/// Extension. Client → server with an ack: [`crate::DeleteMessage`] (the author only); ack
/// `{ok: true}`. The conversation's other sockets get [`MESSAGE_DELETED`].
pub const DELETE_MESSAGE: &str = "delete message";
/// Extension. Server → the conversation's other sockets: [`crate::MessageDeleted`].
pub const MESSAGE_DELETED: &str = "message deleted";
/// Extension. Client → server with an ack: [`crate::React`]; the ack is a [`crate::Reply`] of
/// [`crate::Reacted`]. The conversation's other sockets get [`REACTION`] (nothing when it
/// changed nothing).
pub const REACT: &str = "react";
/// Extension. Server → the conversation's other sockets: [`crate::ReactionChange`].
pub const REACTION: &str = "reaction";
/// Extension. Client → server with an ack: [`crate::SetStatus`]; ack `{ok: true}`. Everyone
/// who gets the person's presence gets [`STATUS`].
pub const SET_STATUS: &str = "set status";
/// Extension. Server → everyone but the sending socket: [`crate::StatusChange`].
pub const STATUS: &str = "status";
/// Extension. Server → every online socket: a new [`crate::Announcement`] from the operator.
pub const ANNOUNCEMENT: &str = "announcement";
/// Extension. Server → a socket at login, after `groups`: the [`crate::Announcement`]s still
/// standing (a list, possibly empty).
pub const ANNOUNCEMENTS: &str = "announcements";
/// Extension. Server → every online socket: [`crate::AnnouncementWithdrawn`].
pub const ANNOUNCEMENT_WITHDRAWN: &str = "announcement withdrawn";
