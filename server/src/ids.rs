//! Identifiers: secret sessionIDs, public userIDs, and the hash under which a session is kept.

use sha2::{Digest, Sha256};

/// Bytes of OS randomness in a sessionID (the guide's secret; 128 bits).
const SESSION_ID_BYTES: usize = 16;
/// Bytes of OS randomness in a userID (public; only needs to be unique).
const USER_ID_BYTES: usize = 8;

#[derive(Debug, thiserror::Error)]
#[error("the operating system's random number generator failed: {0}")]
pub struct RngError(getrandom::Error);

/// Fills `buf` from the OS random number generator.
pub fn fill_random(buf: &mut [u8]) -> Result<(), RngError> {
    getrandom::fill(buf).map_err(RngError)
}

fn random_hex(n: usize) -> Result<String, RngError> {
    let mut buf = [0u8; 32];
    let buf = &mut buf[..n];
    fill_random(buf)?;
    Ok(hex::encode(buf))
}

/// A new secret sessionID, drawn from the OS random number generator.
pub fn new_session_id() -> Result<String, RngError> {
    random_hex(SESSION_ID_BYTES)
}

/// A new public userID, independent of the sessionID.
pub fn new_user_id() -> Result<String, RngError> {
    random_hex(USER_ID_BYTES)
}

/// A new groupID: [`natter_protocol::GROUP_ID_PREFIX`] and random hex.
pub fn new_group_id() -> Result<String, RngError> {
    Ok(format!(
        "{}{}",
        natter_protocol::GROUP_ID_PREFIX,
        random_hex(USER_ID_BYTES)?
    ))
}

/// A new fileID: unguessable, though downloads are checked against conversations anyway.
pub fn new_file_id() -> Result<String, RngError> {
    random_hex(SESSION_ID_BYTES)
}

/// Whether `id` has the shape of a fileID (so it names a file in the files dir, nothing else).
pub fn is_file_id(id: &str) -> bool {
    id.len() == SESSION_ID_BYTES * 2 && id.bytes().all(|b| b.is_ascii_hexdigit())
}

/// What the store keeps instead of the sessionID, so a copy of the database cannot be used to
/// take over anyone's identity.
pub fn hash_session_id(session_id: &str) -> String {
    hex::encode(Sha256::digest(session_id.as_bytes()))
}

/// The room every socket of one session joins, so a logout can disconnect exactly them. Named
/// after the session's hash, never the secret.
pub fn session_room(session_id: &str) -> String {
    format!("session:{}", &hash_session_id(session_id)[..32])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_random_and_distinct() {
        let a = new_session_id().unwrap();
        let b = new_session_id().unwrap();
        assert_eq!(a.len(), 32);
        assert_ne!(a, b);
        assert_eq!(new_user_id().unwrap().len(), 16);
        assert_ne!(hash_session_id(&a), a);
        assert_eq!(hash_session_id(&a), hash_session_id(&a));
    }
}
