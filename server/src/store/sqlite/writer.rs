//! The single writer thread: commits whatever is queued in one transaction (group commit),
//! replays a failed batch one write at a time, merges the indexes it keeps in memory
//! ([`conversation_index`], [`client_ids`]) and indexes for search when quiet.

use std::any::Any;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::mpsc;

use natter_protocol::Message;
use rusqlite::{Connection, OptionalExtension, params};
use tokio::sync::oneshot;

use super::changes;
use super::checkpoint::passive_checkpoint;
use super::client_ids::{self, ClientIds};
use super::conversation_index::{self, SharedTail, TAIL_TARGET};
use super::rows::{ConversationColumns, MESSAGE_COLUMNS, message_from_row, to_json_column};
use super::search;
use crate::store::{Conversation, Inserted, NewMessage, StoreError, StoreResult};

/// Most writes committed in one transaction.
pub(super) const MAX_BATCH: usize = 512;
/// How long the writer waits for more writes before committing a batch.
const LINGER: std::time::Duration = std::time::Duration::from_micros(200);
/// How long the writer must have had nothing to write before it indexes for search.
const QUIET_BEFORE_INDEXING: std::time::Duration = std::time::Duration::from_millis(20);

/// How long background work (indexing, merging) waits after it failed or the disk was full.
const BACKGROUND_PAUSE: std::time::Duration = std::time::Duration::from_secs(60);

/// What a [`WriteOp::Run`] answers: the caller knows its type.
pub(super) type Answer = Box<dyn Any + Send>;

/// A write on the database (the directory's tables, a change to a message): run in the
/// writer's transaction, replayed alone if its batch fails.
pub(super) type Write = Box<dyn Fn(&Connection) -> StoreResult<Answer> + Send>;

pub(super) enum WriteOp {
    Run {
        write: Write,
        reply: oneshot::Sender<StoreResult<Answer>>,
    },
    /// The hot path: typed, no closure.
    InsertMessage {
        message: NewMessage,
        reply: oneshot::Sender<StoreResult<Inserted>>,
    },
}

/// What the writer shares with the store and the checkpoint thread.
pub(super) struct Shared {
    pub(super) restart_due: Arc<AtomicBool>,
    pub(super) indexed: Arc<AtomicI64>,
    pub(super) newest: Arc<AtomicI64>,
    pub(super) tail: SharedTail,
}

/// The single writer: owns the read-write connection and commits queued writes in groups.
pub(super) struct Writer {
    conn: Connection,
    last_ts: i64,
    /// The id the next message gets (see `message_ids.rs`); one rolled back leaves a gap.
    next_id: i64,
    /// Set by the checkpoint thread when the WAL should restart.
    restart_due: Arc<AtomicBool>,
    /// How far the search index reaches, shared with searches.
    indexed: Arc<AtomicI64>,
    /// The newest message id written, shared with the store.
    newest: Arc<AtomicI64>,
    /// After an indexing error: no more tries until then.
    index_paused_until: Option<std::time::Instant>,
    /// Committed messages' conversation index entries, merged in bulk.
    tail: SharedTail,
    /// The entries of the transaction under way: into the tail once it commits.
    uncommitted: Vec<(ConversationColumns, i64)>,
    /// The `clientId`s of messages not yet in `client_ids`, merged in bulk.
    client_ids: ClientIds,
    /// After a merge error: no more tries until then.
    merge_paused_until: Option<std::time::Instant>,
}

impl Writer {
    pub(super) fn new(
        conn: Connection,
        shared: Shared,
        client_ids: ClientIds,
        next_id: i64,
    ) -> Self {
        Self {
            conn,
            last_ts: 0,
            next_id,
            restart_due: shared.restart_due,
            indexed: shared.indexed,
            newest: shared.newest,
            index_paused_until: None,
            tail: shared.tail,
            uncommitted: Vec::new(),
            client_ids,
            merge_paused_until: None,
        }
    }

    /// The next write to commit; while none comes, the writer merges the indexes it keeps in
    /// memory and indexes messages for search. Only after a quiet moment
    /// ([`QUIET_BEFORE_INDEXING`]): under steady traffic the core is shared with the sockets,
    /// and indexing as soon as the queue is empty for an instant took the CPU they needed
    /// (20k msgs/s on one core went from p99 33 ms to 945 ms). `None` once the store is
    /// dropped.
    fn next_write(&mut self, rx: &mpsc::Receiver<WriteOp>) -> Option<WriteOp> {
        if !self.background_due() {
            return rx.recv().ok();
        }
        match rx.recv_timeout(QUIET_BEFORE_INDEXING) {
            Ok(op) => return Some(op),
            Err(mpsc::RecvTimeoutError::Disconnected) => return None,
            Err(mpsc::RecvTimeoutError::Timeout) => {}
        }
        // Quiet: merge, then index, step by step, looking for a write between steps (one step
        // is about a millisecond).
        loop {
            if self.merge_due() {
                self.merge_step();
            } else {
                self.index_step();
            }
            if !self.background_due() {
                return rx.recv().ok();
            }
            match rx.try_recv() {
                Ok(op) => return Some(op),
                Err(mpsc::TryRecvError::Empty) => {}
                Err(mpsc::TryRecvError::Disconnected) => return None,
            }
        }
    }

