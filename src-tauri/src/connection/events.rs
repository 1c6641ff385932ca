//! What the server sends, decoded once and handed to the UI as [`AppEvent`]s.

use natter_protocol::ipc::AppEvent;
use natter_protocol::{
    Group, Message, PresenceChange, ReadMarker, Session, TypingFrom, User, UserRenamed, event,
};
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::manager::Manager;

/// `payload` as the event's type; a payload that is not is logged (with the event's name) and
/// dropped: a server bug must not take the connection down.
fn decode<T: DeserializeOwned>(name: &str, payload: Value) -> Option<T> {
    serde_json::from_value(payload)
        .inspect_err(|e| tracing::warn!(event = name, error = %e, "bad event from the server"))
        .ok()
}

impl Manager {
    pub(super) async fn server_event(&mut self, name: &str, payload: Value) {
        if name == event::SESSION {
            match serde_json::from_value::<Session>(payload) {
                Ok(session) => self.connected(session).await,
                Err(e) => self.lost(format!("unexpected session from the server: {e}")),
            }
            return;
        }
        let Some(app_event) = self.app_event(name, payload) else {
            return;
        };
        self.emit(app_event);
    }

    /// The [`AppEvent`] a server event (other than `session`) becomes.
    fn app_event(&mut self, name: &str, payload: Value) -> Option<AppEvent> {
        Some(match name {
            event::USERS => AppEvent::Users {
                users: decode(name, payload)?,
            },
            event::PRESENCE => AppEvent::Presence {
                changes: decode(name, payload)?,
            },
            // From a server that does not batch presence: a batch of one.
            event::USER_CONNECTED => {
                let user: User = decode(name, payload)?;
                AppEvent::Presence {
                    changes: vec![PresenceChange::online(user.user_id, user.username)],
                }
            }
            event::USER_DISCONNECTED => AppEvent::Presence {
                changes: vec![PresenceChange::offline(decode::<String>(name, payload)?)],
            },
            event::USER_RENAMED => {
                let r: UserRenamed = decode(name, payload)?;
                if let Some(saved) = self.saved.as_mut().filter(|s| s.user_id == r.user_id) {
                    saved.username = r.username.clone();
                    self.persist.save_session(Some(saved));
                }
                AppEvent::UserRenamed {
                    user_id: r.user_id,
                    username: r.username,
                }
            }
            event::USER_REMOVED => AppEvent::UserRemoved {
                user_id: decode(name, payload)?,
            },
            event::PRIVATE_MESSAGE | event::GROUP_MESSAGE => AppEvent::Message {
                message: decode::<Message>(name, payload)?,
            },
            event::READ => AppEvent::Read {
                marker: decode::<ReadMarker>(name, payload)?,
            },
            event::TYPING => AppEvent::Typing {
                from: decode::<TypingFrom>(name, payload)?.from,
                at_ms: 0,
            },
            event::GROUPS => AppEvent::Groups {
                groups: decode::<Vec<Group>>(name, payload)?,
            },
            event::GROUP => AppEvent::Group {
                group: decode::<Group>(name, payload)?,
            },
            event::MESSAGE_EDITED => AppEvent::MessageEdited {
                change: decode(name, payload)?,
            },
            event::MESSAGE_DELETED => AppEvent::MessageDeleted {
                change: decode(name, payload)?,
            },
            event::REACTION => AppEvent::Reaction {
                change: decode(name, payload)?,
            },
            event::STATUS => AppEvent::Status {
                change: decode(name, payload)?,
            },
            event::ANNOUNCEMENTS => AppEvent::Announcements {
                announcements: decode(name, payload)?,
            },
            event::ANNOUNCEMENT => AppEvent::Announcement {
                announcement: decode(name, payload)?,
            },
            event::ANNOUNCEMENT_WITHDRAWN => AppEvent::AnnouncementWithdrawn {
                id: decode::<natter_protocol::AnnouncementWithdrawn>(name, payload)?.id,
            },
            other => {
                tracing::debug!(event = other, "ignored server event");
                return None;
            }
        })
    }
}
