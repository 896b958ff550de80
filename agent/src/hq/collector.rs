//! The collector's two tasks: the MQTT session, which receives batches, and
//! the store writer, which commits them and only then acks them.
//!
//! The session is persistent (clean session off, a stable client id), so
//! while the collector is down the broker queues every batch at QoS 1, and a
//! batch that was received but not acked (a kill -9 between receipt and
//! commit) is delivered again. Acks are manual: an ack is a promise that the
//! batch is in the event store, so it is sent only after the store has
//! accepted it (SQLite: committed; ClickHouse: the insert answered 200).
//!
//! A batch is validated (its JSON parsed) by the session task as it
//! arrives, so parsing the next batches overlaps the writer's commit and its
//! sync instead of following it.

use super::fleet::{self, FleetReceived};
use super::metrics::CollectorStats;
use super::validate::{validate, Verdict};
use crate::event_store::{EventStore, Received};
use protocol::time::UnixMillis;
use protocol::topics::{Filter, TopicKind};
use rumqttc::{
    AsyncClient, Event, MqttOptions, Packet, Publish, QoS, SubscribeFilter, SubscribeReasonCode,
};
use std::collections::VecDeque;
use std::future::Future;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot, watch};

/// Batches committed in one transaction at most. The broker keeps only a
/// few QoS 1 messages in flight per client (Mosquitto: 20), so a group
/// holds whatever has arrived while the previous commit ran.
const MAX_GROUP: usize = 256;
/// Received batches waiting for the writer. More than the broker's in-flight
/// window, so the session task never waits on the writer in practice.
const QUEUE: usize = 1024;
/// Requests (acks, subscribes) waiting to go out on the connection.
const REQUESTS: usize = 1024;
/// The largest packet the client accepts: MQTT's own limit, so that an
/// oversized payload reaches the validator and is quarantined, instead of
/// failing the connection and coming back on every reconnect.
const MAX_PACKET: usize = 268_435_455;
/// Wait between reconnect attempts and between retries of a failed commit.
const RETRY: Duration = Duration::from_secs(1);
/// Wait before queueing acks again that found the request queue full.
const ACK_RETRY: Duration = Duration::from_millis(10);

/// What to subscribe to: every store's events, optionally as a member of a
/// shared-subscription group so several collectors split the load; and
/// every store's status and tag health, never shared: brokers do not send
/// retained messages to shared subscriptions, and every collector keeping
/// the same latest status is harmless. The events filter comes first.
pub(crate) fn filters(share: Option<&str>) -> Vec<String> {
    let events = match share {
        Some(group) => Filter::shared(group, TopicKind::Events),
        None => Filter::every_store(TopicKind::Events),
    };
    vec![
        events.to_string(),
        Filter::every_store(TopicKind::Status).to_string(),
        Filter::every_store(TopicKind::Tags).to_string(),
    ]
}

/// Runs until `shutdown` completes, then lets the writer finish the commit
/// it is in and send its acks before disconnecting. Counts what it does in
/// `stats`; `ready` fires once the broker has granted the events
/// subscription.
pub(crate) async fn run(
    mut opts: MqttOptions,
    filters: Vec<String>,
    store: EventStore,
    stats: Arc<CollectorStats>,
    shutdown: impl Future<Output = ()>,
    ready: oneshot::Sender<()>,
) -> anyhow::Result<()> {
    let mut ready = Some(ready);
    // The shared options are made for the gateway, whose spool makes a clean
    // session right; HQ has no spool, so it needs the broker's session.
    opts.set_clean_session(false);
    opts.set_manual_acks(true);
    opts.set_max_packet_size(MAX_PACKET, MAX_PACKET);
    let (client, mut eventloop) = AsyncClient::new(opts, REQUESTS);
    let (batches_tx, batches_rx) = mpsc::channel::<Arrived>(QUEUE);
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut writer = tokio::spawn(write_batches(
        store,
        batches_rx,
        client.clone(),
        stop_rx,
        stats.clone(),
    ));

    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            result = &mut writer => {
                // The writer only ends early on a bug or a lost session task.
                result??;
                anyhow::bail!("the store writer stopped");
            }
            event = eventloop.poll() => {
                let connected = handle(event, &client, &filters, &batches_tx, &mut ready).await;
                stats.broker_connected.store(connected, Relaxed);
                if !connected {
                    tokio::select! {
                        () = &mut shutdown => break,
                        () = tokio::time::sleep(RETRY) => {}
                    }
                }
            }
        }
    }

    tracing::info!("shutting down: finishing the current commit");
    drop(batches_tx);
    let _ = stop_tx.send(true);
    // Keep the connection polled while the writer finishes, so its acks go
    // out; anything it does not ack the broker delivers again next time.
    let finish = async {
        loop {
            tokio::select! {
                result = &mut writer => return result,
                event = eventloop.poll() => if event.is_err() {
                    tokio::time::sleep(RETRY).await;
                },
            }
        }
    };
    match tokio::time::timeout(Duration::from_secs(10), finish).await {
        Ok(result) => result??,
        Err(_) => tracing::warn!("writer did not finish in 10 s; its batches will be redelivered"),
    }
    let _ = client.try_disconnect();
    let _ = tokio::time::timeout(Duration::from_secs(2), async {
        while let Ok(event) = eventloop.poll().await {
            if matches!(event, Event::Outgoing(rumqttc::Outgoing::Disconnect)) {
                break;
            }
        }
    })
    .await;
    tracing::info!("collector stopped");
    Ok(())
}

