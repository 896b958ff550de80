//! Counters, the status document and tag health, on hand-fed values.

use super::*;
use protocol::frame::FwVersion;

const FW: FwVersion = FwVersion {
    major: 1,
    minor: 2,
    patch: 3,
};

#[test]
fn an_entrance_shows_its_latest_counting_period() {
    let period = |start, entered, exited| EntriesPeriod {
        start: UnixMillis(start),
        period_ms: 60_000,
        entered,
        exited,
    };
    let mut book = TagHealthBook::default();
    book.entries(9, 1, UnixMillis(70_000), period(0, 3, 0));
    book.entries(9, 1, UnixMillis(130_000), period(60_000, 0, 2));
    let tags = book.take_changed(10);
    assert_eq!(tags[0].entries, Some(period(60_000, 0, 2)));
    // A late retransmission of an older period does not hide the newer one.
    book.entries(9, 1, UnixMillis(140_000), period(0, 3, 0));
    let tags = book.take_changed(10);
    assert_eq!(tags[0].entries.map(|e| e.start), Some(UnixMillis(60_000)));
}

#[test]
fn entrance_heartbeat_shows_a_blocked_beam_until_one_says_it_cleared() {
    let mut book = TagHealthBook::default();
    book.heartbeat(7, 1, UnixMillis(1000), 3000, FW, 0);
    book.entrance_heartbeat(9, 1, UnixMillis(1000), 3300, FW, 0, true);
    let tags = book.take_changed(10);
    let blocked: Vec<_> = tags.iter().map(|h| (h.tag, h.beam_blocked)).collect();
    assert_eq!(blocked, [(7, None), (9, Some(true))]);
    let json = serde_json::to_value(&tags).unwrap();
    assert_eq!(json[0].get("beam_blocked"), None, "not an entrance tag");
    assert_eq!(json[1]["beam_blocked"], true);
    book.entrance_heartbeat(9, 1, UnixMillis(2000), 3300, FW, 0, false);
    assert_eq!(book.take_changed(10)[0].beam_blocked, Some(false));
}

#[test]
fn heartbeat_drop_count_resets_on_a_new_boot() {
    let mut book = TagHealthBook::default();
    book.heartbeat(7, 1, UnixMillis(1000), 3000, FW, 5);
    book.heartbeat(7, 2, UnixMillis(2000), 2990, FW, 1);
    let tags = book.take_changed(10);
    assert_eq!(tags.len(), 1);
    assert_eq!(
        (tags[0].boot, tags[0].dropped, tags[0].battery_mv),
        (2, Some(1), Some(2990))
    );
    assert!(book.take_changed(10).is_empty(), "nothing changed since");
}

#[tokio::test]
async fn ready_once_connected_and_subscribed_with_every_receiver_open() {
    let stats = std::sync::Arc::new(Stats::new(&["/dev/a".into(), "/dev/b".into()]));
    let waiting = tokio::spawn({
        let stats = stats.clone();
        async move { stats.ready().await }
    });
    stats.receiver(0, |r| r.state = "open");
    stats.set_broker_connected(true);
    stats.receiver(1, |r| r.state = "open");
    assert!(!stats.is_ready(), "HQ's commands are not subscribed yet");
    stats.set_commands_subscribed();
    tokio::time::timeout(std::time::Duration::from_secs(10), waiting)
        .await
        .expect("ready() resolves once subscribed with every receiver open")
        .unwrap();
    stats.set_broker_connected(false);
    assert!(!stats.is_ready(), "not ready without the broker");
    stats.set_broker_connected(true);
    assert!(
        !stats.is_ready(),
        "a new connection must subscribe again before it is ready"
    );
}

#[test]
fn unknown_tags_are_counted_once_per_id() {
    let stats = Stats::new(&[]);
    for tag in [5, 5, 6] {
        stats.unknown_tag(tag);
    }
    let doc = stats.snapshot("online", "S1", "gw", UnixMillis(0), 1, UnixMillis(0));
    assert_eq!((doc.unknown_tags, doc.unknown_tag_events), (2, 3));
    assert_eq!(doc.unknown_tag_ids, vec![5, 6]);
}

#[test]
fn unknown_tags_beyond_the_listed_ids_are_still_counted_once_per_id() {
    let stats = Stats::new(&[]);
    let tags = 1000..1000 + UNKNOWN_IDS_LISTED as u32 + 10;
    for _ in 0..3 {
        for tag in tags.clone() {
            stats.unknown_tag(tag);
        }
    }
    let doc = stats.snapshot("online", "S1", "gw", UnixMillis(0), 1, UnixMillis(0));
    assert_eq!(doc.unknown_tags, tags.len() as u64);
    assert_eq!(doc.unknown_tag_events, 3 * tags.len() as u64);
    assert_eq!(doc.unknown_tag_ids.len(), UNKNOWN_IDS_LISTED);
}
