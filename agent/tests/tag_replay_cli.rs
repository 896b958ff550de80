//! `aisle tag replay` as a technician runs it: the real binary over trace
//! files, with the default thresholds and with a config page's.

use std::path::Path;
use std::process::{Command, Output};

fn aisle(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_aisle"))
        .args(args)
        .output()
        .expect("run aisle")
}

/// A garment hanging still for 2 s, lifted and held tilted by about 40°
/// for 4 s, then hung back still for 8 s; 25 Hz.
fn lift_trace(dir: &Path) -> String {
    let mut csv = String::from("t_ms,x_mg,y_mg,z_mg\n");
    for i in 0..350u64 {
        let t = i * 40;
        let (x, z) = if (2_000..6_000).contains(&t) {
            (640, 770)
        } else {
            (0, 1000)
        };
        csv.push_str(&format!("{t},{x},{},{z}\n", (i % 3) as i32 * 4 - 4));
    }
    let path = dir.join("lift.csv");
    std::fs::write(&path, csv).unwrap();
    path.to_str().unwrap().to_string()
}

#[test]
fn replay_prints_the_events_the_tag_would_send_as_json_lines() {
    let dir = tempfile::tempdir().unwrap();
    let trace = lift_trace(dir.path());
    let out = aisle(&["tag", "replay", "--role", "motion", "--json", &trace]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object a line"))
        .collect();
    assert_eq!(lines.len(), 2, "{stdout}");
    assert_eq!(lines[0]["event"], "picked_up");
    let picked = lines[0]["t_ms"].as_u64().unwrap();
    assert!((2_000..4_000).contains(&picked), "{stdout}");
    assert_eq!(lines[1]["event"], "put_down");
    assert_eq!(lines[1]["held_ms"], 4_000);
}

#[test]
fn replay_takes_the_thresholds_from_a_config_page() {
    let dir = tempfile::tempdir().unwrap();
    let trace = lift_trace(dir.path());
    let page = dir.path().join("page.bin");
    let page_arg = page.to_str().unwrap();
    // Demands far more evidence than a 4 s hold gives.
    let out = aisle(&[
        "tag",
        "config",
        "--id",
        "1",
        "--role",
        "presence",
        "--pickup-tilt-mg-s",
        "5000",
        "-o",
        page_arg,
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = aisle(&[
        "tag", "replay", "--role", "motion", "--page", page_arg, &trace,
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(!stdout.contains("picked_up"), "{stdout}");
    assert!(stdout.contains("0 events from 350 samples"), "{stdout}");
}

#[test]
fn replay_names_every_bad_row_and_replays_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.csv");
    std::fs::write(
        &path,
        "t_ms,x_mg,y_mg,z_mg\n0,0,0,1000\n40,0,1000\n80,0,0,1000\n120,a,0,1000\n",
    )
    .unwrap();
    let trace = path.to_str().unwrap();
    let out = aisle(&["tag", "replay", "--role", "motion", trace]);
    assert!(!out.status.success());
    assert!(out.stdout.is_empty(), "nothing replayed");
    let stderr = String::from_utf8(out.stderr).unwrap();
    let lines: Vec<&str> = stderr.lines().collect();
    assert!(
        lines[0].starts_with(&format!("{trace}:3: expected 4 fields")),
        "{stderr}"
    );
    assert!(
        lines[1].starts_with(&format!("{trace}:5: x_mg \"a\"")),
        "{stderr}"
    );
    assert!(stderr.contains("2 bad rows; nothing replayed"), "{stderr}");
}
