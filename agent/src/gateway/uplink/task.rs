//! The uplink task: the shell around [`Delivery`]. It drives the rumqttc
//! MQTT 5 event loop, reads batches from the spool when the state machine
//! asks, publishes them with status and tag health, reports PUBACKed
//! batches back to the spool writer, and hands it the events the broker
//! will never take for its dead-letter table.
//!
//! Publishes are requested only while connected, in this same task as the
//! event loop: when a connection fails, rumqttc moves queued requests to its
//! pending list and the next clean-session ConnAck clears it, so after every
//! ConnAck nothing old is queued and the in-flight map can start empty.

use super::commands::{on_hq_command, publish_commands};
use super::delivery::{Delivery, Refusal};
use super::jitter::Jitter;
use super::refusal::{publish_packet_len, refused_as_too_large, settle};
use super::{batch_payload, envelope_overhead, BatchRef};
use crate::config::BatchConfig;
use crate::gateway::commands::control::Desk;
use crate::gateway::messages::SpoolMsg;
use crate::gateway::shutdown::Shutdown;
use crate::gateway::spool::SpoolReader;
use crate::gateway::status::{Stats, TagHealthBook};
use protocol::time::UnixMillis;
use protocol::topics::{Topic, TopicKind};
use rumqttc::v5::mqttbytes::v5::{Packet, PubAckReason, SubscribeReasonCode};
use rumqttc::v5::mqttbytes::QoS;
use rumqttc::v5::{AsyncClient, Event, EventLoop};
use rumqttc::Outgoing;
use std::collections::VecDeque;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{mpsc, watch};
use tokio::time::{sleep_until, Instant};
use tracing::Instrument;

/// An alarm (drops, bad frames, a receiver gone…) is published at most this
/// often; the periodic status covers everything else.
const ALARM_MIN_INTERVAL: Duration = Duration::from_secs(5);

/// Tag health goes out with the periodic status, changed tags only, in
/// messages of at most this many tags.
const TAGS_PER_MESSAGE: usize = 500;

/// Everything the uplink needs besides its channels.
pub(crate) struct Uplink {
    pub store: String,
    pub gateway: String,
    pub batch: BatchConfig,
    pub status_interval: Duration,
    pub spool_max_bytes: u64,
    pub started: UnixMillis,
    pub stats: Arc<Stats>,
    pub tags: Arc<Mutex<TagHealthBook>>,
    /// Where HQ's commands go, and their updates come from.
    pub desk: Desk,
}

pub(super) struct Topics {
    pub(super) events: String,
    pub(super) status: String,
    pub(super) tags: String,
    pub(super) commands: String,
}

