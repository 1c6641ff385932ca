//! What the tables written in bulk share (the conversation index, the `clientId`s): entries of
//! new messages wait in memory, grouped by the table's key ([`Pending`]), and are merged into
//! the table in key order, a key range per step, each step its own transaction: each page of
//! the table is then written once per pass for all the entries that fell on it, instead of
//! once per message.
//!
//! A table's `*_merged.up_to` says how far it reaches for certain; a pass that has been over
//! every key moves it. What is newer is merged again at start ([`Table::recover`]), so a crash
//! or a restore loses nothing.

use std::borrow::Borrow;
use std::collections::BTreeMap;
use std::ops::Bound;

use rusqlite::{Connection, params};

/// The entries of one key, as [`Pending`] keeps them.
pub(super) trait Group: Default {
    fn len(&self) -> usize;
    /// The message ids of the entries.
    fn ids(&self) -> impl Iterator<Item = i64> + '_;
    /// Puts back `older`, taken by a step that failed, before what came since.
    fn put_back(&mut self, older: Self);
}

/// Ids in ascending order (the conversation index).
impl Group for Vec<i64> {
    fn len(&self) -> usize {
        self.len()
    }

    fn ids(&self) -> impl Iterator<Item = i64> + '_ {
        self.iter().copied()
    }

    fn put_back(&mut self, older: Self) {
        let newer = std::mem::replace(self, older);
        self.extend(newer);
    }
}

/// An id per secondary key (the `clientId`s).
impl Group for BTreeMap<String, i64> {
    fn len(&self) -> usize {
        self.len()
    }

    fn ids(&self) -> impl Iterator<Item = i64> + '_ {
        self.values().copied()
    }

    fn put_back(&mut self, older: Self) {
        for (k, id) in older {
            self.entry(k).or_insert(id);
        }
    }
}

/// A merge step's entries, in key order.
pub(super) type Step<K, G> = Vec<(K, G)>;

/// The entries not yet in their table, by key.
#[derive(Debug)]
pub(super) struct Pending<K, G> {
    groups: BTreeMap<K, G>,
    len: usize,
    /// The key the last step ended with; the next one starts after it.
    cursor: Option<K>,
    /// The newest id committed.
    newest: i64,
    /// The newest id committed when the current pass began: once the pass has been over every
    /// key, every id up to it is merged.
    pass_began_at: i64,
}

impl<K: Ord + Clone, G: Group> Pending<K, G> {
    /// Starts with everything merged up to `newest` (see [`Table::recover`]).
    pub(super) fn new(newest: i64) -> Self {
        Self {
            groups: BTreeMap::new(),
            len: 0,
            cursor: None,
            newest,
            pass_began_at: newest,
        }
    }

    pub(super) fn len(&self) -> usize {
        self.len
    }

    pub(super) fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub(super) fn get<Q: Ord + ?Sized>(&self, key: &Q) -> Option<&G>
    where
        K: Borrow<Q>,
    {
        self.groups.get(key)
    }

    /// Adds to `key`'s group; `add` says whether that made one entry more.
    pub(super) fn add(&mut self, key: K, add: impl FnOnce(&mut G) -> bool) {
        if add(self.groups.entry(key).or_default()) {
            self.len += 1;
        }
    }

    /// Takes out of `key`'s group; `remove` says whether that made one entry fewer.
    pub(super) fn remove(&mut self, key: &K, remove: impl FnOnce(&mut G) -> bool) {
        let Some(group) = self.groups.get_mut(key) else {
            return;
        };
        if remove(group) {
            self.len -= 1;
        }
        if group.len() == 0 {
            self.groups.remove(key);
        }
    }

    /// `id` is committed: the next pass that ends covers it.
    pub(super) fn committed(&mut self, id: i64) {
        self.newest = self.newest.max(id);
    }

    /// Takes the next keys after the cursor, in key order, until `at_least` entries (or the
    /// end of the keys). The second value: how far the table then reaches for certain, if the
    /// step finished a pass.
    pub(super) fn take_step(&mut self, at_least: usize) -> (Step<K, G>, Option<i64>) {
        let start = match &self.cursor {
            Some(k) => Bound::Excluded(k.clone()),
            None => Bound::Unbounded,
        };
        let mut keys = Vec::new();
        let mut taken = 0;
        let mut range = self.groups.range((start, Bound::Unbounded));
        let reached_end = loop {
            match range.next() {
                Some((k, group)) if taken < at_least => {
                    taken += group.len();
                    keys.push(k.clone());
                }
                Some(_) => break false,
                None => break true,
            }
        };
        let step: Step<K, G> = keys
            .into_iter()
            .filter_map(|k| self.groups.remove_entry(&k))
            .collect();
        self.len -= taken;
        self.cursor = step.last().map(|(k, _)| k.clone());
        let up_to = if self.groups.is_empty() {
            Some(self.newest)
        } else if reached_end {
            Some(self.pass_began_at)
        } else {
            None
        };
        if up_to.is_some() {
            self.cursor = None;
            self.pass_began_at = self.newest;
        }
        (step, up_to)
    }

    /// Puts a step back after its transaction failed.
    pub(super) fn restore(&mut self, step: Step<K, G>) {
        for (k, group) in step {
            self.len += group.len();
            self.groups.entry(k).or_default().put_back(group);
        }
        self.cursor = None;
    }

    /// One merge step into `table`, in a transaction of its own on `conn`. How many entries
    /// were merged.
    pub(super) fn merge_step(
        &mut self,
        conn: &Connection,
        table: &Table,
        at_least: usize,
    ) -> rusqlite::Result<usize> {
        let (step, up_to) = self.take_step(at_least);
        let result = table.write(conn, step.iter().flat_map(|(_, g)| g.ids()), up_to);
        if result.is_err() {
            self.restore(step);
        }
        result
    }
}

/// A table written in bulk, as SQL.
pub(super) struct Table {
    /// For the log.
    pub(super) name: &'static str,
    /// Writes the entry of message `?1`, from its row: a message deleted since it was written
    /// has none.
    pub(super) insert_one: &'static str,
    /// Writes the entries of every message newer than `up_to`, in key order.
    pub(super) insert_newer: &'static str,
    /// Sets `up_to` to `?1`.
    pub(super) mark: &'static str,
}

impl Table {
    fn write(
        &self,
        conn: &Connection,
        ids: impl Iterator<Item = i64>,
        up_to: Option<i64>,
    ) -> rusqlite::Result<usize> {
        let tx = conn.unchecked_transaction()?;
        let mut insert = tx.prepare_cached(self.insert_one)?;
        let mut merged = 0;
        for id in ids {
            merged += insert.execute(params![id])?;
        }
        drop(insert);
        if let Some(up_to) = up_to {
            tx.prepare_cached(self.mark)?.execute(params![up_to])?;
        }
        tx.commit()?;
        Ok(merged)
    }

    /// At start: merges what is newer than `up_to` (left in memory by a crash, or newer than
    /// a backup's last pass). The newest id, where [`Pending`] starts.
    pub(super) fn recover(&self, conn: &Connection) -> rusqlite::Result<i64> {
        let tx = conn.unchecked_transaction()?;
        let newest: i64 = tx.query_row("SELECT coalesce(max(id), 0) FROM messages", [], |r| {
            r.get(0)
        })?;
        let merged = tx.execute(self.insert_newer, [])?;
        tx.execute(self.mark, params![newest])?;
        tx.commit()?;
        if merged > 0 {
            tracing::info!(
                merged,
                table = self.name,
                "merged the messages of the last run"
            );
        }
        Ok(newest)
    }
}
