//! Spool tests on real SQLite files in a temporary directory.

use super::*;
use crate::gateway::enrich::UnroutedRead;

fn event(seq: u16, body_len: usize) -> NewEvent {
    NewEvent {
        key: EventKey {
            tag: 7,
            boot: 1,
            seq,
        },
        spooled_at: 1_000 + i64::from(seq),
        body: format!("{{\"seq\":{seq},\"pad\":\"{}\"}}", "x".repeat(body_len)),
    }
}

fn open(path: &Path, max: u64) -> Spool {
    Spool::open(path, max, 0).unwrap().0
}

impl Spool {
    /// What the uplink's reader would fetch, through a fresh reader.
    fn fetch(
        &self,
        after: i64,
        max_events: usize,
        max_bytes: usize,
    ) -> Result<Option<Fetched>, SpoolError> {
        SpoolReader::open(&self.path)?.fetch(after, max_events, max_bytes)
    }
}

#[test]
fn committed_events_survive_reopen_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("spool.sqlite");
    let mut s = open(&path, 1 << 20);
    let done = s
        .append(&[event(1, 10), event(2, 10), event(3, 10)], &[])
        .unwrap();
    assert_eq!(
        done,
        Appended {
            inserted: 3,
            dropped: 0
        }
    );
    // No close: the connection is dropped as a crash would leave the file.
    std::mem::forget(s);
    let s = open(&path, 1 << 20);
    assert_eq!(s.depth(), 3);
    let f = s.fetch(0, 10, 1 << 20).unwrap().unwrap();
    assert_eq!(f.count, 3);
    assert!(
        f.events_json.starts_with("{\"seq\":1,"),
        "{}",
        f.events_json
    );
    assert!(f.events_json.contains("},{\"seq\":3,"));
    assert_eq!(s.oldest_spooled_at().unwrap(), Some(1_001));
}

#[test]
fn recent_keys_are_the_newest_events_oldest_first() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.sqlite");
    let mut s = open(&path, 1 << 20);
    s.append(&[event(1, 10), event(2, 10), event(3, 10)], &[])
        .unwrap();
    s.delete_range(&[(1, 1)]).unwrap();
    let s = open(&path, 1 << 20);
    let seqs = |keys: Vec<EventKey>| keys.iter().map(|k| k.seq).collect::<Vec<_>>();
    assert_eq!(seqs(s.recent_keys(10).unwrap()), vec![2, 3]);
    assert_eq!(seqs(s.recent_keys(1).unwrap()), vec![3]);
}

#[test]
fn fetch_respects_count_bytes_and_cursor() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = open(&dir.path().join("s.sqlite"), 1 << 20);
    let events: Vec<_> = (1..=10).map(|i| event(i, 100)).collect();
    s.append(&events, &[]).unwrap();
    let by_count = s.fetch(0, 4, 1 << 20).unwrap().unwrap();
    assert_eq!((by_count.first, by_count.last, by_count.count), (1, 4, 4));
    let one_len = events[0].body.len();
    let by_bytes = s.fetch(4, 100, 2 * one_len + 1).unwrap().unwrap();
    assert_eq!((by_bytes.first, by_bytes.count), (5, 2));
    let tiny = s.fetch(4, 100, 1).unwrap().unwrap();
    assert_eq!(tiny.count, 1, "a batch always carries at least one event");
    assert_eq!(s.fetch(10, 100, 1 << 20).unwrap(), None);
}

#[test]
fn delivered_range_is_deleted_and_ids_never_go_back() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = open(&dir.path().join("s.sqlite"), 1 << 20);
    s.append(&[event(1, 10), event(2, 10)], &[]).unwrap();
    assert_eq!(s.delete_range(&[(1, 2)]).unwrap(), 2);
    assert_eq!((s.depth(), s.bytes()), (0, 0));
    s.append(&[event(3, 10)], &[]).unwrap();
    let f = s.fetch(0, 10, 1 << 20).unwrap().unwrap();
    assert_eq!(
        f.first, 3,
        "an emptied spool must not reuse ids the uplink has passed"
    );
}

