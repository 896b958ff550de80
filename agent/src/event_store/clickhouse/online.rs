//! Online steps and the export's rows in ClickHouse.
//!
//! `online_events` is a `ReplacingMergeTree` keyed by the step's content id
//! (agent/src/online/event.rs) whose version column, `keep`, is larger the
//! earlier the step: a step imported twice is two rows until a background
//! merge keeps one, and for a Youshu order line the one kept is the one
//! with the earliest time. Reads never wait for that merge: they group by
//! id and take the row with the largest `keep`, which is the row the merge
//! will keep, so a report is the same before and after. docs/hq.md says
//! why this and not ClickHouse's insert de-duplication.

use super::super::online::{
    ExposureRow, ItemEventRow, OnlineExposures, OnlineStepRow, OnlineSteps,
};
use super::super::EventFilter;
use super::row_binary::RowWriter;
use super::{filter_sql, ClickHouseError, ClickHouseStore};
use crate::online::event::OnlineEvent;
use std::collections::HashSet;

/// Ids asked about per look-up: each is ~45 bytes of SQL, and a query
/// must stay under ClickHouse's `max_query_size` (256 KiB by default).
const IDS_PER_LOOKUP: usize = 2_000;

/// The statement that creates the table; `open` runs it with the others.
/// `store` and `order_id` are '' when the step names none (a step's store
/// is never empty: the importer takes only non-empty text).
pub(super) fn schema(db: &str) -> String {
    format!(
        "CREATE TABLE IF NOT EXISTS {db}.online_events (
            id FixedString(16), channel String, stage String, user String, sku String,
            ts_ms Int64, store String, order_id String, behaviour String, keep UInt64
         ) ENGINE = ReplacingMergeTree(keep) ORDER BY id"
    )
}

const ONLINE_COLUMNS: &str =
    "id, channel, stage, user, sku, ts_ms, store, order_id, behaviour, keep";

/// The version of a step's row: larger for earlier times, so the row kept
/// of an order line's status lines is its earliest.
fn keep(ts_ms: i64) -> u64 {
    // i64::MAX - ts lies in 0..=u64::MAX for every i64 ts.
    (i128::from(i64::MAX) - i128::from(ts_ms)) as u64
}

/// Each stored step once, as the row the background merge keeps, under
/// the column names the filter uses.
fn deduplicated(db: &str) -> String {
    format!(
        "(SELECT r.1 AS channel, r.2 AS user, r.3 AS sku, r.4 AS ts_ms, r.5 AS stage,
                 r.6 AS store
          FROM (SELECT argMax((channel, user, sku, ts_ms, stage, store), keep) AS r
                FROM {db}.online_events GROUP BY id))"
    )
}

/// '' is how the table says "none".
fn none_if_empty(s: String) -> Option<String> {
    (!s.is_empty()).then_some(s)
}

impl ClickHouseStore {
    /// Whether the database has `online_events`: one written before online
    /// channels were kept here has none, and then has no online steps.
    fn has_online_events(&self) -> Result<bool, ClickHouseError> {
        Ok(self.tables()?.iter().any(|t| t == "online_events"))
    }

    /// Which of `ids` are stored already.
    fn stored_online_ids(&self, ids: &[[u8; 16]]) -> Result<HashSet<[u8; 16]>, ClickHouseError> {
        let db = self.database();
        let mut stored = HashSet::new();
        for chunk in ids.chunks(IDS_PER_LOOKUP) {
            let list: Vec<String> = chunk
                .iter()
                .map(|id| format!("unhex('{}')", hex(id)))
                .collect();
            let answer = self.http.query(&format!(
                "SELECT DISTINCT hex(id) FROM {db}.online_events WHERE id IN ({})
                 FORMAT TabSeparated",
                list.join(",")
            ))?;
            for line in answer.lines() {
                if let Some(id) = unhex16(line) {
                    stored.insert(id);
                }
            }
        }
        Ok(stored)
    }

    /// Writes `events` (repeats too: reads and merges keep one) and returns
    /// how many were new. New is counted by looking the ids up first, so
    /// two imports of the same file at the same moment may both count a
    /// step as new; either way it is stored, and read, once.
    pub fn insert_online(&mut self, events: &[OnlineEvent]) -> Result<u64, ClickHouseError> {
        if events.is_empty() {
            return Ok(0);
        }
        let ids: Vec<[u8; 16]> = events.iter().map(OnlineEvent::id).collect();
        let mut seen = self.stored_online_ids(&ids)?;
        let mut fresh = 0;
        let mut rows = RowWriter::default();
        for (e, id) in events.iter().zip(&ids) {
            if seen.insert(*id) {
                fresh += 1;
            }
            rows.buf.extend_from_slice(id);
            rows.string(&e.channel);
            rows.string(e.stage.as_str());
            rows.string(&e.user);
            rows.string(&e.sku);
            rows.i64(e.ts_ms);
            rows.string(e.store.as_deref().unwrap_or(""));
            rows.string(e.order.as_deref().unwrap_or(""));
            rows.string(&e.behaviour);
            rows.buf.extend_from_slice(&keep(e.ts_ms).to_le_bytes());
        }
        self.http.insert(
            &format!(
                "INSERT INTO {}.online_events ({ONLINE_COLUMNS}) FORMAT RowBinary",
                self.database()
            ),
            &rows.buf,
        )?;
        Ok(fresh)
    }

