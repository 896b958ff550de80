//! HQ benchmarks: the collector's ingest rate into SQLite, and `aisle funnel
//! --by sku` over a large store. Figures go to BENCHMARKS.md.
//!
//! `cargo bench -p aisle-agent --bench hq -- [--ingest-events N]
//!  [--events N] [--db FILE] [--batch N] [--inflight N]`
//!  (`--events 0` measures the ingest alone)
//!
//! 1. Ingest, end to end: a real Mosquitto, the real `aisle hq`. The
//!    collector's session is created, the collector stopped, N events (as
//!    gateway batches) queued at the broker, and the collector started
//!    again; the figure is events stored per second of its drain. It
//!    includes MQTT delivery, validation, the SQLite commits (WAL,
//!    synchronous=FULL) and the acks.
//! 2. Funnel: a synthetic chain of N events (default 10 million) is loaded
//!    (untimed) through the collector's own code, validation and
//!    `EventStore::ingest`, without the broker, then the real `aisle funnel`
//!    binary is timed, three runs each of `--by sku` and `--by sku,store`.
//!    A file that already holds N events is reused.
//! 3. Dashboard: `aisle dashboard` over the same database; the SKU list
//!    (5,000 rows, 200 a page) timed on its first view (the report
//!    computed) and on repeat views (the report kept until an event is
//!    added), one SKU's page on its first view (its per-store, per-channel
//!    and per-day reports of that SKU's rows only), then the Overview (its
//!    per-store, per-channel and per-day reports, on three threads); all
//!    with `--no-prewarm`. Then again with the prewarm: the time until
//!    `/api/status` says the default views are ready, and the first views
//!    of the SKU list and the Overview after that.

use aisle_agent::event_store::{Received, SqliteStore as EventStore};
use aisle_agent::hq::validate::{validate, Verdict};
use aisle_system_tests::dashboard_timing::{cpu_seconds, time_dashboard};
use aisle_system_tests::{
    clear_ready_file, publish_stream, unknown_flag, wait_until, BenchArgs, ChildGuard, Message,
    Mosquitto, MosquittoOptions,
};
use protocol::batch::{event_id, Batch, BatchEvent, SCHEMA_V1};
use protocol::stage::StoreEventKind;
use protocol::time::UnixMillis;
use protocol::topics::{Topic, TopicKind};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const STORES: u32 = 200;
const SKUS: u64 = 5_000;
const SERIALS_PER_SKU: u64 = 400;
const GTINS_PER_FIXTURE: usize = 6;
/// 2026-11-01T00:00:00Z.
const START_MS: i64 = 1_793_491_200_000;

/// xorshift64*: fast, deterministic, good enough to spread keys.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

fn gtin(sku: u64) -> String {
    format!("{:014}", 80_614_141_000_000u64 + sku)
}

/// One store's event stream: shoppers' garment journeys and fixture dwells.
struct StoreStream {
    store: String,
    tag_seq: u32,
    now_ms: i64,
}

impl StoreStream {
    fn event(&mut self, kind: StoreEventKind, ts_ms: i64, sku: u64, serial: u64) -> BatchEvent {
        self.tag_seq += 1;
        let item = kind != StoreEventKind::FixtureDwell;
        let id = event_id(
            &self.store,
            self.tag_seq >> 16,
            1,
            (self.tag_seq & 0xffff) as u16,
        );
        BatchEvent {
            gtin: item.then(|| gtin(sku)),
            serial: item.then(|| serial.to_string()),
            duration_ms: (!item).then_some(20_000),
            fixture: Some(format!("rack-{}", sku % 40)),
            ..BatchEvent::new(id, UnixMillis(ts_ms), kind, self.tag_seq)
        }
    }

    /// Appends one shopper's activity: a dwell, or a garment journey.
    fn shopper(&mut self, rng: &mut Rng, out: &mut Vec<BatchEvent>) {
        self.now_ms += 1 + rng.below(20_000) as i64;
        let sku = rng.below(SKUS);
        let serial = rng.below(SERIALS_PER_SKU);
        if rng.chance(20) {
            let mut dwell = self.event(StoreEventKind::FixtureDwell, self.now_ms, sku, serial);
            dwell.gtins = Some(
                (0..GTINS_PER_FIXTURE as u64)
                    .map(|i| gtin((sku + i) % SKUS))
                    .collect(),
            );
            out.push(dwell);
            return;
        }
        let mut t = self.now_ms;
        out.push(self.event(StoreEventKind::ItemPickup, t, sku, serial));
        if rng.chance(20) {
            t += rng.below(60_000) as i64;
            out.push(self.event(StoreEventKind::ItemPickup, t, sku, serial));
        }
        if rng.chance(40) {
            t += 1 + rng.below(1_800_000) as i64;
            out.push(self.event(StoreEventKind::ItemTryOn, t, sku, serial));
            if rng.chance(50) {
                t += 1 + rng.below(1_800_000) as i64;
                out.push(self.event(StoreEventKind::ItemPurchase, t, sku, serial));
            }
        }
    }
}