    fn background_due(&self) -> bool {
        self.merge_due() || self.index_lag() > 0
    }

    /// Entries waiting in memory for either index, unless merging is paused after an error.
    fn merge_due(&self) -> bool {
        let paused = self
            .merge_paused_until
            .is_some_and(|until| std::time::Instant::now() < until);
        !paused && (!conversation_index::lock(&self.tail).is_empty() || !self.client_ids.is_empty())
    }

    /// One step of merging: the conversation index's tail first, then the `clientId`s.
    fn merge_step(&mut self) {
        if conversation_index::lock(&self.tail).is_empty() {
            self.merge_client_ids_step();
        } else {
            self.merge_conversations_step();
        }
    }

    fn merge_conversations_step(&mut self) {
        let tail = self.tail.clone();
        let result = unsynced(&self.conn, |conn| {
            conversation_index::merge_step(conn, &tail)
        });
        self.merged(result, "conversation index");
    }

    fn merge_client_ids_step(&mut self) {
        let result = unsynced(&self.conn, |conn| self.client_ids.merge_step(conn));
        self.merged(result, "clientId index");
    }

    fn merged(&mut self, result: rusqlite::Result<usize>, index: &str) {
        if let Err(e) = result {
            tracing::warn!(error = %e, index, "merge failed; retrying in a minute");
            self.merge_paused_until = Some(std::time::Instant::now() + BACKGROUND_PAUSE);
        }
    }

    /// Messages written but not yet in the search index.
    fn index_lag(&self) -> i64 {
        let paused = self
            .index_paused_until
            .is_some_and(|until| std::time::Instant::now() < until);
        if paused {
            0
        } else {
            self.newest.load(Ordering::Relaxed) - self.indexed.load(Ordering::Relaxed)
        }
    }

    /// Indexes the next few messages, in a transaction of its own ([`Self::unsynced`]).
    fn index_step(&mut self) {
        let from = self.indexed.load(Ordering::Relaxed);
        let to = self
            .newest
            .load(Ordering::Relaxed)
            .min(from + search::INDEX_CHUNK);
        let result = unsynced(&self.conn, |conn| {
            let tx = conn.unchecked_transaction()?;
            search::index_range(&tx, from, to)?;
            tx.commit()
        });
        match result {
            Ok(()) => self.indexed.store(to, Ordering::Relaxed),
            Err(e) => {
                tracing::warn!(error = %e, "search indexing failed; retrying in a minute");
                self.index_paused_until = Some(std::time::Instant::now() + BACKGROUND_PAUSE);
            }
        }
    }

    /// The WAL restarts from its beginning only if, when a write transaction starts, every
    /// frame has been checkpointed. Under a steady stream of messages the checkpoint thread
    /// never catches up with the writer (the WAL grew to 1.4 GB in 10 s at 10k msgs/s) and
    /// every commit pays for growing the file. So the writer, between two transactions, copies
    /// the few frames written since the checkpoint thread's last pass.
    pub(super) fn finish_checkpoint(&mut self) {
        if self.restart_due.swap(false, Ordering::Relaxed)
            && let Err(e) = passive_checkpoint(&self.conn)
        {
            tracing::warn!(error = %e, "WAL checkpoint failed");
        }
    }

    pub(super) fn run(mut self, rx: mpsc::Receiver<WriteOp>) {
        let mut batch = Vec::with_capacity(MAX_BATCH);
        let mut busy = false;
        loop {
            let Some(first) = self.next_write(&rx) else {
                break;
            };
            batch.push(first);
            gather(&mut batch, &rx, busy);
            busy = batch.len() > 1;
            self.finish_checkpoint();
            self.commit_batch(&mut batch);
            // Under load, an index is merged once what waits for it is large enough that a
            // step writes few pages per entry.
            while conversation_index::lock(&self.tail).len() >= TAIL_TARGET && self.merge_due() {
                self.merge_conversations_step();
            }
            while self.client_ids.len() >= client_ids::PENDING_TARGET && self.merge_due() {
                self.merge_client_ids_step();
            }
            // Never idle under sustained load: the index must not fall behind for good.
            if self.index_lag() > search::FORCE_LAG {
                self.index_step();
            }
        }
        tracing::debug!("sqlite writer stopped");
    }

