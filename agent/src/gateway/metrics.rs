//! The gateway's Prometheus metrics: the status document's counters under
//! Prometheus names (`[metrics] listen` in the store config turns them on).
//!
//! Every metric is read from the same [`StatusDoc`] snapshot the status
//! topic publishes, so a dashboard and the status message always agree.
//! docs/gateway.md lists each metric and the alert rules worth having.

use super::status::{Stats, StatusDoc};
use crate::metrics::{Exposition, MetricsError};
use protocol::time::UnixMillis;

/// What the metrics need beyond the counters: who this gateway is.
pub(crate) struct Identity {
    pub store: String,
    pub gateway: String,
    pub started: UnixMillis,
    pub spool_max_bytes: u64,
}

/// One scrape of the gateway's metrics at `now`.
pub(crate) fn render(
    stats: &Stats,
    id: &Identity,
    now: UnixMillis,
) -> Result<String, MetricsError> {
    let doc = stats.snapshot(
        "online",
        &id.store,
        &id.gateway,
        id.started,
        id.spool_max_bytes,
        now,
    );
    exposition(&doc, id.started, stats.broker_connected()).render()
}

fn exposition(doc: &StatusDoc, started: UnixMillis, broker_connected: bool) -> Exposition {
    let mut e = Exposition::new();
    e.gauge_labelled(
        "aisle_gateway_info",
        "The gateway's store, id and version (always 1).",
        &["store", "gateway", "version"],
        [(
            vec![doc.store.as_str(), doc.gateway.as_str(), doc.version],
            1,
        )],
    );
    e.gauge(
        "aisle_gateway_start_time_seconds",
        "When this gateway process started, in Unix seconds.",
        started.0 / 1000,
    );
    e.gauge(
        "aisle_gateway_broker_connected",
        "1 while the gateway is connected to the HQ broker, 0 otherwise.",
        i64::from(broker_connected),
    );
    e.counter(
        "aisle_gateway_events_received_total",
        "Tag frames decoded from the receivers, duplicates included.",
        doc.received,
    );
    e.counter(
        "aisle_gateway_events_duplicate_total",
        "Tag frames already seen (a resend after a lost ack); acked again, stored once.",
        doc.duplicates,
    );
    e.counter(
        "aisle_gateway_events_spooled_total",
        "Funnel events committed to the spool.",
        doc.spooled,
    );
    e.counter(
        "aisle_gateway_events_delivered_total",
        "Funnel events whose batch the broker acknowledged.",
        doc.delivered,
    );
    e.counter(
        "aisle_gateway_batches_delivered_total",
        "Batches the broker acknowledged.",
        doc.batches_delivered,
    );
    e.counter(
        "aisle_gateway_batches_refused_total",
        "Batches the broker refused or that exceeded its packet limit; their events stayed in the spool.",
        doc.batches_refused,
    );
    e.gauge(
        "aisle_gateway_dead_letters",
        "Events in the spool's dead_letter table: too large for the broker, not delivered.",
        doc.dead_letters as i64,
    );
    e.counter(
        "aisle_gateway_events_dropped_at_cap_total",
        "Undelivered events dropped because the spool reached its byte cap.",
        doc.dropped_at_cap,
    );
    e.gauge(
        "aisle_gateway_spool_depth",
        "Funnel events in the spool waiting for delivery.",
        saturating_i64(doc.spool_depth),
    );
    e.gauge(
        "aisle_gateway_spool_bytes",
        "Bytes of undelivered events in the spool (counted against the cap).",
        saturating_i64(doc.spool_bytes),
    );
    e.gauge(
        "aisle_gateway_spool_max_bytes",
        "The spool's byte cap ([spool] max_bytes).",
        saturating_i64(doc.spool_max_bytes),
    );
    e.gauge(
        "aisle_gateway_oldest_undelivered_age_seconds",
        "Age of the oldest undelivered event in the spool; 0 when it is empty.",
        saturating_i64(doc.oldest_undelivered_age_s),
    );
    e.counter_by(
        "aisle_gateway_bad_frames_total",
        "Frames from the receivers that could not be decoded, by reason.",
        "kind",
        doc.bad_frames.iter().map(|(k, n)| (*k, *n)),
    );
    e.counter_by(
        "aisle_gateway_commands_total",
        "Commands to tags, by outcome: queued, confirmed by the tag, expired, refused (by the gateway or the tag).",
        "state",
        doc.commands.iter().map(|(k, n)| (*k, *n)),
    );
    e.gauge(
        "aisle_gateway_unknown_tags",
        "Distinct tag ids heard that the config does not know.",
        saturating_i64(doc.unknown_tags),
    );
    e.counter(
        "aisle_gateway_unknown_tag_events_total",
        "Events from tag ids the config does not know (kept and sent).",
        doc.unknown_tag_events,
    );
    e.counter(
        "aisle_gateway_unrouted_reads_total",
        "Garment reads by a tag that is not a configured reader (kept, not sent).",
        doc.unrouted_reads,
    );
    e.counter(
        "aisle_gateway_acks_sent_total",
        "Acks written to the receivers after a commit.",
        doc.acks_sent,
    );
    e.counter(
        "aisle_gateway_acks_dropped_total",
        "Acks not written because the receiver was gone or not draining.",
        doc.acks_dropped,
    );
    e.counter(
        "aisle_gateway_spool_resets_total",
        "Unreadable spool files moved aside at start-up.",
        doc.spool_resets,
    );
    e.counter(
        "aisle_gateway_spool_errors_total",
        "Failed spool commits (e.g. disk full); their events were not acked.",
        doc.spool_errors,
    );
    let receivers = &doc.receivers;
    e.gauge_by(
        "aisle_gateway_receiver_up",
        "1 while the receiver's serial port is open, 0 while it is gone.",
        "path",
        receivers
            .iter()
            .map(|r| (r.path.as_str(), i64::from(r.state == "open"))),
    );
    e.counter_by(
        "aisle_gateway_receiver_opens_total",
        "Times the receiver's serial port was opened (1 plus reopenings).",
        "path",
        receivers.iter().map(|r| (r.path.as_str(), r.opens)),
    );
    e.counter_by(
        "aisle_gateway_receiver_frames_total",
        "Frames decoded from this receiver.",
        "path",
        receivers.iter().map(|r| (r.path.as_str(), r.frames)),
    );
    e
}

