//! One shutdown path for every task: a request (SIGINT or SIGTERM in the
//! `aisle gateway` process, any future in a test) sets a deadline (now plus
//! the grace period), every task watches for it, stops taking new work and
//! finishes what it holds before the deadline.

use std::time::Duration;
use tokio::sync::watch;
use tokio::time::Instant;

/// Handed to each task; cheap to clone.
#[derive(Clone)]
pub(crate) struct Shutdown {
    rx: watch::Receiver<Option<Instant>>,
}

/// Held by whoever decides to shut down.
pub(crate) struct Trigger {
    tx: watch::Sender<Option<Instant>>,
    grace: Duration,
}

/// A new shutdown signal whose deadline is `grace` after it fires.
pub(crate) fn channel(grace: Duration) -> (Trigger, Shutdown) {
    let (tx, rx) = watch::channel(None);
    (Trigger { tx, grace }, Shutdown { rx })
}

impl Trigger {
    /// Starts the shutdown (a second call keeps the first deadline).
    pub(crate) fn fire(&self) {
        tracing::info!(grace_s = self.grace.as_secs_f64(), "shutdown requested");
        let deadline = Instant::now() + self.grace;
        self.tx.send_if_modified(|d| {
            let first = d.is_none();
            if first {
                *d = Some(deadline);
            }
            first
        });
    }
}

impl Shutdown {
    /// Resolves once shutdown has been requested (at once if it already was).
    pub(crate) async fn requested(&mut self) {
        // The sender lives as long as the gateway; if it is gone, so are we.
        let _ = self.rx.wait_for(Option::is_some).await;
    }

    /// When everything must be finished; far away before shutdown starts.
    pub(crate) fn deadline(&self) -> Instant {
        self.rx
            .borrow()
            .unwrap_or_else(|| Instant::now() + Duration::from_secs(86_400))
    }
}

/// SIGINT and SIGTERM handlers, installed before any task starts so an
/// early signal is not lost.
pub(crate) struct Signals {
    term: tokio::signal::unix::Signal,
    int: tokio::signal::unix::Signal,
}

impl Signals {
    pub(crate) fn install() -> std::io::Result<Signals> {
        use tokio::signal::unix::{signal, SignalKind};
        Ok(Signals {
            term: signal(SignalKind::terminate())?,
            int: signal(SignalKind::interrupt())?,
        })
    }

    /// Resolves at the first of either signal.
    pub(crate) async fn wait(mut self) {
        let name = tokio::select! {
            _ = self.term.recv() => "SIGTERM",
            _ = self.int.recv() => "SIGINT",
        };
        tracing::info!(signal = name, "signal received");
    }
}