    fn commit_batch(&mut self, batch: &mut Vec<WriteOp>) {
        let outcome = self.apply_all(batch);
        match outcome {
            Ok(results) => {
                for (op, result) in batch.drain(..).zip(results) {
                    op.reply(result);
                }
            }
            Err(e) => {
                tracing::error!(error = %e, ops = batch.len(), "commit failed");
                let msg = e.to_string();
                for op in batch.drain(..) {
                    op.reply(Err(StoreError::Commit(msg.clone())));
                }
            }
        }
    }

    /// Applies every op inside one transaction and commits; results are only sent after the
    /// commit. If an op fails, the batch is rolled back and replayed one op per transaction,
    /// so one bad op does not undo the others (the rare path: ops are validated before).
    fn apply_all(&mut self, batch: &[WriteOp]) -> StoreResult<Vec<StoreResult<OpOutcome>>> {
        match self.transaction(batch.iter()) {
            Ok(results) => return Ok(results),
            Err(e) if batch.len() == 1 => return Ok(vec![Err(e)]),
            Err(e) => tracing::warn!(error = %e, "batch failed, replaying its writes one by one"),
        }
        Ok(batch
            .iter()
            .map(|op| {
                self.transaction(std::iter::once(op))
                    .and_then(|mut r| r.remove(0))
            })
            .collect())
    }

    /// One transaction over `ops`: all of them, or none (the first error is returned).
    fn transaction<'a>(
        &mut self,
        ops: impl Iterator<Item = &'a WriteOp>,
    ) -> StoreResult<Vec<StoreResult<OpOutcome>>> {
        let result = self.try_transaction(ops);
        // The disk is full: background work waits a minute, or it would take the room an
        // operator frees before the checkpoint and the messages can (a step of indexing long
        // messages grows the WAL by megabytes).
        if let Err(StoreError::Sqlite(e)) = &result
            && e.sqlite_error_code() == Some(rusqlite::ErrorCode::DiskFull)
        {
            let until = Some(std::time::Instant::now() + BACKGROUND_PAUSE);
            (self.index_paused_until, self.merge_paused_until) = (until, until);
        }
        result
    }

    fn try_transaction<'a>(
        &mut self,
        ops: impl Iterator<Item = &'a WriteOp>,
    ) -> StoreResult<Vec<StoreResult<OpOutcome>>> {
        let last_ts = self.last_ts;
        self.conn.execute_batch("BEGIN IMMEDIATE")?;
        let mut results = Vec::new();
        for op in ops {
            match self.apply(op) {
                Ok(outcome) => results.push(Ok(outcome)),
                Err(e) => {
                    let _ = self.conn.execute_batch("ROLLBACK");
                    self.rolled_back(last_ts);
                    return Err(e);
                }
            }
        }
        if let Err(e) = self.conn.execute_batch("COMMIT") {
            let _ = self.conn.execute_batch("ROLLBACK");
            self.rolled_back(last_ts);
            return Err(e.into());
        }
        self.client_ids.committed();
        // Committed: readers find the messages through the tail before anyone is told.
        if !self.uncommitted.is_empty() {
            let mut tail = conversation_index::lock(&self.tail);
            for (conversation, id) in self.uncommitted.drain(..) {
                tail.append(conversation, id);
            }
        }
        Ok(results)
    }

    /// Forgets what the transaction that just rolled back wrote.
    fn rolled_back(&mut self, last_ts: i64) {
        self.last_ts = last_ts;
        self.uncommitted.clear();
        self.client_ids.rolled_back();
    }

    fn apply(&mut self, op: &WriteOp) -> StoreResult<OpOutcome> {
        match op {
            WriteOp::Run { write, .. } => Ok(OpOutcome::Ran(write(&self.conn)?)),
            WriteOp::InsertMessage { message, .. } => self.insert_message(message),
        }
    }

    fn insert_message(&mut self, m: &NewMessage) -> StoreResult<OpOutcome> {
        if let Some(client_id) = &m.client_id
            && let Some(id) = self.client_ids.find(&self.conn, &m.from, client_id)?
        {
            // Gone if it expired since: then the retry is a new message.
            let existing = self
                .conn
                .prepare_cached(&format!(
                    "SELECT {MESSAGE_COLUMNS} FROM messages WHERE id = ?1 AND sender = ?2"
                ))?
                .query_row(params![id, m.from], message_from_row)
                .optional()?;
            if let Some(existing) = existing {
                return Ok(OpOutcome::Message(Inserted::Duplicate(existing)));
            }
        }
        // Timestamps never go backwards, even if the wall clock does.
        let ts = natter_protocol::now_ms().max(self.last_ts);
        self.last_ts = ts;
        let conversation = ConversationColumns::of(Conversation::between(&m.from, &m.to));
        let attachment = to_json_column(&m.attachment);
        let reply = match m.reply_to {
            Some(id) => Some(changes::quote(&self.conn, id)?),
            None => None,
        };
        self.conn
            .prepare_cached(
                "INSERT INTO messages (id, sender, recipient, user_lo, user_hi, content, ts, \
                 client_id, attachment_id, attachment, reply_to, reply_from, reply_excerpt, \
                 mentions) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
            )?
            .execute(params![
                self.next_id,
                m.from,
                m.to,
                conversation.lo,
                conversation.hi,
                m.content,
                ts,
                m.client_id,
                m.attachment.as_ref().map(|a| &a.file_id),
                attachment,
                m.reply_to.map(|id| id as i64),
                reply.as_ref().map(|r| &r.from),
                reply.as_ref().and_then(|r| r.excerpt.as_ref()),
                to_json_column(&m.mentions),
            ])?;
        let id = self.next_id as u64;
        self.next_id += 1;
        self.uncommitted.push((conversation, id as i64));
        if let Some(client_id) = &m.client_id {
            self.client_ids.insert(&m.from, client_id, id as i64);
        }
        if !m.mentions.is_empty() {
            changes::record_mentions(&self.conn, m, id)?;
        }
        self.newest.fetch_max(id as i64, Ordering::Relaxed);
        Ok(OpOutcome::Message(Inserted::New(Message {
            id,
            content: m.content.clone(),
            from: m.from.clone(),
            to: m.to.clone(),
            ts,
            client_id: m.client_id.clone(),
            attachment: m.attachment.clone(),
            reply_to: reply,
            mentions: m.mentions.clone(),
            ..Message::default()
        })))
    }
}

