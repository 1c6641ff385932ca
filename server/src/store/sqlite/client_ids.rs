//! The `clientId` index: which message a sender's `clientId` names, written in bulk.
//!
//! Every desktop message carries a `clientId` (random) so that a retry is acked again instead
//! of stored twice. As a unique index on `messages`, each such message rewrote one random page
//! of it: 4 KiB of WAL per message, copied again by the checkpoint, as the conversation index
//! did ([`super::conversation_index`]). Only the writer looks `clientId`s up, so it keeps the
//! entries of new messages in memory ([`ClientIds`]) and merges them into `client_ids` in key
//! order, a range of senders at a time: each page of the table is written once per pass for
//! all the entries that fell on it.
//!
//! `client_ids_merged.up_to` says how far the table reaches for certain; what is newer is
//! merged again at start ([`recover`]), so a crash or a restore forgets no `clientId`. The
//! mechanics: [`super::merged_in_bulk`].

use std::collections::BTreeMap;

use rusqlite::{Connection, OptionalExtension, params};

use super::merged_in_bulk::{Pending, Table};

/// Entries held before the writer merges, under load (about 100 bytes each).
pub(super) const PENDING_TARGET: usize = if cfg!(test) { 64 } else { 32 * 1024 };
/// Entries merged in one step (whole senders: a step may take a few more).
pub(super) const STEP: usize = if cfg!(test) { 16 } else { 1024 };

const TABLE: Table = Table {
    name: "client_ids",
    insert_one: "INSERT OR REPLACE INTO client_ids (sender, client_id, id) \
                 SELECT sender, client_id, id FROM messages \
                 WHERE id = ?1 AND client_id IS NOT NULL",
    insert_newer: "INSERT OR REPLACE INTO client_ids (sender, client_id, id) \
                   SELECT sender, client_id, id FROM messages \
                   WHERE id > (SELECT up_to FROM client_ids_merged) AND client_id IS NOT NULL \
                   ORDER BY sender, client_id",
    mark: "UPDATE client_ids_merged SET up_to = ?1",
};

/// The `clientId`s of messages written and not yet in `client_ids`, per sender, per
/// `clientId`, the message's id; the writer's own.
#[derive(Debug)]
pub(super) struct ClientIds {
    pending: Pending<String, BTreeMap<String, i64>>,
    /// Written by the transaction under way: taken out again if it rolls back.
    uncommitted: Vec<(String, String, i64)>,
}

impl ClientIds {
    /// Starts with everything merged up to `newest` (see [`recover`]).
    pub(super) fn new(newest: i64) -> Self {
        Self {
            pending: Pending::new(newest),
            uncommitted: Vec::new(),
        }
    }

    pub(super) fn len(&self) -> usize {
        self.pending.len()
    }

    pub(super) fn is_empty(&self) -> bool {
        self.pending.is_empty()
    }

    /// The id of the message `sender` sent with `client_id`, if one was written (it may have
    /// been deleted since: the caller reads it).
    pub(super) fn find(
        &self,
        conn: &Connection,
        sender: &str,
        client_id: &str,
    ) -> rusqlite::Result<Option<i64>> {
        if let Some(id) = self.pending.get(sender).and_then(|ids| ids.get(client_id)) {
            return Ok(Some(*id));
        }
        conn.prepare_cached("SELECT id FROM client_ids WHERE sender = ?1 AND client_id = ?2")?
            .query_row(params![sender, client_id], |r| r.get(0))
            .optional()
    }

    /// A message written by the transaction under way.
    pub(super) fn insert(&mut self, sender: &str, client_id: &str, id: i64) {
        self.pending.add(sender.to_owned(), |ids| {
            ids.insert(client_id.to_owned(), id).is_none()
        });
        self.uncommitted
            .push((sender.to_owned(), client_id.to_owned(), id));
    }

    /// The transaction under way committed.
    pub(super) fn committed(&mut self) {
        for (_, _, id) in self.uncommitted.drain(..) {
            self.pending.committed(id);
        }
    }

    /// The transaction under way rolled back: its entries were never written.
    pub(super) fn rolled_back(&mut self) {
        for (sender, client_id, id) in std::mem::take(&mut self.uncommitted) {
            self.pending.remove(&sender, |ids| {
                ids.get(&client_id) == Some(&id) && ids.remove(&client_id).is_some()
            });
        }
    }

    /// One merge step, in a transaction of its own on the writer's connection, between two of
    /// its transactions. How many entries were merged.
    pub(super) fn merge_step(&mut self, conn: &Connection) -> rusqlite::Result<usize> {
        self.pending.merge_step(conn, &TABLE, STEP)
    }
}

/// At start: merges what is newer than `client_ids_merged.up_to` (left in memory by a crash,
/// or newer than a backup's last pass), in key order. The newest id, where [`ClientIds`]
/// starts.
pub(super) fn recover(conn: &Connection) -> rusqlite::Result<i64> {
    TABLE.recover(conn)
}
