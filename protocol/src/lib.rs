//! Natter's wire protocol, defined once for the server, the desktop shell and the UI.
//!
//! The events and payloads are those of socket.io's "Private messaging" guide (parts I–III),
//! unchanged, so the guide's own JavaScript client works against `natter-server`. Everything we
//! add is additive: extra fields that old clients ignore, acknowledgements, and one extra event
//! (`fetch messages`).
//!
//! This crate depends on serde only, so it builds for the server, the Tauri shell and wasm.

use serde::{Deserialize, Serialize};

pub mod client;
pub mod ipc;

/// Event names, exactly as the guide spells them.
pub mod event {
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
}

/// HTTP routes and headers for files (uploads and downloads beside the socket.io endpoint).
pub mod files {
    /// `POST` the raw file here (`Authorization: Bearer <sessionID>`, `Content-Type`,
    /// [`FILE_NAME_HEADER`]) → `201` with a [`crate::FileInfo`]. `GET /files/{fileID}` streams
    /// it back (ranges work); `GET /files/{fileID}/preview` is a small PNG of an image.
    pub const PATH: &str = "/files";
    /// The file's name, percent-encoded (UTF-8).
    pub const FILE_NAME_HEADER: &str = "x-file-name";
    /// The default `--max-file-bytes`: 100 MiB.
    pub const DEFAULT_MAX_FILE_BYTES: u64 = 100 * 1024 * 1024;
    /// The longest side of an image preview, in pixels.
    pub const PREVIEW_MAX_SIDE: u32 = 320;
    /// The longest file name kept, in bytes (longer ones are cut at a character boundary).
    pub const FILE_NAME_MAX_BYTES: usize = 255;

    /// Whether a file of this media type gets a preview.
    pub fn has_preview(media_type: &str) -> bool {
        matches!(
            media_type,
            "image/png" | "image/jpeg" | "image/gif" | "image/webp"
        )
    }

    /// Percent-encodes a file name for [`FILE_NAME_HEADER`]: everything but unreserved ASCII.
    pub fn encode_name(name: &str) -> String {
        let mut out = String::with_capacity(name.len());
        for b in name.bytes() {
            if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
                out.push(b as char);
            } else {
                out.push_str(&format!("%{b:02X}"));
            }
        }
        out
    }

    /// Decodes [`FILE_NAME_HEADER`]; `None` when it is not valid percent-encoded UTF-8.
    pub fn decode_name(encoded: &str) -> Option<String> {
        let bytes = encoded.as_bytes();
        let mut out = Vec::with_capacity(bytes.len());
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i] == b'%' {
                let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            } else {
                out.push(bytes[i]);
                i += 1;
            }
        }
        String::from_utf8(out).ok()
    }
}

/// A certificate's SHA-256 digest as people compare it: uppercase hex pairs joined by colons
/// (`AB:CD:…`), the form `openssl x509 -fingerprint -sha256` prints. The server's banner and
/// the app's trust prompt both show it.
pub fn format_fingerprint(sha256: &[u8]) -> String {
    let mut out = String::with_capacity(sha256.len() * 3);
    for (i, b) in sha256.iter().enumerate() {
        if i > 0 {
            out.push(':');
        }
        out.push_str(&format!("{b:02X}"));
    }
    out
}

/// The guide's connect-error message: no usable username (and no known session).
pub const INVALID_USERNAME: &str = "invalid username";

/// Why the server refused a handshake: the connect-error `message` of each case, stable so
/// clients can tell them apart. [`Refusal::is_credential`] tells a refusal of *who you are*
/// (forget the session, ask the person) from one that says "try again later".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The guide's: no username, or one the rules refuse.
    InvalidUsername,
    /// The username is held by another identity (compared after NFKC and case folding).
    NameTaken,
    /// The server needs `joinPassword` for a new session.
    JoinPasswordRequired,
    /// `joinPassword` is wrong.
    WrongJoinPassword,
    /// The name is an account with a password (or the server requires one): send `password`.
    PasswordRequired,
    /// `password` does not match the account's.
    WrongPassword,
    /// A new account's `password` is too short or too long.
    InvalidPassword,
    /// The sessionID was revoked (logged out, or by the operator) or is unknown.
    SessionRevoked,
    /// Too many failed attempts (or new names) from this address: wait before trying again.
    TooManyAttempts,
    /// The user already holds as many connections as the server allows.
    TooManyConnections,
    /// The server cannot serve now (store unreachable): retry later, keep the session.
    Unavailable,
}