/// Runs background work (`work` makes its own transaction) without an fsync of its own: the
/// next message commit's covers it, and a crash before only loses progress that is redone.
fn unsynced<T>(
    conn: &Connection,
    work: impl FnOnce(&Connection) -> rusqlite::Result<T>,
) -> rusqlite::Result<T> {
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    let result = work(conn);
    if result.is_err() {
        let _ = conn.execute_batch("ROLLBACK");
    }
    // FULL again, whatever failed: messages must stay durable.
    if let Err(e) = conn.pragma_update(None, "synchronous", "FULL") {
        tracing::error!(error = %e, "could not restore synchronous=FULL");
        return Err(e);
    }
    result
}

/// Adds to `batch` (holding the write that woke the writer) what is queued, up to
/// [`MAX_BATCH`]. Under load (`busy`: the last batch held more than one write) writes first
/// get a short linger to gather: a commit costs about the same for one row as for dozens. A
/// lone write on a quiet server is committed at once. The writer sleeps through the linger
/// instead of waiting on the queue: a waiting receiver is woken by every send, two context
/// switches per message on a one-core server (15k msgs/s took 11 % more CPU that way).
pub(super) fn gather(batch: &mut Vec<WriteOp>, rx: &mpsc::Receiver<WriteOp>, busy: bool) {
    if busy {
        std::thread::sleep(LINGER);
    }
    let room = MAX_BATCH.saturating_sub(batch.len());
    batch.extend(rx.try_iter().take(room));
}

// The message is the hot path's outcome, moved once per write: boxing it would cost an
// allocation per message to save a few hundred bytes on the stack.
#[allow(clippy::large_enum_variant)]
enum OpOutcome {
    Ran(Answer),
    Message(Inserted),
}

impl WriteOp {
    fn reply(self, result: StoreResult<OpOutcome>) {
        // A caller that went away (its client disconnected) no longer needs the answer.
        match self {
            WriteOp::Run { reply, .. } => {
                let _ = reply.send(result.and_then(|o| match o {
                    OpOutcome::Ran(answer) => Ok(answer),
                    OpOutcome::Message(_) => {
                        Err(StoreError::Commit("the writer returned a message".into()))
                    }
                }));
            }
            WriteOp::InsertMessage { reply, .. } => {
                let _ = reply.send(result.and_then(|o| match o {
                    OpOutcome::Message(m) => Ok(m),
                    OpOutcome::Ran(_) => {
                        Err(StoreError::Commit("the writer returned no message".into()))
                    }
                }));
            }
        }
    }
}
