//! Publishing to the broker as a gateway would, for tests that feed HQ
//! directly: QoS 1, returning only once the broker has acked everything.

use rumqttc::{Client, Event, LastWill, MqttOptions, Packet, QoS};
use std::sync::atomic::{AtomicUsize, Ordering};

/// A message to publish: topic, payload, retained.
pub struct Message {
    pub topic: String,
    pub payload: Vec<u8>,
    pub retain: bool,
}

impl Message {
    pub fn new(topic: impl Into<String>, payload: impl Into<Vec<u8>>) -> Message {
        Message {
            topic: topic.into(),
            payload: payload.into(),
            retain: false,
        }
    }

    pub fn retained(topic: impl Into<String>, payload: impl Into<Vec<u8>>) -> Message {
        Message {
            retain: true,
            ..Message::new(topic, payload)
        }
    }
}

/// A gateway batch of `events` (JSON objects as the wire contract has them)
/// from store `store`'s gateway `gw-1`, as the payload HQ receives.
pub fn batch_json(store: &str, batch_id: &str, events: Vec<serde_json::Value>) -> Vec<u8> {
    serde_json::json!({"schema": "aisle.batch.v1", "store": store, "gateway": "gw-1",
           "batch_id": batch_id, "created_at": "2026-11-20T10:00:01.000Z", "events": events})
    .to_string()
    .into_bytes()
}

fn options(url: &str) -> MqttOptions {
    let port: u16 = url.rsplit(':').next().unwrap().parse().unwrap();
    // Tests run in parallel in one process: each publisher needs its own id.
    static PUBLISHERS: AtomicUsize = AtomicUsize::new(0);
    let id = format!(
        "test-pub-{}-{}",
        std::process::id(),
        PUBLISHERS.fetch_add(1, Ordering::Relaxed)
    );
    let mut opts = MqttOptions::new(id, "127.0.0.1", port);
    opts.set_max_packet_size(1 << 24, 1 << 24);
    opts
}

/// Publishes `messages` at QoS 1 and disconnects cleanly once the broker
/// has acked them all.
pub fn publish(url: &str, messages: &[Message]) {
    publish_then(url, messages, None, true);
}

/// Publishes each (topic, payload) pair like [`publish`].
pub fn publish_pairs(url: &str, pairs: &[(String, Vec<u8>)]) {
    let messages: Vec<Message> = pairs
        .iter()
        .map(|(topic, payload)| Message::new(topic.clone(), payload.clone()))
        .collect();
    publish(url, &messages);
}

/// Publishes `messages` with `will` as the connection's last will, then
/// drops the connection without a DISCONNECT, as a gateway that loses its
/// link does: the broker publishes the will.
pub fn publish_and_vanish(url: &str, messages: &[Message], will: Message) {
    publish_then(url, messages, Some(will), false);
}

/// Publishes `count` messages made one at a time by `make(n)` (n from 0)
/// at QoS 1, returning once the broker has acked them all: for a backlog
/// too large to hold in memory at once, as the HQ benches queue.
pub fn publish_stream(
    url: &str,
    count: u64,
    mut make: impl FnMut(u64) -> Message + Send + 'static,
) {
    let (client, mut connection) = Client::new(options(url), 64);
    let publisher = std::thread::spawn(move || {
        for n in 0..count {
            let m = make(n);
            client
                .publish(m.topic, QoS::AtLeastOnce, m.retain, m.payload)
                .unwrap();
        }
        client
    });
    let mut acked = 0;
    let mut events = connection.iter();
    while acked < count {
        match events.next() {
            Some(Ok(Event::Incoming(Packet::PubAck(_)))) => acked += 1,
            Some(Ok(_)) => {}
            Some(Err(err)) => panic!("stream publisher: {err}"),
            None => panic!("stream publisher: the connection ended"),
        }
    }
    let _ = publisher.join().unwrap().disconnect();
}

fn publish_then(url: &str, messages: &[Message], will: Option<Message>, disconnect: bool) {
    let mut opts = options(url);
    if let Some(will) = will {
        opts.set_last_will(LastWill::new(
            will.topic,
            will.payload,
            QoS::AtLeastOnce,
            will.retain,
        ));
    }
    let (client, mut connection) = Client::new(opts, messages.len() + 10);
    for m in messages {
        client
            .publish(
                m.topic.clone(),
                QoS::AtLeastOnce,
                m.retain,
                m.payload.clone(),
            )
            .unwrap();
    }
    let mut acked = 0;
    for event in connection.iter() {
        match event {
            Ok(Event::Incoming(Packet::PubAck(_))) => {
                acked += 1;
                if acked == messages.len() {
                    break;
                }
            }
            Ok(_) => {}
            Err(err) => panic!("test publisher: {err}"),
        }
    }
    if disconnect {
        client.disconnect().unwrap();
        for event in connection.iter() {
            match event {
                Ok(Event::Outgoing(rumqttc::Outgoing::Disconnect)) | Err(_) => break,
                Ok(_) => {}
            }
        }
    }
}