impl Refusal {
    pub const ALL: [Refusal; 11] = [
        Refusal::InvalidUsername,
        Refusal::NameTaken,
        Refusal::JoinPasswordRequired,
        Refusal::WrongJoinPassword,
        Refusal::PasswordRequired,
        Refusal::WrongPassword,
        Refusal::InvalidPassword,
        Refusal::SessionRevoked,
        Refusal::TooManyAttempts,
        Refusal::TooManyConnections,
        Refusal::Unavailable,
    ];

    /// The connect-error message.
    pub fn message(self) -> &'static str {
        match self {
            Refusal::InvalidUsername => INVALID_USERNAME,
            Refusal::NameTaken => "name taken",
            Refusal::JoinPasswordRequired => "join password required",
            Refusal::WrongJoinPassword => "wrong join password",
            Refusal::PasswordRequired => "password required",
            Refusal::WrongPassword => "wrong password",
            Refusal::InvalidPassword => "a password needs at least 8 characters",
            Refusal::SessionRevoked => "session revoked",
            Refusal::TooManyAttempts => "too many attempts, try again later",
            Refusal::TooManyConnections => "too many connections for this user",
            Refusal::Unavailable => "server unavailable, try again",
        }
    }

    /// The refusal a connect-error message names, if it is one of ours.
    pub fn from_message(message: &str) -> Option<Refusal> {
        Refusal::ALL.into_iter().find(|r| r.message() == message)
    }

    /// Whether the refusal is about the credentials themselves: retrying the same handshake
    /// cannot succeed. `TooManyAttempts` and `Unavailable` pass with time.
    pub fn is_credential(self) -> bool {
        !matches!(
            self,
            Refusal::TooManyAttempts | Refusal::TooManyConnections | Refusal::Unavailable
        )
    }
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.message())
    }
}

/// The longest username, in characters, after trimming.
pub const USERNAME_MAX_CHARS: usize = 32;

/// Handshake auth: `{sessionID}` to resume, otherwise `{username}` to start a new session.
///
/// Auth that does not parse as this (a number, `null`, a field of the wrong type) is refused
/// with [`INVALID_USERNAME`], like a missing username.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Auth {
    #[serde(rename = "sessionID", default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// Extension: the account's password. On a new name it creates the account with it; on an
    /// existing account it signs in (a new session for the same userID).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
    /// Extension: the server's join password, needed for a new session when the server has one.
    #[serde(
        rename = "joinPassword",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub join_password: Option<String>,
    /// Extension: presence changes come batched in [`event::PRESENCE`] instead of one
    /// `user connected` / `user disconnected` each.
    #[serde(
        rename = "batchPresence",
        default,
        skip_serializing_if = "std::ops::Not::not"
    )]
    pub batch_presence: bool,
}

/// Extension `set password`: protect one's name with a password, or change it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetPassword {
    pub password: String,
    /// Required when the account already has a password.
    #[serde(
        rename = "currentPassword",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub current_password: Option<String>,
}

/// The shortest account password, in characters.
pub const PASSWORD_MIN_CHARS: usize = 8;
/// The longest account or join password, in bytes (hashing has a cost per byte).
pub const PASSWORD_MAX_BYTES: usize = 1024;

/// Extension `user renamed`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserRenamed {
    #[serde(rename = "userID")]
    pub user_id: String,
    pub username: String,
}

/// The ack of requests that only succeed or fail (`logout`, `set password`): `{ok: true}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Done {
    pub ok: bool,
}

