//! `aisle hq`, the HQ collector, as a test starts it: its database and log
//! in the test's directory, and started only once its subscription is
//! acknowledged, so a test never publishes before HQ listens.

use crate::process::{aisle_bin, wait_until, ChildGuard};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// Long enough for a collector to connect and subscribe on a busy box.
const SUBSCRIBE_DEADLINE: Duration = Duration::from_secs(30);

/// One `aisle hq` process with its database (`hq.db`) and log (`hq.log`)
/// in a test's directory.
pub struct HqCollector {
    pub db: PathBuf,
    pub child: ChildGuard,
}

impl HqCollector {
    /// Starts `aisle hq --broker url --db dir/hq.db` plus `extra` flags and
    /// returns once it has subscribed. Starting again in the same `dir`
    /// reuses the database and appends to the log: a restart.
    pub fn start(dir: &Path, url: &str, extra: &[&str]) -> HqCollector {
        let db = dir.join("hq.db");
        let child = spawn_subscribed(dir, url, db.to_str().expect("UTF-8 temp path"), extra);
        HqCollector { db, child }
    }

    /// Waits until the log shows the `n`th subscription acknowledged.
    pub fn wait_subscribed(&self, n: usize) {
        wait_subscribed(&self.child, n);
    }
}

/// Starts `aisle hq --broker url --db db` plus `extra` flags, logging to
/// `dir/hq.log`, and returns once it has subscribed: for any event store,
/// a SQLite file or a `clickhouse://` URL. Starting again with the same
/// `dir` appends to the same log: a restart.
pub fn spawn_subscribed(dir: &Path, url: &str, db: &str, extra: &[&str]) -> ChildGuard {
    let log = dir.join("hq.log");
    // A restarted collector appends to the same log: wait for one more
    // subscription than it already shows.
    let before = std::fs::read_to_string(&log)
        .unwrap_or_default()
        .matches("subscribed")
        .count();
    let mut cmd = Command::new(aisle_bin());
    cmd.args(["hq", "--broker", url, "--db", db])
        .args(extra)
        .env("RUST_LOG", "info");
    let child = ChildGuard::spawn("aisle hq", &mut cmd, &log);
    wait_subscribed(&child, before + 1);
    child
}

/// Waits until `child`'s log shows the `n`th subscription acknowledged.
fn wait_subscribed(child: &ChildGuard, n: usize) {
    wait_until("the collector to subscribe", SUBSCRIBE_DEADLINE, || {
        (child.log_text().matches("subscribed").count() >= n).then_some(())
    });
}
