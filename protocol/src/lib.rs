//! Natter's wire protocol, defined once for the server, the desktop shell and the UI.
//!
//! The events and payloads are those of socket.io's "Private messaging" guide (parts I–III),
//! unchanged, so the guide's own JavaScript client works against `natter-server`. Everything we
//! add is additive: extra fields that old clients ignore, acknowledgements, and extra events
//! (listed in [`event`]).
//!
//! One module per concern, every item re-exported here (`natter_protocol::Message` is the
//! path every crate uses):
//! - [`event`]: the event names; [`handshake`]: auth, refusals, `session`, fingerprints;
//! - [`users`]: the `users` list and presence; [`messages`]: messages, history pages, search;
//! - [`changes`]: edits, deletions, replies, reactions; [`status`]: available, away, busy;
//! - [`groups`], [`files`], [`awareness`] (read markers, receipts, typing);
//! - [`directory`]: how a server signs people in (`GET /auth-info`);
//! - [`announcements`]: what the operator tells everyone;
//! - [`deployed`]: settings an organisation deploys to every desktop (`desktop.json`);
//! - [`export`]: what an exported conversation holds;
//! - [`error`]: acks (`{ok}`, `{error, code}`); [`object`]: payloads are objects;
//! - [`names`]: the rules for names and message content;
//! - [`ipc`]: between the desktop shell and its UI (never on the network);
//! - [`client`]: for Rust clients, what a socket.io client library hands over.
//!
//! This crate depends on serde only (rust_socketio too with the `rust-socketio` feature), so
//! it builds for the server, the Tauri shell and wasm.

pub mod announcements;
pub mod awareness;
pub mod changes;
pub mod client;
pub mod deployed;
pub mod directory;
pub mod error;
pub mod event;
pub mod export;
pub mod files;
pub mod groups;
pub mod handshake;
pub mod ipc;
pub mod markdown;
pub mod messages;
pub mod names;
pub mod object;
pub mod status;
pub mod users;

pub use announcements::*;
pub use awareness::*;
pub use changes::*;
pub use deployed::{DESKTOP_CONFIG_FILE, Deployed};
pub use directory::{AUTH_INFO_PATH, AuthInfo};
pub use error::*;
pub use export::ExportedConversation;
pub use files::{Attachment, AttachmentRef, FileInfo};
pub use groups::*;
pub use handshake::*;
pub use messages::*;
pub use names::*;
pub use object::*;
pub use status::*;
pub use users::*;

/// For `skip_serializing_if`: counts of zero are left out (the guide's shape otherwise).
pub(crate) fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// The guide's own payloads, as its client sends and reads them.
#[cfg(test)]
mod guide_wire {
    use super::*;
    use serde_json::json;

    #[test]
    fn guide_field_names_are_kept() {
        let s = Session {
            session_id: "s".into(),
            user_id: "u".into(),
            username: "alice".into(),
            receipts: true,
            display_name: None,
        };
        assert_eq!(
            serde_json::to_value(&s).unwrap(),
            json!({"sessionID": "s", "userID": "u", "username": "alice", "receipts": true})
        );
        let named = Session {
            display_name: Some("Alice Liddell".into()),
            ..s.clone()
        };
        assert_eq!(
            serde_json::to_value(&named).unwrap()["displayName"],
            "Alice Liddell",
            "a directory's name is additive"
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
            ..Message::default()
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
    fn guide_client_payloads_parse() {
        let m: SendMessage = serde_json::from_value(json!({"content": "x", "to": "u"})).unwrap();
        assert_eq!(m.client_id, None);
        let a: Auth = serde_json::from_value(json!({"sessionID": "abc"})).unwrap();
        assert_eq!(a.session_id.as_deref(), Some("abc"));
        let a: Auth = serde_json::from_value(json!({"username": "bob"})).unwrap();
        assert_eq!(a.username.as_deref(), Some("bob"));
    }
}