/// `session`: the secret sessionID (only ever sent to its owner) and the public userID.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    #[serde(rename = "sessionID")]
    pub session_id: String,
    #[serde(rename = "userID")]
    pub user_id: String,
    /// Extension: the username bound to this session, so a resumed client can show it.
    #[serde(default)]
    pub username: String,
    /// Extension: whether others see how far this user has read (`set receipts`).
    #[serde(default = "yes")]
    pub receipts: bool,
}

fn yes() -> bool {
    true
}

/// One entry of `users`, and the payload of `user connected`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    #[serde(rename = "userID")]
    pub user_id: String,
    pub username: String,
    pub connected: bool,
    /// The conversation between the receiving user and this user, oldest first (the most
    /// recent messages only; older pages come from `fetch messages`).
    #[serde(default)]
    pub messages: Vec<Message>,
    /// Extension, in `users`: messages from this user after the receiver's read marker.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub unread: u64,
    /// Extension, in `users`: how far this user has read the receiver's messages (a message
    /// id; 0 when nothing is known, or this user keeps receipts to themselves).
    #[serde(rename = "readUpTo", default, skip_serializing_if = "is_zero")]
    pub read_up_to: u64,
}

/// Extension: one entry of [`event::PRESENCE`]: a user's first socket connected
/// (`connected: true`, with the name, so a client can list someone it has not seen yet) or
/// their last socket left.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PresenceChange {
    #[serde(rename = "userID")]
    pub user_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    pub connected: bool,
}

impl PresenceChange {
    /// `user_id`'s first socket connected, under this name.
    pub fn online(user_id: impl Into<String>, username: impl Into<String>) -> Self {
        Self {
            user_id: user_id.into(),
            username: Some(username.into()),
            connected: true,
        }
    }

    /// `user_id`'s last socket left.
    pub fn offline(user_id: impl Into<String>) -> Self {
        Self {
            user_id: user_id.into(),
            username: None,
            connected: false,
        }
    }
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// Extension `read`, from a client: it has read its conversation with `with` up to the
/// message `upTo` (an id of a message of that conversation).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MarkRead {
    pub with: String,
    #[serde(rename = "upTo")]
    pub up_to: u64,
}

/// Extension `read`, from the server: `from` has read its conversation with `to` up to
/// `upTo`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReadMarker {
    pub from: String,
    pub to: String,
    #[serde(rename = "upTo")]
    pub up_to: u64,
}

/// Extension `typing`, from a client: it is typing to `to`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TypingTo {
    pub to: String,
}

/// Extension `typing`, from the server: `from` is typing to the receiver.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TypingFrom {
    pub from: String,
}

/// How long a `typing` shows after the last one, in milliseconds: clients send one about every
/// [`TYPING_REPEAT_MS`] while a person types.
pub const TYPING_SHOWS_MS: u64 = 5_000;
/// How often a client repeats `typing` while its person keeps typing.
pub const TYPING_REPEAT_MS: u64 = 3_000;

/// Extension `set receipts`: whether others see how far this user has read (the user's own
/// devices always do).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetReceipts {
    pub send: bool,
}

/// Extension `create group`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateGroup {
    pub name: String,
    /// userIDs; the creator is a member whether listed or not.
    pub members: Vec<String>,
}

/// Extension `add members`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AddMembers {
    #[serde(rename = "groupID")]
    pub group_id: String,
    pub members: Vec<String>,
}

/// Extension `leave group`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeaveGroup {
    #[serde(rename = "groupID")]
    pub group_id: String,
}

/// A group conversation: the ack of `create group` and `add members`, the `group` event, and
/// one entry of `groups` (which also carries recent messages and read state).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Group {
    #[serde(rename = "groupID")]
    pub group_id: String,
    pub name: String,
    /// userIDs, in the order they joined.
    pub members: Vec<String>,
    #[serde(rename = "createdBy", default)]
    pub created_by: String,
    /// In `groups`: the most recent messages, oldest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub messages: Vec<Message>,
    /// In `groups`: messages from others after the receiver's read marker.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub unread: u64,
}

