//! What the state's tests start from: a logged-in person with a few people around.

use natter_protocol::ipc::{AppEvent, ConnectionState};
use natter_protocol::{Group, Message, Session, User};

use super::UiState;

pub(super) fn session(id: &str) -> Session {
    Session {
        session_id: format!("secret-{id}"),
        user_id: id.into(),
        username: id.into(),
        receipts: true,
        display_name: None,
    }
}

pub(super) fn user(id: &str, name: &str, connected: bool, messages: Vec<Message>) -> User {
    User {
        user_id: id.into(),
        username: name.into(),
        connected,
        messages,
        ..User::default()
    }
}

pub(super) fn msg(id: u64, from: &str, to: &str) -> Message {
    Message {
        id,
        content: format!("m{id}"),
        from: from.into(),
        to: to.into(),
        ts: 1_700_000_000_000 + id as i64,
        client_id: None,
        attachment: None,
        ..Message::default()
    }
}

pub(super) fn logged_in() -> UiState {
    let mut s = UiState::default();
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

pub(super) fn names(s: &UiState) -> Vec<&str> {
    s.users().iter().map(|u| u.name.as_str()).collect()
}

pub(super) fn group(id: &str, members: &[&str]) -> Group {
    Group {
        group_id: id.into(),
        name: format!("team {id}"),
        members: members.iter().map(|m| (*m).into()).collect(),
        created_by: members[0].into(),
        ..Group::default()
    }
}