/// Runs until shutdown has drained the spool (or its deadline passed).
/// `ingest_done` turns true once every receiver has flushed.
pub(crate) async fn run(
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
        commands: topic(TopicKind::Commands),
    };
    let mut updates = up.desk.updates.subscribe();
    let mut unpublished = VecDeque::new();
    let fetch_bytes = up
        .batch
        .max_bytes
        .saturating_sub(envelope_overhead(&up.store, &up.gateway))
        .max(1);
    // The batch envelope and the PUBLISH around it, with room for the
    // length field to grow: what a packet adds to its events' JSON.
    let packet_overhead =
        envelope_overhead(&up.store, &up.gateway) + publish_packet_len(&topics.events, 0) + 3;
    let mut delivery = Delivery::new(
        up.batch.max_events,
        fetch_bytes,
        Duration::from_millis(up.batch.linger_ms),
        Jitter::from_entropy(),
    )
    .with_packet_overhead(packet_overhead);
    let mut status_tick = tokio::time::interval(up.status_interval);
    let mut alarm_tick = tokio::time::interval(Duration::from_secs(1));
    let mut last_alarm = up.stats.alarm_fingerprint();
    let mut last_status = Instant::now();

    loop {
        delivery.on_head(*head.borrow());
        if *ingest_done.borrow() {
            delivery.on_ingest_done();
        }
        while let Some(fetch) = delivery.poll_publish(std::time::Instant::now()) {
            // A read of a few hundred rows from SQLite's cache, about a
            // millisecond: cheaper inline than handing it to a thread.
            let b = match reader.fetch(fetch.after, fetch.max_events, fetch.max_bytes) {
                Ok(Some(b)) => b,
                Ok(None) => {
                    delivery.on_nothing_fetched();
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
                bytes: b.events_json.len(),
                id: format!("{}-{}-{}", up.gateway, created_at.0, b.first),
            };
            let payload = batch_payload(
                &up.store,
                &up.gateway,
                &batch.id,
                created_at,
                &b.events_json,
            );
            let packet = publish_packet_len(&topics.events, payload.len());
            let batch = match delivery.check_fit(batch, packet) {
                Ok(batch) => batch,
                Err(verdict) => {
                    tracing::error!(
                        bytes = packet,
                        "a batch is larger than the broker's Maximum Packet Size; not sent"
                    );
                    if !settle(verdict, &up, &spool).await {
                        return;
                    }
                    continue;
                }
            };
            let span = tracing::debug_span!("batch", id = %batch.id, events = batch.count, bytes = payload.len());
            match client.try_publish(&topics.events, QoS::AtLeastOnce, false, payload) {
                Ok(()) => {
                    span.in_scope(|| tracing::debug!("batch published"));
                    delivery.on_batch_requested(batch);
                }
                Err(e) => {
                    // The client queue is full: try again on the next wake-up.
                    span.in_scope(|| tracing::debug!(error = %e, "batch not queued"));
                    break;
                }
            }
        }
        if delivery.is_drained(up.stats.spool_depth.load(Relaxed)) {
            tracing::info!("spool drained");
            break;
        }
        let now = std::time::Instant::now();
        let poll_now = delivery.may_connect(now);
        // A moment already past has been acted on above (or waits for the
        // client's queue, which the event loop drains): only a future one
        // is worth a timer.
        let wake = delivery
            .poll_timeout()
            .filter(|t| *t > now)
            .map(Instant::from_std);
        let deadline = shutdown.deadline();
        tokio::select! {
            ev = eventloop.poll(), if poll_now => match ev {
                Ok(ev) => {
                    if let Event::Incoming(Packet::Publish(p)) = &ev {
                        on_hq_command(&String::from_utf8_lossy(&p.topic), &p.payload, &topics, &up).await;
                    }
                    let connack = matches!(ev, Event::Incoming(Packet::ConnAck(_)));
                    if !on_event(ev, &mut delivery, &up, &client, &topics, &spool, &mut last_status).await {
                        return;
                    }
                    if connack {
                        // A clean session forgets subscriptions: subscribe
                        // again on every connection, to this store's topic only.
                        if let Err(e) = client.try_subscribe(&topics.commands, QoS::AtLeastOnce) {
                            tracing::warn!(error = %e, "cannot subscribe to HQ's commands");
                        }
                        publish_commands(&client, &mut delivery, &up, &topics, &mut unpublished);
                    }
                }
                Err(e) => {
                    // What rumqttc read before the failure (acks of earlier
                    // publishes) is true: take it before judging the loss.
                    let read: Vec<Event> = eventloop.state.events.drain(..).collect();
                    for ev in read {
                        if !on_event(ev, &mut delivery, &up, &client, &topics, &spool, &mut last_status).await {
                            return;
                        }
                    }
                    let now = std::time::Instant::now();
                    if refused_as_too_large(&e) {
                        match delivery.on_oldest_refused(now) {
                            Some(verdict) => {
                                if !settle(verdict, &up, &spool).await {
                                    return;
                                }
                            }
                            None => tracing::warn!(error = %e, "the broker refused a status or tag health message as too large"),
                        }
                    }
                    let outage = delivery.on_error(now);
                    up.stats.set_broker_connected(false);
                    if outage.was_connected {
                        tracing::warn!(error = %e, "broker connection lost; unacked batches stay in the spool and are resent on reconnect");
                    } else if outage.first {
                        tracing::warn!(error = %e, "cannot connect to the broker; retrying with backoff");
                    }
                    if let Some(bytes) = outage.shrunk_to {
                        tracing::warn!(max_event_bytes = bytes, "the broker closed the connection on the same batch twice; sending smaller batches (set [batch] max_bytes below the broker's packet limit)");
                    }
                }
            },
            _ = sleep_until(wake.unwrap_or_else(Instant::now)), if wake.is_some() => {}
            update = updates.recv() => {
                match update {
                    Ok(u) => super::commands::keep(&mut unpublished, u),
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                        tracing::warn!(missed = n, "command updates not published on the tags topic");
                    }
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => {}
                }
                if delivery.is_connected() {
                    publish_commands(&client, &mut delivery, &up, &topics, &mut unpublished);
                }
            }
            changed = head.changed() => {
                if changed.is_err() {
                    return;
                }
            }
            _ = status_tick.tick() => {
                if delivery.is_connected() {
                    publish_status(&client, &mut delivery, &up, &topics, "online");
                    publish_tags(&client, &mut delivery, &up, &topics);
                    last_status = Instant::now();
                }
            }
            _ = alarm_tick.tick() => {
                let now = up.stats.alarm_fingerprint();
                if delivery.is_connected() && now != last_alarm && last_status.elapsed() >= ALARM_MIN_INTERVAL {
                    last_alarm = now;
                    publish_status(&client, &mut delivery, &up, &topics, "online");
                    last_status = Instant::now();
                }
            }
            _ = shutdown.requested(), if !delivery.is_draining() => {
                delivery.on_shutdown();
            }
            _ = ingest_done.changed(), if !*ingest_done.borrow() => {}
            _ = sleep_until(deadline), if delivery.is_draining() => {
                tracing::warn!(depth = up.stats.spool_depth.load(Relaxed), "shutdown grace period over; undelivered events stay in the spool");
                break;
            }
        }
    }
    if delivery.is_connected() {
        say_goodbye(&client, &mut eventloop, &mut delivery, &up, &topics).await;
    }
}

