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
//! the writer checkpoints itself before its next transaction, as SQLite
//! would.

use rusqlite::{Connection, OpenFlags};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, SyncSender, TrySendError};
use std::thread::JoinHandle;
use std::time::Duration;

/// The WAL size past which the writer checkpoints in its own thread.
const WAL_LIMIT_BYTES: u64 = 256 << 20;

/// The checkpoint thread of one writer.
pub(crate) struct Checkpointer {
    wake: Option<SyncSender<()>>,
    thread: Option<JoinHandle<()>>,
    wal: PathBuf,
}

impl Checkpointer {
    /// Starts the thread, with a connection of its own to `path`.
    pub(crate) fn start(path: &Path) -> rusqlite::Result<Checkpointer> {
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        conn.busy_timeout(Duration::from_secs(10))?;
        // One pending wake-up is enough: a checkpoint copies everything
        // committed before it starts.
        let (wake, woken) = mpsc::sync_channel::<()>(1);
        let thread = std::thread::Builder::new()
            .name("sqlite-checkpoint".into())
            .spawn(move || {
                while woken.recv().is_ok() {
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
    /// [`WAL_LIMIT_BYTES`], waiting for readers as SQLite's own checkpoint
    /// would.
    pub(crate) fn bound_wal(&self, conn: &Connection) -> rusqlite::Result<()> {
        let size = std::fs::metadata(&self.wal).map_or(0, |m| m.len());
        if size > WAL_LIMIT_BYTES {
            conn.query_row("PRAGMA wal_checkpoint(RESTART)", [], |_| Ok(()))?;
        }
        Ok(())
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