/// Prometheus integer gauges are signed; no real count comes near the edge.
fn saturating_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::DecodeError;
    use std::sync::atomic::Ordering::Relaxed;

    #[test]
    fn metrics_follow_the_status_counters() {
        let stats = Stats::new(&["/dev/ttyACM0".to_string()]);
        stats.received.store(12, Relaxed);
        stats.spool_depth.store(4, Relaxed);
        stats.bad_frame(&DecodeError::Crc);
        stats.receiver(0, |r| {
            r.state = "open";
            r.opens = 1;
        });
        let id = Identity {
            store: "S1".into(),
            gateway: "gw-S1".into(),
            started: UnixMillis(1_000_000),
            spool_max_bytes: 65_536,
        };
        let text = render(&stats, &id, UnixMillis(2_000_000)).unwrap();
        for line in [
            "aisle_gateway_events_received_total 12\n",
            "aisle_gateway_spool_depth 4\n",
            "aisle_gateway_spool_max_bytes 65536\n",
            "aisle_gateway_bad_frames_total{kind=\"crc\"} 1\n",
            "aisle_gateway_bad_frames_total{kind=\"framing\"} 0\n",
            "aisle_gateway_receiver_up{path=\"/dev/ttyACM0\"} 1\n",
            "aisle_gateway_broker_connected 0\n",
            "aisle_gateway_start_time_seconds 1000\n",
        ] {
            assert!(text.contains(line), "missing {line:?} in\n{text}");
        }
    }
}