#[test]
fn cap_drops_oldest_undelivered_and_keeps_accepting() {
    let dir = tempfile::tempdir().unwrap();
    let per_row = 1000 + 20 + ROW_OVERHEAD;
    let mut s = open(&dir.path().join("s.sqlite"), 10 * per_row);
    let events: Vec<_> = (1..=10).map(|i| event(i, 1000)).collect();
    assert_eq!(s.append(&events, &[]).unwrap().dropped, 0);
    let more = s.append(&[event(11, 1000), event(12, 1000)], &[]).unwrap();
    assert_eq!(more.inserted, 2);
    assert!(more.dropped >= 2, "dropped {}", more.dropped);
    assert!(s.bytes() <= 10 * per_row);
    let f = s.fetch(0, 100, 1 << 20).unwrap().unwrap();
    assert_eq!(f.first, 1 + more.dropped as i64, "the oldest go first");
    assert!(f.events_json.contains("\"seq\":12,"), "the newest are kept");
    assert_eq!(s.depth(), 12 - more.dropped);
}

#[test]
fn garbage_spool_file_is_moved_aside_and_a_fresh_one_started() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("spool.sqlite");
    std::fs::write(
        &path,
        b"this is not a database, it is a cat walking on a keyboard".repeat(100),
    )
    .unwrap();
    let (mut s, report) = Spool::open(&path, 1 << 20, 42).unwrap();
    let aside = report.moved_aside.expect("the garbage file is moved aside");
    assert_eq!(aside, dir.path().join("spool.sqlite.corrupt-42"));
    assert!(aside.exists(), "the damaged file is kept for inspection");
    assert_eq!(s.depth(), 0);
    s.append(&[event(1, 10)], &[]).unwrap();
    assert_eq!(open(&path, 1 << 20).depth(), 1);
}

#[test]
fn unrouted_reads_are_kept_apart_from_events() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.sqlite");
    let mut s = open(&path, 1 << 20);
    let read = UnroutedRead {
        key: EventKey {
            tag: 9,
            boot: 1,
            seq: 1,
        },
        ts: protocol::time::UnixMillis(5),
        epc: "30".into(),
    };
    s.append(&[], &[read]).unwrap();
    assert_eq!(s.depth(), 0);
    assert_eq!(s.fetch(0, 10, 1 << 20).unwrap(), None);
    let conn = Connection::open(&path).unwrap();
    let n: i64 = conn
        .query_row("SELECT COUNT(*) FROM unrouted WHERE tag = 9", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(n, 1);
}

#[test]
fn drained_spool_gives_its_pages_back_to_the_file_system() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.sqlite");
    let mut s = open(&path, 1 << 30);
    let events: Vec<_> = (1..=20_000).map(|i| event(i as u16, 1000)).collect();
    s.append(&events, &[]).unwrap();
    let pages = |s: &Spool| -> i64 {
        s.conn
            .query_row("PRAGMA page_count", [], |r| r.get(0))
            .unwrap()
    };
    let full = pages(&s);
    s.delete_range(&[(1, 20_000)]).unwrap();
    assert!(pages(&s) < full / 10, "{} pages left of {full}", pages(&s));
}

#[test]
fn spool_damaged_inside_is_moved_aside_at_the_next_start() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("spool.sqlite");
    let mut s = open(&path, 1 << 30);
    let events: Vec<_> = (1..=2_000).map(|i| event(i as u16, 200)).collect();
    s.append(&events, &[]).unwrap();
    drop(s);
    // Scribble over pages in the middle of the file (past the header).
    let mut bytes = std::fs::read(&path).unwrap();
    assert!(bytes.len() > 64 * 1024, "{} bytes", bytes.len());
    for b in &mut bytes[40_000..60_000] {
        *b = 0xA5;
    }
    std::fs::write(&path, &bytes).unwrap();
    let (s, report) = Spool::open(&path, 1 << 30, 7).unwrap();
    assert!(
        report.moved_aside.is_some(),
        "a damaged spool must not be used"
    );
    assert_eq!(s.depth(), 0);
}

