//! The people the directory signed in, checked against it again: every
//! `--ldap-recheck-minutes` and on `natter-server admin recheck`. Whoever is gone from it, out
//! of the server's group or disabled loses every session, and their sockets are disconnected
//! on every node, as `admin revoke` does. A directory that does not answer revokes nobody.

use serde::{Deserialize, Serialize};
use socketioxide::SocketIo;
use socketioxide::adapter::Adapter;

use super::{DirectoryError, Standing};
use crate::ServerState;
use crate::store::StoreError;

/// What a recheck did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    /// Directory people looked up.
    pub checked: usize,
    /// Who lost their sessions, and why.
    pub revoked: Vec<Revoked>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Revoked {
    pub username: String,
    pub user_id: String,
    pub sessions: usize,
    pub reason: String,
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "checked {} directory people, revoked {}",
            self.checked,
            self.revoked.len()
        )?;
        for r in &self.revoked {
            write!(f, "; {} ({}): {}", r.username, r.user_id, r.reason)?;
        }
        Ok(())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RecheckError {
    #[error("no directory: the server runs without --ldap-url")]
    NoDirectory,
    #[error(transparent)]
    Directory(#[from] DirectoryError),
    #[error("store: {0}")]
    Store(#[from] StoreError),
}

/// Checks every directory identity that holds a session.
pub async fn recheck<A: Adapter>(
    app: &ServerState,
    io: &SocketIo<A>,
) -> Result<Summary, RecheckError> {
    let directory = app.directory.as_ref().ok_or(RecheckError::NoDirectory)?;
    let sessions = app.store.session_counts().await?;
    let people: Vec<_> = app
        .store
        .directory_accounts()
        .await?
        .into_iter()
        .filter(|a| sessions.contains_key(&a.user_id))
        .collect();
    let mut summary = Summary::default();
    if people.is_empty() {
        return Ok(summary);
    }
    // Everyone's standing first, on one connection: a directory that fails halfway revokes
    // nobody.
    let mut conn = directory.open().await?;
    let mut standings = Vec::with_capacity(people.len());
    for account in people {
        match directory.standing_on(&mut conn, &account.username).await {
            Ok(s) => standings.push((account, s)),
            Err(e) => {
                conn.close().await;
                return Err(e.into());
            }
        }
    }
    conn.close().await;
    summary.checked = standings.len();
    for (account, standing) in standings {
        if let Standing::Allowed(person) = &standing {
            if person.display_name != account.display_name {
                app.store
                    .set_directory_identity(&account.user_id, person.display_name.as_deref())
                    .await?;
            }
            continue;
        }
        let reason = standing.refusal().unwrap_or_default().to_owned();
        let n = app.store.revoke_user_sessions(&account.user_id).await?;
        if let Err(e) = io.to(account.user_id.clone()).disconnect().await {
            tracing::warn!(user = %account.user_id, error = ?e, "could not disconnect a revoked user");
        }
        tracing::info!(user = %account.user_id, name = %account.username, %reason, sessions = n,
            "directory recheck revoked a user's sessions");
        app.audit.record(
            "revoke",
            serde_json::json!({"user": account.username, "user_id": account.user_id,
                "sessions": n, "reason": reason, "by": "directory recheck"}),
        );
        summary.revoked.push(Revoked {
            username: account.username,
            user_id: account.user_id,
            sessions: n,
            reason,
        });
    }
    Ok(summary)
}

/// Rechecks every `--ldap-recheck-minutes` for the process's life.
pub fn spawn<A: Adapter>(app: ServerState, io: SocketIo<A>) {
    let Some(every) = app.directory.as_ref().map(|d| d.config().recheck_every) else {
        return;
    };
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        // The first tick is immediate: the first recheck is one period after start.
        tick.tick().await;
        loop {
            tick.tick().await;
            match recheck(&app, &io).await {
                Ok(summary) => tracing::info!(%summary, "directory recheck"),
                Err(e) => tracing::warn!(error = %e, "directory recheck skipped"),
            }
        }
    });
}
