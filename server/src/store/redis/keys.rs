//! Every Redis key Natter uses, built here and nowhere else. All live under `natter:`; nothing
//! expires but heartbeats, the health probe and the shared limits: history is kept until
//! someone deletes it.
//!
//! | key | type | holds |
//! |---|---|---|
//! | `session:<sha256>` | string | the userID of a session (only the hash of a sessionID) |
//! | `user:<id>` | hash | `name`, `password` (argon2id), `directory` (`1`: the office directory signs them in), `display_name` (the directory's name for them) |
//! | `user:<id>:sessions` | set | the user's session hashes (for revocation) |
//! | `name:<key>` | set | userIDs holding that name key (one, but for data from before names were compared normalised) |
//! | `names_version` | counter | bumped by renames, removals and directory names: nodes drop their cached names |
//! | `users` | sorted set | userIDs in creation order (scored by `user_seq`) |
//! | `user_seq` | counter | creation order |
//! | `conv:<lo>:<hi>` | sorted set | message JSON scored by id (`<g>:<g>` for a group) |
//! | `convs:<user>` | set | everyone the user has a private conversation with |
//! | `msg_seq` | counter | message ids |
//! | `client:<from>:<clientId>` | string | the message stored under that idempotency key |
//! | `inbox:<to>:<from>` | sorted set | ids of messages from `from` to `to` (unread counts) |
//! | `read:<reader>` | hash | peer or groupID → the last message id read |
//! | `receipts_off` | set | users keeping their read markers to themselves |
//! | `group:<g>` | hash | `name`, `createdBy` |
//! | `group:<g>:members` | sorted set | userIDs by joining order |
//! | `groups:<user>` | sorted set | the user's groupIDs by joining order |
//! | `member_seq` | counter | joining order |
//! | `gsent:<g>:<user>` | sorted set | ids of the group's messages the user sent (unread = after the marker minus one's own) |
//! | `file:<id>` | hash | an upload's record |
//! | `file:<id>:convs` | set | the users and groups it was sent to (its uploader sent it) |
//! | `user:<id>:files` | set | the fileIDs the user uploaded (quota, removal) |
//! | `announcements` | hash | announcement id → its JSON |
//! | `announcements:withdrawn` | set | withdrawn announcement ids |
//! | `announcement_seq` | counter | the last announcement id given |
//! | `node:<node>:users` | set | users with a socket on that node |
//! | `node:<node>:alive` | string, 4 s expiry | the node's heartbeat |
//! | `node:<node>:health` | string, 60 s expiry | the node's last write probe (`/healthz`) |
//! | `nodes` | set | every node seen |
//! | `reap:<node>` | string, expiring | the lock of the node announcing a dead node's users offline |
//! | `msgconv` | hash | message id → its conversation's key (to change a message by id) |
//! | `replies:<id>` | set | ids of the messages answering message `<id>` |
//! | `mentions:<g>:<user>` | sorted set | ids of the group's messages that mention the user |
//! | `gdeleted:<g>` | sorted set | ids of the group's deleted messages (unread counts skip them) |
//! | `file:<id>:messages` | set | ids of the messages carrying the file (none left: the file goes) |
//! | `statuses` | hash | userID → status JSON (users who are not available) |
//! | `limit:<kind>:<key>` | hash, expiring once full again | a rate limit's token bucket shared by the nodes (`tokens`, `at`): `messages:<user>`, `fetch:<user>`, `names:<addr>` |
//! | `failures:<addr>` | counter, expiring with its window | failed passwords from a client address, for every node |
//! | `schema` | integer | the data's schema version ([`super::migrate`]) |

use crate::accounts::name_key;
use crate::store::Conversation;

pub const NAMES_VERSION: &str = "natter:names_version";
pub const SCHEMA: &str = "natter:schema";
pub const USERS: &str = "natter:users";
pub const USER_SEQ: &str = "natter:user_seq";
pub const MSG_SEQ: &str = "natter:msg_seq";
pub const RECEIPTS_OFF: &str = "natter:receipts_off";
pub const MEMBER_SEQ: &str = "natter:member_seq";
pub const NODES: &str = "natter:nodes";
pub const MSG_CONVERSATIONS: &str = "natter:msgconv";
pub const STATUSES: &str = "natter:statuses";
/// Stands where a script takes a key it does not use this time (never written).
pub const UNUSED: &str = "natter:-";

/// A shared rate limit's bucket: `kind` names the limit, `key` whom it limits.
pub fn limit(kind: &str, key: &str) -> String {
    format!("natter:limit:{kind}:{key}")
}

/// Failed passwords from one client address.
pub fn failures(addr: &str) -> String {
    format!("natter:failures:{addr}")
}

