//! How often something the page says again and again is told: "typing" once, then every
//! [`TYPING_REPEAT_MS`] while the person keeps typing (sending the message starts over); that
//! the person used the window, at most every [`ACTIVITY_EVERY_MS`].

use natter_protocol::TYPING_REPEAT_MS;

/// How often the shell hears that the window is used (for the idle away).
pub const ACTIVITY_EVERY_MS: u64 = 30_000;

/// When it was last told.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Throttle {
    every_ms: u64,
    last_ms: Option<u64>,
}

impl Throttle {
    pub const fn every(every_ms: u64) -> Self {
        Self {
            every_ms,
            last_ms: None,
        }
    }

    /// For `typing`.
    pub const fn typing() -> Self {
        Self::every(TYPING_REPEAT_MS)
    }

    /// It happened at `now_ms`: whether to tell now (and it counts as told).
    pub fn due(&mut self, now_ms: u64) -> bool {
        if self
            .last_ms
            .is_some_and(|last| now_ms < last + self.every_ms)
        {
            return false;
        }
        self.last_ms = Some(now_ms);
        true
    }

    /// The next time is news again (the message went).
    pub fn reset(&mut self) {
        self.last_ms = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typing_is_said_once_per_repeat_and_anew_after_a_send() {
        let mut t = Throttle::typing();
        assert!(t.due(10_000), "the first keystroke is told");
        assert!(!t.due(10_001));
        assert!(!t.due(10_000 + TYPING_REPEAT_MS - 1));
        assert!(
            t.due(10_000 + TYPING_REPEAT_MS),
            "told again while typing on"
        );
        t.reset();
        assert!(
            t.due(10_000 + TYPING_REPEAT_MS + 1),
            "a new message is news"
        );
        let mut a = Throttle::every(ACTIVITY_EVERY_MS);
        assert!(a.due(0) && !a.due(ACTIVITY_EVERY_MS - 1) && a.due(ACTIVITY_EVERY_MS));
    }
}