/// Acts on one event of the MQTT connection; `false` once the spool writer
/// is gone.
async fn on_event(
    ev: Event,
    delivery: &mut Delivery,
    up: &Uplink,
    client: &AsyncClient,
    topics: &Topics,
    spool: &mpsc::Sender<SpoolMsg>,
    last_status: &mut Instant,
) -> bool {
    match ev {
        Event::Incoming(Packet::ConnAck(ack)) => {
            let max_packet = ack.properties.as_ref().and_then(|p| p.max_packet_size);
            delivery.on_connack(max_packet);
            up.stats.set_broker_connected(true);
            tracing::info!(
                depth = up.stats.spool_depth.load(Relaxed),
                max_packet,
                "broker connected; sending the spool from its oldest undelivered event"
            );
            publish_status(client, delivery, up, topics, "online");
            *last_status = Instant::now();
        }
        Event::Outgoing(Outgoing::Publish(pkid)) => delivery.on_outgoing(pkid),
        Event::Incoming(Packet::SubAck(ack)) => {
            if ack
                .return_codes
                .iter()
                .any(|c| !matches!(c, SubscribeReasonCode::Success(_)))
            {
                // Events still flow; only HQ's commands cannot arrive.
                tracing::error!(topic = %topics.commands, codes = ?ack.return_codes, "the broker refused the subscription to HQ's commands; check its ACL (docs/gateway.md, \"Broker security\")");
            }
            up.stats.set_commands_subscribed();
        }
        Event::Incoming(Packet::PubAck(ack))
            if matches!(
                ack.reason,
                PubAckReason::Success | PubAckReason::NoMatchingSubscribers
            ) =>
        {
            if let Some(b) = delivery.on_puback(ack.pkid) {
                up.stats.delivered.fetch_add(b.count as u64, Relaxed);
                up.stats.batches_delivered.fetch_add(1, Relaxed);
                tracing::debug!(batch = %b.id, events = b.count, "batch delivered");
                if spool
                    .send(SpoolMsg::Delivered {
                        first: b.first,
                        last: b.last,
                    })
                    .await
                    .is_err()
                {
                    return false;
                }
            }
        }
        Event::Incoming(Packet::PubAck(ack)) => {
            let now = std::time::Instant::now();
            match delivery.on_refused(ack.pkid, Refusal::Other, now) {
                Some(verdict) => {
                    tracing::error!(reason = ?ack.reason, "the broker refused a batch");
                    return settle(verdict, up, spool).await;
                }
                None => {
                    tracing::warn!(reason = ?ack.reason, "the broker refused a status or tag health message")
                }
            }
        }
        _ => {}
    }
    true
}

fn publish_status(
    client: &AsyncClient,
    delivery: &mut Delivery,
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
        delivery.on_other_requested();
    }
}

fn publish_tags(client: &AsyncClient, delivery: &mut Delivery, up: &Uplink, topics: &Topics) {
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
        delivery.on_other_requested();
    }
}

/// Publishes the tag health heard since the last report (so a stop does
/// not lose up to `status_interval_s` of it) and the retained offline
/// status, and disconnects cleanly, so HQ tells a planned stop from a lost
/// gateway.
async fn say_goodbye(
    client: &AsyncClient,
    eventloop: &mut EventLoop,
    delivery: &mut Delivery,
    up: &Uplink,
    topics: &Topics,
) {
    publish_tags(client, delivery, up, topics);
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
        delivery.on_other_requested();
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