/// The longest group name, in characters, after trimming.
pub const GROUP_NAME_MAX_CHARS: usize = 64;
/// The most members a group may have.
pub const GROUP_MAX_MEMBERS: usize = 500;
/// The prefix of every groupID, so a client can tell a group from a user by its id.
pub const GROUP_ID_PREFIX: &str = "g-";

/// Whether an id names a group (rather than a user).
pub fn is_group_id(id: &str) -> bool {
    id.starts_with(GROUP_ID_PREFIX)
}

/// Trims a group name and checks it with the username rule, up to [`GROUP_NAME_MAX_CHARS`].
pub fn normalize_group_name(raw: &str) -> Result<&str, UsernameError> {
    check_name(raw, GROUP_NAME_MAX_CHARS)
}

/// A file attached to a message: `{fileID}` when sending.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttachmentRef {
    #[serde(rename = "fileID")]
    pub file_id: String,
}

/// A file attached to a stored message, as delivered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attachment {
    #[serde(rename = "fileID")]
    pub file_id: String,
    pub name: String,
    pub size: u64,
    #[serde(rename = "type")]
    pub media_type: String,
}

/// The answer to an upload (`POST /files`): the file as messages carry it, and its hash
/// (`{fileID, name, size, type, sha256}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileInfo {
    #[serde(flatten)]
    pub file: Attachment,
    /// Lowercase hex.
    pub sha256: String,
}

/// Extension `search messages`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SearchMessages {
    pub q: String,
    /// Only this conversation (a userID or a groupID).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub with: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
}

/// The ack of `search messages`: newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SearchResults {
    pub messages: Vec<Message>,
}

/// The shortest search, in characters (the index matches sequences of three).
pub const SEARCH_MIN_CHARS: usize = 3;
/// The longest search, in bytes.
pub const SEARCH_MAX_BYTES: usize = 256;
/// The most results one search returns.
pub const SEARCH_MAX_RESULTS: u32 = 100;

/// A stored message (private, or to a group), as delivered and as acknowledged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    /// Extension: server-assigned id, increasing in the order messages were stored.
    pub id: u64,
    pub content: String,
    pub from: String,
    pub to: String,
    /// Extension: when the server stored it, in milliseconds since the Unix epoch.
    pub ts: i64,
    /// Extension: the sender's idempotency key, echoed so the sender's windows can match
    /// a delivered message to the one they were waiting for.
    #[serde(rename = "clientId", default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// Extension: a file sent with the message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attachment: Option<Attachment>,
}

/// `private message` (and `group message`) as a client sends it. `from` is never taken from
/// the client.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SendMessage {
    /// May be empty when an attachment is sent.
    pub content: String,
    pub to: String,
    /// Extension: a sender-chosen key that makes retries idempotent.
    #[serde(rename = "clientId", default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// Extension: a file the sender uploaded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attachment: Option<AttachmentRef>,
}

/// The longest `clientId` the server accepts, in bytes.
pub const CLIENT_ID_MAX_BYTES: usize = 64;

/// Extension `fetch messages`: a page of one conversation, older than `before`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FetchMessages {
    /// The other user of the conversation, or a groupID.
    pub with: String,
    /// Only messages with an id lower than this; the newest page when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before: Option<u64>,
    /// At most this many messages (the server caps it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
}

/// The ack of `fetch messages`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessagePage {
    /// Oldest first.
    pub messages: Vec<Message>,
    /// Whether older messages than the first one here exist.
    #[serde(rename = "hasMore")]
    pub has_more: bool,
}