/// Acts on one event-loop result; `false` when the connection failed and
/// the caller should wait before polling again (which reconnects).
async fn handle(
    event: Result<Event, rumqttc::ConnectionError>,
    client: &AsyncClient,
    filters: &[String],
    batches: &mpsc::Sender<Arrived>,
    ready: &mut Option<oneshot::Sender<()>>,
) -> bool {
    match event {
        Ok(Event::Incoming(Packet::ConnAck(ack))) => {
            tracing::info!(
                session_present = ack.session_present,
                "connected to the broker"
            );
            // Subscribe on every connect: the broker may have lost the
            // session. Sent from a task, as the request queue is drained by
            // this very loop.
            let client = client.clone();
            let filters: Vec<SubscribeFilter> = filters
                .iter()
                .map(|f| SubscribeFilter::new(f.clone(), QoS::AtLeastOnce))
                .collect();
            tokio::spawn(async move {
                if let Err(err) = client.subscribe_many(filters).await {
                    tracing::error!(%err, "cannot send the subscription");
                }
            });
        }
        Ok(Event::Incoming(Packet::SubAck(ack))) => {
            // The codes come in the order of the filters. A refused fleet
            // filter must not hide that events are flowing, nor the reverse.
            let (mut granted, mut refused) = (Vec::new(), Vec::new());
            for (filter, code) in filters.iter().zip(&ack.return_codes) {
                match code {
                    SubscribeReasonCode::Failure => refused.push(filter.as_str()),
                    _ => granted.push(filter.as_str()),
                }
            }
            if !refused.is_empty() {
                let filters = refused.join(" ");
                tracing::error!(
                    filters,
                    "the broker refused a subscription (check the ACL for this user)"
                );
            }
            if !granted.is_empty() {
                let filters = granted.join(" ");
                tracing::info!(filters, "subscribed");
            }
            // Ready means batches flow: the events filter (the first) was
            // granted, whatever became of the fleet's.
            let events_granted = filters
                .first()
                .is_some_and(|events| granted.contains(&events.as_str()));
            if events_granted {
                if let Some(ready) = ready.take() {
                    let _ = ready.send(());
                }
            }
        }
        Ok(Event::Incoming(Packet::Publish(publish))) => {
            let verdict = fleet::fleet_topic(&publish.topic)
                .is_none()
                .then(|| validate(&publish.topic, &publish.payload));
            if let Some(verdict) = &verdict {
                log_verdict(&publish, verdict);
            }
            let publish = Arrived { publish, verdict };
            // The writer never hangs up before this task stops sending.
            let _ = batches.send(publish).await;
        }
        Ok(_) => {}
        Err(err) => {
            tracing::warn!(%err, "broker connection lost; reconnecting");
            return false;
        }
    }
    true
}

