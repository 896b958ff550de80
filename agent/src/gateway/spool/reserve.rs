//! Disk space held back so deletes succeed on a full disk.
//!
//! SQLite needs room in its write-ahead log even to delete, so a disk filled
//! by the spool itself could keep delivered events from ever leaving it, and
//! the disk from ever emptying. A file of zeros beside the spool holds
//! [`RESERVE_BYTES`]; a delete that fails for a full disk releases it,
//! checkpoints the log into the database file (which may grow into the
//! reserve's space) and truncates it, and runs again on the emptied log;
//! after it the log is truncated again and the reserve taken back. Free
//! pages left by the delete take the next events, so ingest resumes too.

use std::io::Write;
use std::path::{Path, PathBuf};

/// Pages (4 KiB) the write-ahead log may hold before SQLite copies them
/// into the database file: 1 MiB. On a full disk that checkpoint fails, and
/// appends fill what space is left, so the log can hold about twice this
/// beyond the database file.
pub(super) const WAL_CHECKPOINT_PAGES: i64 = 256;

/// Room for a checkpoint of that log (about 2 MiB) plus the log of a delete
/// (a 500-event batch changes about 50 pages): small beside any gateway's
/// disk.
pub(super) const RESERVE_BYTES: u64 = 4 << 20;

/// The reserve file and whether it currently holds its space.
#[derive(Debug)]
pub(super) struct Reserve {
    path: PathBuf,
    held: bool,
}

impl Reserve {
    /// The reserve of the spool at `spool`: `<spool>.reserve`, taken at once
    /// if the disk has room.
    pub(super) fn beside(spool: &Path) -> Reserve {
        let mut reserve = Reserve {
            path: PathBuf::from(format!("{}.reserve", spool.display())),
            held: false,
        };
        reserve.take();
        reserve
    }

    /// Whether the reserve holds its space now.
    pub(super) fn is_held(&self) -> bool {
        self.held
    }

    /// Takes the reserve's space if it is not held; `false` when the disk
    /// has no room for it (then nothing is left half-written).
    pub(super) fn take(&mut self) -> bool {
        if !self.held {
            self.held = self.write().is_ok();
            if !self.held {
                let _ = std::fs::remove_file(&self.path);
            }
        }
        self.held
    }

    /// Gives the reserve's space to the file system; `false` when it was
    /// not held.
    pub(super) fn release(&mut self) -> bool {
        let was = self.held;
        self.held = false;
        let _ = std::fs::remove_file(&self.path);
        was
    }

    /// Real blocks, not a sparse file: a sparse file holds no space.
    fn write(&self) -> std::io::Result<()> {
        if std::fs::metadata(&self.path).is_ok_and(|m| m.len() == RESERVE_BYTES) {
            return Ok(());
        }
        let mut file = std::fs::File::create(&self.path)?;
        let block = [0u8; 64 * 1024];
        for _ in 0..RESERVE_BYTES / block.len() as u64 {
            file.write_all(&block)?;
        }
        file.sync_all()
    }
}

/// Bytes the file system holding `path` has free for unprivileged writes.
// The block count and size are 32-bit on some targets, 64-bit on others.
#[allow(clippy::useless_conversion)]
pub(super) fn available_bytes(path: &Path) -> Option<u64> {
    let stat = nix::sys::statvfs::statvfs(path).ok()?;
    Some(u64::from(stat.blocks_available()).saturating_mul(u64::from(stat.fragment_size())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holds_real_space_and_gives_it_back_when_released() {
        let dir = tempfile::tempdir().unwrap();
        let spool = dir.path().join("spool.sqlite");
        let mut r = Reserve::beside(&spool);
        assert!(r.is_held());
        let file = dir.path().join("spool.sqlite.reserve");
        assert_eq!(std::fs::metadata(&file).unwrap().len(), RESERVE_BYTES);
        assert!(r.release());
        assert!(!file.exists());
        assert!(!r.release(), "nothing left to release");
        assert!(r.take());
        assert!(file.exists());
    }

    #[test]
    fn a_reserve_left_by_an_earlier_run_is_kept() {
        let dir = tempfile::tempdir().unwrap();
        let spool = dir.path().join("spool.sqlite");
        drop(Reserve::beside(&spool));
        let r = Reserve::beside(&spool);
        assert!(r.is_held());
    }
}