struct Options {
    ingest_events: u64,
    events: u64,
    db: PathBuf,
    batch: usize,
    /// Mosquitto's `max_inflight_messages` for the ingest run (`None`: its
    /// default, 20).
    inflight: Option<u16>,
}

fn options() -> Options {
    let mut opts = Options {
        ingest_events: 1_000_000,
        events: 10_000_000,
        db: std::env::temp_dir().join("aisle-bench-hq.db"),
        batch: 500,
        inflight: None,
    };
    let mut args = BenchArgs::from_env();
    while let Some(flag) = args.next_flag() {
        match flag.as_str() {
            "--ingest-events" => opts.ingest_events = args.value(&flag),
            "--events" => opts.events = args.value(&flag),
            "--db" => opts.db = args.value::<String>(&flag).into(),
            "--batch" => opts.batch = args.value(&flag),
            "--inflight" => opts.inflight = Some(args.value(&flag)),
            other => unknown_flag(other),
        }
    }
    opts
}

/// The synthetic chain, as a sequence of gateway batches, round-robin over
/// the stores.
struct Chain {
    rng: Rng,
    streams: Vec<StoreStream>,
    pending: Vec<Vec<BatchEvent>>,
    batches: u64,
}

impl Chain {
    fn new() -> Chain {
        Chain {
            rng: Rng(0x9E37_79B9_7F4A_7C15),
            streams: (0..STORES)
                .map(|s| StoreStream {
                    store: format!("S{s:04}"),
                    tag_seq: 0,
                    now_ms: START_MS,
                })
                .collect(),
            pending: (0..STORES).map(|_| Vec::new()).collect(),
            batches: 0,
        }
    }

    fn next_batch(&mut self, size: usize) -> Batch {
        let s = (self.batches % u64::from(STORES)) as usize;
        while self.pending[s].len() < size {
            self.streams[s].shopper(&mut self.rng, &mut self.pending[s]);
        }
        let store = self.streams[s].store.clone();
        let batch = Batch {
            schema: SCHEMA_V1.to_string(),
            gateway: format!("gw-{store}"),
            batch_id: format!("{store}-{}", self.batches),
            created_at: UnixMillis(self.streams[s].now_ms),
            events: self.pending[s].drain(..size).collect(),
            store,
        };
        self.batches += 1;
        batch
    }
}

fn remove_db(path: &Path) {
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
}

/// Bench runs drain millions of events: a deadline only guards a hang.
const DEADLINE: Duration = Duration::from_secs(600);

fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    wait_until(what, DEADLINE, || done().then_some(()));
}

/// A throwaway Mosquitto from the system-test harness, without persistence:
/// the bench measures the collector, not the broker's disk. The harness sets
/// no queue limit, so the whole backlog waits for the collector.
fn start_broker(inflight: Option<u16>) -> Mosquitto {
    Mosquitto::start_with(MosquittoOptions {
        persistence: false,
        max_inflight_messages: inflight,
        ..MosquittoOptions::default()
    })
}

/// `aisle hq` against `broker`, logging to `log`; returns once subscribed
/// (its `--ready-file`).
fn start_collector(broker: &Mosquitto, db: &Path, log: &Path) -> ChildGuard {
    let ready = log.with_file_name("hq.ready");
    clear_ready_file(&ready);
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_aisle"));
    cmd.args([
        "hq",
        "--client-id",
        "bench-hq",
        "--broker",
        &broker.url(),
        "--db",
    ])
    .arg(db)
    .arg("--ready-file")
    .arg(&ready);
    let mut child = ChildGuard::spawn("aisle hq", &mut cmd, log);
    child.wait_ready(&ready, DEADLINE);
    child
}

fn stop_collector(mut child: ChildGuard) {
    child.sigterm();
    child.wait_exit(DEADLINE);
}

/// Publishes `count` events as batches at QoS 1; returns once all are acked.
fn publish(broker: &Mosquitto, count: u64, batch: usize) {
    let mut chain = Chain::new();
    publish_stream(&broker.url(), count.div_ceil(batch as u64), move |_| {
        let batch = chain.next_batch(batch);
        Message::new(
            Topic::new(&batch.store, TopicKind::Events).to_string(),
            serde_json::to_vec(&batch).unwrap(),
        )
    });
}

