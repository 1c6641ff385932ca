//! The schema: numbered migrations (`migrations/NNN_*.sql`), applied in order at start;
//! `PRAGMA user_version` records how many ran.

use rusqlite::Connection;

use crate::store::{StoreError, StoreResult};

/// Schema versions, applied in order.
pub(super) const MIGRATIONS: &[&str] = &[
    include_str!("migrations/001_first_schema.sql"),
    include_str!("migrations/002_conversations_in_memory.sql"),
    include_str!("migrations/003_sessions_and_passwords.sql"),
    include_str!("migrations/004_read_markers.sql"),
    include_str!("migrations/005_groups_files_search.sql"),
    include_str!("migrations/006_everyday_messaging.sql"),
    include_str!("migrations/007_directory_sign_in.sql"),
    include_str!("migrations/008_operations.sql"),
    include_str!("migrations/009_conversation_index_in_bulk.sql"),
    include_str!("migrations/010_client_ids_in_bulk.sql"),
    include_str!("migrations/011_message_ids_never_reused.sql"),
];

pub(super) fn migrate(conn: &mut Connection) -> StoreResult<()> {
    let current: usize = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    if current > MIGRATIONS.len() {
        return Err(StoreError::Schema(format!(
            "the database is at schema version {current}, newer than this natter-server knows \
             ({}); use a newer natter-server",
            MIGRATIONS.len()
        )));
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(current) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", i + 1)?;
        tx.commit()?;
        tracing::info!(version = i + 1, "applied database migration");
    }
    Ok(())
}
