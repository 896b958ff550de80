//! `aisle simulate`'s truth files as a user asks for them: the real binary
//! on the demo store. The truth is written before the serial port is
//! opened, so a port that does not exist ends the run right after it.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn demo_store() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/store.toml")
}

fn simulate(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_aisle"))
        .arg("simulate")
        .arg("--config")
        .arg(demo_store())
        .args(["--port", "/nonexistent/aisle-port", "--window", "2m"])
        .args(args)
        .output()
        .unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn rows(path: &Path) -> Vec<serde_json::Value> {
    let text = std::fs::read_to_string(path).expect("the truth was written");
    let doc: serde_json::Value = serde_json::from_str(&text).expect("JSON");
    doc["rows"].as_array().expect("rows").clone()
}

/// The sum of `key` over the rows.
fn total(rows: &[serde_json::Value], key: &str) -> u64 {
    rows.iter().map(|r| r[key].as_u64().expect(key)).sum()
}

#[test]
fn one_run_writes_the_truth_grouped_each_way_asked() {
    let dir = tempfile::tempdir().unwrap();
    let (by_sku, by_store, by_fixture) = (
        dir.path().join("sku.json"),
        dir.path().join("store.json"),
        dir.path().join("fixture.json"),
    );
    let path = |p: &PathBuf| p.to_str().unwrap().to_owned();
    let out = simulate(&[
        "--truth",
        &path(&by_sku),
        "--truth",
        &path(&by_store),
        "--truth-by",
        "sku",
        "--truth-by",
        "store",
        "--truth",
        &path(&by_fixture),
        "--truth-by",
        "fixture",
        "--duration",
        "2m",
    ]);
    assert!(!out.status.success(), "the port does not exist");
    assert!(
        stderr(&out).contains("/nonexistent/aisle-port"),
        "{}",
        stderr(&out)
    );
    let (sku, store, fixture) = (rows(&by_sku), rows(&by_store), rows(&by_fixture));
    assert!(sku.len() > 1 && sku.iter().all(|r| r["sku"].is_string()));
    assert_eq!(store.len(), 1);
    assert_eq!(store[0]["store"], "DEMO-1");
    assert!(fixture.iter().any(|r| r["fixture"] == "F1"));
    // The same day, grouped three ways: every count adds up the same.
    for key in ["exposures", "pickups", "try_ons", "purchases", "journeys"] {
        let n = total(&sku, key);
        assert!(n > 0 || key == "purchases", "no {key}");
        assert_eq!((total(&store, key), total(&fixture, key)), (n, n), "{key}");
    }
}

#[test]
fn a_grouping_the_simulator_cannot_know_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let truth = dir.path().join("t.json");
    let out = simulate(&["--truth", truth.to_str().unwrap(), "--truth-by", "style"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("--truth-by style: the simulator's truth cannot be grouped by style"),
        "{}",
        stderr(&out)
    );
    assert!(!truth.exists(), "nothing written");
}

#[test]
fn each_truth_needs_its_grouping() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a.json"), dir.path().join("b.json"));
    let out = simulate(&[
        "--truth",
        a.to_str().unwrap(),
        "--truth",
        b.to_str().unwrap(),
        "--truth-by",
        "store",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("1 --truth-by for 2 --truth"),
        "{}",
        stderr(&out)
    );
    assert!(!a.exists() && !b.exists(), "nothing written");
}