/// Commits groups of received batches and acks them once committed.
///
/// The writer never waits for room to queue an ack: the session task,
/// which sends the acks, may itself be waiting for room in the writer's
/// queue, and a broker with no in-flight window (or one that sends a
/// backlog all at once) fills both. Acks that find the request queue full
/// wait here, in order, and are retried while the writer goes on.
async fn write_batches(
    mut store: EventStore,
    mut batches: mpsc::Receiver<Arrived>,
    client: AsyncClient,
    mut stop: watch::Receiver<bool>,
    stats: Arc<CollectorStats>,
) -> anyhow::Result<()> {
    let mut group: Vec<Arrived> = Vec::new();
    let mut unacked: VecDeque<Publish> = VecDeque::new();
    'groups: loop {
        queue_acks(&client, &mut unacked);
        let arrived = if unacked.is_empty() {
            batches.recv_many(&mut group, MAX_GROUP).await
        } else {
            tokio::select! {
                n = batches.recv_many(&mut group, MAX_GROUP) => n,
                () = tokio::time::sleep(ACK_RETRY) => continue,
            }
        };
        if arrived == 0 {
            break;
        }
        let mut fleet_received: Vec<FleetReceived<'_>> = Vec::new();
        let mut received: Vec<Received<'_>> = Vec::new();
        for arrived in &group {
            let (topic, payload) = (arrived.publish.topic.as_str(), &arrived.publish.payload[..]);
            match &arrived.verdict {
                Some(verdict) => received.push(Received {
                    topic,
                    payload,
                    verdict,
                }),
                None => fleet_received.push(FleetReceived { topic, payload }),
            }
        }
        loop {
            let now = UnixMillis::now().0;
            let committed = tokio::task::block_in_place(|| {
                let fleet = if fleet_received.is_empty() {
                    Default::default()
                } else {
                    fleet::record(&mut store, &fleet_received, now)?
                };
                store.ingest(&received, now).map(|counts| (counts, fleet))
            });
            match committed {
                Ok((counts, fleet)) => {
                    stats.committed(received.len(), &counts);
                    tracing::debug!(
                        batches = received.len(),
                        inserted = counts.inserted,
                        duplicates = counts.duplicates,
                        quarantined_batches = counts.quarantined_batches,
                        quarantined_events = counts.quarantined_events,
                        statuses = fleet.statuses,
                        tag_health = fleet.tags,
                        quarantined_fleet = fleet.quarantined,
                        "committed"
                    );
                    break;
                }
                Err(err) => {
                    stats.commit_errors.fetch_add(1, Relaxed);
                    // Not acked, so not lost: retry until the disk recovers,
                    // or leave the batches to the broker on shutdown (the
                    // groups committed before still get their acks).
                    tracing::error!(%err, batches = group.len(), "cannot commit batches; retrying");
                    tokio::select! {
                        _ = stop.wait_for(|stopping| *stopping) => break 'groups,
                        () = tokio::time::sleep(RETRY) => {}
                    }
                }
            }
        }
        // Received holds borrows of the group; acks go out in arrival
        // order, each keeping only what an ack needs.
        drop(received);
        drop(fleet_received);
        unacked.extend(group.drain(..).map(|arrived| ack_of(&arrived.publish)));
    }
    // Stopping: the session task keeps the connection polled until this
    // returns, so the last acks can wait for room.
    for publish in unacked {
        client.ack(&publish).await?;
    }
    Ok(())
}

/// What acking `publish` needs (its packet id and QoS), without the
/// payload, which may be large.
fn ack_of(publish: &Publish) -> Publish {
    let mut ack = Publish::new("", publish.qos, Vec::new());
    ack.pkid = publish.pkid;
    ack
}

/// Queues the acks in `unacked`, oldest first, until the request queue is
/// full; the rest stay for the next try.
fn queue_acks(client: &AsyncClient, unacked: &mut VecDeque<Publish>) {
    while let Some(publish) = unacked.front() {
        if client.try_ack(publish).is_err() {
            return;
        }
        unacked.pop_front();
    }
}

/// A message as the session task hands it to the writer: an events
/// batch with its verdict, or a fleet message (status, tag health), which
/// the fleet code judges itself.
struct Arrived {
    publish: Publish,
    verdict: Option<Verdict>,
}

fn log_verdict(publish: &Publish, verdict: &Verdict) {
    match verdict {
        Verdict::Rejected { reason } => {
            tracing::warn!(topic = %publish.topic, bytes = publish.payload.len(), %reason, "batch quarantined");
        }
        Verdict::Accepted(batch) => {
            for bad in &batch.bad_events {
                tracing::warn!(
                    store = %batch.store,
                    batch_id = %batch.batch_id,
                    index = bad.index,
                    reason = %bad.reason,
                    "event quarantined"
                );
            }
        }
    }
}
