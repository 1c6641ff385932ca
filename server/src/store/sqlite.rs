//! The embedded default store: one SQLite file in the data dir, nothing to install.
//!
//! - Writes go to a single writer thread that commits whatever has queued up in one transaction
//!   (group commit): a burst of messages costs one fsync, and each caller still hears back only
//!   after its row is committed.
//! - Reads (history, paging) run on a small pool of read connections; WAL lets them proceed
//!   while the writer commits.
//! - The user directory (sessions, usernames) is small and read on every login, so it is kept in
//!   memory too and updated only after the writer committed. Presence is runtime state: it lives
//!   in memory only and every user starts offline when the process starts.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock, mpsc};
use std::time::{SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use natter_protocol::Message;
use rusqlite::{Connection, OpenFlags, OptionalExtension, params};
use tokio::sync::oneshot;

use super::{
    Account, Conversation, FileRecord, GroupRecord, Inserted, ListedUser, MAX_UNREAD_COUNTED,
    NameTaken, NewMessage, NewUser, NotInConversation, ReadState, SearchUnsupported, Store,
    StoreError, StoreResult, UserRecord,
};
use crate::accounts::name_key;
use crate::ids::hash_session_id;

/// Schema versions, applied in order; `PRAGMA user_version` records how many ran.
const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE users (
    user_id      TEXT PRIMARY KEY,
    session_hash TEXT NOT NULL UNIQUE,
    username     TEXT NOT NULL,
    created_at   INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE messages (
    id        INTEGER PRIMARY KEY,
    sender    TEXT NOT NULL,
    recipient TEXT NOT NULL,
    -- the conversation, as the two userIDs in sorted order
    user_lo   TEXT NOT NULL,
    user_hi   TEXT NOT NULL,
    content   TEXT NOT NULL,
    ts        INTEGER NOT NULL,
    client_id TEXT
);
CREATE INDEX messages_by_conversation ON messages (user_lo, user_hi, id);
CREATE UNIQUE INDEX messages_by_client_id ON messages (sender, client_id)
    WHERE client_id IS NOT NULL;

-- who has talked with whom, so a login reads only its own conversations
CREATE TABLE conversations (
    user_id TEXT NOT NULL,
    peer_id TEXT NOT NULL,
    PRIMARY KEY (user_id, peer_id)
) WITHOUT ROWID;
"#,
    // Who talks with whom is kept in memory and read back from the messages index at startup:
    // with the table, a message to a new peer cost two more random page writes per commit.
    r#"
DROP TABLE conversations;
"#,
    // Several sessions per identity (second devices, revocation one by one) and passwords.
    r#"
CREATE TABLE sessions (
    session_hash TEXT PRIMARY KEY,
    user_id      TEXT NOT NULL,
    created_at   INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX sessions_by_user ON sessions (user_id);
INSERT INTO sessions (session_hash, user_id, created_at)
    SELECT session_hash, user_id, created_at FROM users;
CREATE TABLE accounts (
    user_id       TEXT PRIMARY KEY,
    username      TEXT NOT NULL,
    password_hash TEXT,
    created_at    INTEGER NOT NULL
) WITHOUT ROWID;
INSERT INTO accounts (user_id, username, password_hash, created_at)
    SELECT user_id, username, NULL, created_at FROM users;
DROP TABLE users;
ALTER TABLE accounts RENAME TO users;
"#,
    // Read markers (how far each person has read each conversation) and whether a person
    // shares them with others.
    r#"
CREATE TABLE read_markers (
    reader TEXT NOT NULL,
    peer   TEXT NOT NULL,
    up_to  INTEGER NOT NULL,
    PRIMARY KEY (reader, peer)
) WITHOUT ROWID;
ALTER TABLE users ADD COLUMN receipts INTEGER NOT NULL DEFAULT 1;
"#,
    // Groups (their messages live in `messages` with both conversation columns set to the
    // groupID), uploaded files and attachments, and the full-text index.
    r#"
CREATE TABLE groups (
    group_id   TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE group_members (
    group_id TEXT NOT NULL,
    user_id  TEXT NOT NULL,
    -- the order members joined in
    seq      INTEGER NOT NULL,
    PRIMARY KEY (group_id, user_id)
) WITHOUT ROWID;
CREATE TABLE files (
    file_id    TEXT PRIMARY KEY,
    uploader   TEXT NOT NULL,
    name       TEXT NOT NULL,
    size       INTEGER NOT NULL,
    media_type TEXT NOT NULL,
    sha256     TEXT NOT NULL,
    created_at INTEGER NOT NULL
) WITHOUT ROWID;
-- the fileID (for "who may download it") and the attachment as delivered (JSON)
ALTER TABLE messages ADD COLUMN attachment_id TEXT;
ALTER TABLE messages ADD COLUMN attachment TEXT;
CREATE INDEX messages_by_attachment ON messages (attachment_id)
    WHERE attachment_id IS NOT NULL;
-- trigram: finds parts of words and text without spaces between words, case-insensitive.
-- Filled by the writer when idle (search.rs), up to `indexed_up_to`; existing messages too.
CREATE VIRTUAL TABLE messages_fts USING fts5(
    content, content = 'messages', content_rowid = 'id', tokenize = 'trigram'
);
CREATE TABLE search_index (indexed_up_to INTEGER NOT NULL);
INSERT INTO search_index VALUES (0);
CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages
    WHEN old.id <= (SELECT indexed_up_to FROM search_index) BEGIN
    INSERT INTO messages_fts (messages_fts, rowid, content)
        VALUES ('delete', old.id, old.content);
END;
"#,
];

/// Read connections; more than the core count buys nothing on this workload.
const READERS: usize = 2;
/// Most writes committed in one transaction.
const MAX_BATCH: usize = 512;
/// How long the writer waits for more writes before committing a batch.
const LINGER: std::time::Duration = std::time::Duration::from_micros(200);
/// How long the writer must have had nothing to write before it indexes for search.
const QUIET_BEFORE_INDEXING: std::time::Duration = std::time::Duration::from_millis(20);

pub struct SqliteStore {
    dir: std::path::PathBuf,
    writer: mpsc::Sender<WriteOp>,
    /// Dropped with the store: ends the checkpoint thread.
    _stop_checkpoints: mpsc::Sender<()>,
    readers: Arc<Readers>,
    directory: Arc<RwLock<Directory>>,
    /// How far the search index reaches (the writer moves it).
    indexed: Arc<AtomicI64>,
    /// The newest message id written (the writer moves it).
    newest: Arc<AtomicI64>,
}

#[derive(Default)]
struct Directory {
    /// Every user, in the order they were created, so `users` lists are stable. A login
    /// copies the whole list: a contiguous walk, not a lookup per user.
    entries: Vec<DirectoryEntry>,
    /// userID → position in `entries`.
    by_user: HashMap<String, usize>,
    /// Session hash → userID.
    by_session: HashMap<String, String>,
    /// Name key → the userIDs holding that name (one, except in databases from before).
    by_name: HashMap<String, Vec<String>>,
    /// Name keys being created right now, so two concurrent logins cannot both take one.
    reserved: HashSet<String>,
    /// Each user's conversation peers, so a login reads only its own conversations. Keys and
    /// entries share the directory's id strings: a server that has seen 500k conversations
    /// keeps 1M entries.
    peers: HashMap<Arc<str>, HashSet<Arc<str>>>,
    /// reader → peer → the last message id the reader has read in that conversation.
    read_markers: HashMap<String, HashMap<String, u64>>,
    /// Users who keep their read markers to their own devices.
    receipts_off: HashSet<String>,
    /// Every group, with its members.
    groups: HashMap<String, GroupRecord>,
    /// userID → the groups they are a member of, oldest first.
    member_of: HashMap<String, Vec<String>>,
}

struct DirectoryEntry {
    /// The user's id, name and presence, with their ready-made `users` entry.
    listed: ListedUser,
    password_hash: Option<String>,
}

impl DirectoryEntry {
    fn user_id(&self) -> &str {
        &self.listed.user_id
    }

    fn username(&self) -> &str {
        &self.listed.username
    }

    fn record(&self) -> UserRecord {
        UserRecord {
            user_id: self.user_id().to_owned(),
            username: self.username().to_owned(),
            connected: self.listed.connected,
        }
    }

    fn listed(&self) -> ListedUser {
        self.listed.clone()
    }

    /// A new name or presence: the entry is made again (its JSON with it).
    fn relist(&mut self, username: Option<&str>, connected: bool) {
        let l = &self.listed;
        let username = username.map_or_else(|| l.username.clone(), Arc::from);
        self.listed = ListedUser::new(l.user_id.clone(), username, connected);
    }

    fn account(&self) -> Account {
        Account {
            user_id: self.user_id().to_owned(),
            username: self.username().to_owned(),
            password_hash: self.password_hash.clone(),
        }
    }
}

impl Directory {
    fn entry(&self, user_id: &str) -> Option<&DirectoryEntry> {
        self.by_user.get(user_id).map(|&i| &self.entries[i])
    }

    fn entry_mut(&mut self, user_id: &str) -> Option<&mut DirectoryEntry> {
        self.by_user.get(user_id).map(|&i| &mut self.entries[i])
    }

    fn name_free(&self, key: &str) -> bool {
        !self.by_name.contains_key(key) && !self.reserved.contains(key)
    }

    fn add(&mut self, user_id: String, username: String, password_hash: Option<String>) {
        let i = self.entries.len();
        self.by_user.insert(user_id.clone(), i);
        self.by_name
            .entry(name_key(&username))
            .or_default()
            .push(user_id.clone());
        self.entries.push(DirectoryEntry {
            listed: ListedUser::new(user_id.into(), username.into(), false),
            password_hash,
        });
    }

    fn forget_name(&mut self, user_id: &str, username: &str) {
        let key = name_key(username);
        if let Some(ids) = self.by_name.get_mut(&key) {
            ids.retain(|id| id != user_id);
            if ids.is_empty() {
                self.by_name.remove(&key);
            }
        }
    }

    fn remove(&mut self, user_id: &str) {
        let Some(i) = self.by_user.remove(user_id) else {
            return;
        };
        let entry = self.entries.remove(i);
        self.forget_name(user_id, entry.username());
        self.by_session.retain(|_, uid| uid != user_id);
        // Positions after it moved down by one.
        for (pos, e) in self.entries.iter().enumerate().skip(i) {
            self.by_user.insert(e.user_id().to_owned(), pos);
        }
        if let Some(peers) = self.peers.remove(user_id) {
            for p in peers {
                if let Some(set) = self.peers.get_mut(&p) {
                    set.remove(user_id);
                }
                if let Some(markers) = self.read_markers.get_mut(&*p) {
                    markers.remove(user_id);
                }
            }
        }
        self.read_markers.remove(user_id);
        self.receipts_off.remove(user_id);
        for gid in self.member_of.remove(user_id).unwrap_or_default() {
            if let Some(g) = self.groups.get_mut(&gid) {
                g.members.retain(|m| m != user_id);
            }
        }
    }

    fn join_group(&mut self, group_id: &str, user_id: &str) {
        let Some(g) = self.groups.get_mut(group_id) else {
            return;
        };
        if !g.has_member(user_id) {
            g.members.push(user_id.to_owned());
            self.member_of
                .entry(user_id.to_owned())
                .or_default()
                .push(group_id.to_owned());
        }
    }

    fn leave_group(&mut self, group_id: &str, user_id: &str) {
        if let Some(g) = self.groups.get_mut(group_id) {
            g.members.retain(|m| m != user_id);
        }
        if let Some(groups) = self.member_of.get_mut(user_id) {
            groups.retain(|g| g != group_id);
        }
    }

    fn groups_of(&self, user_id: &str) -> Vec<String> {
        self.member_of.get(user_id).cloned().unwrap_or_default()
    }

    fn read_marker(&self, reader: &str, peer: &str) -> u64 {
        self.read_markers
            .get(reader)
            .and_then(|m| m.get(peer))
            .copied()
            .unwrap_or(0)
    }

    fn has_conversation(&self, a: &str, b: &str) -> bool {
        self.peers.get(a).is_some_and(|p| p.contains(b))
    }

    fn add_conversation(&mut self, a: &str, b: &str) {
        let (a, b) = (self.peer_key(a), self.peer_key(b));
        self.peers.entry(a.clone()).or_default().insert(b.clone());
        self.peers.entry(b).or_default().insert(a);
    }

    /// The directory's shared id string for `user_id` (a new one for an id it does not know).
    fn peer_key(&self, user_id: &str) -> Arc<str> {
        self.entry(user_id)
            .map_or_else(|| Arc::from(user_id), |e| e.listed.user_id.clone())
    }
}

/// A write on the directory's tables: run in the writer's transaction, may be replayed alone
/// if its batch fails; returns how many rows it changed.
type DirectoryWrite = Box<dyn Fn(&Connection) -> rusqlite::Result<usize> + Send>;

enum WriteOp {
    Directory {
        write: DirectoryWrite,
        reply: oneshot::Sender<StoreResult<usize>>,
    },
    InsertMessage {
        message: NewMessage,
        reply: oneshot::Sender<StoreResult<Inserted>>,
    },
}

impl SqliteStore {
    /// Opens (creating if needed) `natter.db` in `data_dir` and applies pending migrations.
    pub fn open(data_dir: &Path) -> StoreResult<Self> {
        std::fs::create_dir_all(data_dir)
            .map_err(|e| StoreError::Open(format!("creating {}: {e}", data_dir.display())))?;
        let path = data_dir.join("natter.db");

        let mut conn = Connection::open(&path)?;
        configure(&conn)?;
        migrate(&mut conn)?;
        let directory = load_directory(&conn)?;

        let readers = (0..READERS)
            .map(|_| {
                let c = Connection::open_with_flags(
                    &path,
                    OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
                )?;
                c.busy_timeout(std::time::Duration::from_secs(5))?;
                c.pragma_update(None, "cache_size", -READER_CACHE_KIB)?;
                Ok(Mutex::new(c))
            })
            .collect::<StoreResult<Vec<_>>>()?;

        // Checkpoints copy the WAL back into the database; done by the writer they stall every
        // commit behind them, so a separate connection does them, without blocking writers.
        conn.pragma_update(None, "wal_autocheckpoint", 0)?;
        let checkpointer = Connection::open(&path)?;
        checkpointer.busy_timeout(std::time::Duration::from_secs(5))?;
        let (stop_checkpoints, stopped) = mpsc::channel::<()>();
        let restart_due = Arc::new(AtomicBool::new(false));
        std::thread::Builder::new()
            .name("natter-sqlite-checkpoint".into())
            .spawn({
                let restart_due = restart_due.clone();
                move || checkpoint_loop(checkpointer, stopped, restart_due)
            })
            .map_err(|e| StoreError::Open(format!("starting the checkpoint thread: {e}")))?;

        let indexed = Arc::new(AtomicI64::new(super::search::indexed_up_to(&conn)?));
        let newest = Arc::new(AtomicI64::new(conn.query_row(
            "SELECT coalesce(max(id), 0) FROM messages",
            [],
            |r| r.get(0),
        )?));
        let (tx, rx) = mpsc::channel();
        std::thread::Builder::new()
            .name("natter-sqlite-writer".into())
            .spawn({
                let (indexed, newest) = (indexed.clone(), newest.clone());
                move || Writer::new(conn, restart_due, indexed, newest).run(rx)
            })
            .map_err(|e| StoreError::Open(format!("starting the writer thread: {e}")))?;

        Ok(Self {
            dir: data_dir.to_owned(),
            writer: tx,
            _stop_checkpoints: stop_checkpoints,
            readers: Arc::new(Readers {
                conns: readers,
                next: AtomicUsize::new(0),
            }),
            directory: Arc::new(RwLock::new(directory)),
            indexed,
            newest,
        })
    }

    async fn write<T>(&self, op: impl FnOnce(oneshot::Sender<T>) -> WriteOp) -> StoreResult<T> {
        let (tx, rx) = oneshot::channel();
        self.writer
            .send(op(tx))
            .map_err(|_| StoreError::WriterGone)?;
        rx.await.map_err(|_| StoreError::WriterGone)
    }

    async fn read<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
    ) -> StoreResult<T> {
        let readers = self.readers.clone();
        tokio::task::spawn_blocking(move || readers.with(f)).await?
    }

    /// Runs `write` in the writer's next transaction and waits for the commit.
    async fn directory_write(
        &self,
        write: impl Fn(&Connection) -> rusqlite::Result<usize> + Send + 'static,
    ) -> StoreResult<usize> {
        self.write(|reply| WriteOp::Directory {
            write: Box::new(write),
            reply,
        })
        .await?
    }

    /// Messages stored but not yet in the search index (searches read those directly).
    pub fn unindexed(&self) -> u64 {
        let newest = self.newest.load(Ordering::Relaxed);
        (newest - self.indexed.load(Ordering::Relaxed)).max(0) as u64
    }

    fn directory(&self) -> std::sync::RwLockReadGuard<'_, Directory> {
        // A poisoned lock only means a panic elsewhere mid-update of plain maps; keep serving.
        self.directory.read().unwrap_or_else(|p| p.into_inner())
    }

    fn directory_mut(&self) -> std::sync::RwLockWriteGuard<'_, Directory> {
        self.directory.write().unwrap_or_else(|p| p.into_inner())
    }
}