/// Why the server refused an event; sent in the ack as `{error, code}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The payload is not of the event's shape.
    InvalidPayload,
    /// The message content is empty (or only white space).
    EmptyMessage,
    /// The message content is over the server's size limit.
    MessageTooLong,
    /// The `to` / `with` user does not exist.
    UnknownUser,
    /// The `clientId` is over [`CLIENT_ID_MAX_BYTES`].
    InvalidClientId,
    /// The server could not store or read the data; the client may retry.
    Unavailable,
    /// `set password`: the current password is missing or wrong.
    WrongPassword,
    /// `set password`: the new password is too short or too long.
    InvalidPassword,
    /// `set password`: another identity holds the same name; an operator must rename first.
    NameShared,
    /// Too many messages too fast: send again after `retryAfterMs`.
    RateLimited,
    /// The content holds control characters (other than newline and tab).
    InvalidContent,
    /// `read`: `upTo` is not a message of that conversation.
    UnknownMessage,
    /// The groupID is unknown or the sender is not one of its members.
    NotMember,
    /// A group name is empty, too long or holds characters names may not.
    InvalidName,
    /// The attachment's fileID is unknown or was uploaded by someone else.
    UnknownFile,
    /// A search shorter than [`SEARCH_MIN_CHARS`] or longer than [`SEARCH_MAX_BYTES`].
    InvalidQuery,
    /// This server cannot do it (search in cluster mode).
    Unsupported,
    /// A group would have more than [`GROUP_MAX_MEMBERS`] members.
    TooManyMembers,
}

/// An error ack: `{error: "<reason>", code}`. `error` is the guide-style human text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorReply {
    pub error: String,
    pub code: ErrorCode,
    /// With `rate_limited`: when to try again, in milliseconds.
    #[serde(
        rename = "retryAfterMs",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub retry_after_ms: Option<u64>,
}

/// What an ack carries: the result, or `{error, code}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Reply<T> {
    Err(ErrorReply),
    Ok(T),
}

impl<T> Reply<T> {
    pub fn into_result(self) -> Result<T, ErrorReply> {
        match self {
            Reply::Ok(v) => Ok(v),
            Reply::Err(e) => Err(e),
        }
    }
}

/// Deserialises `T` from a JSON object only. serde's derive would also accept a positional
/// array (`["hi", "u1"]` as `{content, to}`), which is not the guide's wire format.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Object<T>(pub T);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Object<T> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct ObjectVisitor<T>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de>> serde::de::Visitor<'de> for ObjectVisitor<T> {
            type Value = T;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<M: serde::de::MapAccess<'de>>(self, map: M) -> Result<T, M::Error> {
                T::deserialize(serde::de::value::MapAccessDeserializer::new(map))
            }
        }
        d.deserialize_map(ObjectVisitor(std::marker::PhantomData))
            .map(Object)
    }
}

/// Why a username is refused (the client sees [`INVALID_USERNAME`] in every case).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UsernameError {
    Empty,
    TooLong,
    ControlCharacter,
    /// An invisible or direction-changing character (Unicode Cf, line/paragraph separators):
    /// it would let a name look like someone else's.
    InvisibleCharacter,
}

impl std::fmt::Display for UsernameError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            UsernameError::Empty => "username is empty",
            UsernameError::TooLong => "username is longer than 32 characters",
            UsernameError::ControlCharacter => "username contains a control character",
            UsernameError::InvisibleCharacter => {
                "username contains an invisible or direction-changing character"
            }
        })
    }
}

impl std::error::Error for UsernameError {}

/// Unicode's format characters (general category Cf, Unicode 15.1), which render as nothing
/// or reorder the text around them (zero-width spaces and joiners, bidi embeddings, overrides
/// and isolates, the BOM, tags).
const FORMAT_CHARACTERS: &[(u32, u32)] = &[
    (0x00AD, 0x00AD),
    (0x0600, 0x0605),
    (0x061C, 0x061C),
    (0x06DD, 0x06DD),
    (0x070F, 0x070F),
    (0x0890, 0x0891),
    (0x08E2, 0x08E2),
    (0x180E, 0x180E),
    (0x200B, 0x200F),
    (0x202A, 0x202E),
    (0x2060, 0x2064),
    (0x2066, 0x206F),
    (0xFEFF, 0xFEFF),
    (0xFFF9, 0xFFFB),
    (0x110BD, 0x110BD),
    (0x110CD, 0x110CD),
    (0x13430, 0x1343F),
    (0x1BCA0, 0x1BCA3),
    (0x1D173, 0x1D17A),
    (0xE0001, 0xE0001),
    (0xE0020, 0xE007F),
];

