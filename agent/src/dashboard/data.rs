//! Everything the dashboard reads from the event store, in one place: the
//! funnel (always through the same report function as `aisle funnel`), the
//! stores and days there are, and the fleet.
//!
//! Pages never count anything themselves: a total is the sum of the
//! engine's per-store rows, a day is the engine run over that day.

use crate::event_store::{Credentials, EventFilter, EventStore, StoreError, Target};
use crate::funnel::report::{FunnelReport, FunnelRow};
use crate::funnel::store;
use crate::funnel::Catalog;
use crate::funnel::{Dimension, FunnelOptions};
use crate::hq::fleet::{self, GatewayState, TagAlarms, TagState};
use protocol::time::UnixMillis;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A day in milliseconds; days are UTC days until stores have time zones.
pub(super) const DAY_MS: i64 = 86_400_000;
/// The most days a trend shows: the last month of the range. Each day is a
/// pass of the engine over the range's events.
pub(super) const MAX_DAYS: i64 = 31;

/// Reports kept for repeat views. Each costs a pass over the events; the
/// morning's analysts open the same few pages, and a report stays right
/// until the collector stores another event.
const CACHED_REPORTS: usize = 32;
/// Reports larger than this are not kept (`--by sku,store` over a whole
/// chain has a million rows).
const CACHED_ROWS_MAX: usize = 50_000;

/// What a report depends on: its parameters and the store's contents.
#[derive(Debug, Clone, PartialEq, Eq)]
struct ReportKey {
    store: Option<String>,
    from: Option<UnixMillis>,
    to: Option<UnixMillis>,
    window: Duration,
    by: Vec<Dimension>,
    /// The store's change marker ([`EventStore::change_marker`]): rows are
    /// only ever added, so an unchanged marker means unchanged data.
    last_event: (i64, i64),
}

/// The event store and the catalog the dashboard serves.
pub(super) struct Source {
    pub db: Target,
    credentials: Credentials,
    pub catalog: Catalog,
    /// SKU code → product name, from the catalog.
    names: HashMap<String, String>,
    /// Recent reports, most recent last.
    cache: Mutex<Vec<(ReportKey, Arc<FunnelReport>)>>,
}

impl Source {
    pub(super) fn new(db: Target, credentials: Credentials, catalog: Catalog) -> Source {
        let mut names = HashMap::new();
        for (_, item) in catalog.items() {
            names
                .entry(item.sku.clone())
                .or_insert_with(|| item.name.clone());
        }
        Source {
            db,
            credentials,
            catalog,
            names,
            cache: Mutex::new(Vec::new()),
        }
    }

    /// Opens the store for one request; a page that cannot open it says so.
    pub(super) fn open(&self) -> Result<EventStore, StoreError> {
        EventStore::open_read_only(&self.db, &self.credentials)
    }

    /// The funnel report `aisle funnel --by BY` gives for `filter`: the
    /// report function's own result, or a copy of it kept from an earlier
    /// request while no event has been added since.
    pub(super) fn report(
        &self,
        store: &EventStore,
        filter: &EventFilter,
        window: Duration,
        by: Vec<Dimension>,
    ) -> Result<Arc<FunnelReport>, StoreError> {
        let last_event = store.change_marker()?;
        let key = ReportKey {
            store: filter.store.clone(),
            from: filter.from,
            to: filter.to,
            window,
            by: by.clone(),
            last_event,
        };
        let cached = {
            let cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
            cache
                .iter()
                .find(|(k, _)| *k == key)
                .map(|(_, r)| r.clone())
        };
        if let Some(report) = cached {
            return Ok(report);
        }
        let opts = FunnelOptions {
            window,
            by,
            catalog: self.catalog.clone(),
            ..FunnelOptions::default()
        };
        let report = Arc::new(store::report(store, filter, &opts)?);
        if report.rows.len() <= CACHED_ROWS_MAX {
            let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
            // Reports of older data can never be asked for again.
            cache.retain(|(k, _)| k.last_event == last_event);
            if cache.len() >= CACHED_REPORTS {
                cache.remove(0);
            }
            cache.push((key, report.clone()));
        }
        Ok(report)
    }

    /// The catalog's name of a SKU code, if it lists one.
    pub(super) fn name(&self, sku: &str) -> Option<&str> {
        self.names.get(sku).map(String::as_str)
    }

    /// Whether a catalog was given (`by=style` needs one, as in the CLI).
    pub(super) fn has_catalog(&self) -> bool {
        !self.names.is_empty()
    }

    /// Whether the catalog names any style, so a Styles view says something.
    pub(super) fn has_styles(&self) -> bool {
        self.catalog.items().any(|(_, item)| !item.style.is_empty())
    }
}

/// Every store with events or exposures, in order.
pub(super) fn stores(store: &EventStore) -> Result<Vec<String>, StoreError> {
    store.stores()
}

