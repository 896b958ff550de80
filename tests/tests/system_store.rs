//! The whole store on one machine, every part its own process: `aisle
//! simulate` acting as the store's receivers on a pty pair, `aisle gateway`
//! on the other end, a real Mosquitto, `aisle hq` writing SQLite. What HQ's
//! `aisle funnel` reports, by SKU, store, zone and fixture, must equal the
//! simulator's ground truth, computed from what its shoppers did, in a clean
//! run and through crashes, a broker restart and a faulty serial link; the
//! entrance's counts reach HQ as `store_visits` events of its zone, adding
//! up to the people who came in.

use aisle_system_tests::{
    aisle_bin, demo_store, stdout_of, wait_until, ChildGuard, GatewayArgs, HqCollector, Mosquitto,
    SerialLink,
};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;
use tempfile::TempDir;

/// HQ's funnel window in these tests (the simulator needs at least 2m).
const WINDOW: &str = "2m";
/// Shopping time of a run: long enough for journeys through the checkout.
const SHOPPING: &str = "40s";
/// The groupings whose truth the simulator writes and HQ's funnel must
/// equal: per SKU, per store (with the entrance's visits), per zone and per
/// fixture (with the dwells).
const GROUPINGS: [&str; 4] = ["sku", "store", "zone", "fixture"];
/// How long the simulator waits for the last acks after shopping: two of a
/// tag's longest retransmission gaps (64 s plus 25 % jitter), because on the
/// faulty link an event can lose several attempts in a row and reach them.
const ACK_TIMEOUT: &str = "170s";
/// Shopping, the last acks and process start-up, with room for a loaded machine.
const RUN_DEADLINE: Duration = Duration::from_secs(240);
/// From the simulator's exit (every event spooled) to HQ's tables.
const DELIVERY_DEADLINE: Duration = Duration::from_secs(60);

/// A store and its HQ, all running.
struct Store {
    dir: TempDir,
    broker: Mosquitto,
    link: SerialLink,
    gateway_args: GatewayArgs,
    gateway: ChildGuard,
    hq: HqCollector,
}

