//! Timeouts and the reconnect backoff.

use std::time::Duration;

/// Timeouts and backoff; tests shorten them.
#[derive(Debug, Clone, Copy)]
pub struct Timing {
    /// From starting a connection to `session`.
    pub session_timeout: Duration,
    /// From emitting a message to its ack.
    pub ack_timeout: Duration,
    pub backoff_min: Duration,
    pub backoff_max: Duration,
}

impl Default for Timing {
    fn default() -> Self {
        Self {
            session_timeout: Duration::from_secs(10),
            ack_timeout: Duration::from_secs(10),
            backoff_min: Duration::from_millis(500),
            backoff_max: Duration::from_secs(10),
        }
    }
}

/// The delay before reconnect attempt `attempt` (1-based): doubling from `min`, capped at
/// `max`, with ±20% jitter so a server restart is not met by every app at the same instant.
pub fn backoff(attempt: u32, timing: &Timing) -> Duration {
    let exp = timing
        .backoff_min
        .saturating_mul(1u32 << attempt.saturating_sub(1).min(16));
    let base = exp.min(timing.backoff_max);
    let jitter = (random_u64() % 41) as f64 / 100.0 - 0.2; // -0.20..=0.20
    base.mul_f64(1.0 + jitter)
}

pub(super) fn random_u64() -> u64 {
    let mut b = [0u8; 8];
    // Without OS randomness, jitter and ids fall back to the clock: still unique enough here.
    if getrandom::fill(&mut b).is_err() {
        return natter_protocol::now_ms() as u64 ^ u64::from(std::process::id());
    }
    u64::from_le_bytes(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_is_capped() {
        let t = Timing::default();
        let ms = |a| backoff(a, &t).as_millis();
        assert!((400..=600).contains(&ms(1)), "{}", ms(1));
        assert!((800..=1200).contains(&ms(2)), "{}", ms(2));
        assert!((8000..=12000).contains(&ms(30)), "{}", ms(30));
    }
}
