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
    start_in(tempfile::tempdir().unwrap()).0
}

/// A writer on the spool in `dir` (kept from an earlier writer, or new),
/// with the command queue the spool holds, and its command updates.
fn start_in(
    dir: tempfile::TempDir,
) -> (
    Harness,
    tokio::sync::broadcast::Receiver<crate::gateway::commands::CommandUpdate>,
) {
    let path = dir.path().join("spool.sqlite");
    let cfg = config::parse(Path::new("t.toml"), STORE).unwrap();
    let (spool, _) = Spool::open(&path, 1 << 20, 0).unwrap();
    let stats = Arc::new(Stats::new(&["p".into()]));
    let (port_tx, acks) = mpsc::channel(16);
    let (head, _) = watch::channel(0);
    let (updates, _) = tokio::sync::broadcast::channel(64);
    let writer = Writer {
        map: StoreMap::new(&cfg),
        dedup: Dedup::new(1024),
        stats: stats.clone(),
        tags: Arc::new(Mutex::new(TagHealthBook::default())),
        ports: vec![port_tx],
        head,
        commands: crate::gateway::restore_commands(&spool).unwrap(),
        updates: updates.clone(),
        spool,
    };
    let (tx, rx) = mpsc::channel(16);
    let thread = std::thread::spawn(move || writer.run(rx));
    let harness = Harness {
        tx,
        acks,
        stats,
        path,
        thread,
        _dir: dir,
    };
    (harness, updates.subscribe())
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
                PortMsg::Commands(_) => {}
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
        self.stop_keeping_spool();
    }

    /// Stops the writer and hands back the spool's directory.
    fn stop_keeping_spool(self) -> tempfile::TempDir {
        drop(self.tx);
        self.thread.join().unwrap();
        self._dir
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
        other => panic!("{other:?} before the acks"),
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

fn heartbeat(tag: u32, seq: u16, fw: FwVersion) -> Uplink {
    Uplink {
        tag,
        boot: 1,
        seq,
        age_ms: 0,
        event: TagEvent::Heartbeat {
            battery_mv: 3_000,
            fw,
            dropped: 0,
        },
    }
}

fn identify_for(tag: u32) -> crate::gateway::commands::Enqueue {
    crate::gateway::commands::Enqueue {
        command: crate::gateway::commands::NewCommand {
            tag,
            command: protocol::Command::Identify { duration_ms: 5_000 },
            source: crate::gateway::commands::Source::Local,
            expires_at: UnixMillis(UnixMillis::now().0 + 60_000),
        },
        reply: None,
    }
}

/// The next downlinks other than acks the writer sends the port.
fn next_commands(h: &mut Harness) -> Vec<protocol::Downlink> {
    loop {
        match h.acks.blocking_recv().expect("writer alive") {
            PortMsg::Commands(d) => return d,
            PortMsg::Acks(_) => {}
            PortMsg::Flushed => panic!("flushed before any command"),
        }
    }
}

#[test]
fn a_queued_command_survives_a_restart_and_goes_out_after_the_tags_next_ack() {
    use crate::gateway::commands::CommandState;
    let fw = crate::gateway::commands::queue::FIRST_CONFIRMING_FW;
    let (h, mut updates) = start_in(tempfile::tempdir().unwrap());
    h.tx.blocking_send(SpoolMsg::Command(identify_for(1001)))
        .unwrap();
    assert_eq!(updates.blocking_recv().unwrap().state, CommandState::Queued);
    let dir = h.stop_keeping_spool();

    let (mut h, mut updates) = start_in(dir);
    h.send(vec![heartbeat(1001, 1, fw)]);
    let sent = next_commands(&mut h);
    let id = match sent.as_slice() {
        [protocol::Downlink::Command { tag: 1001, id, .. }] => *id,
        other => panic!("expected one command for tag 1001, got {other:?}"),
    };
    assert_eq!(
        updates.blocking_recv().unwrap().state,
        CommandState::Delivered
    );
    h.send(vec![Uplink {
        tag: 1001,
        boot: 1,
        seq: 2,
        age_ms: 0,
        event: TagEvent::CommandDone {
            id,
            outcome: protocol::CommandOutcome::Applied,
        },
    }]);
    let done = updates.blocking_recv().unwrap();
    assert_eq!((done.state, done.is_final), (CommandState::Confirmed, true));
    let dir = h.stop_keeping_spool();

    // Confirmed is final: a restart takes nothing up again.
    let (mut h, _) = start_in(dir);
    h.send(vec![heartbeat(1001, 3, fw)]);
    h.tx.blocking_send(SpoolMsg::Flush { port: 0 }).unwrap();
    loop {
        match h.acks.blocking_recv().expect("writer alive") {
            PortMsg::Acks(_) => {}
            PortMsg::Commands(d) => panic!("a command after a confirmed one: {d:?}"),
            PortMsg::Flushed => break,
        }
    }
    h.stop();
}
