//! The uplink task: drives the rumqttc event loop, publishes batches from
//! the spool, status and tag health, and reports PUBACKed batches back to
//! the spool writer.
//!
//! Publishes are requested only while connected, in this same task as the
//! event loop: when a connection fails, rumqttc moves queued requests to its
//! pending list and the next clean-session ConnAck clears it, so after every
//! ConnAck nothing old is queued and [`InFlight`] can start empty.

use super::{
    batch_payload, envelope_overhead, BatchRef, BatchTrigger, InFlight, Sent, MAX_INFLIGHT_BATCHES,
};
use crate::config::BatchConfig;
use crate::gateway::shutdown::Shutdown;
use crate::gateway::spool::writer::SpoolMsg;
use crate::gateway::spool::SpoolReader;
use crate::gateway::status::{Stats, TagHealthBook};
use protocol::time::UnixMillis;
use protocol::topics::{Topic, TopicKind};
use rumqttc::{AsyncClient, Event, EventLoop, Incoming, Outgoing, QoS};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{mpsc, watch};
use tokio::time::{sleep_until, Instant};
use tracing::Instrument;

/// Reconnect backoff: short at first (a broker restart), capped so a long
/// WAN outage costs one attempt every few seconds.
const MIN_RECONNECT: Duration = Duration::from_millis(250);
const MAX_RECONNECT: Duration = Duration::from_secs(5);

/// `base` plus up to half of it again, different per process and per call:
/// thousands of stores cut off by one HQ broker outage must not all retry in
/// the same instant when it comes back. std's randomly keyed hasher is
/// randomness enough for spreading retries.
fn with_jitter(base: Duration) -> Duration {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u128(base.as_nanos());
    let per_mille = (hasher.finish() % 1000) as u32;
    base + base * per_mille / 2000
}

/// An alarm (drops, bad frames, a receiver gone…) is published at most this
/// often; the periodic status covers everything else.
const ALARM_MIN_INTERVAL: Duration = Duration::from_secs(5);

/// Tag health goes out with the periodic status, changed tags only, in
/// messages of at most this many tags.
const TAGS_PER_MESSAGE: usize = 500;

/// Everything the uplink needs besides its channels.
pub struct Uplink {
    pub store: String,
    pub gateway: String,
    pub batch: BatchConfig,
    pub status_interval: Duration,
    pub spool_max_bytes: u64,
    pub started: UnixMillis,
    pub stats: Arc<Stats>,
    pub tags: Arc<Mutex<TagHealthBook>>,
}

struct Topics {
    events: String,
    status: String,
    tags: String,
}