/// Page caches, in KiB. They fill as the database grows and then hold the server's memory
/// flat; kept small so that happens within minutes of use, not hours (the OS caches the file
/// too, so a miss costs a copy, not a disk read).
const WRITER_CACHE_KIB: i64 = 16 * 1024;
const READER_CACHE_KIB: i64 = 4 * 1024;

fn configure(conn: &Connection) -> StoreResult<()> {
    conn.pragma_update(None, "journal_mode", "WAL")?;
    // A burst may grow the WAL; when it restarts, it shrinks back to this (64 MiB).
    conn.pragma_update(None, "journal_size_limit", 64 * 1024 * 1024)?;
    // FULL: a committed (and so acked) message survives a power cut, not only a crash. Group
    // commit keeps that affordable.
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    // The writer's page cache keeps the index pages a send touches in memory instead of
    // reading them back from the OS on every commit.
    conn.pragma_update(None, "cache_size", -WRITER_CACHE_KIB)?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    Ok(())
}

/// How often the checkpoint thread runs while messages are being written: often, so each pass
/// is short (about 1 MB at 10k msgs/s). A pass is not preempted by the sockets on a one-core
/// server; every 250 ms, at 10k msgs/s, a pass held the core long enough to double p99.9.
const CHECKPOINT_BUSY: std::time::Duration = std::time::Duration::from_millis(25);
/// How often it looks when nothing was written since its last pass.
const CHECKPOINT_QUIET: std::time::Duration = std::time::Duration::from_millis(250);
/// WAL frames after which the writer finishes a checkpoint so the WAL restarts.
/// (64 MiB, the size the WAL is truncated back to; less in tests, which write less.)
const RESTART_AFTER_FRAMES: i64 = if cfg!(test) { 1000 } else { 16384 };