#[test]
fn one_commit_deletes_delivered_ranges_then_appends_within_the_cap() {
    let dir = tempfile::tempdir().unwrap();
    let row = |e: &NewEvent| e.body.len() as u64 + ROW_OVERHEAD;
    let first: Vec<_> = (1..=3).map(|i| event(i, 100)).collect();
    // Room for exactly three rows: the new two fit only because the
    // delivered two are deleted first, in the same commit.
    let mut s = open(&dir.path().join("s.sqlite"), first.iter().map(row).sum());
    s.append(&first, &[]).unwrap();
    let next = [event(4, 100), event(5, 100)];
    let done = s.append_and_delete(&next, &[], &[(1, 2)]).unwrap();
    assert_eq!(
        done,
        Appended {
            inserted: 2,
            dropped: 0
        }
    );
    assert_eq!(s.depth(), 3);
    assert_eq!(
        s.bytes(),
        row(&first[2]) + next.iter().map(row).sum::<u64>()
    );
    let f = s.fetch(0, 10, 1 << 20).unwrap().unwrap();
    assert_eq!((f.first, f.last, f.count), (3, 5, 3));
}

/// Positions of the events a fresh reader would send, oldest first.
fn queued(s: &Spool) -> Vec<i64> {
    let mut out = Vec::new();
    let mut after = 0;
    while let Some(f) = s.fetch(after, 3, 1 << 20).unwrap() {
        let batch: Vec<serde_json::Value> =
            serde_json::from_str(&format!("[{}]", f.events_json)).unwrap();
        assert_eq!(batch.len(), f.count);
        // Every event of a group is spooled in order: seq n at position n.
        for e in &batch {
            let seq = e["seq"].as_i64().unwrap();
            assert!(out.last().is_none_or(|p| *p < seq), "{out:?} then {seq}");
            assert!((f.first..=f.last).contains(&seq), "{seq} outside {f:?}");
            out.push(seq);
        }
        after = f.last;
    }
    out
}

#[test]
fn a_chunk_cut_by_a_delivered_range_keeps_the_rest_once_across_a_crash() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("spool.sqlite");
    let mut s = open(&path, 1 << 20);
    // One commit group: one chunk of ten events, positions 1..=10.
    let events: Vec<_> = (1..=10).map(|i| event(i, 50)).collect();
    s.append(&events, &[]).unwrap();
    // Batches acknowledged out of order: the middle, then the front.
    s.delete_range(&[(4, 6)]).unwrap();
    s.delete_range(&[(1, 2)]).unwrap();
    // No close: the process dies here.
    std::mem::forget(s);
    let mut s = open(&path, 1 << 20);
    assert_eq!(queued(&s), vec![3, 7, 8, 9, 10]);
    assert_eq!(s.depth(), 5);
    let counted = |seqs: &[u16]| -> u64 {
        seqs.iter()
            .map(|i| events[usize::from(*i) - 1].body.len() as u64 + ROW_OVERHEAD)
            .sum()
    };
    assert_eq!(s.bytes(), counted(&[3, 7, 8, 9, 10]));
    assert_eq!(s.delete_range(&[(3, 8)]).unwrap(), 3);
    assert_eq!(queued(&s), vec![9, 10]);
    assert_eq!(s.delete_range(&[(9, 10)]).unwrap(), 2);
    assert_eq!((s.depth(), s.bytes()), (0, 0));
}

#[test]
fn the_cap_drops_part_of_a_chunk_and_counts_each_event() {
    let dir = tempfile::tempdir().unwrap();
    // Seqs 10..=27 all have two digits, so every event has the same size.
    let per = event(10, 1000).body.len() as u64 + ROW_OVERHEAD;
    let mut s = open(&dir.path().join("s.sqlite"), 12 * per);
    for first in [10, 14, 18] {
        let group: Vec<_> = (first..first + 4).map(|i| event(i, 1000)).collect();
        assert_eq!(s.append(&group, &[]).unwrap().dropped, 0);
    }
    // 17 events against a cap of 12: down to 95 % of the cap, 11.4 events'
    // worth, so 6 go: the first chunk whole and two of the second.
    let more: Vec<_> = (22..27).map(|i| event(i, 1000)).collect();
    let done = s.append(&more, &[]).unwrap();
    assert_eq!(
        done,
        Appended {
            inserted: 5,
            dropped: 6
        }
    );
    assert_eq!((s.depth(), s.bytes()), (11, 11 * per));
    // Positions 1..=6 went: seq 16 (position 7) is the oldest left.
    let f = s.fetch(0, 100, 1 << 20).unwrap().unwrap();
    assert_eq!((f.first, f.last, f.count), (7, 17, 11));
    assert!(f.events_json.starts_with("{\"seq\":16,"));
    let reopened = open(&dir.path().join("s.sqlite"), 12 * per);
    assert_eq!((reopened.depth(), reopened.bytes()), (11, 11 * per));
}

