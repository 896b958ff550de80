//! HQ on ClickHouse, measured: the funnel report over a generated chain
//! beside ClickHouse's own `windowFunnel`, and the collectors' ingest rate.
//! Figures go to BENCHMARKS.md ("HQ on ClickHouse").
//!
//! `cargo bench -p aisle-agent --bench hq_clickhouse -- [--events N]
//!  [--ingest-events N] [--no-ingest] [--no-query] [--sqlite] [--runs N]
//!  [--by DIMS]... [--no-sorted] [--dashboard]`
//!
//! 1. Query: N events (default 10 million) of 4,000 stores and 20,000 SKUs
//!    are generated inside a ClickHouse server of the test harness with
//!    `INSERT … SELECT … FROM numbers(N)` (untimed). Then, each three times
//!    and in the same run: ClickHouse's own funnel (a `windowFunnel` per
//!    garment rolled up per SKU), streaming every garment's events out
//!    sorted, and the real `aisle funnel --by sku`, `--by store` and
//!    `--by sku,store` (or the `--by` given; wall time, aisle's CPU and
//!    peak RSS from `/usr/bin/time`, ClickHouse's CPU from /proc). With
//!    `--sqlite` the same events are copied into a SQLite file and `aisle
//!    funnel --by sku` is timed on it too, and both reports are compared.
//!    With `--dashboard`, `aisle dashboard` over the same database: the
//!    views of agent/benches/hq.rs, without and with the prewarm.
//! 2. Ingest: a real Mosquitto; one, then two collectors (`--share`)
//!    subscribe and stop; M events (default 1 million) are queued at the
//!    broker as gateway batches of 500; the collectors start again and the
//!    figure is events per second until ClickHouse holds all M, with the
//!    CPU-seconds per 100,000 events of the collectors, ClickHouse and
//!    Mosquitto. Both with Mosquitto's default in-flight window (20
//!    batches per collector) and with a window of 512.

use aisle_agent::event_store::{ClickHouseStore, Credentials, Target};
use aisle_system_tests::clickhouse::{CHAIN_SKUS as SKUS, CHAIN_START_MS as START_MS};
use aisle_system_tests::dashboard_timing::{cpu_seconds, time_dashboard};
use aisle_system_tests::{
    publish_stream, unknown_flag, wait_until, BenchArgs, ClickHouse, Message, Mosquitto,
    MosquittoOptions,
};
use protocol::topics::{Topic, TopicKind};
use std::io::Read;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BATCH: usize = 500;
struct Options {
    events: u64,
    ingest_events: u64,
    ingest: bool,
    query: bool,
    sqlite: bool,
    /// How often each query and report is timed.
    runs: usize,
    /// The `aisle funnel --by` reports timed.
    bys: Vec<String>,
    /// Whether to time ClickHouse streaming every event sorted (at 100 M
    /// events its sort outgrows the harness's 8 GB query memory limit).
    sorted: bool,
    /// Whether to time `aisle dashboard` too.
    dashboard: bool,
}

fn options() -> Options {
    let mut opts = Options {
        events: 10_000_000,
        ingest_events: 1_000_000,
        ingest: true,
        query: true,
        sqlite: false,
        runs: 3,
        bys: Vec::new(),
        sorted: true,
        dashboard: false,
    };
    let mut args = BenchArgs::from_env();
    while let Some(flag) = args.next_flag() {
        match flag.as_str() {
            "--events" => opts.events = args.value(&flag),
            "--ingest-events" => opts.ingest_events = args.value(&flag),
            "--no-ingest" => opts.ingest = false,
            "--no-query" => opts.query = false,
            "--sqlite" => opts.sqlite = true,
            "--runs" => opts.runs = args.value(&flag),
            "--by" => opts.bys.push(args.value(&flag)),
            "--no-sorted" => opts.sorted = false,
            "--dashboard" => opts.dashboard = true,
            other => unknown_flag(other),
        }
    }
    if opts.bys.is_empty() {
        opts.bys = ["sku", "store", "sku,store"].map(String::from).to_vec();
    }
    opts
}

