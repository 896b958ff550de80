//! HQ on ClickHouse, measured: the funnel report over a generated chain
//! beside ClickHouse's own `windowFunnel`, and the collectors' ingest rate.
//! Figures go to BENCHMARKS.md ("HQ on ClickHouse").
//!
//! `cargo bench -p aisle-agent --bench hq_clickhouse -- [--events N]
//!  [--ingest-events N] [--no-ingest] [--no-query] [--sqlite]`
//!
//! 1. Query: N events (default 10 million) of 4,000 stores and 20,000 SKUs
//!    are generated inside a ClickHouse server of the test harness with
//!    `INSERT … SELECT … FROM numbers(N)` (untimed). Then, each three times
//!    and in the same run: ClickHouse's own funnel (a `windowFunnel` per
//!    garment rolled up per SKU), streaming every garment's events out
//!    sorted, and the real `aisle funnel --by sku`, `--by store` and
//!    `--by sku,store` (wall time and peak RSS from `/usr/bin/time`). With
//!    `--sqlite` the same events are copied into a SQLite file and `aisle
//!    funnel --by sku` is timed on it too, and both reports are compared.
//! 2. Ingest: a real Mosquitto; one, then two collectors (`--share`)
//!    subscribe and stop; M events (default 1 million) are queued at the
//!    broker as gateway batches of 500; the collectors start again and the
//!    figure is events per second until ClickHouse holds all M, with the
//!    CPU-seconds per 100,000 events of the collectors and of ClickHouse.

use aisle_agent::event_store::{ClickHouseStore, Credentials, Target};
use aisle_system_tests::{
    publish_stream, unknown_flag, wait_until, BenchArgs, ClickHouse, Message, Mosquitto,
};
use protocol::topics::{Topic, TopicKind};
use std::io::Read;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const STORES: u64 = 4_000;
const SKUS: u64 = 20_000;
/// 2026-11-01T00:00:00Z.
const START_MS: i64 = 1_793_491_200_000;
const BATCH: usize = 500;
const RUNS: usize = 3;

struct Options {
    events: u64,
    ingest_events: u64,
    ingest: bool,
    query: bool,
    sqlite: bool,
}

fn options() -> Options {
    let mut opts = Options {
        events: 10_000_000,
        ingest_events: 1_000_000,
        ingest: true,
        query: true,
        sqlite: false,
    };
    let mut args = BenchArgs::from_env();
    while let Some(flag) = args.next_flag() {
        match flag.as_str() {
            "--events" => opts.events = args.value(&flag),
            "--ingest-events" => opts.ingest_events = args.value(&flag),
            "--no-ingest" => opts.ingest = false,
            "--no-query" => opts.query = false,
            "--sqlite" => opts.sqlite = true,
            other => unknown_flag(other),
        }
    }
    opts
}

fn aisle() -> &'static str {
    env!("CARGO_BIN_EXE_aisle")
}

/// Five event slots per garment, so N events are N/5 garments: a pickup,
/// then (by the garment's hash) re-pickups, try-ons and purchases ten
/// minutes apart; 40 % of garments try on, 20 % buy. Every garment is one
/// SKU in one store. Exposures: one row per 5 events, 6 GTINs per dwell.
fn generate(server: &ClickHouse, n: u64) {
    server.query(&format!(
        "INSERT INTO aisle.events (id, store, ts_ms, event, stage, tag, epc, gtin, serial, fixture,
             zone, duration_ms, gateway, batch_id, received_ms)
         SELECT concat('e-', toString(number)), concat('S', toString(g % {STORES})),
             {START_MS} + toInt64(h % 2592000000) + k * 600000, ev,
             multiIf(ev = 'item_pickup', 'view', ev = 'item_try_on', 'try_on', 'purchase'),
             toUInt32(g % 1000000), NULL, toString(80000000000000 + intDiv(h, 65536) % {SKUS}),
             toString(g), NULL, NULL, NULL, 'gw', 'b', 0
         FROM (
             SELECT number, intDiv(number, 5) AS g, number % 5 AS k, cityHash64(g) AS h,
                 multiIf(k = 1 AND h % 10 < 4, 'item_try_on',
                         k = 2 AND h % 10 < 2, 'item_purchase',
                         k = 4 AND intDiv(h, 256) % 10 < 2, 'item_try_on',
                         'item_pickup') AS ev
             FROM numbers({n}))"
    ));
    server.query(&format!(
        "INSERT INTO aisle.exposures (store, gtin, event_id, fixture, ts_ms)
         SELECT concat('S', toString(d % {STORES})),
             toString(80000000000000 + intDiv(cityHash64(number), 65536) % {SKUS}),
             concat('d-', toString(d)), 'rack-1', {START_MS} + toInt64(cityHash64(d) % 2592000000)
         FROM (SELECT number, intDiv(number, 6) AS d FROM numbers({}))",
        n / 5
    ));
}