/// Checkpoints the WAL until the store is dropped. PASSIVE: never waits for, nor blocks, the
/// writer. When the WAL has grown, it asks the writer to finish the job (see
/// [`Writer::finish_checkpoint`]).
fn checkpoint_loop(conn: Connection, stop: mpsc::Receiver<()>, restart_due: Arc<AtomicBool>) {
    let mut wait = CHECKPOINT_QUIET;
    let mut last_frames = 0;
    while let Err(mpsc::RecvTimeoutError::Timeout) = stop.recv_timeout(wait) {
        // A second pass copies what was written during the first, so the writer is left
        // with only the last few frames.
        let result = passive_checkpoint(&conn).and_then(|frames| {
            if frames > RESTART_AFTER_FRAMES {
                passive_checkpoint(&conn)?;
                restart_due.store(true, Ordering::Relaxed);
            }
            Ok(frames)
        });
        match result {
            Ok(frames) => {
                wait = if frames == last_frames {
                    CHECKPOINT_QUIET
                } else {
                    CHECKPOINT_BUSY
                };
                last_frames = frames;
            }
            Err(e) => tracing::warn!(error = %e, "WAL checkpoint failed"),
        }
    }
}

/// Runs a PASSIVE checkpoint; returns the number of frames in the WAL.
fn passive_checkpoint(conn: &Connection) -> rusqlite::Result<i64> {
    // Columns: busy, frames in the WAL, frames checkpointed.
    conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| r.get(1))
}

fn migrate(conn: &mut Connection) -> StoreResult<()> {
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

fn load_directory(conn: &Connection) -> StoreResult<Directory> {
    let mut dir = Directory::default();
    let mut stmt = conn.prepare(
        "SELECT user_id, username, password_hash FROM users ORDER BY created_at, user_id",
    )?;
    let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
    for row in rows {
        let (user_id, username, password_hash) = row?;
        dir.add(user_id, username, password_hash);
    }
    let mut stmt = conn.prepare("SELECT session_hash, user_id FROM sessions")?;
    let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
    for row in rows {
        let (hash, user_id): (String, String) = row?;
        dir.by_session.insert(hash, user_id);
    }
    let shared: Vec<&String> = dir
        .by_name
        .iter()
        .filter(|(_, ids)| ids.len() > 1)
        .map(|(key, _)| key)
        .collect();
    if !shared.is_empty() {
        // From before names were compared normalised: each identity keeps working, nobody new
        // can take the name, and none of them can protect it with a password until an operator
        // renames all but one (`natter-server admin list` marks them).
        tracing::warn!(
            names = shared.len(),
            "some identities share a name; rename them with `natter-server admin rename`"
        );
    }
    load_conversations(conn, &mut dir)?;
    let mut stmt = conn.prepare("SELECT reader, peer, up_to FROM read_markers")?;
    let rows = stmt.query_map([], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, i64>(2)?,
        ))
    })?;
    for row in rows {
        let (reader, peer, up_to) = row?;
        dir.read_markers
            .entry(reader)
            .or_default()
            .insert(peer, up_to.max(0) as u64);
    }
    let mut stmt = conn.prepare("SELECT user_id FROM users WHERE receipts = 0")?;
    for row in stmt.query_map([], |r| r.get::<_, String>(0))? {
        dir.receipts_off.insert(row?);
    }
    let mut stmt = conn
        .prepare("SELECT group_id, name, created_by FROM groups ORDER BY created_at, group_id")?;
    let rows = stmt.query_map([], |r| {
        Ok(GroupRecord {
            group_id: r.get(0)?,
            name: r.get(1)?,
            created_by: r.get(2)?,
            members: Vec::new(),
        })
    })?;
    let mut order = Vec::new();
    for row in rows {
        let g = row?;
        order.push(g.group_id.clone());
        dir.groups.insert(g.group_id.clone(), g);
    }
    let mut stmt = conn.prepare("SELECT group_id, user_id FROM group_members ORDER BY seq")?;
    let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
    let mut members = Vec::new();
    for row in rows {
        members.push(row?);
    }
    // Each person's groups in creation order, each group's members in joining order.
    for gid in &order {
        for (g, u) in members.iter().filter(|(g, _)| g == gid) {
            dir.join_group(g, u);
        }
    }
    Ok(dir)
}

/// Every distinct conversation, found by seeking from one to the next in the conversation
/// index: one lookup per conversation rather than a scan of every message.
fn load_conversations(conn: &Connection, dir: &mut Directory) -> StoreResult<()> {
    let mut next = conn.prepare(
        "SELECT user_lo, user_hi FROM messages WHERE (user_lo, user_hi) > (?1, ?2) \
         ORDER BY user_lo, user_hi LIMIT 1",
    )?;
    let (mut lo, mut hi) = (String::new(), String::new());
    while let Some((l, h)) = next
        .query_row(params![lo, hi], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
        })
        .optional()?
    {
        dir.add_conversation(&l, &h);
        (lo, hi) = (l, h);
    }
    Ok(())
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

fn conversation_key<'a>(a: &'a str, b: &'a str) -> (&'a str, &'a str) {
    if a <= b { (a, b) } else { (b, a) }
}

/// The `(user_lo, user_hi)` columns of a conversation: the two userIDs sorted, or the groupID
/// twice.
fn conversation_columns(c: Conversation<'_>) -> (String, String) {
    match c {
        Conversation::Private(a, b) => {
            let (lo, hi) = conversation_key(a, b);
            (lo.to_owned(), hi.to_owned())
        }
        Conversation::Group(g) => (g.to_owned(), g.to_owned()),
    }
}

pub(super) const MESSAGE_COLUMNS: &str =
    "id, content, sender, recipient, ts, client_id, attachment";

pub(super) fn message_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Message> {
    message_from_row_offset(r, 0)
}

/// A message whose [`MESSAGE_COLUMNS`] start at column `at`.
pub(super) fn message_from_row_offset(
    r: &rusqlite::Row<'_>,
    at: usize,
) -> rusqlite::Result<Message> {
    let attachment = match r.get_ref(at + 6)?.as_str_or_null()? {
        Some(json) => Some(serde_json::from_str(json).map_err(|e| {
            rusqlite::Error::FromSqlConversionFailure(at + 6, rusqlite::types::Type::Text, e.into())
        })?),
        None => None,
    };
    Ok(Message {
        id: r.get::<_, i64>(at)? as u64,
        content: r.get(at + 1)?,
        from: r.get(at + 2)?,
        to: r.get(at + 3)?,
        ts: r.get(at + 4)?,
        client_id: r.get(at + 5)?,
        attachment,
    })
}

struct Readers {
    conns: Vec<Mutex<Connection>>,
    next: AtomicUsize,
}

impl Readers {
    fn with<T>(&self, f: impl FnOnce(&Connection) -> StoreResult<T>) -> StoreResult<T> {
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        let n = self.conns.len();
        // Take a free connection if there is one, otherwise wait for our round-robin pick.
        for i in 0..n {
            if let Ok(conn) = self.conns[(start + i) % n].try_lock() {
                return f(&conn);
            }
        }
        let conn = self.conns[start % n]
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        f(&conn)
    }
}

/// The single writer: owns the read-write connection and commits queued writes in groups.
struct Writer {
    conn: Connection,
    last_ts: i64,
    /// Set by the checkpoint thread when the WAL should restart.
    restart_due: Arc<AtomicBool>,
    /// How far the search index reaches, shared with searches.
    indexed: Arc<AtomicI64>,
    /// The newest message id written, shared with the store.
    newest: Arc<AtomicI64>,
    /// After an indexing error: no more tries until then.
    index_paused_until: Option<std::time::Instant>,
}

impl Writer {
    fn new(
        conn: Connection,
        restart_due: Arc<AtomicBool>,
        indexed: Arc<AtomicI64>,
        newest: Arc<AtomicI64>,
    ) -> Self {
        Self {
            conn,
            last_ts: 0,
            restart_due,
            indexed,
            newest,
            index_paused_until: None,
        }
    }

