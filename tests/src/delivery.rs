//! The assertion every gateway test ends with: the durability contract.
//!
//! Everything acked to a tag reached HQ; nothing reached HQ that no tag sent;
//! no batch repeats an event; and an event is delivered more than once only
//! when a fault (reconnect, restart) allowed a resend.

use crate::subscriber::Subscriber;
use crate::tags::{EventKey, TagWriter};
use protocol::batch::event_id;
use protocol::topics::{Topic, TopicKind};
use std::collections::{HashMap, HashSet};
use std::time::Duration;

/// What the scenario did to the gateway's uplink, which bounds redelivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Faults {
    /// No reconnect or restart: every event exactly once.
    None,
    /// This many reconnects or restarts: each can resend every event that
    /// was in flight, so an event may arrive up to `1 + n` times.
    Resends(usize),
}

/// The event ids of `keys` for `store`.
pub fn ids_of(store: &str, keys: &HashSet<EventKey>) -> HashSet<String> {
    keys.iter()
        .map(|&(tag, boot, seq)| event_id(store, tag, boot, seq))
        .collect()
}

/// Waits until every event acked to the tags has been delivered, waits for
/// anything still in the broker's queue, then checks the contract. Returns
/// the delivery count per id for further checks.
pub fn assert_delivered(
    store: &str,
    tags: &TagWriter,
    sub: &Subscriber,
    faults: Faults,
    deadline: Duration,
) -> HashMap<String, usize> {
    let acked = ids_of(store, &tags.acked());
    assert!(
        !acked.is_empty(),
        "the scenario acked no events, so it checks nothing"
    );
    sub.wait_for_ids(&acked, deadline);
    sub.barrier(deadline);

    let malformed = sub.malformed();
    assert!(
        malformed.is_empty(),
        "malformed batches on the events topic: {malformed:?}"
    );

    for delivered in sub.batches() {
        let mut seen = HashSet::new();
        for id in delivered.ids() {
            assert!(
                seen.insert(id),
                "batch {} repeats event {id}",
                delivered.batch.batch_id
            );
        }
        assert_eq!(
            delivered.batch.store, store,
            "batch {} names the wrong store",
            delivered.batch.batch_id
        );
        assert_eq!(
            delivered.topic,
            Topic::new(store, TopicKind::Events).to_string(),
            "batch {} on the wrong topic",
            delivered.batch.batch_id
        );
    }

    let counts = sub.id_counts();
    let sent = ids_of(store, &tags.sent());
    let phantoms: Vec<&String> = counts.keys().filter(|id| !sent.contains(*id)).collect();
    assert!(
        phantoms.is_empty(),
        "delivered events that no tag sent: {phantoms:?}"
    );

    let allowed = match faults {
        Faults::None => 1,
        Faults::Resends(n) => 1 + n,
    };
    let over: Vec<(&String, &usize)> = counts.iter().filter(|(_, &n)| n > allowed).collect();
    assert!(
        over.is_empty(),
        "events delivered more than {allowed} time(s) ({faults:?}): {over:?}"
    );
    counts
}
