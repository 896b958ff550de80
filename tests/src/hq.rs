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
        let log = dir.join("hq.log");
        // A restarted collector appends to the same log: wait for one more
        // subscription than it already shows.
        let before = std::fs::read_to_string(&log)
            .unwrap_or_default()
            .matches("subscribed")
            .count();
        let mut cmd = Command::new(aisle_bin());
        cmd.args(["hq", "--broker", url, "--db"])
            .arg(&db)
            .args(extra)
            .env("RUST_LOG", "info");
        let child = ChildGuard::spawn("aisle hq", &mut cmd, &log);
        let collector = HqCollector { db, child };
        collector.wait_subscribed(before + 1);
        collector
    }

    /// Waits until the log shows the `n`th subscription acknowledged.
    pub fn wait_subscribed(&self, n: usize) {
        wait_until("the collector to subscribe", SUBSCRIBE_DEADLINE, || {
            (self.child.log_text().matches("subscribed").count() >= n).then_some(())
        });
    }
}
