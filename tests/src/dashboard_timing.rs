//! Timing `aisle dashboard` for the HQ benches (agent/benches/hq.rs on
//! SQLite, agent/benches/hq_clickhouse.rs on ClickHouse): the same views,
//! timed the same way, whatever the event store.

use crate::{http, wait_until};
use std::io::BufRead;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Long enough for a prewarm over 100 M events on a busy 2-core box.
const DEADLINE: Duration = Duration::from_secs(1800);

/// The CPU time `pid` has used so far (user + system), in seconds: what a
/// page cost the dashboard, which the shared box's load disturbs less than
/// wall time.
pub fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which may hold spaces): state is the
    // first, utime the 12th, stime the 13th; in clock ticks of 1/100 s.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map_or("", |(_, rest)| rest)
        .split_whitespace()
        .collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0)
    };
    (ticks(11) + ticks(12)) as f64 / 100.0
}

/// `aisle dashboard --db DB` (`aisle` is the binary, `events` how many the
/// store holds, for the printed lines; `sku` a GTIN whose page is timed):
/// without the prewarm, the first views compute their reports; with it
/// (the default), it waits for `/api/status` to say the default views are
/// ready, then times the same first views. Prints a line per view.
pub fn time_dashboard(aisle: &str, db: &str, events: u64, sku: &str, prewarm: bool) {
    let mut cmd = Command::new(aisle);
    cmd.args(["dashboard", "--listen", "127.0.0.1:0", "--db", db]);
    if !prewarm {
        cmd.arg("--no-prewarm");
    }
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start aisle dashboard");
    let pid = child.id();
    // The dashboard prints its address once it listens.
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().expect("piped stdout"))
        .read_line(&mut line)
        .expect("the dashboard's first line");
    let addr = line
        .split("http://")
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .unwrap_or_else(|| panic!("no address in `{line}`"))
        .to_string();
    let label = if prewarm { "prewarmed" } else { "no prewarm" };
    if prewarm {
        let started = Instant::now();
        let status = wait_until("the prewarm to finish", DEADLINE, || {
            let status: serde_json::Value =
                serde_json::from_slice(&http::get(&addr, "/api/status").body).ok()?;
            (status["prewarm"]["state"] == "done").then_some(status)
        });
        println!(
            "dashboard prewarm over {events} events: {:.2} s by its log, {:.2} s to ready, {:.2} CPU-s",
            status["prewarm"]["seconds"].as_f64().unwrap_or(f64::NAN),
            started.elapsed().as_secs_f64(),
            cpu_seconds(pid)
        );
    }
    let sku_page = format!("/sku?code={sku}");
    let views: &[(&str, &str)] = if prewarm {
        &[("first view", "/skus"), ("overview, first view", "/")]
    } else {
        &[
            ("first view", "/skus"),
            ("repeat view", "/skus"),
            (
                "repeat view, sorted by pickups",
                "/skus?sort=pickups&dir=desc",
            ),
            ("repeat view, page 2", "/skus?sort=pickups&dir=desc&page=2"),
            ("SKU page, first view", sku_page.as_str()),
            ("overview, first view", "/"),
        ]
    };
    for (what, path) in views {
        let cpu = cpu_seconds(pid);
        let started = Instant::now();
        let page = http::get(&addr, path);
        assert_eq!(page.status, 200, "{}", page.text());
        println!(
            "dashboard ({label}) {path} ({what}) over {events} events: {:.2} s, {:.2} CPU-s, {} KiB of HTML",
            started.elapsed().as_secs_f64(),
            cpu_seconds(pid) - cpu,
            page.body.len() / 1024
        );
    }
    let _ = child.kill();
    let _ = child.wait();
}
