//! `aisle check-config` as store IT runs it: the real binary on real files.

use std::path::{Path, PathBuf};
use std::process::Command;

fn check(path: &Path) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_aisle"))
        .arg("check-config")
        .arg(path)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

const BASE: &str = r#"store = "S1"

[broker]
url = "mqtt://127.0.0.1:1883"

[[receivers]]
path = "/dev/ttyUSB0"

[spool]
path = "/tmp/aisle-test-spool.sqlite"

[[fixtures]]
id = "F1"
zone = "womens-tops"
presence_tag = 1001
gtins = ["80614141123458"]
"#;

/// Writes `text` to a temp file and checks it; returns (ok, stdout, stderr).
fn check_text(text: &str) -> (bool, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.toml");
    std::fs::write(&path, text).unwrap();
    check(&path)
}

/// Asserts the config is rejected with `needle` in an error located at `line:col`.
fn assert_rejected_at(text: &str, line_col: &str, needle: &str) {
    let (ok, _, err) = check_text(text);
    assert!(!ok, "expected rejection, stderr: {err}");
    let located = format!("store.toml:{line_col}: ");
    let hit = err.lines().find(|l| l.contains(&located));
    assert!(
        hit.is_some_and(|l| l.contains(needle)),
        "want {located}…{needle} in:\n{err}"
    );
    assert!(
        err.contains("help: "),
        "every error says what to do:\n{err}"
    );
}

#[test]
fn demo_store_example_is_valid() {
    let example = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../examples/store.toml");
    let (ok, out, err) = check(&example);
    assert!(ok, "examples/store.toml rejected:\n{err}");
    assert!(
        out.contains("OK (store DEMO-1, 1 receivers, 4 fixtures, 2 readers, 1 entrances, 8 SKUs, 36 garments)"),
        "{out}"
    );
}

#[test]
fn bad_toml_is_located() {
    assert_rejected_at(
        &BASE.replace("zone = \"womens-tops\"", "zone = \"womens-tops"),
        "14:20",
        "invalid basic string",
    );
}

#[test]
fn unknown_key_is_named_and_located() {
    assert_rejected_at(
        &BASE.replace("[spool]\n", "[spool]\nmax_byte = 5\n"),
        "10:1",
        "unknown field `max_byte`",
    );
}

#[test]
fn duplicate_fixture_id_is_rejected() {
    let text = format!("{BASE}\n[[fixtures]]\nid = \"F1\"\nzone = \"mens\"\npresence_tag = 1002\n");
    assert_rejected_at(
        &text,
        "19:6",
        "duplicate fixture id \"F1\" (first at line 13)",
    );
}

#[test]
fn tag_id_used_twice_is_rejected() {
    let text = format!("{BASE}\n[[readers]]\ntag = 1001\nkind = \"checkout\"\nzone = \"till\"\n");
    assert_rejected_at(
        &text,
        "19:7",
        "tag id 1001 is used twice (first at line 15)",
    );
}

#[test]
fn entrance_tag_that_is_a_fixtures_presence_tag_is_rejected() {
    let text = format!("{BASE}\n[[entrances]]\ntag = 1001\nzone = \"main-door\"\n");
    assert_rejected_at(
        &text,
        "19:7",
        "tag id 1001 is used twice (first at line 15)",
    );
}

#[test]
fn entrance_without_a_zone_is_rejected() {
    let text = format!("{BASE}\n[[entrances]]\ntag = 4001\nzone = \"\"\n");
    assert_rejected_at(&text, "20:8", "entrance zone is empty");
}

#[test]
fn gtin_with_bad_check_digit_is_rejected() {
    assert_rejected_at(
        &BASE.replace("80614141123458", "80614141123459"),
        "16:10",
        "GTIN \"80614141123459\" is not 14 digits with a valid check digit",
    );
}

#[test]
fn missing_tls_file_is_rejected() {
    let text = BASE.replace(
        "url = \"mqtt://127.0.0.1:1883\"",
        "url = \"mqtts://hq.example.com\"\nca_file = \"/nonexistent/aisle-ca.pem\"",
    );
    assert_rejected_at(
        &text,
        "5:11",
        "ca_file /nonexistent/aisle-ca.pem does not exist",
    );
}

#[test]
fn missing_password_file_is_rejected() {
    let text = BASE.replace(
        "url = \"mqtt://127.0.0.1:1883\"",
        "url = \"mqtt://h\"\nusername = \"s1\"\npassword_file = \"/nonexistent/pw\"",
    );
    assert_rejected_at(
        &text,
        "6:17",
        "password_file /nonexistent/pw does not exist",
    );
}

#[test]
fn store_id_with_topic_characters_is_rejected() {
    assert_rejected_at(
        &BASE.replace("store = \"S1\"", "store = \"S1/+\""),
        "1:9",
        "store id \"S1/+\"",
    );
}

#[test]
fn receiver_listed_twice_is_rejected() {
    let text = BASE.replace(
        "[spool]",
        "[[receivers]]\npath = \"/dev/ttyUSB0\"\n\n[spool]",
    );
    assert_rejected_at(
        &text,
        "10:8",
        "receiver /dev/ttyUSB0 is listed twice (first at line 7)",
    );
}

#[test]
fn every_error_is_reported_not_just_the_first() {
    let text = BASE
        .replace("80614141123458", "1")
        .replace("store = \"S1\"", "store = \"\"");
    let (ok, _, err) = check_text(&text);
    assert!(!ok);
    assert!(err.contains("2 error(s)"), "{err}");
}

#[test]
fn gateway_refuses_an_invalid_config_with_exit_status_2() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.toml");
    std::fs::write(&path, BASE.replace("80614141123458", "80614141123459")).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_aisle"))
        .arg("gateway")
        .arg("--config")
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("store.toml:16:10: GTIN"));
}

#[test]
fn gateway_refuses_the_same_receiver_twice_on_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.toml");
    std::fs::write(&path, BASE).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_aisle"))
        .args(["gateway", "--config"])
        .arg(&path)
        .args(["--receiver", "/dev/ttyX", "--receiver", "/dev/ttyX"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("receiver /dev/ttyX is given twice"));
}

/// Runs `aisle gateway` on BASE with `extra` arguments and returns its exit
/// code and stderr; a gateway that does not exit within 20 s is killed and
/// the test fails, since every case here must be refused at start-up.
fn gateway_with(extra: &[&str]) -> (Option<i32>, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.toml");
    std::fs::write(&path, BASE).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_aisle"))
        .args(["gateway", "--config"])
        .arg(&path)
        .args(extra)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while child.try_wait().unwrap().is_none() {
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!(
                "gateway {extra:?} started instead of refusing:\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

#[test]
fn gateway_validates_command_line_overrides_like_the_config() {
    let (code, err) = gateway_with(&["--shutdown-grace-s", "900"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.lines()
            .any(|l| l.starts_with("--shutdown-grace-s: ") && l.contains("0 to 600")),
        "the error names the flag, not the file:\n{err}"
    );
    let (code, err) = gateway_with(&["--broker", "http://hq"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.lines().any(|l| l.starts_with("--broker: ")), "{err}");
}
