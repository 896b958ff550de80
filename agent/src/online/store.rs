//! Online behaviours in the HQ event store (the `online_events` table of
//! agent/src/event_store/sqlite/schema.sql): storing imported steps once by their content,
//! and reading them into the funnel engine as (channel, user, SKU) journeys,
//! streamed off the `online_by_journey` index like garments.

use super::event::OnlineEvent;
use crate::event_store::{DbError, EventFilter};
use crate::funnel::engine::{FunnelBuilder, FunnelOptions, OnlineStep};
use protocol::stage::{FunnelStage, StoreEventKind};
use protocol::time::UnixMillis;
use rusqlite::Connection;

/// Stores `events` in one transaction; returns how many were new (the rest
/// were already stored: a re-import, an overlapping export).
///
/// A Youshu order line already stored keeps the earliest time any of its
/// status lines carried, so the purchase's time does not depend on the
/// order in which files are imported.
pub fn insert(conn: &Connection, events: &[OnlineEvent]) -> Result<u64, DbError> {
    let tx = conn.unchecked_transaction()?;
    let mut fresh = 0;
    {
        let mut insert = tx.prepare_cached(
            "INSERT OR IGNORE INTO online_events
                 (id, channel, stage, user, sku, ts_ms, store, order_id, behaviour)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        )?;
        let mut earliest =
            tx.prepare_cached("UPDATE online_events SET ts_ms = ?2 WHERE id = ?1 AND ts_ms > ?2")?;
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
    Ok(fresh)
}

/// The SKU a report row knows an online code by: the catalog's GTIN for
/// the merchant's code, so it meets the stores' rows; else the code itself.
fn sku_key<'a>(opts: &'a FunnelOptions, code: &'a str) -> &'a str {
    opts.catalog.gtin_of_sku(code).unwrap_or(code)
}

/// Adds every online channel's exposures and journeys that pass `filter`.
pub fn add_to_report(
    conn: &Connection,
    filter: &EventFilter,
    opts: &FunnelOptions,
    builder: &mut FunnelBuilder<'_>,
) -> Result<(), DbError> {
    // The store of an online step is the one it is attributed to.
    let (cond, params) = crate::funnel::sqlite::filter_sql(filter);
    let ts = if crate::funnel::store::keyed_by_time(opts) {
        "ts_ms"
    } else {
        "0"
    };
    let mut exposures = conn.prepare(&format!(
        "SELECT channel, store, sku, {ts} AS x_ts, COUNT(*) FROM online_events
         INDEXED BY online_exposures
         WHERE stage = 'exposure'{cond} GROUP BY channel, sku, store, x_ts"
    ))?;
    let mut rows = exposures.query(params.as_slice())?;
    while let Some(row) = rows.next()? {
        let (channel, store, code): (String, Option<String>, String) =
            (row.get(0)?, row.get(1)?, row.get(2)?);
        let count: i64 = row.get(4)?;
        builder.add_online_exposures(
            &channel,
            store.as_deref(),
            sku_key(opts, &code),
            UnixMillis(row.get(3)?),
            u64::try_from(count).unwrap_or(0),
        );
    }
    drop(rows);
    drop(exposures);

    // Journeys opened before `--to` are read to their window's end.
    let journeys = crate::funnel::store::journey_filter(filter, opts);
    let (cond, params) = crate::funnel::sqlite::filter_sql(&journeys);

    // The WHERE clause repeats the partial index's condition so SQLite can
    // use it; the ORDER BY is the index order, so no sort step is needed.
    let mut steps = conn.prepare(&format!(
        "SELECT channel, user, sku, ts_ms, stage, store FROM online_events INDEXED BY online_by_journey
         WHERE stage <> 'exposure'{cond}
         ORDER BY channel, user, sku, ts_ms, stage, store"
    ))?;
    let mut rows = steps.query(params.as_slice())?;
    let mut current: Option<(String, String, String)> = None;
    let mut journey: Vec<OnlineStep> = Vec::new();
    while let Some(row) = rows.next()? {
        let (channel, user, code): (String, String, String) =
            (row.get(0)?, row.get(1)?, row.get(2)?);
        let same = current
            .as_ref()
            .is_some_and(|(c, u, s)| *c == channel && *u == user && *s == code);
        if !same {
            if let Some((c, _, s)) = current.take() {
                builder.add_online_journey(&c, sku_key(opts, &s), &journey);
            }
            journey.clear();
            current = Some((channel, user, code));
        }
        let stage: String = row.get(4)?;
        let kind = match stage.parse::<FunnelStage>() {
            Ok(FunnelStage::View) => StoreEventKind::ItemPickup,
            Ok(FunnelStage::TryOn) => StoreEventKind::ItemTryOn,
            Ok(FunnelStage::Purchase) => StoreEventKind::ItemPurchase,
            // The importer writes only the four stages; anything else was
            // written by another hand and is not a step.
            Ok(FunnelStage::Visit | FunnelStage::Exposure) | Err(_) => continue,
        };
        journey.push(OnlineStep {
            ts: UnixMillis(row.get(3)?),
            kind,
            store: row.get(5)?,
        });
    }
    if let Some((c, _, s)) = current {
        builder.add_online_journey(&c, sku_key(opts, &s), &journey);
    }
    Ok(())
}