/// Runs until shutdown has drained the spool (or its deadline passed).
/// `ingest_done` turns true once every receiver has flushed.
pub async fn run(
    up: Uplink,
    (client, mut eventloop): (AsyncClient, EventLoop),
    reader: SpoolReader,
    spool: mpsc::Sender<SpoolMsg>,
    mut head: watch::Receiver<i64>,
    mut ingest_done: watch::Receiver<bool>,
    mut shutdown: Shutdown,
) {
    let topic = |kind| Topic::new(&up.store, kind).to_string();
    let topics = Topics {
        events: topic(TopicKind::Events),
        status: topic(TopicKind::Status),
        tags: topic(TopicKind::Tags),
    };
    let mut inflight = InFlight::default();
    let mut trigger = BatchTrigger::new(
        up.batch.max_events,
        Duration::from_millis(up.batch.linger_ms),
    );
    let fetch_bytes = up
        .batch
        .max_bytes
        .saturating_sub(envelope_overhead(&up.store, &up.gateway))
        .max(1);
    let mut connected = false;
    let mut cursor: i64 = 0;
    let mut reconnect_at: Option<Instant> = None;
    let mut backoff = MIN_RECONNECT;
    let mut logged_down = false;
    let mut status_tick = tokio::time::interval(up.status_interval);
    let mut alarm_tick = tokio::time::interval(Duration::from_secs(1));
    let mut last_alarm = up.stats.alarm_fingerprint();
    let mut last_status = Instant::now();
    let mut draining = false;

    loop {
        if connected {
            while inflight.batches() < MAX_INFLIGHT_BATCHES {
                let head_now = *head.borrow();
                if !trigger.ready(head_now - cursor, std::time::Instant::now(), draining) {
                    break;
                }
                // A read of a few hundred rows from SQLite's cache, about a
                // millisecond: cheaper inline than handing it to a thread.
                let fetched = reader.fetch(cursor, up.batch.max_events, fetch_bytes);
                let b = match fetched {
                    Ok(Some(b)) => b,
                    Ok(None) => {
                        // Everything up to head was dropped at the cap.
                        cursor = cursor.max(head_now);
                        trigger.caught_up();
                        continue;
                    }
                    Err(e) => {
                        tracing::error!(error = %e, "cannot read the spool; retrying in a second");
                        tokio::time::sleep(Duration::from_secs(1)).await;
                        break;
                    }
                };
                let created_at = UnixMillis::now();
                let batch = BatchRef {
                    first: b.first,
                    last: b.last,
                    count: b.count,
                    id: format!("{}-{}-{}", up.gateway, created_at.0, b.first),
                };
                let payload = batch_payload(
                    &up.store,
                    &up.gateway,
                    &batch.id,
                    created_at,
                    &b.events_json,
                );
                let span = tracing::debug_span!("batch", id = %batch.id, events = batch.count, bytes = payload.len());
                match client.try_publish(&topics.events, QoS::AtLeastOnce, false, payload) {
                    Ok(()) => {
                        span.in_scope(|| tracing::debug!("batch published"));
                        cursor = b.last;
                        inflight.requested(Sent::Batch(batch));
                        if cursor >= *head.borrow() {
                            trigger.caught_up();
                        }
                    }
                    Err(e) => {
                        // The client queue is full: try again on the next wake-up.
                        span.in_scope(|| tracing::debug!(error = %e, "batch not queued"));
                        break;
                    }
                }
            }
        }
        if draining
            && *ingest_done.borrow()
            && inflight.is_empty()
            && up.stats.spool_depth.load(Relaxed) == 0
        {
            tracing::info!("spool drained");
            break;
        }
        let poll_now = reconnect_at.is_none_or(|t| Instant::now() >= t);
        let linger = trigger.deadline().map(Instant::from_std);
        let deadline = shutdown.deadline();
        tokio::select! {
            ev = eventloop.poll(), if poll_now => match ev {
                Ok(Event::Incoming(Incoming::ConnAck(_))) => {
                    connected = true;
                    reconnect_at = None;
                    backoff = MIN_RECONNECT;
                    logged_down = false;
                    inflight.reset();
                    // Resend everything undelivered, from the oldest.
                    cursor = 0;
                    trigger.caught_up();
                    up.stats.set_broker_connected(true);
                    tracing::info!(depth = up.stats.spool_depth.load(Relaxed), "broker connected; sending the spool from its oldest undelivered event");
                    publish_status(&client, &mut inflight, &up, &topics, "online");
                    last_status = Instant::now();
                }
                Ok(Event::Outgoing(Outgoing::Publish(pkid))) => inflight.outgoing(pkid),
                Ok(Event::Incoming(Incoming::PubAck(ack))) => {
                    if let Some(b) = inflight.acked(ack.pkid) {
                        up.stats.delivered.fetch_add(b.count as u64, Relaxed);
                        up.stats.batches_delivered.fetch_add(1, Relaxed);
                        tracing::debug!(batch = %b.id, events = b.count, "batch delivered");
                        if spool.send(SpoolMsg::Delivered { first: b.first, last: b.last }).await.is_err() {
                            return;
                        }
                    }
                }
                Ok(_) => {}
                Err(e) => {
                    if connected {
                        tracing::warn!(error = %e, "broker connection lost; unacked batches stay in the spool and are resent on reconnect");
                    } else if !logged_down {
                        tracing::warn!(error = %e, "cannot connect to the broker; retrying with backoff");
                    }
                    logged_down = true;
                    connected = false;
                    up.stats.set_broker_connected(false);
                    inflight.reset();
                    reconnect_at = Some(Instant::now() + with_jitter(backoff));
                    backoff = (backoff * 2).min(MAX_RECONNECT);
                }
            },
            _ = sleep_until(reconnect_at.unwrap_or_else(Instant::now)), if !poll_now => {}
            changed = head.changed() => {
                if changed.is_err() {
                    return;
                }
            }
            _ = sleep_until(linger.unwrap_or_else(Instant::now)), if linger.is_some() && connected && inflight.batches() < MAX_INFLIGHT_BATCHES => {}
            _ = status_tick.tick() => {
                if connected {
                    publish_status(&client, &mut inflight, &up, &topics, "online");
                    publish_tags(&client, &mut inflight, &up, &topics);
                    last_status = Instant::now();
                }
            }
            _ = alarm_tick.tick() => {
                let now = up.stats.alarm_fingerprint();
                if connected && now != last_alarm && last_status.elapsed() >= ALARM_MIN_INTERVAL {
                    last_alarm = now;
                    publish_status(&client, &mut inflight, &up, &topics, "online");
                    last_status = Instant::now();
                }
            }
            _ = shutdown.requested(), if !draining => {
                draining = true;
            }
            _ = ingest_done.changed(), if !*ingest_done.borrow() => {}
            _ = sleep_until(deadline), if draining => {
                tracing::warn!(depth = up.stats.spool_depth.load(Relaxed), "shutdown grace period over; undelivered events stay in the spool");
                break;
            }
        }
    }
    if connected {
        say_goodbye(&client, &mut eventloop, &mut inflight, &up, &topics).await;
    }
}

