//! Full-text search in the SQLite store: an FTS5 index with the trigram tokenizer (it finds
//! parts of words, and text without spaces between words, case-insensitively), kept off the
//! path of a message.
//!
//! Indexing a message costs about half as much CPU as storing it, so the writer does it when
//! it has had nothing to write for a moment (and, should a backlog ever reach
//! [`FORCE_LAG`], a step after every commit): a committed message is acked and delivered at
//! the same speed as without search, and a burst is indexed once it is over.
//! `search_index.indexed_up_to` says how far the index reaches; a search reads the index up
//! to there and the newer messages of the person's own conversations directly, so its answer
//! is the same whether indexing has caught up or not.

use std::collections::HashSet;

use natter_protocol::Message;
use rusqlite::{Connection, params};

use super::conversation_index::Reader;
use super::rows::{
    ConversationColumns, message_columns_of, message_from_row, message_from_row_offset,
};

/// Messages indexed in one step of the writer.
pub(super) const INDEX_CHUNK: i64 = 64;
/// Behind by more than this, the writer indexes a step after every commit, busy or not: the
/// newer messages a search reads directly stay bounded (and catching up, about 15 s).
pub(super) const FORCE_LAG: i64 = 1_000_000;
/// Matches read from the index before a search falls back to reading the person's own
/// conversations: a frequent word matches many messages of other people's conversations,
/// and each costs a row lookup to be told apart.
const INDEX_ROWS_EXAMINED: i64 = 2_000;

/// Indexes the messages with ids in `(from, to]` and records `to`; one transaction.
pub(super) fn index_range(conn: &Connection, from: i64, to: i64) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT INTO messages_fts (rowid, content) \
         SELECT id, content FROM messages WHERE id > ?1 AND id <= ?2",
    )?
    .execute(params![from, to])?;
    conn.prepare_cached("UPDATE search_index SET indexed_up_to = ?1")?
        .execute(params![to])?;
    Ok(())
}

/// How far the index reaches, as recorded.
pub(super) fn indexed_up_to(conn: &Connection) -> rusqlite::Result<i64> {
    conn.query_row("SELECT indexed_up_to FROM search_index", [], |r| r.get(0))
}

/// What to look for, where, and how much.
pub(super) struct Query<'a> {
    /// As typed (at least three characters).
    pub text: &'a str,
    /// The conversations to search in: all of the person's, or the one asked for.
    pub conversations: &'a [ConversationColumns],
    pub limit: usize,
    /// The newest message id the index holds.
    pub indexed_up_to: i64,
}

/// Matches newest first, at most `limit`.
pub(super) fn find(reader: &Reader<'_>, q: &Query<'_>) -> rusqlite::Result<Vec<Message>> {
    let conn = reader.conn();
    let needle = q.text.to_lowercase();
    // Newer than the index: read directly.
    let mut found = scan_own(reader, q, &needle, q.indexed_up_to, i64::MAX)?;
    if found.len() >= q.limit {
        return Ok(found);
    }
    // The index, newest first, kept when in one of the conversations.
    let wanted: HashSet<&ConversationColumns> = q.conversations.iter().collect();
    let mut examined = 0i64;
    let mut oldest_examined = q.indexed_up_to + 1;
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT m.user_lo, m.user_hi, {} FROM (SELECT rowid FROM messages_fts \
         WHERE messages_fts MATCH ?1 AND rowid <= ?2 ORDER BY rowid DESC LIMIT ?3) f \
         JOIN messages m ON m.id = f.rowid ORDER BY m.id DESC",
        message_columns_of("m")
    ))?;
    let mut rows = stmt.query(params![
        fts_phrase(q.text),
        q.indexed_up_to,
        INDEX_ROWS_EXAMINED
    ])?;
    while let Some(row) = rows.next()? {
        examined += 1;
        let columns = ConversationColumns {
            lo: row.get(0)?,
            hi: row.get(1)?,
        };
        let message = message_from_row_offset(row, 2)?;
        oldest_examined = oldest_examined.min(message.id as i64);
        if found.len() < q.limit && wanted.contains(&columns) {
            found.push(message);
        }
    }
    // The index had more matches than were read: the rest of the person's history, below
    // the oldest read, directly.
    if examined == INDEX_ROWS_EXAMINED && found.len() < q.limit {
        let rest = Query {
            limit: q.limit - found.len(),
            ..*q
        };
        found.extend(scan_own(reader, &rest, &needle, 0, oldest_examined)?);
    }
    found.sort_unstable_by_key(|m| std::cmp::Reverse(m.id));
    found.truncate(q.limit);
    Ok(found)
}

/// The person's conversations' messages with ids in `(above, below)` whose text holds
/// `needle` (lowercase), newest first, at most `q.limit`.
fn scan_own(
    reader: &Reader<'_>,
    q: &Query<'_>,
    needle: &str,
    above: i64,
    below: i64,
) -> rusqlite::Result<Vec<Message>> {
    let mut found = Vec::new();
    for c in q.conversations {
        let mut here = 0;
        reader.visit(c, above, below, |row| {
            let content: String = row.get(1)?;
            if content.to_lowercase().contains(needle) {
                found.push(message_from_row(row)?);
                here += 1;
            }
            Ok(here < q.limit)
        })?;
    }
    found.sort_unstable_by_key(|m| std::cmp::Reverse(m.id));
    found.truncate(q.limit);
    Ok(found)
}

/// A search as an FTS5 query: one quoted string, so nothing in it is query syntax.
fn fts_phrase(query: &str) -> String {
    format!("\"{}\"", query.replace('"', "\"\""))
}
