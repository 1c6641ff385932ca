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
/// WAL frames after which the writer finishes a checkpoint so the WAL restarts.
/// (64 MiB, the size the WAL is truncated back to; less in tests, which write less.)
const RESTART_AFTER_FRAMES: i64 = if cfg!(test) { 1000 } else { 16384 };

/// Checkpoints the WAL until the store is dropped. PASSIVE: never waits for, nor blocks, the
/// writer. When the WAL has grown, it asks the writer to finish the job (see
/// [`super::writer::Writer::finish_checkpoint`]).
pub(super) fn checkpoint_loop(
    conn: Connection,
    stop: mpsc::Receiver<()>,
    restart_due: Arc<AtomicBool>,
) {
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
pub(super) fn passive_checkpoint(conn: &Connection) -> rusqlite::Result<i64> {
    // Columns: busy, frames in the WAL, frames checkpointed.
    conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| r.get(1))
}