    /// The dwells' exposures, each stored pair once.
    pub fn exposure_rows(
        &self,
        filter: &EventFilter,
        each: &mut dyn FnMut(ExposureRow),
    ) -> Result<(), ClickHouseError> {
        let sql = format!(
            "SELECT DISTINCT store, event_id, ts_ms, gtin FROM {}.exposures WHERE 1{}
             ORDER BY store, event_id, gtin FORMAT RowBinary",
            self.database(),
            filter_sql(filter)
        );
        self.read_rows(
            &sql,
            |r| {
                Ok(ExposureRow {
                    store: r.string()?,
                    event_id: r.string()?,
                    ts_ms: r.i64()?,
                    gtin: r.string()?,
                })
            },
            each,
        )
    }

    /// The item events, each stored event once, in SQLite's index order
    /// (a missing fixture first) with the id to break ties.
    pub fn item_event_rows(
        &self,
        filter: &EventFilter,
        each: &mut dyn FnMut(ItemEventRow),
    ) -> Result<(), ClickHouseError> {
        let sql = format!(
            "SELECT store, gtin, serial, ts_ms, event, id FROM
               (SELECT DISTINCT store, gtin, serial, ts_ms, event, fixture, id
                FROM {}.events WHERE event NOT IN ('fixture_dwell', 'store_visits'){})
             ORDER BY store, gtin, serial, ts_ms, event, fixture NULLS FIRST, id
             FORMAT RowBinary",
            self.database(),
            filter_sql(filter)
        );
        self.read_rows(
            &sql,
            |r| {
                Ok(ItemEventRow {
                    store: r.string()?,
                    gtin: r.string()?,
                    serial: r.string()?,
                    ts_ms: r.i64()?,
                    event: r.string()?,
                    id: r.string()?,
                })
            },
            each,
        )
    }
}

impl OnlineSteps for ClickHouseStore {
    type Error = ClickHouseError;

    fn online_exposures(
        &self,
        filter: &EventFilter,
        by_time: bool,
        each: &mut dyn FnMut(OnlineExposures),
    ) -> Result<(), ClickHouseError> {
        if !self.has_online_events()? {
            return Ok(());
        }
        let ts = if by_time { "ts_ms" } else { "toInt64(0)" };
        let sql = format!(
            "SELECT channel, store, sku, {ts} AS x_ts, count() FROM {}
             WHERE stage = 'exposure'{} GROUP BY channel, sku, store, x_ts FORMAT RowBinary",
            deduplicated(self.database()),
            filter_sql(filter)
        );
        self.read_rows(
            &sql,
            |r| {
                Ok(OnlineExposures {
                    channel: r.string()?,
                    store: none_if_empty(r.string()?),
                    sku: r.string()?,
                    ts_ms: r.i64()?,
                    count: r.u64()?,
                })
            },
            each,
        )
    }

    fn online_steps(
        &self,
        filter: &EventFilter,
        each: &mut dyn FnMut(OnlineStepRow),
    ) -> Result<(), ClickHouseError> {
        if !self.has_online_events()? {
            return Ok(());
        }
        // '' sorts before any store, as SQLite sorts NULL.
        let sql = format!(
            "SELECT channel, user, sku, ts_ms, stage, store FROM {}
             WHERE stage != 'exposure'{}
             ORDER BY channel, user, sku, ts_ms, stage, store FORMAT RowBinary",
            deduplicated(self.database()),
            filter_sql(filter)
        );
        self.read_rows(
            &sql,
            |r| {
                Ok(OnlineStepRow {
                    channel: r.string()?,
                    user: r.string()?,
                    sku: r.string()?,
                    ts_ms: r.i64()?,
                    stage: r.string()?,
                    store: none_if_empty(r.string()?),
                })
            },
            each,
        )
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02X}")).collect()
}

fn unhex16(text: &str) -> Option<[u8; 16]> {
    let text = text.trim();
    if text.len() != 32 {
        return None;
    }
    let mut out = [0; 16];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(text.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}