/// Patterns for SCAN (migrations and removals only).
pub const ALL_SESSIONS: &str = "natter:session:*";
pub const ALL_CONVERSATIONS: &str = "natter:conv:*";

pub fn session(hash: &str) -> String {
    format!("natter:session:{hash}")
}

/// The session hash a [`session`] key holds.
pub fn session_hash(key: &str) -> Option<&str> {
    key.strip_prefix("natter:session:")
}

pub fn user(user_id: &str) -> String {
    format!("natter:user:{user_id}")
}

pub fn user_sessions(user_id: &str) -> String {
    format!("natter:user:{user_id}:sessions")
}

/// The set of identities holding `username` (compared as [`name_key`] compares names).
pub fn name(username: &str) -> String {
    format!("natter:name:{}", name_key(username))
}

/// A conversation's sorted set of messages: the two userIDs sorted, or the groupID twice.
pub fn conversation(c: Conversation<'_>) -> String {
    let (a, b) = match c {
        Conversation::Private(a, b) if a <= b => (a, b),
        Conversation::Private(a, b) => (b, a),
        Conversation::Group(g) => (g, g),
    };
    format!("natter:conv:{a}:{b}")
}

pub fn peers(user_id: &str) -> String {
    format!("natter:convs:{user_id}")
}

/// The idempotency key of a message: `None` stands for "no clientId" (a key never written).
pub fn client(from: &str, client_id: Option<&str>) -> String {
    match client_id {
        Some(c) => format!("natter:client:{from}:{c}"),
        None => "natter:client:-".into(),
    }
}

/// Every idempotency key of a sender, for SCAN.
pub fn clients_of(from: &str) -> String {
    format!("natter:client:{from}:*")
}

pub fn inbox(to: &str, from: &str) -> String {
    format!("natter:inbox:{to}:{from}")
}

pub fn read(reader: &str) -> String {
    format!("natter:read:{reader}")
}

pub fn group(group_id: &str) -> String {
    format!("natter:group:{group_id}")
}

pub fn members(group_id: &str) -> String {
    format!("natter:group:{group_id}:members")
}

pub fn user_groups(user_id: &str) -> String {
    format!("natter:groups:{user_id}")
}

pub fn group_sent(group_id: &str, user_id: &str) -> String {
    format!("natter:gsent:{group_id}:{user_id}")
}

pub fn file(file_id: &str) -> String {
    format!("natter:file:{file_id}")
}

/// Announcements: id → JSON.
pub const ANNOUNCEMENTS: &str = "natter:announcements";
/// The ids of withdrawn announcements.
pub const ANNOUNCEMENTS_WITHDRAWN: &str = "natter:announcements:withdrawn";
/// The last announcement id given.
pub const ANNOUNCEMENT_SEQ: &str = "natter:announcement_seq";

pub fn user_files(user_id: &str) -> String {
    format!("natter:user:{user_id}:files")
}

/// Every file record's key (for migrations: the `:convs` and `:messages` sets match too).
pub const ALL_FILES: &str = "natter:file:*";

/// The fileID of a file record's key (`None` for the file's sets).
pub fn file_id_of(key: &str) -> Option<&str> {
    key.strip_prefix("natter:file:")
        .filter(|id| !id.contains(':'))
}

pub fn file_conversations(file_id: &str) -> String {
    format!("natter:file:{file_id}:convs")
}

pub fn replies(id: u64) -> String {
    format!("natter:replies:{id}")
}

pub fn mentions(group_id: &str, user_id: &str) -> String {
    format!("natter:mentions:{group_id}:{user_id}")
}

pub fn group_deleted(group_id: &str) -> String {
    format!("natter:gdeleted:{group_id}")
}

pub fn file_messages(file_id: &str) -> String {
    format!("natter:file:{file_id}:messages")
}

pub fn node_users(node: &str) -> String {
    format!("natter:node:{node}:users")
}

pub fn node_alive(node: &str) -> String {
    format!("natter:node:{node}:alive")
}

pub fn node_health(node: &str) -> String {
    format!("natter:node:{node}:health")
}

pub fn reap(node: &str) -> String {
    format!("natter:reap:{node}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_conversation_has_one_key_whoever_asks() {
        assert_eq!(
            conversation(Conversation::Private("b", "a")),
            conversation(Conversation::Private("a", "b"))
        );
        assert_eq!(
            conversation(Conversation::Private("a", "b")),
            "natter:conv:a:b"
        );
        assert_eq!(
            conversation(Conversation::Group("g-1")),
            "natter:conv:g-1:g-1"
        );
        assert_eq!(session_hash(&session("abc")), Some("abc"));
        assert_eq!(client("u", None), "natter:client:-");
    }
}
