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
    /// What the office directory calls them (directory sign-in).
    pub display_name: Option<Arc<str>>,
    pub connected: bool,
    /// Available unless they said otherwise.
    pub status: Status,
    /// What serialising `User {userID, username, connected, messages: [], status?,
    /// displayName?}` gives.
    pub json: Arc<RawValue>,
}

impl ListedUser {
    pub fn new(
        user_id: Arc<str>,
        username: Arc<str>,
        display_name: Option<Arc<str>>,
        connected: bool,
        status: Status,
    ) -> Self {
        let mut listed = Self {
            user_id,
            username,
            display_name,
            connected,
            status,
            json: RawValue::NULL.to_owned().into(),
        };
        listed.json = listed.entry_json();
        listed
    }

    /// The entry as a reader with no conversation with this user gets it.
    pub fn user(&self) -> User {
        User {
            user_id: self.user_id.to_string(),
            username: self.username.to_string(),
            connected: self.connected,
            status: self.status.state,
            status_text: self.status.text.clone(),
            display_name: self.display_name.as_deref().map(str::to_owned),
            ..User::default()
        }
    }

    fn entry_json(&self) -> Arc<RawValue> {
        // Strings and booleans always serialise; `null` would only mark a bug.
        serde_json::value::to_raw_value(&self.user())
            .unwrap_or_else(|_| RawValue::NULL.to_owned())
            .into()
    }
}

/// A user as the store knows them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRecord {
    pub user_id: String,
    pub username: String,
    /// What the office directory calls them (directory sign-in).
    pub display_name: Option<String>,
    pub connected: bool,
}

/// An identity with what signing in by name needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub user_id: String,
    pub username: String,
    /// argon2id PHC string; `None` for a name without a password (and for a directory
    /// identity: the directory holds its password).
    pub password_hash: Option<String>,
    /// Signed in by the office directory, not by a name and password of its own.
    pub directory: bool,
    pub display_name: Option<String>,
}

/// A new identity and its first session.
#[derive(Debug, Clone, Default)]
pub struct NewUser {
    /// The secret; the store keeps only its hash.
    pub session_id: String,
    pub user_id: String,
    pub username: String,
    pub password_hash: Option<String>,
    /// Made by a directory sign-in, with the name the directory gives the person.
    pub directory: bool,
    pub display_name: Option<String>,
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

    /// From now on the office directory signs `user_id` in (a name of its own taken over by
    /// the directory person of that login name keeps its userID and history; its own password
    /// is dropped), under the name the directory gives them.
    async fn set_directory_identity(
        &self,
        user_id: &str,
        display_name: Option<&str>,
    ) -> StoreResult<()>;

    /// Every identity the directory signs in, for rechecking them against it.
    async fn directory_accounts(&self) -> StoreResult<Vec<Account>>;
}
