//! Who may join and as whom: name comparison, password hashes, the join password, and the
//! throttle on failed attempts.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use subtle::ConstantTimeEq;
use unicode_normalization::UnicodeNormalization;

/// The form under which two usernames are the same name: NFKC, case-folded, NFKC again (so
/// "ALICE", "alice" and "ａｌｉｃｅ" are one name).
pub fn name_key(username: &str) -> String {
    let folded: String = username.nfkc().flat_map(char::to_lowercase).collect();
    folded.nfkc().collect()
}

#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    #[error("hashing failed: {0}")]
    Hash(argon2::password_hash::Error),
    #[error("the operating system's random number generator failed: {0}")]
    Rng(#[from] crate::ids::RngError),
    #[error("a password-hashing task failed: {0}")]
    Join(#[from] tokio::task::JoinError),
}

/// An argon2id hash (PHC string) of `password`; runs off the async threads.
pub async fn hash_password(password: String) -> Result<String, PasswordError> {
    let mut salt = [0u8; 16];
    crate::ids::fill_random(&mut salt)?;
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::encode_b64(&salt).map_err(PasswordError::Hash)?;
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(PasswordError::Hash)
    })
    .await?
}

/// Whether `password` matches the stored hash; an unreadable hash matches nothing.
pub async fn verify_password(password: String, hash: String) -> Result<bool, PasswordError> {
    Ok(tokio::task::spawn_blocking(move || {
        PasswordHash::new(&hash).is_ok_and(|parsed| {
            Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
    })
    .await?)
}

/// Compares a join password in constant time (for equal lengths; the length of the server's
/// secret is not worth hiding behind a hash here).
pub fn join_password_matches(given: &str, expected: &str) -> bool {
    given.as_bytes().ct_eq(expected.as_bytes()).into()
}

/// Failed attempts (wrong join password, wrong account password) per client address: after
/// `max_failures` within `window`, that address is refused until the window has passed. In
/// cluster mode the count is the nodes' shared one in Redis (this node's while Redis does not
/// answer).
pub struct Throttle {
    max_failures: u32,
    window: Duration,
    by_addr: Mutex<HashMap<IpAddr, Failures>>,
    shared: Option<crate::limits::SharedLimits>,
}

struct Failures {
    count: u32,
    since: Instant,
}

impl Throttle {
    pub fn new(max_failures: u32, window: Duration) -> Self {
        Self {
            max_failures,
            window,
            by_addr: Mutex::new(HashMap::new()),
            shared: None,
        }
    }

    /// The count held in Redis for every node.
    pub fn shared(mut self, limits: Option<&crate::limits::SharedLimits>) -> Self {
        self.shared = limits.cloned();
        self
    }

    /// Whether `addr` may try now.
    pub async fn allows(&self, addr: IpAddr) -> bool {
        if self.max_failures == u32::MAX {
            return true;
        }
        if let Some(shared) = &self.shared {
            match shared.failures(addr).await {
                Ok(n) => return n < self.max_failures,
                Err(e) => tracing::debug!(error = %e, "shared throttle unavailable: this node's"),
            }
        }
        self.allows_local(addr)
    }

    /// Records a failed attempt from `addr`.
    pub async fn failed(&self, addr: IpAddr) {
        // Counted here too: it decides while Redis does not answer.
        self.failed_local(addr);
        if let Some(shared) = &self.shared
            && self.max_failures != u32::MAX
            && let Err(e) = shared.failed(addr, self.window).await
        {
            tracing::debug!(error = %e, "shared throttle unavailable: counted on this node");
        }
    }

    fn allows_local(&self, addr: IpAddr) -> bool {
        let mut map = self.by_addr.lock().unwrap_or_else(|p| p.into_inner());
        match map.get(&addr) {
            Some(f) if f.since.elapsed() >= self.window => {
                map.remove(&addr);
                true
            }
            Some(f) => f.count < self.max_failures,
            None => true,
        }
    }

    fn failed_local(&self, addr: IpAddr) {
        let mut map = self.by_addr.lock().unwrap_or_else(|p| p.into_inner());
        // Forget addresses whose window is over, so the map stays as small as the attack.
        if map.len() > 10_000 {
            let window = self.window;
            map.retain(|_, f| f.since.elapsed() < window);
        }
        let f = map.entry(addr).or_insert(Failures {
            count: 0,
            since: Instant::now(),
        });
        if f.since.elapsed() >= self.window {
            *f = Failures {
                count: 0,
                since: Instant::now(),
            };
        }
        f.count += 1;
    }
}

impl Throttle {
    /// Never refuses (`--no-limits`).
    pub fn unlimited() -> Self {
        Self::new(u32::MAX, Duration::from_secs(1))
    }
}

impl Default for Throttle {
    /// Ten failures a minute: far more than a person mistyping, far too few to guess.
    fn default() -> Self {
        Self::new(10, Duration::from_secs(60))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_compare_after_normalisation_and_case_folding() {
        assert_eq!(name_key("Alice"), name_key("alice"));
        assert_eq!(name_key("ＡＬＩＣＥ"), name_key("alice"));
        assert_eq!(name_key("e\u{301}"), name_key("é"));
        assert_ne!(name_key("alice"), name_key("alicia"));
    }

    #[tokio::test]
    async fn passwords_are_hashed_with_argon2id_and_verified() {
        let hash = hash_password("correct horse".into()).await.unwrap();
        assert!(hash.starts_with("$argon2id$"), "{hash}");
        assert!(!hash.contains("correct horse"));
        assert!(
            verify_password("correct horse".into(), hash.clone())
                .await
                .unwrap()
        );
        assert!(!verify_password("wrong horse".into(), hash).await.unwrap());
        assert!(!verify_password("x".into(), "garbage".into()).await.unwrap());
    }

    #[test]
    fn join_passwords_compare_exactly() {
        assert!(join_password_matches("s3cret", "s3cret"));
        assert!(!join_password_matches("s3cre", "s3cret"));
        assert!(!join_password_matches("S3cret", "s3cret"));
    }

    #[tokio::test]
    async fn the_throttle_counts_per_address_and_forgets_after_the_window() {
        let t = Throttle::new(3, Duration::from_millis(200));
        let (a, b): (IpAddr, IpAddr) = ("127.0.0.1".parse().unwrap(), "127.0.0.2".parse().unwrap());
        for _ in 0..3 {
            assert!(t.allows(a).await);
            t.failed(a).await;
        }
        assert!(!t.allows(a).await);
        assert!(t.allows(b).await, "another address is not affected");
        tokio::time::sleep(Duration::from_millis(250)).await;
        assert!(t.allows(a).await);
    }
}
