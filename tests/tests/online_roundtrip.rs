//! The online formats carry the stores' funnel whole: a simulated store's
//! events, collected by the real `aisle demo` pipeline (tags, gateway,
//! broker, collector), exported with `aisle export --format F` and piped
//! into `aisle online import --format F --channel replay`, must give channel
//! `replay` exactly the funnel of channel `store`, every SKU and figure.

use aisle_system_tests::{aisle_bin, stdout_of, ChildGuard};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

/// A simulated store's HQ database, written through the real collector.
fn simulated_store(dir: &Path) -> PathBuf {
    let run = dir.join("demo");
    let mut cmd = Command::new(aisle_bin());
    cmd.args(["demo", "--duration", "40s", "--seed", "13", "--keep"])
        .arg(&run);
    let mut demo = ChildGuard::spawn("aisle demo", &mut cmd, &dir.join("demo.out"));
    let status = demo.wait_exit(Duration::from_secs(180));
    assert!(
        status.success(),
        "aisle demo failed ({status}):\n{}",
        demo.log_tail()
    );
    run.join("hq.sqlite")
}

/// A copy of the database, so each format replays into a clean channel.
fn copy_db(source: &Path, to: &Path) -> PathBuf {
    for suffix in ["", "-wal", "-shm"] {
        let from = PathBuf::from(format!("{}{suffix}", source.display()));
        if from.exists() {
            std::fs::copy(&from, format!("{}{suffix}", to.display())).expect("copy the database");
        }
    }
    to.to_path_buf()
}

/// `aisle export --format F | aisle online import --format F --channel replay -`.
fn replay(db: &Path, format: &str) {
    let mut export = Command::new(aisle_bin())
        .args(["export", "--format", format, "--db"])
        .arg(db)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start aisle export");
    let pipe = export.stdout.take().expect("export's stdout");
    let import = Command::new(aisle_bin())
        .args([
            "online",
            "import",
            "--format",
            format,
            "--channel",
            "replay",
            "--db",
        ])
        .arg(db)
        .arg("-")
        .stdin(pipe)
        .output()
        .expect("run aisle online import");
    let exported = export.wait_with_output().expect("aisle export ends");
    assert!(
        exported.status.success(),
        "aisle export failed: {}",
        String::from_utf8_lossy(&exported.stderr)
    );
    let summary = String::from_utf8_lossy(&import.stdout);
    assert!(
        import.status.success(),
        "aisle online import failed: {}{summary}",
        String::from_utf8_lossy(&import.stderr)
    );
    assert!(
        summary.contains("; 0 lines rejected"),
        "every exported line imports:\n{summary}"
    );
}

/// The funnel's JSON rows keyed by `by` (which ends in `channel`), split into
/// the `store` and `replay` channels with the channel key removed.
fn channels(db: &Path, by: &str) -> (Vec<serde_json::Value>, Vec<serde_json::Value>) {
    let out = stdout_of(
        Command::new(aisle_bin())
            .args(["funnel", "--format", "json", "--by", by, "--db"])
            .arg(db),
    );
    let doc: serde_json::Value = serde_json::from_str(&out).expect("JSON report");
    let (mut store, mut replay) = (Vec::new(), Vec::new());
    for row in doc["rows"].as_array().expect("rows") {
        let mut row = row.clone();
        let channel = row
            .as_object_mut()
            .and_then(|r| r.remove("channel"))
            .expect("a channel column");
        match channel.as_str() {
            Some("store") => store.push(row),
            Some("replay") => replay.push(row),
            other => panic!("unexpected channel {other:?}"),
        }
    }
    (store, replay)
}

#[test]
fn exported_store_events_reimport_as_the_same_funnel_in_both_formats() {
    let dir = tempfile::Builder::new()
        .prefix("online-roundtrip-")
        .tempdir()
        .expect("tempdir");
    let source = simulated_store(dir.path());
    for format in ["youshu", "ga4"] {
        let db = copy_db(&source, &dir.path().join(format!("{format}.sqlite")));
        replay(&db, format);
        for by in ["sku,channel", "sku,store,channel"] {
            let (store, replayed) = channels(&db, by);
            assert!(
                store
                    .iter()
                    .any(|r| r["journeys_purchase"].as_u64() > Some(0)),
                "the simulated store should sell after a try-on: {store:?}"
            );
            assert_eq!(
                replayed, store,
                "{format}, --by {by}: channel replay (left) differs from channel store (right)"
            );
        }
    }
}