#[test]
fn a_batch_that_is_half_full_ends_where_a_chunk_ends() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = open(&dir.path().join("s.sqlite"), 1 << 20);
    s.append(&(1..=6).map(|i| event(i, 10)).collect::<Vec<_>>(), &[])
        .unwrap();
    s.append(&(7..=12).map(|i| event(i, 10)).collect::<Vec<_>>(), &[])
        .unwrap();
    let f = s.fetch(0, 8, 1 << 20).unwrap().unwrap();
    assert_eq!((f.first, f.last), (1, 6), "not cutting the second chunk");
    let f = s.fetch(0, 13, 1 << 20).unwrap().unwrap();
    assert_eq!((f.first, f.last), (1, 12), "both fit");
    let f = s.fetch(2, 4, 1 << 20).unwrap().unwrap();
    assert_eq!((f.first, f.last), (3, 6), "less than half: fills up");
}

#[test]
fn quarantine_takes_one_event_out_of_the_middle_of_a_chunk() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.sqlite");
    let mut s = open(&path, 1 << 20);
    let events: Vec<_> = (1..=5).map(|i| event(i, 10)).collect();
    s.append(&events, &[]).unwrap();
    assert_eq!(s.quarantine(3, 3, "too large", 99).unwrap(), 1);
    assert_eq!(s.dead_letters().unwrap(), 1);
    let (seq, body): (i64, String) = s
        .conn
        .query_row("SELECT seq, body FROM dead_letter WHERE id = 3", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .unwrap();
    assert_eq!((seq, body.as_str()), (3, events[2].body.as_str()));
    assert_eq!(queued(&s), vec![1, 2, 4, 5]);
}

#[test]
fn a_chunk_whose_records_disagree_with_its_json_is_treated_as_damage() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("spool.sqlite");
    let mut s = open(&path, 1 << 20);
    s.append(&[event(1, 10), event(2, 10)], &[]).unwrap();
    s.conn
        .execute("UPDATE chunks SET body = substr(body, 2)", [])
        .unwrap();
    drop(s);
    let (s, report) = Spool::open(&path, 1 << 20, 5).unwrap();
    assert!(report.reason.unwrap().contains("do not match"));
    assert_eq!(s.depth(), 0);
}

/// The spool's layout before chunks (version 0), one event per row, as
/// the oldest spools in the field have it (with their unique key).
const LAYOUT_0: &str = "
CREATE TABLE events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    tag INTEGER NOT NULL,
    boot INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    spooled_at INTEGER NOT NULL,
    body TEXT NOT NULL,
    UNIQUE (tag, boot, seq)
);
CREATE TABLE dead_letter (
    id INTEGER PRIMARY KEY,
    tag INTEGER NOT NULL,
    boot INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    spooled_at INTEGER NOT NULL,
    body TEXT NOT NULL,
    reason TEXT NOT NULL,
    moved_at INTEGER NOT NULL
);
CREATE TABLE unrouted (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    tag INTEGER NOT NULL,
    boot INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    ts INTEGER NOT NULL,
    epc TEXT NOT NULL,
    UNIQUE (tag, boot, seq)
);
";