    /// The next write to commit; while none comes and messages are not yet searchable, the
    /// writer indexes them. Only after a quiet moment ([`QUIET_BEFORE_INDEXING`]): under
    /// steady traffic the core is shared with the sockets, and indexing as soon as the queue
    /// is empty for an instant took the CPU they needed (20k msgs/s on one core went from
    /// p99 33 ms to 945 ms). `None` once the store is dropped.
    fn next_write(&mut self, rx: &mpsc::Receiver<WriteOp>) -> Option<WriteOp> {
        if self.index_lag() == 0 {
            return rx.recv().ok();
        }
        match rx.recv_timeout(QUIET_BEFORE_INDEXING) {
            Ok(op) => return Some(op),
            Err(mpsc::RecvTimeoutError::Disconnected) => return None,
            Err(mpsc::RecvTimeoutError::Timeout) => {}
        }
        // Quiet: index step by step, looking for a write between steps (one step is about a
        // millisecond).
        loop {
            self.index_step();
            if self.index_lag() == 0 {
                return rx.recv().ok();
            }
            match rx.try_recv() {
                Ok(op) => return Some(op),
                Err(mpsc::TryRecvError::Empty) => {}
                Err(mpsc::TryRecvError::Disconnected) => return None,
            }
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

    /// Indexes the next few messages, in a transaction of its own. Not made durable with an
    /// fsync of its own: the next message commit's covers it, and a crash before only loses
    /// index progress, which is redone.
    fn index_step(&mut self) {
        let from = self.indexed.load(Ordering::Relaxed);
        let to = self
            .newest
            .load(Ordering::Relaxed)
            .min(from + super::search::INDEX_CHUNK);
        let result = (|| -> rusqlite::Result<()> {
            self.conn.pragma_update(None, "synchronous", "NORMAL")?;
            let tx = self.conn.transaction()?;
            super::search::index_range(&tx, from, to)?;
            tx.commit()?;
            self.conn.pragma_update(None, "synchronous", "FULL")
        })();
        match result {
            Ok(()) => self.indexed.store(to, Ordering::Relaxed),
            Err(e) => {
                let _ = self.conn.execute_batch("ROLLBACK");
                // FULL again, whatever failed: messages must stay durable.
                if let Err(e) = self.conn.pragma_update(None, "synchronous", "FULL") {
                    tracing::error!(error = %e, "could not restore synchronous=FULL");
                }
                tracing::warn!(error = %e, "search indexing failed; retrying in a minute");
                self.index_paused_until =
                    Some(std::time::Instant::now() + std::time::Duration::from_secs(60));
            }
        }
    }

    /// The WAL restarts from its beginning only if, when a write transaction starts, every
    /// frame has been checkpointed. Under a steady stream of messages the checkpoint thread
    /// never catches up with the writer (the WAL grew to 1.4 GB in 10 s at 10k msgs/s) and
    /// every commit pays for growing the file. So the writer, between two transactions, copies
    /// the few frames written since the checkpoint thread's last pass.
    fn finish_checkpoint(&mut self) {
        if self.restart_due.swap(false, Ordering::Relaxed)
            && let Err(e) = passive_checkpoint(&self.conn)
        {
            tracing::warn!(error = %e, "WAL checkpoint failed");
        }
    }

    fn run(mut self, rx: mpsc::Receiver<WriteOp>) {
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
            // Never idle under sustained load: the index must not fall behind for good.
            if self.index_lag() > super::search::FORCE_LAG {
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
        let last_ts = self.last_ts;
        self.conn.execute_batch("BEGIN IMMEDIATE")?;
        let mut results = Vec::new();
        for op in ops {
            match self.apply(op) {
                Ok(outcome) => results.push(Ok(outcome)),
                Err(e) => {
                    let _ = self.conn.execute_batch("ROLLBACK");
                    self.last_ts = last_ts;
                    return Err(e);
                }
            }
        }
        if let Err(e) = self.conn.execute_batch("COMMIT") {
            let _ = self.conn.execute_batch("ROLLBACK");
            self.last_ts = last_ts;
            return Err(e.into());
        }
        Ok(results)
    }

    fn apply(&mut self, op: &WriteOp) -> StoreResult<OpOutcome> {
        match op {
            WriteOp::Directory { write, .. } => Ok(OpOutcome::Changed(write(&self.conn)?)),
            WriteOp::InsertMessage { message, .. } => self.insert_message(message),
        }
    }

    fn insert_message(&mut self, m: &NewMessage) -> StoreResult<OpOutcome> {
        if let Some(client_id) = &m.client_id {
            let existing = self
                .conn
                .prepare_cached(&format!(
                    "SELECT {MESSAGE_COLUMNS} FROM messages WHERE sender = ?1 AND client_id = ?2"
                ))?
                .query_row(params![m.from, client_id], message_from_row)
                .optional()?;
            if let Some(existing) = existing {
                return Ok(OpOutcome::Message(Inserted::Duplicate(existing)));
            }
        }
        // Timestamps never go backwards, even if the wall clock does.
        let ts = now_ms().max(self.last_ts);
        self.last_ts = ts;
        let (lo, hi) = conversation_columns(Conversation::between(&m.from, &m.to));
        let attachment = match &m.attachment {
            Some(a) => {
                Some(serde_json::to_string(a).map_err(|e| StoreError::Commit(e.to_string()))?)
            }
            None => None,
        };
        self.conn
            .prepare_cached(
                "INSERT INTO messages (sender, recipient, user_lo, user_hi, content, ts, client_id, \
                 attachment_id, attachment) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            )?
            .execute(params![
                m.from,
                m.to,
                lo,
                hi,
                m.content,
                ts,
                m.client_id,
                m.attachment.as_ref().map(|a| &a.file_id),
                attachment
            ])?;
        let id = self.conn.last_insert_rowid() as u64;
        self.newest.fetch_max(id as i64, Ordering::Relaxed);
        Ok(OpOutcome::Message(Inserted::New(Message {
            id,
            content: m.content.clone(),
            from: m.from.clone(),
            to: m.to.clone(),
            ts,
            client_id: m.client_id.clone(),
            attachment: m.attachment.clone(),
        })))
    }
}

/// Adds to `batch` (holding the write that woke the writer) what is queued, up to
/// [`MAX_BATCH`]. Under load (`busy`: the last batch held more than one write) writes first
/// get a short linger to gather: a commit costs about the same for one row as for dozens. A
/// lone write on a quiet server is committed at once. The writer sleeps through the linger
/// instead of waiting on the queue: a waiting receiver is woken by every send, two context
/// switches per message on a one-core server (15k msgs/s took 11 % more CPU that way).
fn gather(batch: &mut Vec<WriteOp>, rx: &mpsc::Receiver<WriteOp>, busy: bool) {
    if busy {
        std::thread::sleep(LINGER);
    }
    let room = MAX_BATCH.saturating_sub(batch.len());
    batch.extend(rx.try_iter().take(room));
}

enum OpOutcome {
    Changed(usize),
    Message(Inserted),
}

impl WriteOp {
    fn reply(self, result: StoreResult<OpOutcome>) {
        // A caller that went away (its client disconnected) no longer needs the answer.
        match self {
            WriteOp::Directory { reply, .. } => {
                let _ = reply.send(result.and_then(|o| match o {
                    OpOutcome::Changed(n) => Ok(n),
                    OpOutcome::Message(_) => {
                        Err(StoreError::Commit("the writer returned a message".into()))
                    }
                }));
            }
            WriteOp::InsertMessage { reply, .. } => {
                let _ = reply.send(result.and_then(|o| match o {
                    OpOutcome::Message(m) => Ok(m),
                    OpOutcome::Changed(_) => {
                        Err(StoreError::Commit("the writer returned no message".into()))
                    }
                }));
            }
        }
    }
}

#[async_trait]
impl Store for SqliteStore {
    async fn find_session(&self, session_id: &str) -> StoreResult<Option<UserRecord>> {
        let hash = hash_session_id(session_id);
        let dir = self.directory();
        Ok(dir
            .by_session
            .get(&hash)
            .and_then(|uid| dir.entry(uid))
            .map(DirectoryEntry::record))
    }

    async fn accounts_named(&self, username: &str) -> StoreResult<Vec<Account>> {
        let dir = self.directory();
        Ok(dir
            .by_name
            .get(&name_key(username))
            .into_iter()
            .flatten()
            .filter_map(|uid| dir.entry(uid).map(DirectoryEntry::account))
            .collect())
    }

    async fn account(&self, user_id: &str) -> StoreResult<Option<Account>> {
        Ok(self.directory().entry(user_id).map(DirectoryEntry::account))
    }

    async fn create_user(&self, user: NewUser) -> StoreResult<Result<UserRecord, NameTaken>> {
        let key = name_key(&user.username);
        {
            let mut dir = self.directory_mut();
            if !dir.name_free(&key) {
                return Ok(Err(NameTaken));
            }
            dir.reserved.insert(key.clone());
        }
        let session_hash = hash_session_id(&user.session_id);
        let (uid, name, hash, pw) = (
            user.user_id.clone(),
            user.username.clone(),
            session_hash.clone(),
            user.password_hash.clone(),
        );
        let written = self
            .directory_write(move |conn| {
                let now = now_ms();
                conn.prepare_cached(
                    "INSERT INTO users (user_id, username, password_hash, created_at) \
                     VALUES (?1, ?2, ?3, ?4)",
                )?
                .execute(params![uid, name, pw, now])?;
                conn.prepare_cached(
                    "INSERT INTO sessions (session_hash, user_id, created_at) VALUES (?1, ?2, ?3)",
                )?
                .execute(params![hash, uid, now])
            })
            .await;
        let mut dir = self.directory_mut();
        dir.reserved.remove(&key);
        written?;
        dir.add(
            user.user_id.clone(),
            user.username.clone(),
            user.password_hash,
        );
        dir.by_session.insert(session_hash, user.user_id.clone());
        Ok(Ok(UserRecord {
            user_id: user.user_id,
            username: user.username,
            connected: false,
        }))
    }

    async fn add_session(&self, session_id: &str, user_id: &str) -> StoreResult<()> {
        let hash = hash_session_id(session_id);
        let (h, uid) = (hash.clone(), user_id.to_owned());
        self.directory_write(move |conn| {
            conn.prepare_cached(
                "INSERT INTO sessions (session_hash, user_id, created_at) VALUES (?1, ?2, ?3)",
            )?
            .execute(params![h, uid, now_ms()])
        })
        .await?;
        self.directory_mut()
            .by_session
            .insert(hash, user_id.to_owned());
        Ok(())
    }

    async fn revoke_session(&self, session_id: &str) -> StoreResult<bool> {
        let hash = hash_session_id(session_id);
        // Refused from now on, even before the delete is committed.
        let known = self.directory_mut().by_session.remove(&hash).is_some();
        let n = self
            .directory_write(move |conn| {
                conn.prepare_cached("DELETE FROM sessions WHERE session_hash = ?1")?
                    .execute(params![hash])
            })
            .await?;
        Ok(known || n > 0)
    }

    async fn revoke_user_sessions(&self, user_id: &str) -> StoreResult<usize> {
        self.directory_mut()
            .by_session
            .retain(|_, uid| uid != user_id);
        let uid = user_id.to_owned();
        self.directory_write(move |conn| {
            conn.prepare_cached("DELETE FROM sessions WHERE user_id = ?1")?
                .execute(params![uid])
        })
        .await
    }

    async fn session_counts(&self) -> StoreResult<HashMap<String, usize>> {
        let mut counts = HashMap::new();
        for uid in self.directory().by_session.values() {
            *counts.entry(uid.clone()).or_insert(0) += 1;
        }
        Ok(counts)
    }

    async fn set_password(&self, user_id: &str, password_hash: Option<String>) -> StoreResult<()> {
        let (uid, pw) = (user_id.to_owned(), password_hash.clone());
        self.directory_write(move |conn| {
            conn.prepare_cached("UPDATE users SET password_hash = ?2 WHERE user_id = ?1")?
                .execute(params![uid, pw])
        })
        .await?;
        if let Some(e) = self.directory_mut().entry_mut(user_id) {
            e.password_hash = password_hash;
        }
        Ok(())
    }

    async fn rename_user(
        &self,
        user_id: &str,
        username: &str,
    ) -> StoreResult<Result<(), NameTaken>> {
        let key = name_key(username);
        {
            let mut dir = self.directory_mut();
            let holders = dir.by_name.get(&key);
            // Renaming to another spelling of one's own name is fine.
            if dir.reserved.contains(&key)
                || holders.is_some_and(|ids| ids.iter().any(|id| id != user_id))
            {
                return Ok(Err(NameTaken));
            }
            dir.reserved.insert(key.clone());
        }
        let (uid, name) = (user_id.to_owned(), username.to_owned());
        let written = self
            .directory_write(move |conn| {
                conn.prepare_cached("UPDATE users SET username = ?2 WHERE user_id = ?1")?
                    .execute(params![uid, name])
            })
            .await;
        let mut dir = self.directory_mut();
        dir.reserved.remove(&key);
        written?;
        if let Some(old) = dir.entry(user_id).map(|e| e.username().to_owned()) {
            dir.forget_name(user_id, &old);
            dir.by_name.entry(key).or_default().push(user_id.to_owned());
            if let Some(e) = dir.entry_mut(user_id) {
                let connected = e.listed.connected;
                e.relist(Some(username), connected);
            }
        }
        Ok(Ok(()))
    }

    async fn check_writable(&self) -> StoreResult<()> {
        // The writer thread runs and can take the write lock...
        self.directory_write(|_| Ok(0)).await?;
        // ...and the disk has room for more than a page or two (SQLite would fail the next
        // commit that grows the WAL).
        let probe = self.dir.join("health.probe");
        let result = tokio::task::spawn_blocking(move || {
            let written = std::fs::write(&probe, vec![0u8; 256 * 1024])
                .and_then(|()| std::fs::File::open(&probe)?.sync_all());
            let _ = std::fs::remove_file(&probe);
            written
        })
        .await?;
        result.map_err(|e| StoreError::Commit(format!("the data dir cannot be written: {e}")))
    }

    async fn remove_user(&self, user_id: &str) -> StoreResult<bool> {
        if !self.directory().by_user.contains_key(user_id) {
            return Ok(false);
        }
        let uid = user_id.to_owned();
        self.directory_write(move |conn| {
            conn.prepare_cached("DELETE FROM sessions WHERE user_id = ?1")?
                .execute(params![uid])?;
            conn.prepare_cached("DELETE FROM messages WHERE sender = ?1 OR recipient = ?1")?
                .execute(params![uid])?;
            conn.prepare_cached("DELETE FROM read_markers WHERE reader = ?1 OR peer = ?1")?
                .execute(params![uid])?;
            conn.prepare_cached("DELETE FROM group_members WHERE user_id = ?1")?
                .execute(params![uid])?;
            conn.prepare_cached("DELETE FROM users WHERE user_id = ?1")?
                .execute(params![uid])
        })
        .await?;
        self.directory_mut().remove(user_id);
        Ok(true)
    }

    async fn set_connected(&self, user_id: &str, connected: bool) -> StoreResult<()> {
        let mut dir = self.directory_mut();
        if let Some(e) = dir.entry_mut(user_id)
            && e.listed.connected != connected
        {
            e.relist(None, connected);
        }
        Ok(())
    }

    async fn is_connected(&self, user_id: &str) -> StoreResult<bool> {
        Ok(self
            .directory()
            .entry(user_id)
            .is_some_and(|e| e.listed.connected))
    }

    async fn user_exists(&self, user_id: &str) -> StoreResult<bool> {
        Ok(self.directory().by_user.contains_key(user_id))
    }

    async fn users(&self) -> StoreResult<Vec<ListedUser>> {
        Ok(self
            .directory()
            .entries
            .iter()
            .map(DirectoryEntry::listed)
            .collect())
    }

    async fn insert_message(&self, message: NewMessage) -> StoreResult<Inserted> {
        let inserted = self
            .write(|reply| WriteOp::InsertMessage { message, reply })
            .await??;
        // Before the message is delivered: a login that misses the new conversation here has
        // already joined its room and receives the message as an event.
        if let Inserted::New(m) = &inserted
            && !natter_protocol::is_group_id(&m.to)
            && !self.directory().has_conversation(&m.from, &m.to)
        {
            self.directory_mut().add_conversation(&m.from, &m.to);
        }
        Ok(inserted)
    }

    async fn recent_conversations(
        &self,
        user_id: &str,
        per_peer: u32,
    ) -> StoreResult<Vec<(String, Vec<Message>)>> {
        let user_id = user_id.to_owned();
        let peers: Vec<Arc<str>> = match self.directory().peers.get(user_id.as_str()) {
            Some(peers) => peers.iter().cloned().collect(),
            None => return Ok(Vec::new()),
        };
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(&format!(
                "SELECT {MESSAGE_COLUMNS} FROM messages \
                 WHERE user_lo = ?1 AND user_hi = ?2 ORDER BY id DESC LIMIT ?3"
            ))?;
            let mut out = Vec::with_capacity(peers.len());
            for peer in peers {
                let (lo, hi) = conversation_key(&user_id, &peer);
                let mut messages: Vec<Message> = stmt
                    .query_map(params![lo, hi, per_peer], message_from_row)?
                    .collect::<Result<_, _>>()?;
                messages.reverse();
                out.push((peer.to_string(), messages));
            }
            Ok(out)
        })
        .await
    }

    async fn mark_read(
        &self,
        reader: &str,
        peer: &str,
        up_to: u64,
    ) -> StoreResult<Result<Option<u64>, NotInConversation>> {
        let (lo, hi) = conversation_columns(Conversation::between(reader, peer));
        let Ok(id) = i64::try_from(up_to) else {
            return Ok(Err(NotInConversation));
        };
        let found = self
            .read(move |conn| {
                Ok(conn
                    .prepare_cached(
                        "SELECT 1 FROM messages WHERE id = ?1 AND user_lo = ?2 AND user_hi = ?3",
                    )?
                    .exists(params![id, lo, hi])?)
            })
            .await?;
        if !found {
            return Ok(Err(NotInConversation));
        }
        if self.directory().read_marker(reader, peer) >= up_to {
            return Ok(Ok(None));
        }
        let (r, p) = (reader.to_owned(), peer.to_owned());
        self.directory_write(move |conn| {
            conn.prepare_cached(
                "INSERT INTO read_markers (reader, peer, up_to) VALUES (?1, ?2, ?3) \
                 ON CONFLICT (reader, peer) DO UPDATE SET up_to = max(up_to, excluded.up_to)",
            )?
            .execute(params![r, p, id])
        })
        .await?;
        // Two reads racing: the higher one wins, here as in the table.
        let mut dir = self.directory_mut();
        let marker = dir
            .read_markers
            .entry(reader.to_owned())
            .or_default()
            .entry(peer.to_owned())
            .or_default();
        if *marker >= up_to {
            return Ok(Ok(None));
        }
        *marker = up_to;
        Ok(Ok(Some(up_to)))
    }

    async fn read_states(&self, user_id: &str) -> StoreResult<HashMap<String, ReadState>> {
        let mine: Vec<(String, u64, u64)> = {
            let dir = self.directory();
            let Some(peers) = dir.peers.get(user_id) else {
                return Ok(HashMap::new());
            };
            peers
                .iter()
                .map(|p| {
                    let theirs = if dir.receipts_off.contains(&**p) {
                        0
                    } else {
                        dir.read_marker(p, user_id)
                    };
                    (p.to_string(), dir.read_marker(user_id, p), theirs)
                })
                .collect()
        };
        let user_id = user_id.to_owned();
        self.read(move |conn| {
            let mut count = conn.prepare_cached(
                "SELECT count(*) FROM (SELECT 1 FROM messages \
                 WHERE user_lo = ?1 AND user_hi = ?2 AND id > ?3 AND sender = ?4 LIMIT ?5)",
            )?;
            let mut out = HashMap::with_capacity(mine.len());
            for (peer, my_marker, read_up_to) in mine {
                let (lo, hi) = conversation_key(&user_id, &peer);
                let after = i64::try_from(my_marker).unwrap_or(i64::MAX);
                let unread: i64 = count.query_row(
                    params![lo, hi, after, peer, MAX_UNREAD_COUNTED as i64],
                    |r| r.get(0),
                )?;
                out.insert(
                    peer,
                    ReadState {
                        unread: unread.max(0) as u64,
                        read_up_to,
                    },
                );
            }
            Ok(out)
        })
        .await
    }

    async fn set_receipts(&self, user_id: &str, send: bool) -> StoreResult<()> {
        let uid = user_id.to_owned();
        self.directory_write(move |conn| {
            conn.prepare_cached("UPDATE users SET receipts = ?2 WHERE user_id = ?1")?
                .execute(params![uid, send])
        })
        .await?;
        let mut dir = self.directory_mut();
        if send {
            dir.receipts_off.remove(user_id);
        } else {
            dir.receipts_off.insert(user_id.to_owned());
        }
        Ok(())
    }

    async fn sends_receipts(&self, user_id: &str) -> StoreResult<bool> {
        Ok(!self.directory().receipts_off.contains(user_id))
    }

    async fn page(
        &self,
        conversation: Conversation<'_>,
        before: Option<u64>,
        limit: u32,
    ) -> StoreResult<(Vec<Message>, bool)> {
        let (lo, hi) = conversation_columns(conversation);
        let before = before.map_or(i64::MAX, |b| b.min(i64::MAX as u64) as i64);
        self.read(move |conn| {
            let mut messages: Vec<Message> = conn
                .prepare_cached(&format!(
                    "SELECT {MESSAGE_COLUMNS} FROM messages \
                     WHERE user_lo = ?1 AND user_hi = ?2 AND id < ?3 ORDER BY id DESC LIMIT ?4"
                ))?
                .query_map(params![lo, hi, before, limit as i64 + 1], message_from_row)?
                .collect::<Result<_, _>>()?;
            let has_more = messages.len() > limit as usize;
            messages.truncate(limit as usize);
            messages.reverse();
            Ok((messages, has_more))
        })
        .await
    }

    async fn create_group(&self, group: GroupRecord) -> StoreResult<()> {
        let g = group.clone();
        self.directory_write(move |conn| {
            let now = now_ms();
            conn.prepare_cached(
                "INSERT INTO groups (group_id, name, created_by, created_at) VALUES (?1, ?2, ?3, ?4)",
            )?
            .execute(params![g.group_id, g.name, g.created_by, now])?;
            let mut add = conn.prepare_cached(
                "INSERT INTO group_members (group_id, user_id, seq) VALUES (?1, ?2, ?3)",
            )?;
            for (i, m) in g.members.iter().enumerate() {
                add.execute(params![g.group_id, m, i as i64])?;
            }
            Ok(g.members.len())
        })
        .await?;
        let mut dir = self.directory_mut();
        let members = group.members.clone();
        dir.groups.insert(
            group.group_id.clone(),
            GroupRecord {
                members: Vec::new(),
                ..group.clone()
            },
        );
        for m in &members {
            dir.join_group(&group.group_id, m);
        }
        Ok(())
    }

    async fn group(&self, group_id: &str) -> StoreResult<Option<GroupRecord>> {
        Ok(self.directory().groups.get(group_id).cloned())
    }

    async fn add_members(
        &self,
        group_id: &str,
        members: &[String],
    ) -> StoreResult<Option<GroupRecord>> {
        let new: Vec<String> = match self.directory().groups.get(group_id) {
            None => return Ok(None),
            Some(g) => members
                .iter()
                .filter(|m| !g.has_member(m))
                .cloned()
                .collect(),
        };
        let gid = group_id.to_owned();
        self.directory_write(move |conn| {
            let mut add = conn.prepare_cached(
                "INSERT OR IGNORE INTO group_members (group_id, user_id, seq) VALUES \
                 (?1, ?2, (SELECT coalesce(max(seq), 0) + 1 FROM group_members WHERE group_id = ?1))",
            )?;
            let mut n = 0;
            for m in &new {
                n += add.execute(params![gid, m])?;
            }
            Ok(n)
        })
        .await?;
        let mut dir = self.directory_mut();
        for m in members {
            dir.join_group(group_id, m);
        }
        Ok(dir.groups.get(group_id).cloned())
    }

    async fn remove_member(
        &self,
        group_id: &str,
        user_id: &str,
    ) -> StoreResult<Option<GroupRecord>> {
        if !self.directory().groups.contains_key(group_id) {
            return Ok(None);
        }
        let (gid, uid) = (group_id.to_owned(), user_id.to_owned());
        self.directory_write(move |conn| {
            conn.prepare_cached("DELETE FROM group_members WHERE group_id = ?1 AND user_id = ?2")?
                .execute(params![gid, uid])
        })
        .await?;
        let mut dir = self.directory_mut();
        dir.leave_group(group_id, user_id);
        Ok(dir.groups.get(group_id).cloned())
    }

    async fn groups_of(&self, user_id: &str) -> StoreResult<Vec<GroupRecord>> {
        let dir = self.directory();
        Ok(dir
            .groups_of(user_id)
            .iter()
            .filter_map(|g| dir.groups.get(g).cloned())
            .collect())
    }

    async fn recent_in_groups(
        &self,
        user_id: &str,
        group_ids: &[String],
        per_group: u32,
    ) -> StoreResult<Vec<(String, Vec<Message>, u64)>> {
        let wanted: Vec<(String, u64)> = {
            let dir = self.directory();
            group_ids
                .iter()
                .map(|g| (g.clone(), dir.read_marker(user_id, g)))
                .collect()
        };
        let user_id = user_id.to_owned();
        self.read(move |conn| {
            let mut recent = conn.prepare_cached(&format!(
                "SELECT {MESSAGE_COLUMNS} FROM messages \
                 WHERE user_lo = ?1 AND user_hi = ?1 ORDER BY id DESC LIMIT ?2"
            ))?;
            let mut count = conn.prepare_cached(
                "SELECT count(*) FROM (SELECT 1 FROM messages \
                 WHERE user_lo = ?1 AND user_hi = ?1 AND id > ?2 AND sender != ?3 LIMIT ?4)",
            )?;
            let mut out = Vec::with_capacity(wanted.len());
            for (g, marker) in wanted {
                let mut messages: Vec<Message> = recent
                    .query_map(params![g, per_group], message_from_row)?
                    .collect::<Result<_, _>>()?;
                messages.reverse();
                let after = i64::try_from(marker).unwrap_or(i64::MAX);
                let unread: i64 = count
                    .query_row(params![g, after, user_id, MAX_UNREAD_COUNTED as i64], |r| {
                        r.get(0)
                    })?;
                out.push((g, messages, unread.max(0) as u64));
            }
            Ok(out)
        })
        .await
    }

    async fn insert_file(&self, file: FileRecord) -> StoreResult<()> {
        self.directory_write(move |conn| {
            let (i, sha256) = (&file.info.file, &file.info.sha256);
            conn.prepare_cached(
                "INSERT INTO files (file_id, uploader, name, size, media_type, sha256, created_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?
            .execute(params![
                i.file_id,
                file.uploader,
                i.name,
                i.size as i64,
                i.media_type,
                sha256,
                now_ms()
            ])
        })
        .await?;
        Ok(())
    }

    async fn file(&self, file_id: &str) -> StoreResult<Option<FileRecord>> {
        let id = file_id.to_owned();
        self.read(move |conn| {
            Ok(conn
                .prepare_cached(
                    "SELECT file_id, uploader, name, size, media_type, sha256 FROM files \
                     WHERE file_id = ?1",
                )?
                .query_row(params![id], |r| {
                    Ok(FileRecord {
                        info: natter_protocol::FileInfo {
                            file: natter_protocol::Attachment {
                                file_id: r.get(0)?,
                                name: r.get(2)?,
                                size: r.get::<_, i64>(3)?.max(0) as u64,
                                media_type: r.get(4)?,
                            },
                            sha256: r.get(5)?,
                        },
                        uploader: r.get(1)?,
                    })
                })
                .optional()?)
        })
        .await
    }

    async fn file_sent_to(&self, file_id: &str, user_id: &str) -> StoreResult<bool> {
        let groups = serde_json::to_string(&self.directory().groups_of(user_id))
            .map_err(|e| StoreError::Commit(e.to_string()))?;
        let (fid, uid) = (file_id.to_owned(), user_id.to_owned());
        self.read(move |conn| {
            Ok(conn
                .prepare_cached(
                    "SELECT 1 FROM messages WHERE attachment_id = ?1 \
                     AND (recipient = ?2 OR recipient IN (SELECT value FROM json_each(?3)))",
                )?
                .exists(params![fid, uid, groups])?)
        })
        .await
    }

    async fn search(
        &self,
        user_id: &str,
        query: &str,
        within: Option<Conversation<'_>>,
        limit: u32,
    ) -> StoreResult<Result<Vec<Message>, SearchUnsupported>> {
        let conversations: Vec<(String, String)> = match within {
            Some(c) => vec![conversation_columns(c)],
            None => {
                let dir = self.directory();
                let peers = dir.peers.get(user_id).into_iter().flatten();
                peers
                    .map(|p| conversation_columns(Conversation::Private(user_id, p)))
                    .chain(
                        dir.groups_of(user_id)
                            .iter()
                            .map(|g| conversation_columns(Conversation::Group(g))),
                    )
                    .collect()
            }
        };
        let text = query.to_owned();
        let indexed_up_to = self.indexed.load(Ordering::Relaxed);
        self.read(move |conn| {
            Ok(Ok(super::search::find(
                conn,
                &super::search::Query {
                    text: &text,
                    conversations: &conversations,
                    limit: limit as usize,
                    indexed_up_to,
                },
            )?))
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn new_user(session_id: &str, user_id: &str, username: &str) -> NewUser {
        NewUser {
            session_id: session_id.into(),
            user_id: user_id.into(),
            username: username.into(),
            password_hash: None,
        }
    }

    async fn create(store: &SqliteStore, session_id: &str, user_id: &str, username: &str) {
        store
            .create_user(new_user(session_id, user_id, username))
            .await
            .unwrap()
            .unwrap();
    }

    #[tokio::test]
    async fn names_are_unique_after_normalisation_and_sessions_revocable() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = SqliteStore::open(dir.path()).unwrap();
            create(&store, "s-alice", "ua", "Alice").await;
            assert_eq!(
                store
                    .create_user(new_user("s2", "ux", "ＡＬＩＣＥ"))
                    .await
                    .unwrap(),
                Err(NameTaken)
            );
            store.add_session("s-alice-2", "ua").await.unwrap();
            store.set_password("ua", Some("hash".into())).await.unwrap();
            assert_eq!(store.session_counts().await.unwrap()["ua"], 2);
            assert!(store.revoke_session("s-alice").await.unwrap());
            assert!(store.find_session("s-alice").await.unwrap().is_none());
            assert!(store.find_session("s-alice-2").await.unwrap().is_some());
        }
        // All of it is durable.
        let store = SqliteStore::open(dir.path()).unwrap();
        assert!(store.find_session("s-alice").await.unwrap().is_none());
        assert!(store.find_session("s-alice-2").await.unwrap().is_some());
        let named = store.accounts_named("alice").await.unwrap();
        assert_eq!(named.len(), 1);
        assert_eq!(named[0].password_hash.as_deref(), Some("hash"));
        assert_eq!(store.revoke_user_sessions("ua").await.unwrap(), 1);
        assert!(store.find_session("s-alice-2").await.unwrap().is_none());

        create(&store, "s-bob", "ub", "bob").await;
        assert_eq!(
            store.rename_user("ub", "ALICE").await.unwrap(),
            Err(NameTaken)
        );
        store.rename_user("ub", "Robert").await.unwrap().unwrap();
        assert!(store.accounts_named("bob").await.unwrap().is_empty());
        create(&store, "s-bob2", "ub2", "Bob").await;
        store
            .insert_message(msg("ua", "ub", "hi", None))
            .await
            .unwrap();
        assert!(store.remove_user("ua").await.unwrap());
        assert!(store.accounts_named("alice").await.unwrap().is_empty());
        assert!(
            store
                .recent_conversations("ub", 10)
                .await
                .unwrap()
                .is_empty()
        );
        let names: Vec<_> = store
            .users()
            .await
            .unwrap()
            .into_iter()
            .map(|u| u.username.to_string())
            .collect();
        assert_eq!(names, ["Robert", "Bob"]);
        drop(store);
        let store = SqliteStore::open(dir.path()).unwrap();
        let names: Vec<_> = store
            .users()
            .await
            .unwrap()
            .into_iter()
            .map(|u| u.username.to_string())
            .collect();
        assert_eq!(names, ["Robert", "Bob"]);
    }

    #[tokio::test]
    async fn identities_sharing_a_name_from_before_keep_working() {
        let dir = tempfile::tempdir().unwrap();
        {
            let conn = Connection::open(dir.path().join("natter.db")).unwrap();
            conn.execute_batch(MIGRATIONS[0]).unwrap();
            conn.execute_batch(MIGRATIONS[1]).unwrap();
            conn.pragma_update(None, "user_version", 2).unwrap();
            for (uid, name, sid) in [("u1", "alice", "s1"), ("u2", "Alice", "s2")] {
                conn.execute(
                    "INSERT INTO users (user_id, session_hash, username, created_at) \
                     VALUES (?1, ?2, ?3, 1)",
                    params![uid, hash_session_id(sid), name],
                )
                .unwrap();
            }
        }
        let store = SqliteStore::open(dir.path()).unwrap();
        assert_eq!(
            store.find_session("s1").await.unwrap().unwrap().user_id,
            "u1"
        );
        assert_eq!(
            store.find_session("s2").await.unwrap().unwrap().user_id,
            "u2"
        );
        assert_eq!(store.accounts_named("ALICE").await.unwrap().len(), 2);
        assert_eq!(
            store
                .create_user(new_user("s3", "u3", "alice"))
                .await
                .unwrap(),
            Err(NameTaken)
        );
        store.rename_user("u2", "alice2").await.unwrap().unwrap();
        assert_eq!(store.accounts_named("alice").await.unwrap().len(), 1);
    }

    fn msg(from: &str, to: &str, content: &str, client_id: Option<&str>) -> NewMessage {
        NewMessage {
            from: from.into(),
            to: to.into(),
            content: content.into(),
            client_id: client_id.map(Into::into),
            attachment: None,
        }
    }

    #[tokio::test]
    async fn sessions_and_messages_survive_reopening() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = SqliteStore::open(dir.path()).unwrap();
            create(&store, "secret-a", "ua", "alice").await;
            create(&store, "secret-b", "ub", "bob").await;
            store.set_connected("ua", true).await.unwrap();
            for i in 0..5 {
                store
                    .insert_message(msg("ua", "ub", &format!("m{i}"), None))
                    .await
                    .unwrap();
            }
        }
        let store = SqliteStore::open(dir.path()).unwrap();
        let alice = store.find_session("secret-a").await.unwrap().unwrap();
        assert_eq!(alice.user_id, "ua");
        assert!(!alice.connected, "presence starts offline after a restart");
        assert!(store.find_session("ua").await.unwrap().is_none());
        let conv = store.recent_conversations("ub", 3).await.unwrap();
        assert_eq!(conv.len(), 1);
        let contents: Vec<_> = conv[0].1.iter().map(|m| m.content.as_str()).collect();
        assert_eq!(contents, ["m2", "m3", "m4"]);
    }

    #[tokio::test]
    async fn session_ids_are_not_stored_in_clear() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path()).unwrap();
        create(&store, "very-secret-session", "ua", "alice").await;
        drop(store);
        let bytes = std::fs::read(dir.path().join("natter.db")).unwrap();
        let wal = std::fs::read(dir.path().join("natter.db-wal")).unwrap_or_default();
        let needle = b"very-secret-session";
        let found = |hay: &[u8]| hay.windows(needle.len()).any(|w| w == needle);
        assert!(!found(&bytes) && !found(&wal));
    }

