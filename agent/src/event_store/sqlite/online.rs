//! Online steps and the export's rows in SQLite: steps are keyed by their
//! content id (`INSERT OR IGNORE`), and every read walks an index in the
//! order [`super::super::online`] promises, so nothing is sorted.

use super::super::online::{
    ExposureRow, ItemEventRow, OnlineExposures, OnlineStepRow, OnlineSteps,
};
use super::super::EventFilter;
use super::filter::{dwell_filter_sql, filter_sql, online_filter_sql};
use super::{DbError, SqliteStore, ITEM_EVENTS};
use crate::online::event::OnlineEvent;

impl SqliteStore {
    /// Stores `events` in one transaction; returns how many were new.
    ///
    /// A Youshu order line already stored keeps the earliest time any of
    /// its status lines carried, so the purchase's time does not depend on
    /// the order in which files are imported.
    pub fn insert_online(&mut self, events: &[OnlineEvent]) -> Result<u64, DbError> {
        let tx = self.connection_mut().transaction()?;
        let mut fresh = 0;
        {
            let mut insert = tx.prepare_cached(
                "INSERT OR IGNORE INTO online_events
                     (id, channel, stage, user, sku, ts_ms, store, order_id, behaviour)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            )?;
            let mut earliest = tx.prepare_cached(
                "UPDATE online_events SET ts_ms = ?2 WHERE id = ?1 AND ts_ms > ?2",
            )?;
            for e in events {
                let id = e.id();
                let new = insert.execute(rusqlite::params![
                    id,
                    e.channel,
                    e.stage.as_str(),
                    e.user,
                    e.sku,
                    e.ts_ms,
                    e.store,
                    e.order,
                    e.behaviour
                ])? as u64;
                if new == 0 && e.once_per_order {
                    earliest.execute(rusqlite::params![id, e.ts_ms])?;
                }
                fresh += new;
            }
        }
        tx.commit()?;
        self.committed();
        Ok(fresh)
    }

    /// The dwells' exposures: each dwell's GTINs (`events.gtins`), dwells
    /// in (store, id) order.
    pub fn exposure_rows(
        &self,
        filter: &EventFilter,
        each: &mut dyn FnMut(ExposureRow),
    ) -> Result<(), DbError> {
        let (cond, params) = dwell_filter_sql(filter);
        let mut dwells = self.connection().prepare(&format!(
            "SELECT store, id, ts_ms, gtins FROM events
             WHERE event = 'fixture_dwell' AND gtins IS NOT NULL{cond}
             ORDER BY store, id"
        ))?;
        let mut rows = dwells.query(params.as_slice())?;
        while let Some(row) = rows.next()? {
            let (store, event_id, ts_ms): (String, String, i64) =
                (row.get(0)?, row.get(1)?, row.get(2)?);
            let list: String = row.get(3)?;
            let mut gtins = super::exposures::parse(&list);
            gtins.sort_unstable();
            gtins.dedup();
            for gtin in gtins {
                if !super::exposures::wanted(filter, &gtin) {
                    continue;
                }
                each(ExposureRow {
                    store: store.clone(),
                    event_id: event_id.clone(),
                    ts_ms,
                    gtin: gtin.into_owned(),
                });
            }
        }
        Ok(())
    }

    /// Garment by garment in the text order of their keys, as ClickHouse
    /// gives them (the funnel's `garment_steps` orders numbers first, so it
    /// cannot serve): SQLite's sorter spills to temporary files, so memory
    /// stays bounded however many events there are.
    pub fn item_event_rows(
        &self,
        filter: &EventFilter,
        each: &mut dyn FnMut(ItemEventRow),
    ) -> Result<(), DbError> {
        let (cond, params) = filter_sql(filter);
        let mut items = self.connection().prepare(&format!(
            "SELECT store, gtin, serial, ts_ms, event, id FROM events
             WHERE {ITEM_EVENTS}{cond}
             ORDER BY store, gtin, serial, ts_ms, event, fixture, id"
        ))?;
        let mut rows = items.query(params.as_slice())?;
        while let Some(row) = rows.next()? {
            let (gtin, serial): (Option<String>, Option<String>) = (row.get(1)?, row.get(2)?);
            // The collector stores item events only with both; a row
            // without them was written by another hand and names no garment.
            let (Some(gtin), Some(serial)) = (gtin, serial) else {
                continue;
            };
            each(ItemEventRow {
                store: row.get(0)?,
                gtin,
                serial,
                ts_ms: row.get(3)?,
                event: row.get(4)?,
                id: row.get(5)?,
            });
        }
        Ok(())
    }
}

impl OnlineSteps for SqliteStore {
    type Error = DbError;

    fn online_exposures(
        &self,
        filter: &EventFilter,
        by_time: bool,
        each: &mut dyn FnMut(OnlineExposures),
    ) -> Result<(), DbError> {
        let (cond, params) = online_filter_sql(filter);
        let ts = if by_time { "ts_ms" } else { "0" };
        let mut exposures = self.connection().prepare(&format!(
            "SELECT channel, store, sku, {ts} AS x_ts, COUNT(*) FROM online_events
             INDEXED BY online_exposures
             WHERE stage = 'exposure'{cond} GROUP BY channel, sku, store, x_ts"
        ))?;
        let mut rows = exposures.query(params.as_slice())?;
        while let Some(row) = rows.next()? {
            let count: i64 = row.get(4)?;
            each(OnlineExposures {
                channel: row.get(0)?,
                store: row.get(1)?,
                sku: row.get(2)?,
                ts_ms: row.get(3)?,
                count: u64::try_from(count).unwrap_or(0),
            });
        }
        Ok(())
    }

    fn online_steps(
        &self,
        filter: &EventFilter,
        each: &mut dyn FnMut(OnlineStepRow),
    ) -> Result<(), DbError> {
        // The WHERE clause repeats the partial index's condition so SQLite
        // can use it; the ORDER BY is the index order, so no sort step.
        let (cond, params) = online_filter_sql(filter);
        let mut steps = self.connection().prepare(&format!(
            "SELECT channel, user, sku, ts_ms, stage, store
             FROM online_events INDEXED BY online_by_journey
             WHERE stage <> 'exposure'{cond}
             ORDER BY channel, user, sku, ts_ms, stage, store"
        ))?;
        let mut rows = steps.query(params.as_slice())?;
        while let Some(row) = rows.next()? {
            each(OnlineStepRow {
                channel: row.get(0)?,
                user: row.get(1)?,
                sku: row.get(2)?,
                ts_ms: row.get(3)?,
                stage: row.get(4)?,
                store: row.get(5)?,
            });
        }
        Ok(())
    }
}
