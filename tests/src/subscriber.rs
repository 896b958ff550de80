//! An MQTT observer standing in for HQ: collects every batch, status and tag
//! health message the gateways publish.
//!
//! It keeps a persistent session (clean_session = false, QoS 1), so events
//! published while it or the broker restarts are queued by the broker and
//! still reach it: what it misses is what the gateway lost, not what the
//! test's own plumbing dropped.

use protocol::batch::Batch;
use protocol::topics::{Filter, Topic, TopicKind};
use rumqttc::{Client, Event, MqttOptions, Packet, QoS};
use serde_json::Value;
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

const BARRIER_TOPIC: &str = "aisle-test/barrier";

/// Large enough for any batch (the config's `batch.max_bytes` is ≤ 256 KiB).
const MAX_PACKET: usize = 4 << 20;
const CONNECT_DEADLINE: Duration = Duration::from_secs(10);

/// One batch as received, with its event ids in order.
#[derive(Debug, Clone)]
pub struct DeliveredBatch {
    pub topic: String,
    pub batch: Batch,
    /// Size of the MQTT payload, for checking the byte bound.
    pub payload_len: usize,
}

impl DeliveredBatch {
    pub fn ids(&self) -> impl Iterator<Item = &str> {
        self.batch.events.iter().map(|e| e.id.as_str())
    }
}

#[derive(Default)]
struct Received {
    batches: Vec<DeliveredBatch>,
    /// Deliveries per event id, kept up to date as batches arrive.
    counts: HashMap<String, usize>,
    /// When each event id first arrived (for latency measurements).
    first_arrival: HashMap<String, Instant>,
    /// (topic, payload) of every status message, oldest first.
    statuses: Vec<(String, Value)>,
    tags: Vec<(String, Value)>,
    /// Payloads on the events topic that are not valid batches.
    malformed: Vec<String>,
    barriers: HashSet<String>,
    subacks: u32,
}

