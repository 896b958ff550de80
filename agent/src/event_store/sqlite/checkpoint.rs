//! WAL checkpoints off the writer's commit path.
//!
//! SQLite's automatic checkpoint runs inside the commit that fills the WAL
//! past a threshold: the writer copies the WAL's pages into the database
//! and syncs it before it can ack anything. Here the writer's connection
//! has automatic checkpoints off and a thread of its own does a PASSIVE
//! checkpoint after each commit, with its own connection, while the writer
//! takes in the next batches. A PASSIVE checkpoint never blocks the writer
//! or a reader; durability is the commit's own WAL sync, unchanged.
//!
//! A checkpoint that keeps falling behind (a long report holding old pages,
//! a writer that never pauses) lets the WAL grow; past [`WAL_LIMIT_BYTES`]
//! the writer checkpoints itself before its next transaction and truncates
//! the WAL, as SQLite would. It first waits for the thread's checkpoint in
//! progress: SQLite runs one checkpoint at a time and answers a second
//! with "busy" at once, so a writer that never paused used to lose that
//! race on every commit while the WAL grew without bound.

use rusqlite::{Connection, OpenFlags};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// The WAL size past which the writer checkpoints in its own thread. A
/// catch-up stalls the writer, so it should be rare: a 1 M-event backlog
/// drained at full speed peaks at about 430 MB of WAL (BENCHMARKS.md,
/// "Schema 6"), and at 256 MiB the catch-ups cost a fifth of the rate.
const WAL_LIMIT_BYTES: u64 = 1 << 30;

/// The checkpoint thread of one writer.
pub(crate) struct Checkpointer {
    wake: Option<SyncSender<()>>,
    thread: Option<JoinHandle<()>>,
    wal: PathBuf,
    /// Held by whoever checkpoints: the thread, or the writer bounding
    /// the WAL.
    running: Arc<Mutex<()>>,
    limit: u64,
}

impl Checkpointer {
    /// Starts the thread, with a connection of its own to `path`.
    pub(crate) fn start(path: &Path) -> rusqlite::Result<Checkpointer> {
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        conn.busy_timeout(super::BUSY_TIMEOUT)?;
        // One pending wake-up is enough: a checkpoint copies everything
        // committed before it starts.
        let (wake, woken) = mpsc::sync_channel::<()>(1);
        let running = Arc::new(Mutex::new(()));
        let mine = running.clone();
        let thread = std::thread::Builder::new()
            .name("sqlite-checkpoint".into())
            .spawn(move || {
                while woken.recv().is_ok() {
                    let _running = mine.lock().unwrap_or_else(|p| p.into_inner());
                    if let Err(err) =
                        conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))
                    {
                        tracing::debug!(%err, "WAL checkpoint did not run");
                    }
                }
            })
            .map_err(|err| rusqlite::Error::ToSqlConversionFailure(Box::new(err)))?;
        let mut wal = path.as_os_str().to_owned();
        wal.push("-wal");
        Ok(Checkpointer {
            wake: Some(wake),
            thread: Some(thread),
            wal: wal.into(),
            running,
            limit: WAL_LIMIT_BYTES,
        })
    }

    /// Asks for a checkpoint of what has been committed.
    pub(crate) fn nudge(&self) {
        if let Some(wake) = &self.wake {
            match wake.try_send(()) {
                Ok(()) | Err(TrySendError::Full(())) => {}
                Err(TrySendError::Disconnected(())) => {
                    tracing::warn!("the WAL checkpoint thread stopped")
                }
            }
        }
    }

    /// Checkpoints on `conn` (the writer's) when the WAL has outgrown
    /// [`WAL_LIMIT_BYTES`], after the thread's checkpoint in progress, and
    /// truncates the WAL, so its size on disk says again how far behind the
    /// checkpoints are. It does not wait for readers, as SQLite's own
    /// checkpoint does not: while a long report holds old pages, the
    /// checkpoint copies what it can, the WAL keeps what the report reads,
    /// and the first commit after the report truncates it.
    pub(crate) fn bound_wal(&self, conn: &Connection) -> rusqlite::Result<()> {
        let size = std::fs::metadata(&self.wal).map_or(0, |m| m.len());
        if size > self.limit {
            let _running = self.running.lock().unwrap_or_else(|p| p.into_inner());
            conn.busy_timeout(Duration::ZERO)?;
            let busy = conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| {
                r.get::<_, i64>(0)
            });
            conn.busy_timeout(super::BUSY_TIMEOUT)?;
            if busy? != 0 {
                tracing::debug!(
                    size,
                    "the WAL is held by a reader; truncated at a later commit"
                );
            }
        }
        Ok(())
    }

    /// Bounds the WAL at `bytes` instead (for tests).
    #[cfg(test)]
    pub(crate) fn set_limit(&mut self, bytes: u64) {
        self.limit = bytes;
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        self.wake.take();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
