//! An MQTT 5 client logged in as one broker user, for tests of what the
//! broker lets that user do: every request waits for the broker's answer
//! (CONNACK, SUBACK, PUBACK) and returns its reason code, and every message
//! delivered to it is kept. MQTT 5, because only its PUBACK says whether
//! the broker took a publish: Mosquitto acks a refused MQTT 3.1.1 publish
//! and drops it.

use rumqttc::v5::mqttbytes::v5::{ConnectReturnCode, Packet};
use rumqttc::v5::mqttbytes::QoS;
use rumqttc::v5::{Client, Event, MqttOptions};

pub use rumqttc::v5::mqttbytes::v5::{PubAckReason, SubscribeReasonCode};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::Duration;

/// Long enough for the broker to answer on a busy 2-core box.
const ANSWER_DEADLINE: Duration = Duration::from_secs(15);

#[derive(Default)]
struct Seen {
    connack: Option<ConnectReturnCode>,
    subacks: Vec<Vec<SubscribeReasonCode>>,
    pubacks: Vec<PubAckReason>,
    messages: Vec<(String, Vec<u8>)>,
    error: Option<String>,
}

/// One connection as `user` (or anonymous), MQTT 5, clean start.
pub struct MqttUser {
    client: Client,
    seen: Arc<Mutex<Seen>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl MqttUser {
    /// Connects to the plain `mqtt://127.0.0.1:PORT` listener as `login`
    /// (`Some((user, password))`) or anonymously, and waits for the CONNACK.
    /// `Err` names the broker's refusal.
    pub fn connect(url: &str, login: Option<(&str, &str)>) -> Result<MqttUser, String> {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let port: u16 = url
            .strip_prefix("mqtt://127.0.0.1:")
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("expected mqtt://127.0.0.1:PORT, got {url}"));
        let id = format!(
            "aisle-user-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let mut opts = MqttOptions::new(id, "127.0.0.1", port);
        opts.set_keep_alive(Duration::from_secs(5));
        if let Some((user, password)) = login {
            opts.set_credentials(user, password);
        }
        let (client, mut connection) = Client::new(opts, 64);
        let seen: Arc<Mutex<Seen>> = Arc::default();
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (seen, stop) = (Arc::clone(&seen), Arc::clone(&stop));
            thread::Builder::new()
                .name("test-mqtt-user".into())
                .spawn(move || {
                    while !stop.load(Ordering::Relaxed) {
                        let event = match connection.recv_timeout(Duration::from_millis(100)) {
                            Ok(event) => event,
                            Err(_) => continue,
                        };
                        let mut seen = seen.lock().unwrap_or_else(PoisonError::into_inner);
                        match event {
                            Ok(Event::Incoming(Packet::ConnAck(ack))) => {
                                seen.connack = Some(ack.code)
                            }
                            Ok(Event::Incoming(Packet::SubAck(ack))) => {
                                seen.subacks.push(ack.return_codes)
                            }
                            Ok(Event::Incoming(Packet::PubAck(ack))) => {
                                seen.pubacks.push(ack.reason)
                            }
                            Ok(Event::Incoming(Packet::Publish(p))) => seen.messages.push((
                                String::from_utf8_lossy(&p.topic).into_owned(),
                                p.payload.to_vec(),
                            )),
                            Ok(_) => {}
                            // A refused login or a dropped link ends this
                            // connection; the test reads why.
                            Err(err) => {
                                seen.error = Some(err.to_string());
                                break;
                            }
                        }
                    }
                })
                .expect("spawn MQTT user thread")
        };
        let user = MqttUser {
            client,
            seen,
            stop,
            thread: Some(thread),
        };
        let code = user.wait("a CONNACK", |s| {
            s.connack
                .or_else(|| s.error.as_ref().map(|_| ConnectReturnCode::NotAuthorized))
        });
        match code {
            ConnectReturnCode::Success => Ok(user),
            _ => Err(user
                .with_seen(|s| s.error.clone())
                .unwrap_or_else(|| format!("{code:?}"))),
        }
    }

    /// Subscribes to `filter` at QoS 1 and returns the broker's answer.
    pub fn subscribe(&self, filter: &str) -> SubscribeReasonCode {
        let before = self.with_seen(|s| s.subacks.len());
        self.client
            .subscribe(filter, QoS::AtLeastOnce)
            .expect("queue SUBSCRIBE");
        self.wait(&format!("the SUBACK for {filter}"), |s| {
            s.subacks.get(before).map(|codes| codes[0])
        })
    }

    /// Publishes at QoS 1 and returns the reason code of the broker's
    /// PUBACK (`Success`, or `NoMatchingSubscribers` when nobody listens),
    /// or `Err` when the broker closed the connection instead of answering
    /// (Mosquitto 2.0 may drop a client right after refusing its publish).
    pub fn publish(&self, topic: &str, payload: &[u8]) -> Result<PubAckReason, String> {
        let before = self.with_seen(|s| s.pubacks.len());
        if let Err(err) = self
            .client
            .publish(topic, QoS::AtLeastOnce, false, payload.to_vec())
        {
            let why = self.with_seen(|s| s.error.clone());
            return Err(format!("could not publish to {topic}: {err} ({why:?})"));
        }
        crate::wait_until(&format!("the PUBACK for {topic}"), ANSWER_DEADLINE, || {
            let seen = self.seen.lock().unwrap_or_else(PoisonError::into_inner);
            match (seen.pubacks.get(before), &seen.error) {
                (Some(reason), _) => Some(Ok(*reason)),
                (None, Some(err)) => Some(Err(err.clone())),
                (None, None) => None,
            }
        })
    }

    /// Waits until a message on `topic` has been delivered, and returns
    /// every message delivered so far, in arrival order.
    pub fn messages_until(&self, topic: &str) -> Vec<(String, Vec<u8>)> {
        self.wait(&format!("a message on {topic}"), |s| {
            s.messages
                .iter()
                .any(|(t, _)| t == topic)
                .then(|| s.messages.clone())
        })
    }

    fn with_seen<T>(&self, f: impl FnOnce(&Seen) -> T) -> T {
        f(&self.seen.lock().unwrap_or_else(PoisonError::into_inner))
    }

    fn wait<T>(&self, what: &str, mut done: impl FnMut(&Seen) -> Option<T>) -> T {
        crate::wait_until(what, ANSWER_DEADLINE, || {
            let seen = self.seen.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some(value) = done(&seen) {
                return Some(value);
            }
            if let Some(err) = &seen.error {
                panic!("the connection ended while waiting for {what}: {err}");
            }
            None
        })
    }
}

impl Drop for MqttUser {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = self.client.disconnect();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
