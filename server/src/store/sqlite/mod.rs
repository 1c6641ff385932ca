//! The embedded default store: one SQLite file in the data dir, nothing to install.
//!
//! - Writes go to a single writer thread ([`writer`]) that commits whatever has queued up in
//!   one transaction (group commit): a burst of messages costs one fsync, and each caller still
//!   hears back only after its row is committed. WAL checkpoints run on their own thread
//!   ([`checkpoint`]).
//! - Reads (history, paging, search) run on a small pool of read connections; WAL lets them
//!   proceed while the writer commits.
//! - The user directory ([`directory`]: sessions, usernames, conversations, read markers,
//!   groups) is small and read on every login, so it is kept in memory too and updated only
//!   after the writer committed. Presence is runtime state: it lives in memory only and every
//!   user starts offline when the process starts.
//! - Messages are appended; which conversation each belongs to is merged into the
//!   conversation index in bulk ([`conversation_index`]), so a message writes no random page.
//! - One file per concern of the store ([`identities`], [`presence`], [`messages`], [`changes`],
//!   [`awareness`], [`groups`], [`files`]), the schema as numbered SQL files ([`schema`]), row
//!   mapping in [`rows`], full-text search in [`search`]. Dependencies run one way: this
//!   module → [`writer`] → [`search`], [`conversation_index`] → [`rows`].

mod announcements;
mod awareness;
mod changes;
mod checkpoint;
mod client_ids;
mod conversation_index;
mod directory;
mod files;
mod groups;
mod identities;
mod merged_in_bulk;
mod message_ids;
mod messages;
mod presence;
mod rows;
mod schema;
mod search;
#[cfg(test)]
mod tests;
mod upkeep;
mod writer;

use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock, mpsc};

use async_trait::async_trait;
use rusqlite::{Connection, OpenFlags};
use tokio::sync::oneshot;

use self::conversation_index::SharedTail;
use self::directory::Directory;
use self::writer::{WriteOp, Writer};
use super::{Store, StoreError, StoreResult};

/// Read connections; more than the core count buys nothing on this workload.
const READERS: usize = 2;

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
    /// The conversation index's entries not merged yet (the writer moves them).
    tail: SharedTail,
}

impl SqliteStore {
    /// Opens (creating if needed) `natter.db` in `data_dir` and applies pending migrations.
    pub fn open(data_dir: &Path) -> StoreResult<Self> {
        std::fs::create_dir_all(data_dir)
            .map_err(|e| StoreError::Open(format!("creating {}: {e}", data_dir.display())))?;
        let path = data_dir.join("natter.db");

        let mut conn = Connection::open(&path)?;
        configure(&conn)?;
        schema::migrate(&mut conn)?;
        let newest = conversation_index::recover(&conn)?;
        let tail: SharedTail = Arc::new(Mutex::new(conversation_index::Tail::new(newest)));
        let client_ids = client_ids::ClientIds::new(client_ids::recover(&conn)?);
        let first_id = message_ids::first_free(&conn)?;
        let directory = directory::load_directory(&conn)?;

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
                move || checkpoint::checkpoint_loop(checkpointer, stopped, restart_due)
            })
            .map_err(|e| StoreError::Open(format!("starting the checkpoint thread: {e}")))?;

        let indexed = Arc::new(AtomicI64::new(search::indexed_up_to(&conn)?));
        let newest = Arc::new(AtomicI64::new(newest));
        let (tx, rx) = mpsc::channel();
        std::thread::Builder::new()
            .name("natter-sqlite-writer".into())
            .spawn({
                let (indexed, newest, tail) = (indexed.clone(), newest.clone(), tail.clone());
                move || {
                    let shared = writer::Shared {
                        restart_due,
                        indexed,
                        newest,
                        tail,
                    };
                    Writer::new(conn, shared, client_ids, first_id).run(rx)
                }
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
            tail,
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

    /// [`Self::read`] of the messages of `conversations` ([`conversation_index::read_with`]).
    async fn read_conversations<T: Send + 'static>(
        &self,
        conversations: Vec<rows::ConversationColumns>,
        f: impl FnOnce(&conversation_index::Reader<'_>) -> rusqlite::Result<T> + Send + 'static,
    ) -> StoreResult<T> {
        let tail = self.tail.clone();
        self.read(move |conn| {
            Ok(conversation_index::read_with(
                conn,
                &tail,
                &conversations,
                f,
            )?)
        })
        .await
    }

    /// Runs `write` in the writer's next transaction and waits for the commit; its answer.
    async fn run<T: Send + 'static>(
        &self,
        write: impl Fn(&Connection) -> StoreResult<T> + Send + 'static,
    ) -> StoreResult<T> {
        let answer = self
            .write(|reply| WriteOp::Run {
                write: Box::new(move |conn| write(conn).map(|v| Box::new(v) as writer::Answer)),
                reply,
            })
            .await??;
        answer
            .downcast::<T>()
            .map(|v| *v)
            .map_err(|_| StoreError::Commit("the writer answered another write".into()))
    }

    /// [`Self::run`] for a write on the directory's tables: how many rows it changed.
    async fn directory_write(
        &self,
        write: impl Fn(&Connection) -> rusqlite::Result<usize> + Send + 'static,
    ) -> StoreResult<usize> {
        self.run(move |conn| Ok(write(conn)?)).await
    }

    /// Messages stored but not yet in the search index (searches read those directly).
    pub fn unindexed(&self) -> u64 {
        let newest = self.newest.load(Ordering::Relaxed);
        (newest - self.indexed.load(Ordering::Relaxed)).max(0) as u64
    }

    /// Messages whose conversation index entry is still in the writer's tail.
    pub fn unmerged(&self) -> usize {
        conversation_index::lock(&self.tail).len()
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

#[async_trait]
impl Store for SqliteStore {
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
}
