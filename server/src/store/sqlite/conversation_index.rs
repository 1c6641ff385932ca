//! The conversation index: which messages belong to which conversation, written in bulk.
//!
//! A message is appended to `messages` (its pages are at the end of the file), but its entry
//! in the conversation index, keyed by conversation, lands on a random page: written with the
//! message, every message cost one 4 KiB page of WAL and its copy by the checkpoint. So the
//! writer keeps the entries of committed messages in memory first (the [`Tail`]) and merges
//! them into `conversation_index` a key range at a time, in key order: each page of the index
//! is then written once per pass for all the entries that fell on it.
//!
//! Readers see the index and the tail together, disjoint: a reader copies the tail of the
//! conversations it reads and starts its snapshot under the tail's lock, and a merge step
//! commits and takes its entries out of the tail under the same lock. For every conversation
//! the tail's ids are newer than the index's (a step takes all of a conversation's entries).
//!
//! `conversation_index_merged.up_to` says how far the index reaches for certain; what is newer
//! is merged again at start ([`recover`]), so a crash or a restore loses nothing. The
//! mechanics are shared with the `clientId`s: [`super::merged_in_bulk`].

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use natter_protocol::Message;
use rusqlite::{Connection, Row, params};

use super::merged_in_bulk::{Pending, Table};
use super::rows::{ConversationColumns, MESSAGE_COLUMNS, message_columns_of, message_from_row};

/// Entries the tail holds before the writer merges, under load. The larger, the fewer pages a
/// pass writes per message (a pass writes about `index pages × step / TAIL_TARGET` pages per
/// step); 32k entries take about 5 MB of memory.
pub(super) const TAIL_TARGET: usize = if cfg!(test) { 64 } else { 32 * 1024 };
/// Entries merged in one step (whole conversations: a step may take a few more); about a
/// millisecond of the writer's time.
pub(super) const STEP: usize = if cfg!(test) { 16 } else { 1024 };

/// The entries of committed messages not yet in `conversation_index`: per conversation, its
/// ids in ascending order.
#[derive(Debug)]
pub(super) struct Tail(Pending<ConversationColumns, Vec<i64>>);

pub(super) type SharedTail = Arc<Mutex<Tail>>;

const TABLE: Table = Table {
    name: "conversation_index",
    insert_one: "INSERT OR IGNORE INTO conversation_index (user_lo, user_hi, id) \
                 SELECT user_lo, user_hi, id FROM messages WHERE id = ?1",
    insert_newer: "INSERT OR IGNORE INTO conversation_index (user_lo, user_hi, id) \
                   SELECT user_lo, user_hi, id FROM messages \
                   WHERE id > (SELECT up_to FROM conversation_index_merged) \
                   ORDER BY user_lo, user_hi, id",
    mark: "UPDATE conversation_index_merged SET up_to = ?1",
};

impl Tail {
    /// Starts with everything merged up to `newest` (see [`recover`]).
    pub(super) fn new(newest: i64) -> Self {
        Self(Pending::new(newest))
    }

    /// A committed message's entry; ids come in ascending order (one writer, in commit order).
    pub(super) fn append(&mut self, conversation: ConversationColumns, id: i64) {
        self.0.add(conversation, |ids| {
            ids.push(id);
            true
        });
        self.0.committed(id);
    }

    pub(super) fn len(&self) -> usize {
        self.0.len()
    }

    pub(super) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// A copy of the tail of `conversations`, for a reader.
    fn view(&self, conversations: &[ConversationColumns]) -> View {
        View {
            tails: conversations
                .iter()
                .filter_map(|c| self.0.get(c).map(|ids| (c.clone(), ids.clone())))
                .collect(),
        }
    }
}

pub(super) fn lock(tail: &Mutex<Tail>) -> MutexGuard<'_, Tail> {
    // A poisoned lock only means a panic elsewhere mid-update of plain maps; keep serving.
    tail.lock().unwrap_or_else(|p| p.into_inner())
}

/// One merge step, in a transaction of its own that the writer runs (`conn` is its
/// connection). The tail's lock is held until the entries are committed and gone from it.
/// How many entries were merged.
pub(super) fn merge_step(conn: &Connection, tail: &Mutex<Tail>) -> rusqlite::Result<usize> {
    lock(tail).0.merge_step(conn, &TABLE, STEP)
}

/// At start: merges what is newer than `conversation_index_merged.up_to` (left in memory by
/// a crash, or newer than a backup's last pass), in key order. The newest id, where the tail
/// starts.
pub(super) fn recover(conn: &Connection) -> rusqlite::Result<i64> {
    TABLE.recover(conn)
}