impl Store {
    fn start() -> Store {
        let dir = tempfile::Builder::new()
            .prefix("system-store-")
            .tempdir()
            .expect("tempdir");
        let broker = Mosquitto::start();
        let link = SerialLink::open(dir.path());
        let gateway_args = GatewayArgs::demo(broker.url(), link.gateway_path(), dir.path());
        // Until the collector's first subscription exists the broker keeps
        // no session for it: started only once it is ready.
        let hq = spawn_hq(dir.path(), &broker);
        let gateway = gateway_args.spawn();
        Store {
            dir,
            broker,
            link,
            gateway_args,
            gateway,
            hq,
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// The truth file of one grouping.
    fn truth_path(&self, by: &str) -> PathBuf {
        self.path(&format!("truth-by-{by}.json"))
    }

    /// Starts `aisle simulate` on the link's device end, writing the truth
    /// of every grouping.
    fn simulate(&self, seed: u64, extra: &[&str]) -> ChildGuard {
        let mut cmd = Command::new(aisle_bin());
        cmd.arg("simulate")
            .arg("--config")
            .arg(demo_store())
            .arg("--port")
            .arg(self.link.device_path());
        for by in GROUPINGS {
            cmd.arg("--truth")
                .arg(self.truth_path(by))
                .args(["--truth-by", by]);
        }
        cmd.args([
            "--seed",
            &seed.to_string(),
            "--duration",
            SHOPPING,
            "--window",
            WINDOW,
            "--ack-timeout",
            ACK_TIMEOUT,
        ])
        .args(extra)
        .env("RUST_LOG", "info");
        ChildGuard::spawn("aisle simulate", &mut cmd, &self.path("simulate.log"))
    }

    /// Funnel events in HQ's database so far.
    fn hq_events(&self) -> u64 {
        let flags = rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY;
        rusqlite::Connection::open_with_flags(&self.hq.db, flags)
            .and_then(|db| db.query_row("SELECT COUNT(*) FROM events", [], |row| row.get(0)))
            .unwrap_or(0)
    }

    /// HQ's `store_visits` events: (stage, zone, count) of each.
    fn hq_visit_events(&self) -> Vec<(String, Option<String>, Option<u64>)> {
        let flags = rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY;
        let db = rusqlite::Connection::open_with_flags(&self.hq.db, flags).expect("HQ's database");
        let mut query = db
            .prepare("SELECT stage, zone, count FROM events WHERE event = 'store_visits'")
            .expect("query visits");
        query
            .query_map([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))
            .expect("read visits")
            .collect::<Result<_, _>>()
            .expect("read visits")
    }

    /// `aisle funnel --format json --by BY --window W` on HQ's database.
    fn funnel(&self, by: &str) -> String {
        stdout_of(
            Command::new(aisle_bin())
                .args([
                    "funnel", "--format", "json", "--by", by, "--window", WINDOW, "--db",
                ])
                .arg(&self.hq.db),
        )
    }

    /// Waits for the simulator to exit 0 (every event acked by the gateway),
    /// then for HQ's funnel to equal the truth in every grouping.
    fn assert_hq_matches_truth(&self, sim: &mut ChildGuard) {
        let status = sim.wait_exit(RUN_DEADLINE);
        assert!(
            status.success(),
            "aisle simulate failed ({status}):\n{}",
            sim.log_tail()
        );
        for by in GROUPINGS {
            self.assert_hq_matches_truth_by(by);
        }
        // The demo store's one entrance counted people in several periods;
        // each period with arrivals is one event of the door's zone, and
        // their counts add up to the people the truth saw come in.
        let truth: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(self.truth_path("store")).expect("the truth by store"),
        )
        .expect("the truth is JSON");
        let came_in = truth["rows"][0]["visits"]
            .as_u64()
            .expect("visits by store");
        assert!(came_in > 0, "nobody came in: {truth}");
        let visits = self.hq_visit_events();
        assert!(visits.len() > 1, "visits at HQ: {visits:?}");
        let mut counted = 0;
        for (stage, zone, count) in &visits {
            assert_eq!(
                (stage.as_str(), zone.as_deref()),
                ("visit", Some("main-door"))
            );
            counted += count.expect("a store_visits event has its count");
        }
        assert_eq!(counted, came_in, "store_visits counts at HQ: {visits:?}");
    }

    fn assert_hq_matches_truth_by(&self, by: &str) {
        let truth =
            std::fs::read_to_string(self.truth_path(by)).expect("the simulator wrote its truth");
        let doc: serde_json::Value = serde_json::from_str(&truth).expect("the truth is JSON");
        let sold: u64 = doc["rows"]
            .as_array()
            .expect("rows")
            .iter()
            .filter_map(|r| r["journeys_purchase"].as_u64())
            .sum();
        assert!(
            sold > 0,
            "the run should sell something after a try-on:\n{truth}"
        );
        // Byte for byte, whole-second medians included: no tolerance.
        let mut last = String::new();
        let matched = wait_until_or(DELIVERY_DEADLINE, || {
            last = self.funnel(by);
            (last == truth).then_some(())
        });
        if matched.is_none() {
            assert_eq!(
                last, truth,
                "HQ's funnel by {by} (left) differs from the ground truth (right)\nHQ:    {last}truth: {truth}"
            );
        }
    }
}

fn spawn_hq(dir: &Path, broker: &Mosquitto) -> HqCollector {
    HqCollector::start(dir, &broker.url(), &["--client-id", "system-store-hq"])
}

/// Like [`wait_until`], but `None` at the deadline instead of a panic, so
/// the caller can show what it saw last.
fn wait_until_or(deadline: Duration, mut f: impl FnMut() -> Option<()>) -> Option<()> {
    let start = std::time::Instant::now();
    while start.elapsed() < deadline {
        if f().is_some() {
            return Some(());
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    None
}

#[test]
fn hq_funnel_equals_the_ground_truth_in_a_clean_run() {
    let store = Store::start();
    let mut sim = store.simulate(13, &[]);
    store.assert_hq_matches_truth(&mut sim);
}

#[test]
fn hq_funnel_equals_the_ground_truth_through_crashes_a_broker_restart_and_a_faulty_link() {
    let mut store = Store::start();
    let faults = "flip=0.05,garbage=0.05,duplicate=0.05,drop=0.05,drop-ack=0.2";
    let mut sim = store.simulate(12, &["--faults", faults]);
    // Each fault strikes while events flow: after HQ has stored more than
    // it had before the previous fault.
    let flowing = |store: &Store, after: u64| {
        wait_until("events to flow to HQ", RUN_DEADLINE, || {
            (store.hq_events() > after).then(|| store.hq_events())
        })
    };
    let seen = flowing(&store, 0);
    store.gateway.kill9();
    store.gateway = store.gateway_args.spawn();
    let seen = flowing(&store, seen);
    store.hq.child.kill9();
    store.hq = spawn_hq(store.dir.path(), &store.broker);
    flowing(&store, seen);
    store.broker.restart();
    store.assert_hq_matches_truth(&mut sim);
    // The link really was faulty: the simulator's summary counts each kind.
    let log = std::fs::read_to_string(store.path("simulate.log")).unwrap_or_default();
    for fault in [
        "flipped",
        "garbage",
        "duplicated",
        "dropped",
        "acks_dropped",
    ] {
        let count = log
            .rsplit_once(&format!(" {fault}: "))
            .and_then(|(_, rest)| {
                rest.split(|c: char| !c.is_ascii_digit())
                    .next()?
                    .parse::<u64>()
                    .ok()
            });
        assert!(
            count.is_some_and(|n| n > 0),
            "no {fault} frames in the faulty run:\n{log}"
        );
    }
}
