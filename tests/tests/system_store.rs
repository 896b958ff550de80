//! The whole store on one machine, every part its own process: `aisle
//! simulate` acting as the store's receivers on a pty pair, `aisle gateway`
//! on the other end, a real Mosquitto, `aisle hq` writing SQLite. What HQ's
//! `aisle funnel` reports must equal the simulator's ground truth, computed
//! from what its shoppers did, in a clean run and through crashes, a broker
//! restart and a faulty serial link.

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

    /// Starts `aisle simulate` on the link's device end.
    fn simulate(&self, seed: u64, extra: &[&str]) -> ChildGuard {
        let mut cmd = Command::new(aisle_bin());
        cmd.arg("simulate")
            .arg("--config")
            .arg(demo_store())
            .arg("--port")
            .arg(self.link.device_path())
            .arg("--truth")
            .arg(self.path("truth.json"))
            .args([
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

    /// `aisle funnel --format json --by sku --window W` on HQ's database.
    fn funnel(&self) -> String {
        stdout_of(
            Command::new(aisle_bin())
                .args([
                    "funnel", "--format", "json", "--by", "sku", "--window", WINDOW, "--db",
                ])
                .arg(&self.hq.db),
        )
    }

    /// Waits for the simulator to exit 0 (every event acked by the gateway),
    /// then for HQ's funnel to equal the truth.
    fn assert_hq_matches_truth(&self, sim: &mut ChildGuard) {
        let status = sim.wait_exit(RUN_DEADLINE);
        assert!(
            status.success(),
            "aisle simulate failed ({status}):\n{}",
            sim.log_tail()
        );
        let truth = std::fs::read_to_string(self.path("truth.json"))
            .expect("the simulator wrote its truth");
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
            last = self.funnel();
            (last == truth).then_some(())
        });
        if matched.is_none() {
            assert_eq!(
                last, truth,
                "HQ's funnel (left) differs from the ground truth (right)\nHQ:    {last}truth: {truth}"
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