/// Runs `read` on `conn` with the tails of `conversations` and a snapshot taken together.
pub(super) fn read_with<T>(
    conn: &Connection,
    tail: &Mutex<Tail>,
    conversations: &[ConversationColumns],
    read: impl FnOnce(&Reader<'_>) -> rusqlite::Result<T>,
) -> rusqlite::Result<T> {
    let tx = conn.unchecked_transaction()?;
    let view = {
        let tail = lock(tail);
        // The snapshot starts with the first read, here, while the tail cannot change.
        tx.query_row("SELECT up_to FROM conversation_index_merged", [], |r| {
            r.get::<_, i64>(0)
        })?;
        tail.view(conversations)
    };
    // Read-only: dropping the transaction ends it.
    read(&Reader { conn: &tx, view })
}

/// The tails a reader copied.
struct View {
    tails: HashMap<ConversationColumns, Vec<i64>>,
}

/// Whose messages a count takes.
#[derive(Debug, Clone, Copy)]
pub(super) enum Sender<'a> {
    Is(&'a str),
    IsNot(&'a str),
}

impl Sender<'_> {
    fn matches(self, sender: &str) -> bool {
        match self {
            Sender::Is(s) => sender == s,
            Sender::IsNot(s) => sender != s,
        }
    }
}

/// A conversation's messages as one reader sees them: its tail, then the index.
pub(super) struct Reader<'c> {
    conn: &'c Connection,
    view: View,
}

impl Reader<'_> {
    /// The connection, for reads of other tables in the same snapshot.
    pub(super) fn conn(&self) -> &Connection {
        self.conn
    }

    /// The tail's ids of `c` in `(above, below)`, newest first.
    fn tail_ids(&self, c: &ConversationColumns, above: i64, below: i64) -> Vec<i64> {
        self.view.tails.get(c).map_or_else(Vec::new, |ids| {
            ids.iter()
                .rev()
                .copied()
                .filter(|id| *id > above && *id < below)
                .collect()
        })
    }

    /// The messages of `c` with ids in `(above, below)`, newest first, each given to `visit`
    /// until it says stop (`false`).
    pub(super) fn visit(
        &self,
        c: &ConversationColumns,
        above: i64,
        below: i64,
        mut visit: impl FnMut(&Row<'_>) -> rusqlite::Result<bool>,
    ) -> rusqlite::Result<()> {
        let mut by_id = self.conn.prepare_cached(&format!(
            "SELECT {MESSAGE_COLUMNS} FROM messages WHERE id = ?1"
        ))?;
        for id in self.tail_ids(c, above, below) {
            let mut rows = by_id.query(params![id])?;
            if let Some(row) = rows.next()?
                && !visit(row)?
            {
                return Ok(());
            }
        }
        let mut indexed = self.conn.prepare_cached(&format!(
            "SELECT {} FROM conversation_index c CROSS JOIN messages m ON m.id = c.id \
             WHERE c.user_lo = ?1 AND c.user_hi = ?2 AND c.id > ?3 AND c.id < ?4 \
             ORDER BY c.id DESC",
            message_columns_of("m")
        ))?;
        let mut rows = indexed.query(params![c.lo, c.hi, above, below])?;
        while let Some(row) = rows.next()? {
            if !visit(row)? {
                break;
            }
        }
        Ok(())
    }

    /// The newest `limit` messages of `c` below `below`, oldest first.
    pub(super) fn newest(
        &self,
        c: &ConversationColumns,
        below: i64,
        limit: usize,
    ) -> rusqlite::Result<Vec<Message>> {
        let mut out = Vec::with_capacity(limit.min(256));
        if limit > 0 {
            self.visit(c, 0, below, |row| {
                out.push(message_from_row(row)?);
                Ok(out.len() < limit)
            })?;
        }
        out.reverse();
        Ok(out)
    }

    /// How many messages of `c` newer than `after` were sent by `sender` and are not
    /// deleted, counting no further than `cap`.
    pub(super) fn count_after(
        &self,
        c: &ConversationColumns,
        after: i64,
        sender: Sender<'_>,
        cap: i64,
    ) -> rusqlite::Result<i64> {
        let mut of_id = self
            .conn
            .prepare_cached("SELECT sender, deleted FROM messages WHERE id = ?1")?;
        let mut counted = 0;
        for id in self.tail_ids(c, after, i64::MAX) {
            if counted >= cap {
                return Ok(cap);
            }
            let mut rows = of_id.query(params![id])?;
            if let Some(row) = rows.next()?
                && sender.matches(&row.get::<_, String>(0)?)
                && !row.get::<_, bool>(1)?
            {
                counted += 1;
            }
        }
        let sql = match sender {
            Sender::Is(_) => {
                "SELECT count(*) FROM (SELECT 1 FROM conversation_index c \
                 CROSS JOIN messages m ON m.id = c.id \
                 WHERE c.user_lo = ?1 AND c.user_hi = ?2 AND c.id > ?3 \
                 AND m.sender = ?4 AND m.deleted = 0 LIMIT ?5)"
            }
            Sender::IsNot(_) => {
                "SELECT count(*) FROM (SELECT 1 FROM conversation_index c \
                 CROSS JOIN messages m ON m.id = c.id \
                 WHERE c.user_lo = ?1 AND c.user_hi = ?2 AND c.id > ?3 \
                 AND m.sender != ?4 AND m.deleted = 0 LIMIT ?5)"
            }
        };
        let (Sender::Is(who) | Sender::IsNot(who)) = sender;
        let indexed: i64 = self
            .conn
            .prepare_cached(sql)?
            .query_row(params![c.lo, c.hi, after, who, cap - counted], |r| r.get(0))?;
        Ok(counted + indexed)
    }
}
