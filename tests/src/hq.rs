//! `aisle hq`, the HQ collector, as a test starts it: its database and log
//! in the test's directory, and started only once its subscription is
//! acknowledged (its `--ready-file`), so a test never publishes before HQ
//! listens.

use crate::process::{aisle_bin, clear_ready_file, ChildGuard};
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
}

/// Starts `aisle hq --broker url --db db` plus `extra` flags, logging to
/// `dir/hq.log`, and returns once it has subscribed (its `--ready-file`,
/// `dir/hq.ready`): for any event store, a SQLite file or a `clickhouse://`
/// URL. Starting again with the same `dir` appends to the same log: a
/// restart.
pub fn spawn_subscribed(dir: &Path, url: &str, db: &str, extra: &[&str]) -> ChildGuard {
    let ready = dir.join("hq.ready");
    clear_ready_file(&ready);
    let mut cmd = Command::new(aisle_bin());
    cmd.args(["hq", "--broker", url, "--db", db])
        .arg("--ready-file")
        .arg(&ready)
        .args(extra)
        .env("RUST_LOG", "info");
    let mut child = ChildGuard::spawn("aisle hq", &mut cmd, &dir.join("hq.log"));
    child.wait_ready(&ready, SUBSCRIBE_DEADLINE);
    child
}
