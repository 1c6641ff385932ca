//! How often the composer tells the other side "typing": once, then again every
//! [`TYPING_REPEAT_MS`] while the person keeps typing; sending the message starts over.

use natter_protocol::TYPING_REPEAT_MS;

/// When `typing` was last sent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TypingThrottle {
    last_sent_ms: Option<u64>,
}

impl TypingThrottle {
    /// The person typed at `now_ms`: whether to send `typing` now (and it counts as sent).
    pub fn typed(&mut self, now_ms: u64) -> bool {
        if self
            .last_sent_ms
            .is_some_and(|last| now_ms < last + TYPING_REPEAT_MS)
        {
            return false;
        }
        self.last_sent_ms = Some(now_ms);
        true
    }

    /// The message went: the next keystroke is news again.
    pub fn message_sent(&mut self) {
        self.last_sent_ms = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typing_is_said_once_per_repeat_and_anew_after_a_send() {
        let mut t = TypingThrottle::default();
        assert!(t.typed(10_000), "the first keystroke is told");
        assert!(!t.typed(10_001));
        assert!(!t.typed(10_000 + TYPING_REPEAT_MS - 1));
        assert!(
            t.typed(10_000 + TYPING_REPEAT_MS),
            "told again while typing on"
        );
        t.message_sent();
        assert!(
            t.typed(10_000 + TYPING_REPEAT_MS + 1),
            "a new message is news"
        );
    }
}