    #[tokio::test]
    async fn client_id_makes_inserts_idempotent() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path()).unwrap();
        let first = store
            .insert_message(msg("ua", "ub", "hello", Some("c1")))
            .await
            .unwrap();
        let Inserted::New(first) = first else {
            panic!("first insert must be new")
        };
        let again = store
            .insert_message(msg("ua", "ub", "hello", Some("c1")))
            .await
            .unwrap();
        assert_eq!(again, Inserted::Duplicate(first.clone()));
        // Another sender may use the same key.
        let other = store
            .insert_message(msg("ub", "ua", "hello", Some("c1")))
            .await
            .unwrap();
        assert!(matches!(other, Inserted::New(_)));
        let (page, _) = store
            .page(Conversation::Private("ua", "ub"), None, 10)
            .await
            .unwrap();
        assert_eq!(page.len(), 2);
    }

    #[tokio::test]
    async fn concurrent_inserts_are_grouped_and_all_committed() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(SqliteStore::open(dir.path()).unwrap());
        let tasks: Vec<_> = (0..200)
            .map(|i| {
                let s = store.clone();
                tokio::spawn(async move {
                    s.insert_message(msg("ua", "ub", &format!("{i}"), Some(&format!("k{i}"))))
                        .await
                })
            })
            .collect();
        for t in tasks {
            assert!(matches!(t.await.unwrap().unwrap(), Inserted::New(_)));
        }
        let (page, more) = store
            .page(Conversation::Private("ub", "ua"), None, 500)
            .await
            .unwrap();
        assert_eq!(page.len(), 200);
        assert!(!more);
        assert!(page.windows(2).all(|w| w[0].id < w[1].id));
    }

    #[test]
    fn a_batch_takes_what_is_queued_up_to_its_limit() {
        let (tx, rx) = mpsc::channel();
        let op = |i: usize| WriteOp::InsertMessage {
            message: msg("ua", "ub", &i.to_string(), None),
            reply: oneshot::channel().0,
        };
        for i in 0..MAX_BATCH + 10 {
            tx.send(op(i)).unwrap();
        }
        let mut batch = vec![op(0)];
        gather(&mut batch, &rx, false);
        assert_eq!(batch.len(), MAX_BATCH, "the queued writes join the first");
        batch.clear();
        batch.push(op(0));
        gather(&mut batch, &rx, true);
        assert_eq!(batch.len(), 12, "after the linger, the rest");
        assert!(rx.try_recv().is_err());
    }

    #[tokio::test]
    async fn every_conversation_is_found_after_reopening() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = SqliteStore::open(dir.path()).unwrap();
            for (from, to) in [("ua", "ub"), ("uc", "ua"), ("ud", "uc"), ("ud", "uc")] {
                store
                    .insert_message(msg(from, to, "x", None))
                    .await
                    .unwrap();
            }
        }
        let store = SqliteStore::open(dir.path()).unwrap();
        let peers = |user: &'static str| {
            let store = &store;
            async move {
                let mut p: Vec<_> = store
                    .recent_conversations(user, 10)
                    .await
                    .unwrap()
                    .into_iter()
                    .map(|(peer, messages)| (peer, messages.len()))
                    .collect();
                p.sort();
                p
            }
        };
        assert_eq!(peers("ua").await, [("ub".into(), 1), ("uc".into(), 1)]);
        assert_eq!(peers("uc").await, [("ua".into(), 1), ("ud".into(), 2)]);
        assert_eq!(peers("ue").await, []);
    }

    /// The WAL header's checkpoint sequence number; it goes up each time the WAL restarts.
    fn wal_restarts(dir: &Path) -> u32 {
        let wal = std::fs::read(dir.join("natter.db-wal")).unwrap();
        u32::from_be_bytes(wal[12..16].try_into().unwrap())
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_wal_restarts_while_messages_keep_coming() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(SqliteStore::open(dir.path()).unwrap());
        store
            .insert_message(msg("ua", "ub", "first", None))
            .await
            .unwrap();
        let before = wal_restarts(dir.path());
        // A steady stream from 16 senders: the writer is never idle long enough for the
        // checkpoint thread alone to catch up. It stops once the WAL has restarted.
        let stop = Arc::new(AtomicBool::new(false));
        let senders: Vec<_> = (0..16)
            .map(|i| {
                let (store, stop) = (store.clone(), stop.clone());
                tokio::spawn(async move {
                    let mut n = 0;
                    while !stop.load(Ordering::Relaxed) {
                        let to = format!("u{}", n % 97);
                        store
                            .insert_message(msg(&format!("s{i}"), &to, "x", None))
                            .await
                            .unwrap();
                        n += 1;
                    }
                    n
                })
            })
            .collect();
        // Long enough for several checkpoint passes, short enough that the writer is never
        // idle long enough for the checkpoint thread alone to catch up.
        tokio::time::sleep(4 * CHECKPOINT_QUIET).await;
        stop.store(true, Ordering::Relaxed);
        let mut sent = 0;
        for s in senders {
            sent += s.await.unwrap();
        }
        assert!(
            wal_restarts(dir.path()) > before,
            "the WAL never restarted during {sent} inserts"
        );
    }

    #[tokio::test]
    async fn a_failing_write_does_not_undo_the_others_in_its_batch() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(SqliteStore::open(dir.path()).unwrap());
        create(&store, "s1", "ua", "alice").await;
        let mut tasks = Vec::new();
        for i in 0..50 {
            let s = store.clone();
            tasks.push(tokio::spawn(async move {
                s.insert_message(msg("ua", "ub", &format!("{i}"), None))
                    .await
                    .map(|_| ())
            }));
            if i == 25 {
                // Same userID again: the primary key refuses it.
                let s = store.clone();
                tasks.push(tokio::spawn(async move {
                    s.create_user(new_user("s2", "ua", "mallory"))
                        .await
                        .map(|_| ())
                }));
            }
        }
        let results: Vec<_> = futures_util::future::join_all(tasks).await;
        let failed = results
            .iter()
            .filter(|r| r.as_ref().unwrap().is_err())
            .count();
        assert_eq!(failed, 1, "only the duplicate user fails");
        let (page, _) = store
            .page(Conversation::Private("ua", "ub"), None, 100)
            .await
            .unwrap();
        assert_eq!(page.len(), 50);
        assert!(store.find_session("s2").await.unwrap().is_none());
    }

    #[tokio::test]
    async fn paging_walks_back_without_gaps() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path()).unwrap();
        for i in 0..25 {
            store
                .insert_message(msg("ua", "ub", &format!("{i}"), None))
                .await
                .unwrap();
            // noise in another conversation
            store
                .insert_message(msg("ua", "uc", "x", None))
                .await
                .unwrap();
        }
        let mut seen = Vec::new();
        let mut before = None;
        loop {
            let (page, more) = store
                .page(Conversation::Private("ub", "ua"), before, 10)
                .await
                .unwrap();
            before = page.first().map(|m| m.id);
            let mut contents: Vec<_> = page.into_iter().map(|m| m.content).collect();
            contents.extend(seen);
            seen = contents;
            if !more {
                break;
            }
        }
        let expected: Vec<_> = (0..25).map(|i| i.to_string()).collect();
        assert_eq!(seen, expected);
    }

    #[tokio::test]
    async fn a_database_of_the_first_schema_is_upgraded() {
        let dir = tempfile::tempdir().unwrap();
        {
            let conn = Connection::open(dir.path().join("natter.db")).unwrap();
            conn.execute_batch(MIGRATIONS[0]).unwrap();
            conn.pragma_update(None, "user_version", 1).unwrap();
            conn.execute_batch(
                "INSERT INTO messages (sender, recipient, user_lo, user_hi, content, ts) \
                 VALUES ('ub', 'ua', 'ua', 'ub', 'old', 1); \
                 INSERT INTO conversations VALUES ('ua', 'ub'), ('ub', 'ua');",
            )
            .unwrap();
        }
        let store = SqliteStore::open(dir.path()).unwrap();
        let conv = store.recent_conversations("ua", 10).await.unwrap();
        assert_eq!(conv.len(), 1);
        assert_eq!(conv[0].0, "ub");
        assert_eq!(conv[0].1[0].content, "old");
        drop(store);
        let conn = Connection::open(dir.path().join("natter.db")).unwrap();
        let version: usize = conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .unwrap();
        assert_eq!(version, MIGRATIONS.len());
    }

    #[tokio::test]
    async fn a_newer_schema_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        drop(SqliteStore::open(dir.path()).unwrap());
        let conn = Connection::open(dir.path().join("natter.db")).unwrap();
        conn.pragma_update(None, "user_version", 99).unwrap();
        drop(conn);
        let err = SqliteStore::open(dir.path()).err().unwrap();
        assert!(err.to_string().contains("newer"), "{err}");
    }

    /// Waits until the writer has indexed every message (it does when idle).
    async fn indexed(store: &SqliteStore) {
        for _ in 0..500 {
            if store.unindexed() == 0 {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        panic!("the index did not catch up");
    }

    async fn search(store: &SqliteStore, who: &str, q: &str, limit: u32) -> Vec<String> {
        store
            .search(who, q, None, limit)
            .await
            .unwrap()
            .unwrap()
            .into_iter()
            .map(|m| m.content)
            .collect()
    }

    #[tokio::test]
    async fn search_answers_the_same_before_and_after_indexing() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path()).unwrap();
        // Many matches in other people's conversations, a few in ua's, oldest first.
        store
            .insert_message(msg("ua", "ub", "Pizza on Friday", None))
            .await
            .unwrap();
        for i in 0..2500 {
            store
                .insert_message(msg("uc", "ud", &format!("pizza {i}"), None))
                .await
                .unwrap();
        }
        store
            .create_group(GroupRecord {
                group_id: "g-1".into(),
                name: "team".into(),
                members: vec!["ua".into(), "ue".into()],
                created_by: "ua".into(),
            })
            .await
            .unwrap();
        store
            .insert_message(msg("ue", "g-1", "PIZZA in the group", None))
            .await
            .unwrap();
        store
            .insert_message(msg("ua", "ub", "no match here", None))
            .await
            .unwrap();
        let expected = ["PIZZA in the group", "Pizza on Friday"];
        let within = |c| {
            let store = &store;
            async move {
                store
                    .search("ua", "pizza", Some(c), 10)
                    .await
                    .unwrap()
                    .unwrap()
                    .len()
            }
        };
        assert_eq!(within(Conversation::Private("ua", "ub")).await, 1);
        assert_eq!(within(Conversation::Group("g-1")).await, 1);
        // Whatever the index holds yet.
        assert_eq!(search(&store, "ua", "pizza", 10).await, expected);
        indexed(&store).await;
        // From the index; the 2,500 others' matches are passed over.
        assert_eq!(search(&store, "ua", "pizza", 10).await, expected);
        assert_eq!(within(Conversation::Private("ua", "ub")).await, 1);
        assert_eq!(within(Conversation::Group("g-1")).await, 1);
        assert_eq!(search(&store, "ua", "izz", 1).await, ["PIZZA in the group"]);
        assert!(
            search(&store, "ub", "group", 10).await.is_empty(),
            "not ub's group"
        );
        assert_eq!(
            search(&store, "ud", "pizza", 3).await,
            ["pizza 2499", "pizza 2498", "pizza 2497"]
        );
        // Survives a restart, and removals leave the index consistent.
        drop(store);
        let store = SqliteStore::open(dir.path()).unwrap();
        assert_eq!(search(&store, "ua", "pizza", 10).await, expected);
        create(&store, "s-c", "uc", "carol").await;
        assert!(store.remove_user("uc").await.unwrap());
        assert!(search(&store, "ud", "pizza", 3).await.is_empty());
        store
            .insert_message(msg("ub", "ua", "more pizza", None))
            .await
            .unwrap();
        indexed(&store).await;
        assert_eq!(search(&store, "ua", "pizza", 10).await.len(), 3);
        // FTS5's own check: the index matches the messages it claims to hold.
        store
            .directory_write(|c| {
                c.execute(
                    "INSERT INTO messages_fts (messages_fts, rank) VALUES ('integrity-check', 1)",
                    [],
                )
            })
            .await
            .expect("the index is consistent");
    }
}