fn aisle() -> &'static str {
    env!("CARGO_BIN_EXE_aisle")
}

/// One timed run: wall seconds, the CPU-seconds of `aisle` (none for a
/// query read by the bench itself) and of ClickHouse, and aisle's peak RSS
/// in MiB.
#[derive(Clone, Copy)]
struct Run {
    secs: f64,
    aisle_cpu: Option<f64>,
    server_cpu: f64,
    rss_mib: Option<f64>,
}

/// Runs `sql` and reads its whole answer.
fn time_query(server: &ClickHouse, store: &ClickHouseStore, sql: &str) -> Run {
    let pid = server.pid().unwrap();
    let cpu = cpu_seconds(pid);
    let start = Instant::now();
    let mut body = store.stream(sql).expect("query");
    let mut sink = vec![0u8; 1 << 16];
    while body.read(&mut sink).expect("read") > 0 {}
    Run {
        secs: start.elapsed().as_secs_f64(),
        aisle_cpu: None,
        server_cpu: cpu_seconds(pid) - cpu,
        rss_mib: None,
    }
}

/// `aisle funnel ARGS` under `/usr/bin/time` (with the ClickHouse server's
/// CPU over the same span, when there is one): the run and its stdout.
fn time_funnel(server: Option<&ClickHouse>, args: &[&str]) -> (Run, Vec<u8>) {
    let pid = server.and_then(ClickHouse::pid);
    let cpu = pid.map_or(0.0, cpu_seconds);
    let start = Instant::now();
    let out = Command::new("/usr/bin/time")
        .args(["-f", "%M %U %S"])
        .arg(aisle())
        .arg("funnel")
        .args(args)
        .output()
        .expect("run aisle funnel under /usr/bin/time");
    let secs = start.elapsed().as_secs_f64();
    let server_cpu = pid.map_or(0.0, |pid| cpu_seconds(pid) - cpu);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "aisle funnel {args:?}: {stderr}");
    let figures: Vec<f64> = stderr
        .lines()
        .last()
        .unwrap_or("")
        .split_whitespace()
        .filter_map(|f| f.parse().ok())
        .collect();
    let [kib, user, system] = figures[..] else {
        panic!("/usr/bin/time printed no figures: {stderr}")
    };
    let run = Run {
        secs,
        aisle_cpu: Some(user + system),
        server_cpu,
        rss_mib: Some(kib / 1024.0),
    };
    (run, out.stdout)
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
    server.generate_chain("aisle", opts.events);
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
    let mut rows: Vec<(String, Vec<Run>)> = Vec::new();
    for (name, sql) in [
        (
            "ClickHouse windowFunnel per garment, rolled up per SKU",
            window_funnel,
        ),
        ("ClickHouse streaming every garment's events sorted", sorted),
    ]
    .into_iter()
    .filter(|(name, _)| opts.sorted || !name.contains("sorted"))
    {
        let runs = (0..opts.runs)
            .map(|_| time_query(&server, &store, sql))
            .collect();
        rows.push((name.to_string(), runs));
    }
    for by in &opts.bys {
        let runs = (0..opts.runs)
            .map(|_| {
                time_funnel(
                    Some(&server),
                    &["--db", &url, "--by", by, "--format", "csv"],
                )
                .0
            })
            .collect();
        rows.push((format!("aisle funnel --by {by} (ClickHouse)"), runs));
    }
    if opts.dashboard {
        let sku = (80_000_000_000_000u64 + SKUS / 2).to_string();
        for prewarm in [false, true] {
            time_dashboard(aisle(), &url, opts.events, &sku, prewarm);
        }
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
        let args = ["--db", db, "--by", "sku", "--format", "csv"];
        let runs = (0..opts.runs).map(|_| time_funnel(None, &args).0).collect();
        rows.push(("aisle funnel --by sku (SQLite)".into(), runs));
        let (_, from_ch) = time_funnel(None, &["--db", &url, "--by", "sku", "--format", "csv"]);
        let (_, from_sqlite) = time_funnel(None, &args);
        assert!(
            from_ch == from_sqlite,
            "ClickHouse and SQLite reports differ"
        );
        println!("the ClickHouse and SQLite reports are identical");
    }
    println!("\n{} events:", opts.events);
    for (name, runs) in rows {
        let list = |f: fn(&Run) -> f64| {
            runs.iter()
                .map(|r| format!("{:.2}", f(r)))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let med = |f: fn(&Run) -> f64| median(runs.iter().map(f).collect());
        let mut line = format!(
            "  {name}: median {:.2} s (runs {}); ClickHouse CPU-s median {:.2} ({})",
            med(|r| r.secs),
            list(|r| r.secs),
            med(|r| r.server_cpu),
            list(|r| r.server_cpu)
        );
        if runs[0].aisle_cpu.is_some() {
            let peak = runs.iter().filter_map(|r| r.rss_mib).fold(0.0, f64::max);
            line.push_str(&format!(
                "; aisle CPU-s median {:.2} ({}); peak RSS {peak:.0} MiB",
                med(|r| r.aisle_cpu.unwrap_or(0.0)),
                list(|r| r.aisle_cpu.unwrap_or(0.0))
            ));
        }
        println!("{line}");
    }
    println!(
        "load average: {}",
        std::fs::read_to_string("/proc/loadavg")
            .unwrap_or_default()
            .trim()
    );
}