fn stored(db: &Path) -> u64 {
    let Ok(conn) =
        rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
    else {
        return 0;
    };
    // MAX(rowid) is a B-tree lookup; COUNT(*) would scan a growing table.
    conn.query_row("SELECT COALESCE(MAX(rowid), 0) FROM events", [], |r| {
        r.get::<_, i64>(0)
    })
    .unwrap_or(0) as u64
}

fn bench_ingest(opts: &Options) {
    let broker = start_broker(opts.inflight);
    let dir = tempfile::tempdir().unwrap();
    let (db, log) = (dir.path().join("ingest.db"), dir.path().join("hq.log"));
    // Create the persistent session, then queue the backlog while it is down.
    stop_collector(start_collector(&broker, &db, &log));
    publish(&broker, opts.ingest_events, opts.batch);
    let started = Instant::now();
    let collector = start_collector(&broker, &db, &log);
    let total = opts.ingest_events.div_ceil(opts.batch as u64) * opts.batch as u64;
    wait_for("the backlog to be stored", || stored(&db) >= total);
    let elapsed = started.elapsed().as_secs_f64();
    let cpu = cpu_seconds(collector.pid());
    stop_collector(collector);
    println!(
        "ingest (Mosquitto -> aisle hq -> SQLite): {total} events in batches of {}: {elapsed:.1} s, {:.0} events/s, collector {:.2} CPU-s per 1 M events",
        opts.batch,
        total as f64 / elapsed,
        cpu * 1e6 / total as f64
    );
}

/// Loads the chain through the collector's own path: each batch as JSON,
/// validated, and ingested by the event store, 100 batches a transaction
/// (a collector commits what has arrived, up to 256).
fn load_funnel_db(opts: &Options) {
    remove_db(&opts.db);
    let mut store = EventStore::open(&opts.db).unwrap();
    let started = Instant::now();
    let mut chain = Chain::new();
    let mut loaded = 0u64;
    while loaded < opts.events {
        let mut group = Vec::new();
        while group.len() < 100 && loaded < opts.events {
            let batch = chain.next_batch(opts.batch);
            loaded += batch.events.len() as u64;
            let topic = Topic::new(&batch.store, TopicKind::Events).to_string();
            let payload = serde_json::to_vec(&batch).unwrap();
            let verdict = validate(&topic, &payload);
            assert!(matches!(verdict, Verdict::Accepted(_)), "{verdict:?}");
            group.push((topic, payload, verdict));
        }
        let received: Vec<Received<'_>> = group
            .iter()
            .map(|(topic, payload, verdict)| Received {
                topic,
                payload,
                verdict,
            })
            .collect();
        store.ingest(&received, 0).unwrap();
    }
    drop(store);
    let size = std::fs::metadata(&opts.db).map(|m| m.len()).unwrap_or(0);
    println!(
        "loaded {loaded} events into {} in {:.1} s ({:.0} MiB)",
        opts.db.display(),
        started.elapsed().as_secs_f64(),
        size as f64 / 1_048_576.0
    );
}

fn time_funnel(opts: &Options, by: &str) {
    let mut runs = Vec::new();
    for _ in 0..3 {
        let started = Instant::now();
        let status = Command::new(env!("CARGO_BIN_EXE_aisle"))
            .args(["funnel", "--by", by, "--format", "csv", "--db"])
            .arg(&opts.db)
            .stdout(Stdio::null())
            .status()
            .expect("run aisle funnel");
        assert!(status.success(), "aisle funnel failed");
        runs.push(started.elapsed().as_secs_f64());
    }
    runs.sort_by(f64::total_cmp);
    println!(
        "funnel --by {by} over {} events: runs {runs:.2?} s (best {:.2} s)",
        opts.events, runs[0]
    );
}

fn main() {
    let opts = options();
    if opts.ingest_events > 0 {
        bench_ingest(&opts);
    }
    if opts.events == 0 {
        // `--events 0`: the ingest figure only.
        return;
    }
    if stored(&opts.db) == opts.events {
        println!("reusing {} ({} events)", opts.db.display(), opts.events);
    } else {
        load_funnel_db(&opts);
    }
    time_funnel(&opts, "sku");
    time_funnel(&opts, "sku,store");
    let db = opts.db.to_str().expect("a UTF-8 database path");
    let sku = gtin(SKUS / 2);
    for prewarm in [false, true] {
        time_dashboard(env!("CARGO_BIN_EXE_aisle"), db, opts.events, &sku, prewarm);
    }
}
