//! `aisle demo` from the binary, as a newcomer runs it: it must start its
//! own broker, collector, gateway and simulated store, and end with HQ's
//! funnel matching the ground truth (exit 0).

use aisle_system_tests::{aisle_bin, ChildGuard};
use std::process::Command;
use std::time::Duration;

#[test]
fn demo_ends_with_hq_matching_the_ground_truth() {
    let dir = tempfile::Builder::new()
        .prefix("system-demo-")
        .tempdir()
        .expect("tempdir");
    let out = dir.path().join("demo.out");
    let mut cmd = Command::new(aisle_bin());
    cmd.args(["demo", "--duration", "30s", "--seed", "5", "--keep"])
        .arg(dir.path().join("run"));
    let mut demo = ChildGuard::spawn("aisle demo", &mut cmd, &out);
    let status = demo.wait_exit(Duration::from_secs(150));
    let text = std::fs::read_to_string(&out).unwrap_or_default();
    assert!(status.success(), "aisle demo failed ({status}):\n{text}");
    assert!(
        text.contains("\nMATCH: HQ's funnel equals the ground truth"),
        "{text}"
    );
    assert!(
        text.contains("each cell is HQ|truth"),
        "the table is printed:\n{text}"
    );
    for log in [
        "broker.log",
        "hq.log",
        "gateway.log",
        "truth.json",
        "hq.sqlite",
    ] {
        assert!(
            dir.path().join("run").join(log).exists(),
            "--keep keeps {log}"
        );
    }
}