/// Seconds to run `sql` and read its whole answer.
fn time_query(store: &ClickHouseStore, sql: &str) -> f64 {
    let start = Instant::now();
    let mut body = store.stream(sql).expect("query");
    let mut sink = vec![0u8; 1 << 16];
    while body.read(&mut sink).expect("read") > 0 {}
    start.elapsed().as_secs_f64()
}

/// `aisle funnel ARGS` under `/usr/bin/time`: (seconds, peak RSS in MiB, stdout).
fn time_funnel(args: &[&str]) -> (f64, f64, Vec<u8>) {
    let start = Instant::now();
    let out = Command::new("/usr/bin/time")
        .args(["-f", "%M"])
        .arg(aisle())
        .arg("funnel")
        .args(args)
        .output()
        .expect("run aisle funnel under /usr/bin/time");
    let secs = start.elapsed().as_secs_f64();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "aisle funnel {args:?}: {stderr}");
    let kib: f64 = stderr
        .lines()
        .last()
        .and_then(|l| l.trim().parse().ok())
        .unwrap_or(0.0);
    (secs, kib / 1024.0, out.stdout)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn bench_query(opts: &Options) {
    let server = ClickHouse::start();
    let url = server.url("aisle");
    // Let aisle create the schema, as a collector would.
    let target = Target::parse(&url).unwrap();
    aisle_agent::event_store::EventStore::open(&target, &Credentials::default()).unwrap();
    let started = Instant::now();
    generate(&server, opts.events);
    println!(
        "generated {} events in ClickHouse in {:.1} s",
        opts.events,
        started.elapsed().as_secs_f64()
    );
    let Target::ClickHouse(ch) = &target else {
        unreachable!()
    };
    let store = ClickHouseStore::open_read_only(ch, &Credentials::default()).unwrap();
    let window_funnel = "SELECT gtin, count(), countIf(level >= 2), countIf(level >= 3) FROM (
            SELECT gtin, windowFunnel(3600)(toDateTime(intDiv(ts_ms, 1000)),
                event = 'item_pickup', event = 'item_try_on', event = 'item_purchase') AS level
            FROM aisle.events WHERE event != 'fixture_dwell' GROUP BY store, gtin, serial)
        GROUP BY gtin FORMAT RowBinary";
    let sorted = "SELECT store, gtin, serial, ts_ms, event FROM aisle.events
        WHERE event != 'fixture_dwell' ORDER BY store, gtin, serial, ts_ms FORMAT RowBinary";
    let mut rows = Vec::new();
    for (name, sql) in [
        (
            "ClickHouse windowFunnel per garment, rolled up per SKU",
            window_funnel,
        ),
        ("ClickHouse streaming every garment's events sorted", sorted),
    ] {
        let times: Vec<f64> = (0..RUNS).map(|_| time_query(&store, sql)).collect();
        rows.push((name.to_string(), times, None));
    }
    for by in ["sku", "store", "sku,store"] {
        let mut times = Vec::new();
        let mut peak: f64 = 0.0;
        for _ in 0..RUNS {
            let (secs, rss, _) = time_funnel(&["--db", &url, "--by", by, "--format", "csv"]);
            times.push(secs);
            peak = peak.max(rss);
        }
        rows.push((
            format!("aisle funnel --by {by} (ClickHouse)"),
            times,
            Some(peak),
        ));
    }
    if opts.sqlite {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("hq.db");
        let started = Instant::now();
        copy_to_sqlite(&store, &db);
        println!(
            "copied into SQLite in {:.1} s",
            started.elapsed().as_secs_f64()
        );
        let db = db.to_str().unwrap();
        let mut times = Vec::new();
        let mut peak: f64 = 0.0;
        for _ in 0..RUNS {
            let (secs, rss, _) = time_funnel(&["--db", db, "--by", "sku", "--format", "csv"]);
            times.push(secs);
            peak = peak.max(rss);
        }
        rows.push(("aisle funnel --by sku (SQLite)".into(), times, Some(peak)));
        let (_, _, from_ch) = time_funnel(&["--db", &url, "--by", "sku", "--format", "csv"]);
        let (_, _, from_sqlite) = time_funnel(&["--db", db, "--by", "sku", "--format", "csv"]);
        assert!(
            from_ch == from_sqlite,
            "ClickHouse and SQLite reports differ"
        );
        println!("the ClickHouse and SQLite reports are identical");
    }
    println!("\n{} events:", opts.events);
    for (name, times, peak) in rows {
        let peak = peak.map_or(String::new(), |p| format!(", peak RSS {p:.0} MiB"));
        println!(
            "  {name}: median {:.2} s (runs {}){peak}",
            median(times.clone()),
            times
                .iter()
                .map(|t| format!("{t:.2}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
}

/// The generated events and exposures into a SQLite file in its schema.
fn copy_to_sqlite(store: &ClickHouseStore, path: &std::path::Path) {
    let mut conn = rusqlite::Connection::open(path).unwrap();
    conn.execute_batch(include_str!("../src/event_store/sqlite/schema.sql"))
        .unwrap();
    conn.pragma_update(None, "user_version", 1).unwrap();
    conn.pragma_update(None, "journal_mode", "OFF").unwrap();
    conn.pragma_update(None, "synchronous", "OFF").unwrap();
    let tx = conn.transaction().unwrap();
    {
        let body = store
            .stream("SELECT id, store, ts_ms, event, gtin, serial FROM aisle.events FORMAT TabSeparated")
            .unwrap();
        let mut insert = tx
            .prepare(
                "INSERT INTO events (id, store, ts_ms, event, stage, tag, gtin, serial, gateway, batch_id, received_ms)
                 VALUES (?1, ?2, ?3, ?4, '-', 0, ?5, ?6, 'gw', 'b', 0)",
            )
            .unwrap();
        for line in std::io::BufRead::lines(body) {
            let line = line.unwrap();
            let f: Vec<&str> = line.split('\t').collect();
            let ts: i64 = f[2].parse().unwrap();
            insert
                .execute(rusqlite::params![f[0], f[1], ts, f[3], f[4], f[5]])
                .unwrap();
        }
        let body = store
            .stream("SELECT store, gtin, event_id, ts_ms FROM aisle.exposures FORMAT TabSeparated")
            .unwrap();
        let mut insert = tx
            .prepare(
                "INSERT OR IGNORE INTO exposures (store, gtin, event_id, fixture, ts_ms)
                 VALUES (?1, ?2, ?3, 'rack-1', ?4)",
            )
            .unwrap();
        for line in std::io::BufRead::lines(body) {
            let line = line.unwrap();
            let f: Vec<&str> = line.split('\t').collect();
            let ts: i64 = f[3].parse().unwrap();
            insert
                .execute(rusqlite::params![f[0], f[1], f[2], ts])
                .unwrap();
        }
    }
    tx.commit().unwrap();
}

/// utime + stime of a process, in seconds.
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name, which may hold spaces: state is 3rd.
    let rest = stat.rsplit_once(") ").map_or("", |(_, r)| r);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = fields
        .get(11)
        .zip(fields.get(12))
        .map(|(u, s)| u.parse::<f64>().unwrap_or(0.0) + s.parse::<f64>().unwrap_or(0.0))
        .unwrap_or(0.0);
    // USER_HZ is 100 on Linux.
    ticks / 100.0
}

fn start_collector(broker: &Mosquitto, db: &str, name: &str, log: &std::path::Path) -> Child {
    Command::new(aisle())
        .args(["hq", "--broker", &broker.url(), "--db", db])
        .args(["--share", "bench", "--client-id", name])
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(log).unwrap())
        .spawn()
        .expect("start aisle hq")
}

fn stop(mut child: Child) {
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let _ = child.wait();
}

fn publish(broker: &Mosquitto, count: u64, first_id: u64) {
    let batches = count.div_ceil(BATCH as u64);
    publish_stream(&broker.url(), batches, move |b| {
        let store = format!("S{}", b % 200);
        let events: Vec<serde_json::Value> = (0..BATCH as u64)
            .map(|i| {
                let n = first_id + b * BATCH as u64 + i;
                let ts = protocol::time::UnixMillis(START_MS + (n as i64) * 1000);
                serde_json::json!({"id": format!("{store}-{n}"), "ts": ts.to_string(),
                        "event": "item_pickup", "stage": "view", "tag": n % 100_000,
                        "gtin": format!("{}", 80_000_000_000_000u64 + n % SKUS),
                        "serial": (n / 5).to_string()})
            })
            .collect();
        let payload = serde_json::json!({"schema": "aisle.batch.v1", "store": store,
                "gateway": "gw", "batch_id": format!("b-{first_id}-{b}"),
                "created_at": "2026-11-01T00:00:00Z", "events": events});
        Message::new(
            Topic::new(&store, TopicKind::Events).to_string(),
            payload.to_string(),
        )
    });
}

fn bench_ingest(opts: &Options) {
    let server = ClickHouse::start();
    let dir = tempfile::tempdir().unwrap();
    for collectors in [1usize, 2] {
        // A broker per round: Mosquitto keeps queueing a share of the
        // group's batches for a member whose session outlives it.
        let broker = Mosquitto::start();
        let db = server.url(&format!("ingest{collectors}"));
        let names: Vec<String> = (0..collectors)
            .map(|i| format!("hq-{collectors}-{i}"))
            .collect();
        let logs: Vec<_> = names
            .iter()
            .map(|n| dir.path().join(format!("{n}.log")))
            .collect();
        // Create the sessions, then stop: the backlog queues for them.
        let first: Vec<Child> = names
            .iter()
            .zip(&logs)
            .map(|(n, l)| start_collector(&broker, &db, n, l))
            .collect();
        for log in &logs {
            wait_until("a collector to subscribe", Duration::from_secs(60), || {
                std::fs::read_to_string(log)
                    .ok()
                    .filter(|t| t.contains("subscribed"))
                    .map(|_| ())
            });
        }
        first.into_iter().for_each(stop);
        let first_id = collectors as u64 * 10_000_000;
        publish(&broker, opts.ingest_events, first_id);
        let ch_pid = server.pid().unwrap();
        let ch_cpu = cpu_seconds(ch_pid);
        let started = Instant::now();
        let running: Vec<Child> = names
            .iter()
            .zip(&logs)
            .map(|(n, l)| start_collector(&broker, &db, n, l))
            .collect();
        let count_sql = format!("SELECT uniqExact(id) FROM ingest{collectors}.events");
        wait_until("the backlog stored", Duration::from_secs(900), || {
            let n: u64 = server
                .try_query(&count_sql)
                .ok()
                .and_then(|t| t.trim().parse().ok())
                .unwrap_or(0);
            (n >= opts.ingest_events).then_some(())
        });
        let secs = started.elapsed().as_secs_f64();
        let hq_cpu: f64 = running.iter().map(|c| cpu_seconds(c.id())).sum();
        let ch_cpu = cpu_seconds(ch_pid) - ch_cpu;
        running.into_iter().for_each(stop);
        let per_100k = 100_000.0 / opts.ingest_events as f64;
        println!(
            "ingest, {collectors} collector(s): {} events in {secs:.1} s = {:.0} events/s; \
             CPU-s per 100k events: collectors {:.2}, ClickHouse {:.2}",
            opts.ingest_events,
            opts.ingest_events as f64 / secs,
            hq_cpu * per_100k,
            ch_cpu * per_100k
        );
    }
}

fn main() {
    let opts = options();
    if opts.query {
        bench_query(&opts);
    }
    if opts.ingest {
        bench_ingest(&opts);
    }
}
