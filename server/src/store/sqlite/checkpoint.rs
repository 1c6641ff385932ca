//! WAL checkpoints, on their own thread and connection so commits never wait behind one.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;

use rusqlite::Connection;

/// How often the checkpoint thread runs while messages are being written: often, so each pass
/// is short (about 1 MB at 10k msgs/s). A pass is not preempted by the sockets on a one-core
/// server; every 250 ms, at 10k msgs/s, a pass held the core long enough to double p99.9.
const CHECKPOINT_BUSY: std::time::Duration = std::time::Duration::from_millis(25);
/// How often it looks when nothing was written since its last pass.
pub(super) const CHECKPOINT_QUIET: std::time::Duration = std::time::Duration::from_millis(250);
/// WAL frames after which the writer finishes a checkpoint so the WAL restarts: half the
/// database's pages, at least 1024 (4 MiB), at most 16384 (64 MiB, the size the WAL is
/// truncated back to). Relative to the database, so on a small disk the WAL never grows to
/// twice the database while messages pour in. (Less in tests, which write less.)
const RESTART_MIN_FRAMES: i64 = if cfg!(test) { 1000 } else { 1024 };
const RESTART_MAX_FRAMES: i64 = if cfg!(test) { 1000 } else { 16384 };
/// How long the truncating checkpoint waits for a reader or the writer: it runs only when
/// nothing was written for a while, and is tried again at the next quiet pass.
const TRUNCATE_WAIT: std::time::Duration = std::time::Duration::from_millis(100);

/// What one pass saw.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Wal {
    /// Frames in the WAL.
    pub frames: i64,
    /// Frames of them already copied into the database.
    pub copied: i64,
}

/// Checkpoints the WAL until the store is dropped. PASSIVE: never waits for, nor blocks, the
/// writer. When the WAL has grown, it asks the writer to finish the job (see
/// [`super::writer::Writer::finish_checkpoint`]). Once nothing was written for a quiet period,
/// the WAL is truncated to nothing: its file otherwise keeps its largest size for good, which
/// on a full disk is the room the server needs to write again.
pub(super) fn checkpoint_loop(
    conn: Connection,
    stop: mpsc::Receiver<()>,
    restart_due: Arc<AtomicBool>,
) {
    let mut wait = CHECKPOINT_QUIET;
    let mut last_frames = 0;
    while let Err(mpsc::RecvTimeoutError::Timeout) = stop.recv_timeout(wait) {
        let quiet_before = wait == CHECKPOINT_QUIET;
        match pass(&conn, &restart_due) {
            Ok(wal) => {
                let unchanged = wal.frames == last_frames;
                // Quiet for a whole quiet period, everything copied, something to give back.
                if unchanged && quiet_before && wal.frames > 0 && wal.copied == wal.frames {
                    match truncate(&conn) {
                        Ok(()) => last_frames = 0,
                        Err(e) => tracing::debug!(error = %e, "WAL truncation put off"),
                    }
                } else {
                    last_frames = wal.frames;
                }
                wait = if unchanged {
                    CHECKPOINT_QUIET
                } else {
                    CHECKPOINT_BUSY
                };
            }
            Err(e) => {
                // A full disk: the pass is retried quietly until there is room again.
                tracing::warn!(error = %e, "WAL checkpoint failed");
                wait = CHECKPOINT_QUIET;
            }
        }
    }
}

/// One pass: a second one copies what was written during the first, so the writer is left
/// with only the last few frames when it is asked to restart the WAL.
fn pass(conn: &Connection, restart_due: &AtomicBool) -> rusqlite::Result<Wal> {
    let wal = checkpoint(conn, "PASSIVE")?;
    if wal.frames > restart_after(conn)? {
        checkpoint(conn, "PASSIVE")?;
        restart_due.store(true, Ordering::Relaxed);
    }
    Ok(wal)
}

fn restart_after(conn: &Connection) -> rusqlite::Result<i64> {
    let pages: i64 = conn.query_row("PRAGMA page_count", [], |r| r.get(0))?;
    Ok((pages / 2).clamp(RESTART_MIN_FRAMES, RESTART_MAX_FRAMES))
}

/// Copies the whole WAL into the database and truncates its file to nothing. Waits at most
/// [`TRUNCATE_WAIT`] for readers and the writer (it holds the write lock while it runs).
fn truncate(conn: &Connection) -> rusqlite::Result<()> {
    conn.busy_timeout(TRUNCATE_WAIT)?;
    let result = conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| {
        r.get::<_, i64>(0)
    });
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    match result? {
        0 => Ok(()),
        _ => Err(rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_BUSY),
            Some("readers still on the WAL".into()),
        )),
    }
}

fn checkpoint(conn: &Connection, mode: &str) -> rusqlite::Result<Wal> {
    // Columns: busy, frames in the WAL, frames checkpointed (-1, -1 when not in WAL mode).
    conn.query_row(&format!("PRAGMA wal_checkpoint({mode})"), [], |r| {
        Ok(Wal {
            frames: r.get(1)?,
            copied: r.get(2)?,
        })
    })
}

/// Runs a PASSIVE checkpoint; returns the number of frames in the WAL.
pub(super) fn passive_checkpoint(conn: &Connection) -> rusqlite::Result<i64> {
    checkpoint(conn, "PASSIVE").map(|w| w.frames)
}