/// The UTC days the trend covers: from `filter`'s range, else the span of
/// the events; at most the last [`MAX_DAYS`].
pub(super) fn days(store: &EventStore, filter: &EventFilter) -> Result<Vec<i64>, StoreError> {
    let (from, to) = (filter.from.map(|t| t.0), filter.to.map(|t| t.0));
    let (first, last) = match (from, to) {
        (Some(from), Some(to)) => (from, to - 1),
        _ => {
            let Some((min, max)) = store.event_span()? else {
                return Ok(Vec::new());
            };
            (
                from.unwrap_or(min).max(min),
                to.map_or(max, |to| (to - 1).min(max)),
            )
        }
    };
    if last < first {
        return Ok(Vec::new());
    }
    let first_day = first
        .div_euclid(DAY_MS)
        .max(last.div_euclid(DAY_MS) - MAX_DAYS + 1);
    let last_day = last.div_euclid(DAY_MS);
    Ok((first_day..=last_day).map(|d| d * DAY_MS).collect())
}

/// `filter` narrowed to the UTC day starting at `day_ms`.
pub(super) fn day_filter(filter: &EventFilter, day_ms: i64) -> EventFilter {
    EventFilter {
        store: filter.store.clone(),
        from: Some(UnixMillis(day_ms).max(filter.from.unwrap_or(UnixMillis(day_ms)))),
        to: Some(UnixMillis(day_ms + DAY_MS).min(filter.to.unwrap_or(UnixMillis(day_ms + DAY_MS)))),
    }
}

/// The sum of the counts of `rows` (medians do not add up and stay empty).
pub(super) fn total<'a>(rows: impl IntoIterator<Item = &'a FunnelRow>) -> FunnelRow {
    let mut sum = FunnelRow::default();
    for row in rows {
        sum.exposures += row.exposures;
        sum.pickups += row.pickups;
        sum.try_ons += row.try_ons;
        sum.purchases += row.purchases;
        sum.journeys += row.journeys;
        sum.journeys_try_on += row.journeys_try_on;
        sum.journeys_purchase += row.journeys_purchase;
    }
    sum
}

/// The fleet as the dashboard shows it.
pub(super) struct Fleet {
    pub gateways: Vec<GatewayState>,
    pub tags_known: u64,
    pub tags: Vec<TagState>,
}

pub(super) fn fleet(store: &EventStore, alarms: TagAlarms) -> Result<Fleet, StoreError> {
    let gateways = fleet::gateways(store)?;
    let (tags_known, tags) = fleet::tags_needing_attention(store, alarms)?;
    Ok(Fleet {
        gateways,
        tags_known,
        tags,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event_store::Received;
    use crate::hq::validate::validate;
    use protocol::topics::{Topic, TopicKind};

    fn ingest(store: &mut EventStore, id: &str) {
        let topic = &Topic::new("S1", TopicKind::Events).to_string();
        let payload =
            serde_json::json!({"schema": "aisle.batch.v1", "store": "S1", "gateway": "gw",
            "batch_id": id, "created_at": "2026-11-20T10:00:00Z", "events": [
            {"id": id, "ts": "2026-11-20T10:00:00Z", "event": "item_pickup", "stage": "view",
             "tag": 1, "gtin": "80614141123458", "serial": id}]})
            .to_string();
        let verdict = validate(topic, payload.as_bytes());
        store
            .ingest(
                &[Received {
                    topic,
                    payload: payload.as_bytes(),
                    verdict: &verdict,
                }],
                0,
            )
            .unwrap();
    }

    #[test]
    fn a_report_is_reused_only_until_another_event_is_stored() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hq.db");
        let target = Target::Sqlite(path);
        let mut writer = EventStore::open(&target, &Credentials::default()).unwrap();
        ingest(&mut writer, "e1");
        let src = Source::new(target, Credentials::default(), Catalog::default());
        let reader = src.open().unwrap();
        let filter = EventFilter::default();
        let first = src
            .report(
                &reader,
                &filter,
                Duration::from_secs(3600),
                vec![Dimension::Sku],
            )
            .unwrap();
        let again = src
            .report(
                &reader,
                &filter,
                Duration::from_secs(3600),
                vec![Dimension::Sku],
            )
            .unwrap();
        assert!(Arc::ptr_eq(&first, &again));
        let other_window = src
            .report(
                &reader,
                &filter,
                Duration::from_secs(60),
                vec![Dimension::Sku],
            )
            .unwrap();
        assert!(!Arc::ptr_eq(&first, &other_window));
        ingest(&mut writer, "e2");
        let fresh = src
            .report(
                &reader,
                &filter,
                Duration::from_secs(3600),
                vec![Dimension::Sku],
            )
            .unwrap();
        assert_eq!((first.rows[0].pickups, fresh.rows[0].pickups), (1, 2));
    }
}