#[test]
fn a_spool_in_the_old_layout_opens_with_every_event_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("spool.sqlite");
    // 6,000 undelivered events at ids 101..=6100 (ids 1..=100 delivered,
    // 6101..=6200 too), more than one upgrade step.
    let events: Vec<_> = (1..=6_200).map(|i| event(i, 20)).collect();
    {
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch(LAYOUT_0).unwrap();
        let mut insert = conn
            .prepare(
                "INSERT INTO events (tag, boot, seq, spooled_at, body) VALUES (?1, ?2, ?3, ?4, ?5)",
            )
            .unwrap();
        for e in &events {
            insert
                .execute(rusqlite::params![
                    e.key.tag,
                    e.key.boot,
                    e.key.seq,
                    e.spooled_at,
                    e.body
                ])
                .unwrap();
        }
        conn.execute("DELETE FROM events WHERE id <= 100 OR id > 6100", [])
            .unwrap();
    }
    let mut s = open(&path, 1 << 30);
    let kept = &events[100..6_100];
    assert_eq!(s.depth(), 6_000);
    assert_eq!(
        s.bytes(),
        kept.iter()
            .map(|e| e.body.len() as u64 + ROW_OVERHEAD)
            .sum::<u64>()
    );
    assert_eq!(queued(&s), (101..=6_100).collect::<Vec<i64>>());
    assert_eq!(s.oldest_spooled_at().unwrap(), Some(1_101));
    let keys = s.recent_keys(2).unwrap();
    assert_eq!((keys[0].seq, keys[1].seq), (6_099, 6_100));
    let version: i64 = s
        .conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(version, 1);
    let old_table: i64 = s
        .conn
        .query_row(
            "SELECT COUNT(*) FROM sqlite_master WHERE name = 'events'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(old_table, 0);
    // New events go after every id the old table handed out.
    s.append(&[event(7_000, 20)], &[]).unwrap();
    let f = s.fetch(6_100, 10, 1 << 20).unwrap().unwrap();
    assert_eq!((f.first, f.count), (6_201, 1));
}

#[test]
fn an_upgrade_cut_short_by_a_crash_carries_on_at_the_next_start() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("spool.sqlite");
    {
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch(LAYOUT_0).unwrap();
        for e in (1..=10).map(|i| event(i, 20)) {
            conn.execute(
                "INSERT INTO events (tag, boot, seq, spooled_at, body) VALUES (?1, ?2, ?3, ?4, ?5)",
                rusqlite::params![e.key.tag, e.key.boot, e.key.seq, e.spooled_at, e.body],
            )
            .unwrap();
        }
        // What a crash after the first step leaves: the chunks table with
        // the oldest four events moved, the rest still in `events`.
        conn.execute_batch(
            "CREATE TABLE chunks (
                 id INTEGER PRIMARY KEY AUTOINCREMENT, first INTEGER NOT NULL,
                 events INTEGER NOT NULL, bytes INTEGER NOT NULL,
                 spooled_at INTEGER NOT NULL, meta BLOB NOT NULL, body TEXT NOT NULL)",
        )
        .unwrap();
        let moved: Vec<_> = (1..=4).map(|i| event(i, 20)).collect();
        let chunk = chunk::Chunk::of(
            moved
                .iter()
                .map(|e| (i64::from(e.key.seq), e.key, e.spooled_at, e.body.as_str())),
        );
        conn.execute(
            "INSERT INTO chunks VALUES (4, 1, 4, ?1, 1001, ?2, ?3)",
            rusqlite::params![chunk.counted() as i64, chunk.meta(), chunk.body],
        )
        .unwrap();
        conn.execute("DELETE FROM events WHERE id <= 4", [])
            .unwrap();
    }
    let s = open(&path, 1 << 30);
    assert_eq!(queued(&s), (1..=10).collect::<Vec<i64>>());
    assert_eq!(s.depth(), 10);
}

#[test]
fn a_spool_from_a_newer_release_is_refused_and_left_in_place() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("spool.sqlite");
    drop(open(&path, 1 << 20));
    Connection::open(&path)
        .unwrap()
        .pragma_update(None, "user_version", 2)
        .unwrap();
    let err = Spool::open(&path, 1 << 20, 5).err().expect("refused");
    assert!(err.to_string().contains("newer aisle"), "{err}");
    assert!(path.exists());
    assert!(!dir.path().join("spool.sqlite.corrupt-5").exists());
}
