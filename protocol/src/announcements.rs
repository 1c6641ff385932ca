//! Announcements: what the operator tells everyone (`natter-server admin announce`), such as a
//! fire drill or a maintenance window. Sent at once to every online socket, and at every login
//! to whoever has not seen them, until they expire or are withdrawn.

use serde::{Deserialize, Serialize};

/// The longest announcement, in characters.
pub const ANNOUNCEMENT_MAX_CHARS: usize = 2000;

/// `announcement`, and each entry of `announcements`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Announcement {
    pub id: u64,
    pub text: String,
    /// When it was made (ms since the epoch).
    pub ts: i64,
    /// When it ends (ms since the epoch); none: until withdrawn.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<i64>,
}

impl Announcement {
    /// Whether it still stands at `now_ms`.
    pub fn active_at(&self, now_ms: i64) -> bool {
        self.until.is_none_or(|until| now_ms < until)
    }
}

/// `announcement withdrawn`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct AnnouncementWithdrawn {
    pub id: u64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn announcements_read_as_documented_and_expire() {
        let a: Announcement = serde_json::from_value(
            json!({"id": 3, "text": "fire drill at 11", "ts": 10, "until": 20}),
        )
        .unwrap();
        assert!(a.active_at(19) && !a.active_at(20));
        let open = Announcement { until: None, ..a };
        assert!(open.active_at(i64::MAX));
        assert!(serde_json::to_value(&open).unwrap().get("until").is_none());
    }
}