pub struct Subscriber {
    client: Client,
    received: Arc<Mutex<Received>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Subscriber {
    /// Connects to a plain `mqtt://host:port` broker and waits until the
    /// subscriptions are in place.
    pub fn connect(url: &str) -> Subscriber {
        let sub = Subscriber::connect_later(url);
        crate::wait_until(
            &format!("the test subscriber to subscribe at {url}"),
            CONNECT_DEADLINE,
            || {
                (sub.received
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .subacks
                    > 0)
                .then_some(())
            },
        );
        sub
    }

    /// Starts connecting (retrying while the broker is down) without waiting.
    pub fn connect_later(url: &str) -> Subscriber {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let (host, port) = parse_plain_url(url);
        let id = format!(
            "aisle-test-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let mut opts = MqttOptions::new(id, host, port);
        opts.set_clean_session(false);
        opts.set_keep_alive(Duration::from_secs(5));
        opts.set_max_packet_size(MAX_PACKET, MAX_PACKET);
        let (client, mut connection) = Client::new(opts, 64);
        let received: Arc<Mutex<Received>> = Arc::default();
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (client, received, stop) =
                (client.clone(), Arc::clone(&received), Arc::clone(&stop));
            thread::Builder::new()
                .name("test-subscriber".into())
                .spawn(move || {
                    while !stop.load(Ordering::Relaxed) {
                        match connection.recv_timeout(Duration::from_millis(100)) {
                            Ok(Ok(Event::Incoming(packet))) => handle(&client, &received, packet),
                            Ok(Ok(Event::Outgoing(_))) | Err(_) => {}
                            // Broker down or restarting: rumqttc reconnects on
                            // the next poll; pause so that is not a busy loop.
                            Ok(Err(_)) => thread::sleep(Duration::from_millis(50)),
                        }
                    }
                })
                .expect("spawn subscriber thread")
        };
        Subscriber {
            client,
            received,
            stop,
            thread: Some(thread),
        }
    }

    /// Every batch received so far.
    pub fn batches(&self) -> Vec<DeliveredBatch> {
        self.received
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .batches
            .clone()
    }

    /// How many times each event id was delivered, across all batches.
    pub fn id_counts(&self) -> HashMap<String, usize> {
        self.received
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .counts
            .clone()
    }

    /// How many distinct event ids have been delivered (cheap to poll).
    pub fn distinct_delivered(&self) -> usize {
        self.received
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .counts
            .len()
    }

    /// Whether `id` has been delivered at least once.
    pub fn has(&self, id: &str) -> bool {
        self.received
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .counts
            .contains_key(id)
    }

    /// When each delivered event id first arrived.
    pub fn first_arrivals(&self) -> HashMap<String, Instant> {
        self.received
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .first_arrival
            .clone()
    }

    /// Waits until every id in `ids` has been delivered at least once.
    pub fn wait_for_ids(&self, ids: &HashSet<String>, deadline: Duration) {
        let start = Instant::now();
        loop {
            let received = self.received.lock().unwrap_or_else(PoisonError::into_inner);
            let mut missing: Vec<&String> = ids
                .iter()
                .filter(|id| !received.counts.contains_key(*id))
                .collect();
            if missing.is_empty() {
                return;
            }
            if start.elapsed() > deadline {
                let n_missing = missing.len();
                missing.sort();
                missing.truncate(5);
                panic!("{n_missing} of {} event ids not delivered within {deadline:?}, e.g. {missing:?}", ids.len());
            }
            drop(received);
            thread::sleep(Duration::from_millis(10));
        }
    }

    /// Every status message received, oldest first.
    pub fn statuses(&self) -> Vec<Value> {
        self.received
            .lock()
            .unwrap()
            .statuses
            .iter()
            .map(|(_, v)| v.clone())
            .collect()
    }

    /// The newest status message.
    pub fn latest_status(&self) -> Option<Value> {
        self.received
            .lock()
            .unwrap()
            .statuses
            .last()
            .map(|(_, v)| v.clone())
    }

    /// Waits for a status message satisfying `pred` and returns it.
    pub fn wait_status(
        &self,
        what: &str,
        deadline: Duration,
        pred: impl Fn(&Value) -> bool,
    ) -> Value {
        crate::wait_until(what, deadline, || {
            let received = self.received.lock().unwrap_or_else(PoisonError::into_inner);
            received
                .statuses
                .iter()
                .rev()
                .map(|(_, v)| v)
                .find(|v| pred(v))
                .cloned()
        })
    }

    /// Every tag-health message received, oldest first.
    pub fn tag_reports(&self) -> Vec<Value> {
        self.received
            .lock()
            .unwrap()
            .tags
            .iter()
            .map(|(_, v)| v.clone())
            .collect()
    }

    /// Payloads on the events topic that did not parse as a batch.
    pub fn malformed(&self) -> Vec<String> {
        self.received
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .malformed
            .clone()
    }

    /// Publishes a marker through the broker and waits until it comes back.
    /// The broker queues messages to one subscriber in order, so after this
    /// returns, everything the broker had accepted (PUBACKed) before the call
    /// has been received.
    pub fn barrier(&self, deadline: Duration) {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let token = format!(
            "{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        self.client
            .publish(
                format!("{BARRIER_TOPIC}/{token}"),
                QoS::AtLeastOnce,
                false,
                token.clone(),
            )
            .expect("queue barrier publish");
        crate::wait_until("the barrier message to come back", deadline, || {
            self.received
                .lock()
                .unwrap()
                .barriers
                .contains(&token)
                .then_some(())
        });
    }
}

impl Drop for Subscriber {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = self.client.try_disconnect();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn handle(client: &Client, received: &Mutex<Received>, packet: Packet) {
    match packet {
        // Subscribe on every connect: harmless when the session kept the
        // subscriptions, necessary when the broker lost them.
        Packet::ConnAck(_) => {
            let stores = [TopicKind::Events, TopicKind::Status, TopicKind::Tags]
                .map(|kind| Filter::every_store(kind).to_string());
            let topics = stores
                .into_iter()
                .chain([format!("{BARRIER_TOPIC}/#")])
                .map(|t| rumqttc::SubscribeFilter::new(t, QoS::AtLeastOnce));
            let _ = client.try_subscribe_many(topics);
        }
        Packet::SubAck(_) => {
            received
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .subacks += 1
        }
        Packet::Publish(publish) => {
            let topic = publish.topic.clone();
            let mut received = received.lock().unwrap_or_else(PoisonError::into_inner);
            let kind = Topic::parse(&topic).map(|t| t.kind);
            if topic.starts_with(BARRIER_TOPIC) {
                received
                    .barriers
                    .insert(String::from_utf8_lossy(&publish.payload).into_owned());
            } else if kind == Ok(TopicKind::Events) {
                match serde_json::from_slice::<Batch>(&publish.payload) {
                    Ok(batch) => {
                        let now = Instant::now();
                        for event in &batch.events {
                            *received.counts.entry(event.id.clone()).or_default() += 1;
                            received
                                .first_arrival
                                .entry(event.id.clone())
                                .or_insert(now);
                        }
                        received.batches.push(DeliveredBatch {
                            topic,
                            batch,
                            payload_len: publish.payload.len(),
                        });
                    }
                    Err(e) => received.malformed.push(format!(
                        "{e}: {}",
                        String::from_utf8_lossy(&publish.payload)
                    )),
                }
            } else {
                let value = serde_json::from_slice(&publish.payload).unwrap_or_else(|_| {
                    Value::String(String::from_utf8_lossy(&publish.payload).into_owned())
                });
                if kind == Ok(TopicKind::Status) {
                    received.statuses.push((topic, value));
                } else {
                    received.tags.push((topic, value));
                }
            }
        }
        _ => {}
    }
}

/// `mqtt://host:port` → (host, port). Observers always use a plain listener.
fn parse_plain_url(url: &str) -> (String, u16) {
    let rest = url
        .strip_prefix("mqtt://")
        .unwrap_or_else(|| panic!("observer URL must be mqtt://, got {url}"));
    let (host, port) = rest.rsplit_once(':').unwrap_or((rest, "1883"));
    (
        host.to_string(),
        port.parse().unwrap_or_else(|_| panic!("bad port in {url}")),
    )
}
