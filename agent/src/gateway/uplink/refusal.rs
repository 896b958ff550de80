//! What the uplink's shell does about publishes the broker did not take:
//! telling a refusal for size from any other lost connection, sizing a
//! PUBLISH as the broker counts it, and carrying out the state machine's
//! [`Verdict`] (count, log, hand a lone oversized event to the spool's
//! dead-letter table). Nothing here deletes an event.

use super::delivery::Verdict;
use super::task::Uplink;
use crate::gateway::messages::SpoolMsg;
use rumqttc::v5::mqttbytes::v5::DisconnectReasonCode;
use rumqttc::v5::mqttbytes::Error as PacketError;
use rumqttc::v5::{ConnectionError, StateError};
use std::sync::atomic::Ordering::Relaxed;
use tokio::sync::mpsc;

/// Whether a lost connection was the broker refusing a packet as too
/// large: a DISCONNECT with reason 0x95, or a PUBACK with reason 0x95
/// (Mosquitto's answer to a publish over its `message_size_limit`), which
/// rumqttc 0.25 cannot read, 0x95 not being among MQTT 5's PUBACK reasons,
/// and reports as an undecodable packet.
pub(super) fn refused_as_too_large(e: &ConnectionError) -> bool {
    matches!(
        e,
        ConnectionError::MqttState(
            StateError::ServerDisconnect {
                reason_code: DisconnectReasonCode::PacketTooLarge,
                ..
            } | StateError::Deserialization(PacketError::InvalidConnectReturnCode(0x95))
        )
    )
}

/// Carries out what the state machine decided about a batch the broker did
/// not take, counting and logging it; `false` once the spool writer is gone.
pub(super) async fn settle(verdict: Verdict, up: &Uplink, spool: &mpsc::Sender<SpoolMsg>) -> bool {
    up.stats.batches_refused.fetch_add(1, Relaxed);
    match verdict {
        Verdict::Split { batch, max_bytes } => {
            tracing::error!(batch = %batch.id, events = batch.count, max_event_bytes = max_bytes, "the broker does not take a batch this large; its events stay in the spool and go again in smaller batches");
            true
        }
        Verdict::Retry { batch, retry_at } => {
            let in_ms = retry_at
                .saturating_duration_since(std::time::Instant::now())
                .as_millis() as u64;
            tracing::error!(batch = %batch.id, events = batch.count, retry_in_ms = in_ms, "the broker refused a batch; its events stay in the spool and go again");
            true
        }
        Verdict::Quarantine(batch) => {
            tracing::error!(batch = %batch.id, first = batch.first, bytes = batch.bytes, "one event is larger than the broker takes; moving it to the spool's dead_letter table");
            spool
                .send(SpoolMsg::Quarantine {
                    first: batch.first,
                    last: batch.last,
                    reason: "larger than the broker accepts",
                })
                .await
                .is_ok()
        }
    }
}

/// Bytes of an MQTT 5 QoS 1 PUBLISH without properties of `payload` bytes
/// to `topic`: what a broker's Maximum Packet Size counts.
pub(super) fn publish_packet_len(topic: &str, payload: usize) -> usize {
    // Topic length prefix, topic, packet id, empty property length.
    let remaining = 2 + topic.len() + 2 + 1 + payload;
    let length_field = match remaining {
        0..=127 => 1,
        128..=16_383 => 2,
        16_384..=2_097_151 => 3,
        _ => 4,
    };
    1 + length_field + remaining
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packet_length_counts_header_topic_packet_id_and_properties() {
        // 1 type byte, 1 length byte, 2+3 topic, 2 packet id, 1 property
        // length, 10 payload.
        assert_eq!(publish_packet_len("a/b", 10), 20);
        // A remaining length of 128 takes a two-byte length field.
        assert_eq!(publish_packet_len("a/b", 120), 2 + 1 + 128);
    }

    #[test]
    fn only_a_size_refusal_counts_as_one() {
        let too_large = ConnectionError::MqttState(StateError::ServerDisconnect {
            reason_code: DisconnectReasonCode::PacketTooLarge,
            reason_string: None,
        });
        let unreadable_puback = ConnectionError::MqttState(StateError::Deserialization(
            PacketError::InvalidConnectReturnCode(0x95),
        ));
        let other = ConnectionError::MqttState(StateError::ConnectionAborted);
        assert!(refused_as_too_large(&too_large));
        assert!(refused_as_too_large(&unreadable_puback));
        assert!(!refused_as_too_large(&other));
    }
}
