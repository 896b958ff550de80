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