fn publish_status(
    client: &AsyncClient,
    inflight: &mut InFlight,
    up: &Uplink,
    topics: &Topics,
    state: &str,
) {
    let doc = up.stats.snapshot(
        state,
        &up.store,
        &up.gateway,
        up.started,
        up.spool_max_bytes,
        UnixMillis::now(),
    );
    let Ok(json) = serde_json::to_string(&doc) else {
        return;
    };
    if client
        .try_publish(&topics.status, QoS::AtLeastOnce, true, json)
        .is_ok()
    {
        inflight.requested(Sent::Other);
    }
}

fn publish_tags(client: &AsyncClient, inflight: &mut InFlight, up: &Uplink, topics: &Topics) {
    loop {
        let tags = up
            .tags
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take_changed(TAGS_PER_MESSAGE);
        if tags.is_empty() {
            return;
        }
        let doc = serde_json::json!({ "store": up.store, "gateway": up.gateway, "at": UnixMillis::now(), "tags": tags });
        if client
            .try_publish(&topics.tags, QoS::AtLeastOnce, false, doc.to_string())
            .is_err()
        {
            return;
        }
        inflight.requested(Sent::Other);
    }
}

/// Publishes the tag health heard since the last report (so a stop does
/// not lose up to `status_interval_s` of it) and the retained offline
/// status, and disconnects cleanly, so HQ tells a planned stop from a lost
/// gateway.
async fn say_goodbye(
    client: &AsyncClient,
    eventloop: &mut EventLoop,
    inflight: &mut InFlight,
    up: &Uplink,
    topics: &Topics,
) {
    publish_tags(client, inflight, up, topics);
    let mut doc = serde_json::to_value(up.stats.snapshot(
        "offline",
        &up.store,
        &up.gateway,
        up.started,
        up.spool_max_bytes,
        UnixMillis::now(),
    ))
    .unwrap_or_default();
    doc["reason"] = "shutdown".into();
    if client
        .try_publish(&topics.status, QoS::AtLeastOnce, true, doc.to_string())
        .is_ok()
    {
        inflight.requested(Sent::Other);
    }
    let _ = client.try_disconnect();
    let done = tokio::time::timeout(Duration::from_secs(1), async {
        loop {
            match eventloop.poll().await {
                Ok(Event::Outgoing(Outgoing::Disconnect)) | Err(_) => break,
                Ok(_) => {}
            }
        }
    });
    let _ = done.instrument(tracing::debug_span!("disconnect")).await;
    tracing::info!("disconnected from the broker");
}

#[cfg(test)]
mod jitter_tests {
    use super::*;

    #[test]
    fn reconnect_jitter_stays_within_half_the_backoff_and_varies() {
        let base = Duration::from_secs(2);
        let delays: Vec<Duration> = (0..200).map(|_| with_jitter(base)).collect();
        assert!(delays.iter().all(|d| *d >= base && *d < base * 3 / 2));
        let distinct: std::collections::HashSet<_> = delays.iter().collect();
        assert!(
            distinct.len() > 50,
            "only {} distinct delays",
            distinct.len()
        );
    }
}
