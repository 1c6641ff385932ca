//! Retention (`--retention-days N`): messages older than N days are removed for good, at start
//! and then every hour, with their files once no message carries them and their search
//! entries; replies to them then say the original is gone. Groups stay.

use std::time::Duration;

use crate::ServerState;
use crate::store::{Expired, StoreResult};

/// How often retention runs.
pub const EVERY: Duration = Duration::from_secs(3600);

const DAY_MS: i64 = 24 * 3600 * 1000;

/// One run: everything stored before `days` ago goes.
pub async fn run_once(app: &ServerState, days: u32) -> StoreResult<Expired> {
    let before = natter_protocol::now_ms() - i64::from(days) * DAY_MS;
    let expired = app.store.expire(before).await?;
    for file in &expired.unused_files {
        app.files.remove(file).await;
    }
    app.audit.record(
        "retention",
        serde_json::json!({"days": days, "before_ms": before, "messages": expired.messages,
            "files": expired.unused_files.len()}),
    );
    if expired.messages > 0 {
        tracing::info!(
            messages = expired.messages,
            files = expired.unused_files.len(),
            days,
            "retention removed old messages"
        );
    }
    Ok(expired)
}

/// Runs retention for the process's life: now, then every [`EVERY`].
pub fn spawn(app: ServerState, days: u32) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if let Err(e) = run_once(&app, days).await {
                tracing::error!(error = %e, "retention failed; trying again in an hour");
            }
        }
    });
}
