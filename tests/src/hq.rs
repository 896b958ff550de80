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
        let ready = dir.join("hq.ready");
        clear_ready_file(&ready);
        let mut cmd = Command::new(aisle_bin());
        cmd.args(["hq", "--broker", url, "--db"])
            .arg(&db)
            .arg("--ready-file")
            .arg(&ready)
            .args(extra)
            .env("RUST_LOG", "info");
        let mut child = ChildGuard::spawn("aisle hq", &mut cmd, &dir.join("hq.log"));
        child.wait_ready(&ready, SUBSCRIBE_DEADLINE);
        HqCollector { db, child }
    }
}
