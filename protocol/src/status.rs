//! Whether people are around: a state (available, away, busy) and an optional text, kept
//! across restarts; going offline keeps it.

use serde::{Deserialize, Serialize};

use crate::NameError;

/// The longest status text, in characters.
pub const STATUS_TEXT_MAX_CHARS: usize = 80;

/// How available a person says they are.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StatusState {
    #[default]
    Available,
    /// Around later (the app sets it after 10 minutes without input).
    Away,
    /// Do not disturb: their app silences notifications, mentions included.
    Busy,
}

impl StatusState {
    pub fn is_available(&self) -> bool {
        *self == StatusState::Available
    }

    pub fn as_str(self) -> &'static str {
        match self {
            StatusState::Available => "available",
            StatusState::Away => "away",
            StatusState::Busy => "busy",
        }
    }

    pub fn parse(s: &str) -> Option<StatusState> {
        [StatusState::Available, StatusState::Away, StatusState::Busy]
            .into_iter()
            .find(|st| st.as_str() == s)
    }
}

/// A person's status: the state and what they wrote with it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Status {
    pub state: StatusState,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
}

/// `set status {state, text?}`: ack `{ok: true}`.
pub type SetStatus = Status;

/// `status`, to everyone who gets the person's presence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusChange {
    #[serde(rename = "userID")]
    pub user_id: String,
    pub state: StatusState,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
}

/// Trims a status text and checks it with the name rule (no control, invisible or bidi
/// characters), up to [`STATUS_TEXT_MAX_CHARS`]; an empty one is no text.
pub fn normalize_status_text(raw: &str) -> Result<Option<&str>, NameError> {
    match crate::names::check_name(raw, STATUS_TEXT_MAX_CHARS) {
        Ok(text) => Ok(Some(text)),
        Err(NameError::Empty) => Ok(None),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn statuses_travel_as_the_protocol_names_them() {
        let s: SetStatus =
            serde_json::from_value(json!({"state": "away", "text": "lunch"})).unwrap();
        assert_eq!(s.state, StatusState::Away);
        assert!(serde_json::from_value::<SetStatus>(json!({"state": "gone"})).is_err());
        assert_eq!(StatusState::parse("busy"), Some(StatusState::Busy));
        assert_eq!(normalize_status_text("  "), Ok(None));
        assert_eq!(normalize_status_text(" at lunch "), Ok(Some("at lunch")));
        assert!(normalize_status_text(&"x".repeat(81)).is_err());
        assert!(normalize_status_text("a\u{202E}b").is_err());
    }
}
