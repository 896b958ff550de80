//! `--ready-file PATH`, the readiness signal of `aisle hq` and `aisle
//! gateway`: the file appears once the service does its job (the collector
//! is subscribed; the gateway is connected and reading every receiver), so
//! a supervisor, a script or a test waits for a file instead of a log line.
//!
//! A file left by an earlier run is removed at start, so the file appearing
//! always means this run is ready. It holds the process id, and is written
//! under a temporary name and renamed, so it is never seen half-written.

use std::io;
use std::path::{Path, PathBuf};
use tokio::sync::oneshot;

/// Removes the ready file at `path`, if there is one: whoever starts a
/// service and waits for its file calls this first, so an earlier run's
/// file is not taken for this run's.
pub fn clear(path: &Path) -> io::Result<()> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

/// Where to signal readiness, if anywhere.
pub(crate) struct ReadyFile(Option<PathBuf>);

impl ReadyFile {
    /// Removes a ready file an earlier run left at `path`.
    pub(crate) fn prepare(path: Option<PathBuf>) -> io::Result<ReadyFile> {
        if let Some(path) = &path {
            clear(path)?;
        }
        Ok(ReadyFile(path))
    }

    /// Writes the file once `ready` fires; nothing if its sender is dropped
    /// first (the service stopped before it was ready).
    pub(crate) async fn write_when(self, ready: oneshot::Receiver<()>) {
        let (Some(path), Ok(())) = (self.0, ready.await) else {
            return;
        };
        let mut partial = path.clone().into_os_string();
        partial.push(".partial");
        let written = std::fs::write(&partial, format!("{}\n", std::process::id()))
            .and_then(|()| std::fs::rename(&partial, &path));
        match written {
            Ok(()) => tracing::info!(path = %path.display(), "ready file written"),
            // The service itself works; only the signal is missing, and
            // the log says why.
            Err(e) => tracing::error!(path = %path.display(), %e, "cannot write the ready file"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_stale_file_goes_at_start_and_the_new_one_comes_when_ready() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ready");
        std::fs::write(&path, "stale").unwrap();
        let ready = ReadyFile::prepare(Some(path.clone())).unwrap();
        assert!(!path.exists(), "a file from an earlier run is removed");
        let (tx, rx) = oneshot::channel();
        let writer = tokio::spawn(ready.write_when(rx));
        tx.send(()).unwrap();
        writer.await.unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text, format!("{}\n", std::process::id()));
    }

    #[tokio::test]
    async fn no_file_when_the_service_stops_before_it_is_ready() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ready");
        let ready = ReadyFile::prepare(Some(path.clone())).unwrap();
        let (tx, rx) = oneshot::channel::<()>();
        drop(tx);
        ready.write_when(rx).await;
        assert!(!path.exists());
    }
}
