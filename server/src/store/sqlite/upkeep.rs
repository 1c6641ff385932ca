//! Snapshots and retention in the SQLite store. A snapshot is `VACUUM INTO` on a connection of
//! its own: one read transaction, so the copy is consistent while the writer goes on
//! committing beside it (WAL). Retention deletes in chunks, each its own transaction in the
//! writer's queue, so messages keep being stored between two chunks.

use std::path::Path;

use async_trait::async_trait;
use rusqlite::{Connection, OpenFlags, params};

use super::SqliteStore;
use crate::store::{Counts, Expired, StoreError, StoreResult, Upkeep};

/// Messages removed per transaction.
const CHUNK: u64 = 1000;

fn count(conn: &Connection, table: &str) -> rusqlite::Result<u64> {
    let n: i64 = conn.query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))?;
    Ok(n.max(0) as u64)
}

/// What the database at `path` holds.
pub(super) fn counts(conn: &Connection) -> rusqlite::Result<Counts> {
    Ok(Counts {
        users: count(conn, "users")?,
        sessions: count(conn, "sessions")?,
        messages: count(conn, "messages")?,
        groups: count(conn, "groups")?,
        files: count(conn, "files")?,
    })
}

/// Removes up to [`CHUNK`] messages stored before `before_ms`, oldest first, with what points
/// at them.
fn expire_chunk(conn: &Connection, before_ms: i64) -> StoreResult<Expired> {
    let rows: Vec<(i64, Option<String>)> = conn
        .prepare_cached(
            "SELECT id, attachment_id FROM messages WHERE ts < ?1 ORDER BY id LIMIT ?2",
        )?
        .query_map(params![before_ms, CHUNK as i64], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })?
        .collect::<rusqlite::Result<_>>()?;
    if rows.is_empty() {
        return Ok(Expired::default());
    }
    let ids = serde_json::to_string(&rows.iter().map(|(id, _)| *id).collect::<Vec<_>>())
        .map_err(|e| StoreError::Commit(e.to_string()))?;
    conn.prepare_cached(
        "DELETE FROM mentions WHERE message_id IN (SELECT value FROM json_each(?1))",
    )?
    .execute(params![ids])?;
    // Replies say their original is gone, as after a deletion.
    conn.prepare_cached(
        "UPDATE messages SET reply_excerpt = NULL \
         WHERE reply_to IN (SELECT value FROM json_each(?1))",
    )?
    .execute(params![ids])?;
    // The search index follows (the delete trigger).
    conn.prepare_cached("DELETE FROM messages WHERE id IN (SELECT value FROM json_each(?1))")?
        .execute(params![ids])?;
    let mut unused_files = Vec::new();
    let mut carried = conn.prepare_cached("SELECT 1 FROM messages WHERE attachment_id = ?1")?;
    let mut forget = conn.prepare_cached("DELETE FROM files WHERE file_id = ?1")?;
    let mut files: Vec<&String> = rows.iter().filter_map(|(_, f)| f.as_ref()).collect();
    files.sort();
    files.dedup();
    for file in files {
        if !carried.exists(params![file])? {
            forget.execute(params![file])?;
            unused_files.push(file.clone());
        }
    }
    Ok(Expired {
        messages: rows.len() as u64,
        unused_files,
    })
}

#[async_trait]
impl Upkeep for SqliteStore {
    async fn snapshot(&self, into: &Path) -> StoreResult<Counts> {
        let (db, into) = (self.dir.join("natter.db"), into.to_owned());
        tokio::task::spawn_blocking(move || {
            let conn = Connection::open_with_flags(
                &db,
                OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
            )?;
            conn.busy_timeout(std::time::Duration::from_secs(5))?;
            let target = into
                .to_str()
                .ok_or_else(|| StoreError::Open(format!("{} is not UTF-8", into.display())))?;
            conn.execute("VACUUM INTO ?1", params![target])?;
            let copy = Connection::open_with_flags(&into, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
            Ok(counts(&copy)?)
        })
        .await?
    }

    async fn expire(&self, before_ms: i64) -> StoreResult<Expired> {
        let mut total = Expired::default();
        loop {
            let chunk = self.run(move |conn| expire_chunk(conn, before_ms)).await?;
            total.messages += chunk.messages;
            total.unused_files.extend(chunk.unused_files);
            if chunk.messages < CHUNK {
                return Ok(total);
            }
        }
    }
}
