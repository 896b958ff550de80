//! `aisle demo` from the binary, as a newcomer runs it: it must start its
//! own broker, collector, gateway and simulated store, and end with HQ's
//! funnel matching the ground truth (exit 0); with `--dashboard`, it then
//! serves that HQ's dashboard until interrupted.

use aisle_system_tests::{aisle_bin, http, wait_until, ChildGuard};
use nix::sys::signal::Signal;
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
    // The door counted people, and HQ's visits are the truth's.
    let visits = text
        .lines()
        .find_map(|l| l.strip_prefix("DEMO-1: visits "))
        .unwrap_or_else(|| panic!("no visits line for the demo store:\n{text}"));
    let (hq, truth) = visits
        .split(';')
        .next()
        .and_then(|v| v.split_once('|'))
        .unwrap_or_else(|| panic!("visits are not HQ|truth: {visits}"));
    assert_eq!(hq, truth, "{visits}");
    assert!(
        hq.parse::<u64>().is_ok_and(|n| n > 0),
        "the demo's door counted nobody: {visits}"
    );
    for log in [
        "broker.log",
        "hq.log",
        "gateway.log",
        "truth.json",
        "hq.sqlite",
        "stores.csv",
    ] {
        assert!(
            dir.path().join("run").join(log).exists(),
            "--keep keeps {log}"
        );
    }
}

#[test]
fn demo_dashboard_serves_the_runs_hq_until_interrupted() {
    let dir = tempfile::Builder::new()
        .prefix("system-demo-dashboard-")
        .tempdir()
        .expect("tempdir");
    let out = dir.path().join("demo.out");
    let run = dir.path().join("run");
    let mut cmd = Command::new(aisle_bin());
    cmd.args([
        "demo",
        "--duration",
        "20s",
        "--seed",
        "5",
        "--dashboard",
        "--keep",
    ])
    .arg(&run);
    let mut demo = ChildGuard::spawn("aisle demo --dashboard", &mut cmd, &out);
    let addr = wait_until(
        "the demo to print its dashboard",
        Duration::from_secs(150),
        || {
            let text = std::fs::read_to_string(&out).ok()?;
            let rest = text.split("aisle dashboard: http://").nth(1)?;
            Some(rest.split('/').next()?.to_string())
        },
    );
    let text = std::fs::read_to_string(&out).unwrap();
    assert!(
        text.contains("\nMATCH: HQ's funnel equals the ground truth"),
        "{text}"
    );
    // The dashboard is the run's HQ: its funnel is the CLI's over the kept
    // database, and its fleet has the demo gateway, stopped by the demo.
    let api = http::get(&addr, "/api/funnel");
    assert_eq!(api.status, 200);
    let cli = Command::new(aisle_bin())
        .args(["funnel", "--format", "json", "--db"])
        .arg(run.join("hq.sqlite"))
        .output()
        .unwrap();
    assert_eq!(api.text(), String::from_utf8_lossy(&cli.stdout));
    // It knows the demo store's directory: regions as `aisle funnel
    // --stores` reports them.
    let api = http::get(&addr, "/api/funnel?by=region");
    assert_eq!(api.status, 200, "{}", api.text());
    let cli = Command::new(aisle_bin())
        .args(["funnel", "--by", "region", "--format", "json", "--db"])
        .arg(run.join("hq.sqlite"))
        .arg("--stores")
        .arg(run.join("stores.csv"))
        .output()
        .unwrap();
    assert!(cli.status.success(), "{cli:?}");
    assert_eq!(api.text(), String::from_utf8_lossy(&cli.stdout));
    assert!(api.text().contains("East China"), "{}", api.text());
    let fleet: serde_json::Value =
        serde_json::from_slice(&http::get(&addr, "/api/fleet").body).unwrap();
    assert_eq!(fleet["gateways"][0]["gateway"], "gw-demo-1", "{fleet}");
    assert_eq!(http::get(&addr, "/skus").status, 200);
    demo.signal(Signal::SIGINT);
    let status = demo.wait_exit(Duration::from_secs(30));
    assert!(status.success(), "{status}");
}
