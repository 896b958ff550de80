//! The writer's promises, on a real SQLite file: acks only after commit,
//! duplicates re-acked but stored once, no ack when a commit fails.

use super::*;
use crate::config;
use protocol::{EpcBytes, FwVersion};
use rusqlite::Connection;
use std::path::{Path, PathBuf};

const STORE: &str = r#"store = "S1"
[broker]
url = "mqtt://localhost"
[spool]
path = "/unused"
[[fixtures]]
id = "F1"
zone = "z"
presence_tag = 1001
[[readers]]
tag = 2001
kind = "checkout"
zone = "till"
"#;

struct Harness {
    tx: mpsc::Sender<SpoolMsg>,
    acks: mpsc::Receiver<PortMsg>,
    stats: Arc<Stats>,
    path: PathBuf,
    thread: std::thread::JoinHandle<()>,
    _dir: tempfile::TempDir,
}

fn start() -> Harness {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("spool.sqlite");
    let cfg = config::parse(Path::new("t.toml"), STORE).unwrap();
    let (spool, _) = Spool::open(&path, 1 << 20, 0).unwrap();
    let stats = Arc::new(Stats::new(&["p".into()]));
    let (port_tx, acks) = mpsc::channel(16);
    let (head, _) = watch::channel(0);
    let writer = Writer {
        spool,
        map: StoreMap::new(&cfg),
        dedup: Dedup::new(1024),
        stats: stats.clone(),
        tags: Arc::new(Mutex::new(TagHealthBook::default())),
        ports: vec![port_tx],
        head,
    };
    let (tx, rx) = mpsc::channel(16);
    let thread = std::thread::spawn(move || writer.run(rx));
    Harness {
        tx,
        acks,
        stats,
        path,
        thread,
        _dir: dir,
    }
}

impl Harness {
    fn send(&self, uplinks: Vec<Uplink>) {
        self.tx
            .blocking_send(SpoolMsg::Frames {
                port: 0,
                received_at: UnixMillis(10_000),
                uplinks,
            })
            .unwrap();
    }

    /// Flushes and returns every ack sent before `Flushed`.
    fn flush(&mut self) -> Vec<EventKey> {
        self.tx.blocking_send(SpoolMsg::Flush { port: 0 }).unwrap();
        let mut acked = Vec::new();
        loop {
            match self.acks.blocking_recv().expect("writer alive") {
                PortMsg::Acks(keys) => acked.extend(keys),
                PortMsg::Flushed => return acked,
            }
        }
    }

    fn rows(&self) -> i64 {
        let conn = Connection::open(&self.path).unwrap();
        conn.query_row("SELECT COALESCE(SUM(events), 0) FROM chunks", [], |r| {
            r.get(0)
        })
        .unwrap()
    }

    fn stop(self) {
        drop(self.tx);
        self.thread.join().unwrap();
    }
}

fn dwell(seq: u16) -> Uplink {
    Uplink {
        tag: 1001,
        boot: 1,
        seq,
        age_ms: 0,
        event: TagEvent::DwellEnd { dwell_ms: 9_000 },
    }
}

#[test]
fn acks_arrive_only_once_events_are_committed() {
    let mut h = start();
    h.send(vec![dwell(1), dwell(2)]);
    // Wait for the first ack, then look at the file from another connection.
    let first = match h.acks.blocking_recv().unwrap() {
        PortMsg::Acks(keys) => keys,
        PortMsg::Flushed => panic!("flushed before acking"),
    };
    assert_eq!(first.len(), 2);
    assert_eq!(h.rows(), 2, "an acked event must already be durable");
    h.stop();
}

#[test]
fn duplicates_are_acked_again_but_stored_once() {
    let mut h = start();
    h.send(vec![dwell(1), dwell(1)]);
    assert_eq!(h.flush().len(), 2, "both copies acked");
    h.send(vec![dwell(1)]);
    assert_eq!(
        h.flush(),
        vec![EventKey {
            tag: 1001,
            boot: 1,
            seq: 1
        }],
        "a late copy is acked too"
    );
    assert_eq!(h.rows(), 1);
    assert_eq!(h.stats.duplicates.load(Relaxed), 2);
    assert_eq!(h.stats.spooled.load(Relaxed), 1);
    h.stop();
}

#[test]
fn health_events_are_acked_but_not_spooled() {
    let mut h = start();
    let fw = FwVersion {
        major: 1,
        minor: 0,
        patch: 0,
    };
    let heartbeat = Uplink {
        tag: 1001,
        boot: 1,
        seq: 5,
        age_ms: 0,
        event: TagEvent::Heartbeat {
            battery_mv: 2900,
            fw,
            dropped: 0,
        },
    };
    h.send(vec![heartbeat]);
    assert_eq!(h.flush().len(), 1);
    assert_eq!(h.rows(), 0);
    h.stop();
}

#[test]
fn failed_commit_acks_nothing_and_is_counted() {
    let mut h = start();
    // Break the spool under the writer: its next insert fails.
    Connection::open(&h.path)
        .unwrap()
        .execute_batch("DROP TABLE chunks")
        .unwrap();
    let epc = EpcBytes::new(&[0x30; 12]).unwrap();
    h.send(vec![Uplink {
        tag: 2001,
        boot: 1,
        seq: 1,
        age_ms: 0,
        event: TagEvent::EpcSeen { epc, rssi: -40 },
    }]);
    assert_eq!(
        h.flush(),
        vec![],
        "nothing may be acked that is not committed"
    );
    assert_eq!(h.stats.spool_errors.load(Relaxed), 1);
    h.stop();
}

#[test]
fn delivered_batches_leave_the_spool_and_the_reader_sees_the_rest() {
    let mut h = start();
    h.send((1..=5).map(dwell).collect());
    h.flush();
    h.tx.blocking_send(SpoolMsg::Delivered { first: 1, last: 3 })
        .unwrap();
    h.flush();
    let reader = super::super::SpoolReader::open(&h.path).unwrap();
    let batch = reader.fetch(0, 10, 1 << 20).unwrap().unwrap();
    assert_eq!((batch.first, batch.last, batch.count), (4, 5, 2));
    assert_eq!(h.stats.spool_depth.load(Relaxed), 2);
    h.stop();
}
