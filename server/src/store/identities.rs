//! People: identities, their sessions and names, and the user list.

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use natter_protocol::{Status, User};
use serde_json::value::RawValue;

use super::StoreResult;

/// One entry of the user list. Shared, and with its `users` JSON for a reader who has no
/// conversation with them made once per change of name or presence: a login storm lists
/// everyone to every newcomer, and copies these bytes instead of serialising each user again.
#[derive(Debug, Clone)]
pub struct ListedUser {
    pub user_id: Arc<str>,
    pub username: Arc<str>,
    pub connected: bool,
    /// Available unless they said otherwise.
    pub status: Status,
    /// What serialising `User {userID, username, connected, messages: [], status?}` gives.
    pub json: Arc<RawValue>,
}

impl ListedUser {
    pub fn new(user_id: Arc<str>, username: Arc<str>, connected: bool, status: Status) -> Self {
        let json = ListedUser::entry_json(&user_id, &username, connected, &status);
        Self {
            user_id,
            username,
            connected,
            status,
            json,
        }
    }

    /// The entry as a reader with no conversation with this user gets it.
    pub fn user(&self) -> User {
        User {
            user_id: self.user_id.to_string(),
            username: self.username.to_string(),
            connected: self.connected,
            status: self.status.state,
            status_text: self.status.text.clone(),
            ..User::default()
        }
    }

    fn entry_json(
        user_id: &str,
        username: &str,
        connected: bool,
        status: &Status,
    ) -> Arc<RawValue> {
        let user = User {
            user_id: user_id.to_owned(),
            username: username.to_owned(),
            connected,
            status: status.state,
            status_text: status.text.clone(),
            ..User::default()
        };
        // Strings and booleans always serialise; `null` would only mark a bug.
        serde_json::value::to_raw_value(&user)
            .unwrap_or_else(|_| RawValue::NULL.to_owned())
            .into()
    }
}

/// A user as the store knows them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRecord {
    pub user_id: String,
    pub username: String,
    pub connected: bool,
}

/// An identity with what signing in by name needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub user_id: String,
    pub username: String,
    /// argon2id PHC string; `None` for a name without a password.
    pub password_hash: Option<String>,
}

/// A new identity and its first session.
#[derive(Debug, Clone)]
pub struct NewUser {
    /// The secret; the store keeps only its hash.
    pub session_id: String,
    pub user_id: String,
    pub username: String,
    pub password_hash: Option<String>,
}

/// A name another identity holds (compared with [`crate::accounts::name_key`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("name taken")]
pub struct NameTaken;

/// What a rename did: done, or the name is another identity's.
pub type Renamed = Result<(), NameTaken>;

/// Identities, their sessions and names.
#[async_trait]
pub trait Identities: Send + Sync {
    /// The user owning this sessionID, if any.
    async fn find_session(&self, session_id: &str) -> StoreResult<Option<UserRecord>>;

    /// Every identity whose name is the same as `username` (after normalisation): one at
    /// most, except in databases made before names were compared this way.
    async fn accounts_named(&self, username: &str) -> StoreResult<Vec<Account>>;

    /// The identity with this userID.
    async fn account(&self, user_id: &str) -> StoreResult<Option<Account>>;

    /// Stores a new identity with its first session, unless another identity holds the name.
    async fn create_user(&self, user: NewUser) -> StoreResult<Result<UserRecord, NameTaken>>;

    /// Adds a session (a second device, a reinstall) to an existing identity.
    async fn add_session(&self, session_id: &str, user_id: &str) -> StoreResult<()>;

    /// Revokes one session; whether it existed.
    async fn revoke_session(&self, session_id: &str) -> StoreResult<bool>;

    /// Revokes every session of a user; how many there were.
    async fn revoke_user_sessions(&self, user_id: &str) -> StoreResult<usize>;

    /// How many sessions each user has (users without any are absent).
    async fn session_counts(&self) -> StoreResult<HashMap<String, usize>>;

    /// Sets (or with `None` clears) the password hash of a user.
    async fn set_password(&self, user_id: &str, password_hash: Option<String>) -> StoreResult<()>;

    /// Gives a user a new name, unless another identity holds it.
    async fn rename_user(&self, user_id: &str, username: &str) -> StoreResult<Renamed>;

    /// Removes a user, their sessions and every message of their conversations; whether the
    /// user existed.
    async fn remove_user(&self, user_id: &str) -> StoreResult<bool>;

    /// Whether this userID exists.
    async fn user_exists(&self, user_id: &str) -> StoreResult<bool>;

    /// Every known user.
    async fn users(&self) -> StoreResult<Vec<ListedUser>>;
}