/// Whether `c` is invisible or changes the direction of text: Unicode Cf, or the line and
/// paragraph separators (U+2028, U+2029).
pub fn is_invisible_or_bidi(c: char) -> bool {
    let c = c as u32;
    c == 0x2028
        || c == 0x2029
        || FORMAT_CHARACTERS
            .iter()
            .any(|&(lo, hi)| (lo..=hi).contains(&c))
}

/// Whether message content may hold `c`: no C0 or C1 control characters but newline and tab
/// (they would ring bells or move the cursor in terminals and logs). Bidi controls are kept:
/// clients render each message isolated so they cannot reorder what is around it.
pub fn allowed_in_content(c: char) -> bool {
    c == '\n' || c == '\t' || !c.is_control()
}

/// Trims a username and checks it: 1–[`USERNAME_MAX_CHARS`] characters, no control, format or
/// bidi characters. The UI uses the same rule to say what is wrong before the server refuses
/// it; the server also compares names after NFKC and case folding.
pub fn normalize_username(raw: &str) -> Result<&str, UsernameError> {
    check_name(raw, USERNAME_MAX_CHARS)
}

fn check_name(raw: &str, max_chars: usize) -> Result<&str, UsernameError> {
    let name = raw.trim();
    if name.is_empty() {
        return Err(UsernameError::Empty);
    }
    if name.chars().count() > max_chars {
        return Err(UsernameError::TooLong);
    }
    if name.chars().any(char::is_control) {
        return Err(UsernameError::ControlCharacter);
    }
    if name.chars().any(is_invisible_or_bidi) {
        return Err(UsernameError::InvisibleCharacter);
    }
    Ok(name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn guide_field_names_are_kept() {
        let s = Session {
            session_id: "s".into(),
            user_id: "u".into(),
            username: "alice".into(),
            receipts: true,
        };
        assert_eq!(
            serde_json::to_value(&s).unwrap(),
            json!({"sessionID": "s", "userID": "u", "username": "alice", "receipts": true})
        );
        let old: Session =
            serde_json::from_value(json!({"sessionID": "s", "userID": "u"})).unwrap();
        assert!(
            old.receipts,
            "receipts are on unless a server says otherwise"
        );
        let m = Message {
            id: 7,
            content: "hi".into(),
            from: "a".into(),
            to: "b".into(),
            ts: 1,
            client_id: None,
            attachment: None,
        };
        assert_eq!(
            serde_json::to_value(&m).unwrap(),
            json!({"id": 7, "content": "hi", "from": "a", "to": "b", "ts": 1})
        );
        let mut u = User {
            user_id: "u".into(),
            username: "alice".into(),
            connected: true,
            ..User::default()
        };
        assert_eq!(
            serde_json::to_value(&u).unwrap(),
            json!({"userID": "u", "username": "alice", "connected": true, "messages": []})
        );
        // Read state only when there is some: the guide's shape otherwise.
        (u.unread, u.read_up_to) = (2, 9);
        assert_eq!(
            serde_json::to_value(&u).unwrap(),
            json!({"userID": "u", "username": "alice", "connected": true, "messages": [],
                   "unread": 2, "readUpTo": 9})
        );
    }

    #[test]
    fn an_upload_answer_is_the_attachment_and_its_hash_flat() {
        let info = FileInfo {
            file: Attachment {
                file_id: "f1".into(),
                name: "a.png".into(),
                size: 3,
                media_type: "image/png".into(),
            },
            sha256: "ab".into(),
        };
        let wire = json!({"fileID": "f1", "name": "a.png", "size": 3, "type": "image/png",
                          "sha256": "ab"});
        assert_eq!(serde_json::to_value(&info).unwrap(), wire);
        assert_eq!(serde_json::from_value::<FileInfo>(wire).unwrap(), info);
    }

    #[test]
    fn guide_client_payloads_parse() {
        let m: SendMessage = serde_json::from_value(json!({"content": "x", "to": "u"})).unwrap();
        assert_eq!(m.client_id, None);
        let a: Auth = serde_json::from_value(json!({"sessionID": "abc"})).unwrap();
        assert_eq!(a.session_id.as_deref(), Some("abc"));
        let a: Auth = serde_json::from_value(json!({"username": "bob"})).unwrap();
        assert_eq!(a.username.as_deref(), Some("bob"));
    }

    #[test]
    fn only_objects_are_payloads() {
        let ok: Object<SendMessage> =
            serde_json::from_value(json!({"content": "x", "to": "u"})).unwrap();
        assert_eq!(ok.0.to, "u");
        assert!(serde_json::from_value::<Object<SendMessage>>(json!(["x", "u"])).is_err());
        assert!(serde_json::from_str::<Object<SendMessage>>(r#"["x","u"]"#).is_err());
        assert!(serde_json::from_value::<Object<SendMessage>>(json!(null)).is_err());
    }

    #[test]
    fn reply_tells_error_from_value() {
        let e: Reply<Message> =
            serde_json::from_value(json!({"error": "unknown user", "code": "unknown_user"}))
                .unwrap();
        assert_eq!(e.into_result().unwrap_err().code, ErrorCode::UnknownUser);
        let ok: Reply<MessagePage> =
            serde_json::from_value(json!({"messages": [], "hasMore": false})).unwrap();
        assert!(ok.into_result().is_ok());
    }

    #[test]
    fn usernames_are_trimmed_and_checked() {
        assert_eq!(normalize_username("  alice "), Ok("alice"));
        assert_eq!(normalize_username("   "), Err(UsernameError::Empty));
        assert_eq!(
            normalize_username("a\u{7}b"),
            Err(UsernameError::ControlCharacter)
        );
        assert_eq!(
            normalize_username(&"é".repeat(32)),
            Ok("é".repeat(32).as_str())
        );
        assert_eq!(
            normalize_username(&"é".repeat(33)),
            Err(UsernameError::TooLong)
        );
    }

    #[test]
    fn invisible_and_bidi_characters_are_refused_in_names() {
        let named = [
            0x200B, 0x200C, 0x200D, 0x200E, 0x200F, 0x202A, 0x202B, 0x202C, 0x202D, 0x202E, 0x2066,
            0x2067, 0x2068, 0x2069, 0x2028, 0x2029, 0xFEFF, 0x00AD, 0xE0041,
        ];
        for c in named {
            let c = char::from_u32(c).unwrap();
            assert_eq!(
                normalize_username(&format!("al{c}ice")),
                Err(UsernameError::InvisibleCharacter),
                "U+{:04X}",
                c as u32
            );
        }
        assert_eq!(
            normalize_username("a\u{85}b"),
            Err(UsernameError::ControlCharacter)
        );
        for ok in ["Zoë", "李雷", "مريم", "O'Brien-Smith", "a b"] {
            assert_eq!(normalize_username(ok), Ok(ok));
        }
    }

    #[test]
    fn fingerprints_read_like_openssls() {
        assert_eq!(format_fingerprint(&[0xAB, 0x01, 0xFF]), "AB:01:FF");
        assert_eq!(format_fingerprint(&[0u8; 32]).len(), 95);
    }

    #[test]
    fn refusals_round_trip_and_tell_credentials_from_outages() {
        for r in Refusal::ALL {
            assert_eq!(Refusal::from_message(r.message()), Some(r));
        }
        assert_eq!(Refusal::InvalidUsername.message(), "invalid username");
        assert!(Refusal::WrongPassword.is_credential());
        assert!(Refusal::SessionRevoked.is_credential());
        assert!(!Refusal::Unavailable.is_credential());
        assert!(!Refusal::TooManyAttempts.is_credential());
        assert_eq!(Refusal::from_message("EngineIO Error"), None);
    }
}
