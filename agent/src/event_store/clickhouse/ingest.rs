//! Writing received batches to ClickHouse: each table's rows encoded as
//! `RowBinary` and sent in one insert per table.

use super::row_binary::RowWriter;
use super::{ClickHouseError, ClickHouseStore};
use crate::event_store::{IngestCounts, Received};
use crate::hq::validate::{topic_store, Verdict};
use protocol::stage::StoreEventKind;

const EVENT_COLUMNS: &str = "id, store, ts_ms, event, stage, tag, epc, gtin, serial, fixture, \
    zone, duration_ms, gateway, batch_id, received_ms, count";
const EXPOSURE_COLUMNS: &str = "store, gtin, event_id, fixture, ts_ms";
pub(super) const QUARANTINE_COLUMNS: &str =
    "received_ms, topic, store, batch_id, event_index, reason, payload";

impl ClickHouseStore {
    /// Writes `payloads`: every good event (repeats too: they are dropped
    /// when read), the exposures of its dwells, and quarantine rows. Returns
    /// once ClickHouse has accepted every row; a failure part-way leaves
    /// rows that a retry writes again, which reads ignore.
    pub fn ingest(
        &mut self,
        payloads: &[Received<'_>],
        received_ms: i64,
    ) -> Result<IngestCounts, ClickHouseError> {
        let mut counts = IngestCounts::default();
        let (mut events, mut exposures, mut quarantine) = (
            RowWriter::default(),
            RowWriter::default(),
            RowWriter::default(),
        );
        for received in payloads {
            let batch = match received.verdict {
                Verdict::Rejected { reason } => {
                    quarantine.i64(received_ms);
                    quarantine.string(received.topic);
                    quarantine.nullable_string(topic_store(received.topic));
                    quarantine.nullable_string(None);
                    quarantine.nullable_u32(None);
                    quarantine.string(reason);
                    quarantine.bytes(received.payload);
                    counts.quarantined_batches += 1;
                    continue;
                }
                Verdict::Accepted(batch) => batch,
            };
            for bad in &batch.bad_events {
                quarantine.i64(received_ms);
                quarantine.string(received.topic);
                quarantine.nullable_string(Some(&batch.store));
                quarantine.nullable_string(Some(&batch.batch_id));
                quarantine.nullable_u32(Some(u32::try_from(bad.index).unwrap_or(u32::MAX)));
                quarantine.string(&bad.reason);
                quarantine.bytes(bad.raw.as_bytes());
                counts.quarantined_events += 1;
            }
            for event in &batch.events {
                events.string(&event.id);
                events.string(&batch.store);
                events.i64(event.ts.0);
                events.string(event.event.as_str());
                events.string(event.stage.as_str());
                events.u32(event.tag);
                events.nullable_string(event.epc.as_deref());
                events.string(event.gtin.as_deref().unwrap_or(""));
                events.string(event.serial.as_deref().unwrap_or(""));
                events.nullable_string(event.fixture.as_deref());
                events.nullable_string(event.zone.as_deref());
                events.nullable_i64(
                    event
                        .duration_ms
                        .map(|d| i64::try_from(d).unwrap_or(i64::MAX)),
                );
                events.string(&batch.gateway);
                events.string(&batch.batch_id);
                events.i64(received_ms);
                events.nullable_u32(event.count);
                counts.inserted += 1;
                if event.event == StoreEventKind::FixtureDwell {
                    for gtin in event.gtins.iter().flatten() {
                        exposures.string(&batch.store);
                        exposures.string(gtin);
                        exposures.string(&event.id);
                        exposures.nullable_string(event.fixture.as_deref());
                        exposures.i64(event.ts.0);
                    }
                }
            }
        }
        let db = &self.target.database;
        for (table, columns, rows) in [
            ("quarantine", QUARANTINE_COLUMNS, &quarantine),
            ("exposures", EXPOSURE_COLUMNS, &exposures),
            ("events", EVENT_COLUMNS, &events),
        ] {
            if !rows.buf.is_empty() {
                self.http.insert(
                    &format!("INSERT INTO {db}.{table} ({columns}) FORMAT RowBinary"),
                    &rows.buf,
                )?;
            }
        }
        Ok(counts)
    }
}