/// The generated events and exposures into a SQLite event store, through
/// the collector's own validation and ingest: item events as they are, each
/// dwell's exposures as a `fixture_dwell` listing its GTINs, in gateway
/// batches of one store.
fn copy_to_sqlite(store: &ClickHouseStore, path: &std::path::Path) {
    let target = Target::parse(path.to_str().unwrap()).unwrap();
    let mut db = aisle_agent::event_store::EventStore::open(&target, &Credentials::default())
        .expect("create the SQLite event store");
    let mut batches = 0u64;
    let mut ingest = |shop: &str, events: &mut Vec<serde_json::Value>| {
        if events.is_empty() {
            return;
        }
        let topic = Topic::new(shop, TopicKind::Events).to_string();
        let payload = serde_json::json!({"schema": "aisle.batch.v1", "store": shop,
            "gateway": "gw", "batch_id": format!("copy-{batches}"),
            "created_at": "2026-11-01T00:00:00Z", "events": events})
        .to_string();
        batches += 1;
        let verdict = aisle_agent::hq::validate::validate(&topic, payload.as_bytes());
        let received = aisle_agent::event_store::Received {
            topic: &topic,
            payload: payload.as_bytes(),
            verdict: &verdict,
        };
        let counts = db.ingest(&[received], 0).expect("ingest into SQLite");
        assert_eq!(counts.quarantined_batches + counts.quarantined_events, 0);
        events.clear();
    };
    let queries = [
        "SELECT store, id, ts_ms, event, gtin, serial FROM aisle.events ORDER BY store
         FORMAT TabSeparated",
        "SELECT store, event_id, any(ts_ms), '', arrayStringConcat(groupArray(gtin), ','), ''
         FROM aisle.exposures GROUP BY store, event_id ORDER BY store FORMAT TabSeparated",
    ];
    for sql in queries {
        let body = store.stream(sql).unwrap();
        let (mut shop, mut events) = (String::new(), Vec::new());
        for line in std::io::BufRead::lines(body) {
            let line = line.unwrap();
            let f: Vec<&str> = line.split('\t').collect();
            if f[0] != shop || events.len() == BATCH {
                ingest(&shop, &mut events);
                shop = f[0].to_string();
            }
            let ts = protocol::time::UnixMillis(f[2].parse().unwrap()).to_string();
            events.push(if f[3].is_empty() {
                let gtins: Vec<&str> = f[4].split(',').collect();
                serde_json::json!({"id": f[1], "ts": ts, "event": "fixture_dwell",
                    "stage": "exposure", "tag": 0, "fixture": "rack-1", "gtins": gtins})
            } else {
                let stage = match f[3] {
                    "item_pickup" => "view",
                    "item_try_on" => "try_on",
                    _ => "purchase",
                };
                serde_json::json!({"id": f[1], "ts": ts, "event": f[3], "stage": stage,
                    "tag": 0, "gtin": f[4], "serial": f[5]})
            });
        }
        ingest(&shop, &mut events);
    }
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

/// A wider in-flight window than Mosquitto's default of 20 QoS 1 messages
/// per client: twice the collector's largest group (`MAX_GROUP`, 256
/// batches, in agent/src/hq/collector.rs), so that one insert carries a
/// full group while the next group arrives.
const WIDE_WINDOW: u16 = 512;

/// How often the bench asks ClickHouse whether the backlog is in. The
/// question is `count()`, answered from the parts' metadata, so asking
/// costs the server next to nothing and the figure is the inserts' cost.
const STORED_POLL: Duration = Duration::from_millis(50);

fn bench_ingest(opts: &Options) {
    let server = ClickHouse::start();
    let dir = tempfile::tempdir().unwrap();
    let mut results = Vec::new();
    let rounds = [
        (1usize, None),
        (2, None),
        (1, Some(WIDE_WINDOW)),
        (2, Some(WIDE_WINDOW)),
    ];
    for (round, (collectors, window)) in rounds.into_iter().enumerate() {
        // A broker per round: Mosquitto keeps queueing a share of the
        // group's batches for a member whose session outlives it.
        let broker = Mosquitto::start_with(MosquittoOptions {
            max_inflight_messages: window,
            ..MosquittoOptions::default()
        });
        let db_name = format!("ingest{round}");
        let db = server.url(&db_name);
        let names: Vec<String> = (0..collectors).map(|i| format!("hq-{round}-{i}")).collect();
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
        let first_id = (round as u64 + 1) * 10_000_000;
        publish(&broker, opts.ingest_events, first_id);
        let ch_pid = server.pid().unwrap();
        let broker_pid = broker.pid().unwrap();
        let (ch_cpu, broker_cpu) = (cpu_seconds(ch_pid), cpu_seconds(broker_pid));
        let started = Instant::now();
        let running: Vec<Child> = names
            .iter()
            .zip(&logs)
            .map(|(n, l)| start_collector(&broker, &db, n, l))
            .collect();
        // Rows first (cheap to ask), then distinct events: a redelivered
        // batch is stored twice, so rows can reach the count early.
        for sql in [
            format!("SELECT count() FROM {db_name}.events"),
            format!("SELECT uniqExact(id) FROM {db_name}.events"),
        ] {
            wait_until("the backlog stored", Duration::from_secs(900), || {
                let n: u64 = server
                    .try_query(&sql)
                    .ok()
                    .and_then(|t| t.trim().parse().ok())
                    .unwrap_or(0);
                if n < opts.ingest_events {
                    std::thread::sleep(STORED_POLL);
                }
                (n >= opts.ingest_events).then_some(())
            });
        }
        let secs = started.elapsed().as_secs_f64();
        let hq_cpu: f64 = running.iter().map(|c| cpu_seconds(c.id())).sum();
        let ch_cpu = cpu_seconds(ch_pid) - ch_cpu;
        let broker_cpu = cpu_seconds(broker_pid) - broker_cpu;
        running.into_iter().for_each(stop);
        let per_100k = 100_000.0 / opts.ingest_events as f64;
        let window = window.map_or("Mosquitto's default window (20)".to_string(), |w| {
            format!("max_inflight_messages {w}")
        });
        results.push(format!(
            "ingest, {collectors} collector(s), {window}: {} events in {secs:.1} s = {:.0} events/s; \
             CPU-s per 100k events: collectors {:.3}, ClickHouse {:.3}, Mosquitto {:.3}",
            opts.ingest_events,
            opts.ingest_events as f64 / secs,
            hq_cpu * per_100k,
            ch_cpu * per_100k,
            broker_cpu * per_100k,
        ));
        println!("{}", results.last().unwrap());
    }
    println!();
    for line in results {
        println!("{line}");
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
