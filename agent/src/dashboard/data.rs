//! Everything the dashboard reads from the event store, in one place: the
//! funnel (always through the same report function as `aisle funnel`), the
//! stores and days there are, and the fleet.
//!
//! Pages never count anything themselves: a figure is a row of the
//! engine's report, and a day is a row keyed by the engine's `day`.

use super::cache::{ReportCache, ReportKey};
use super::prewarm::PrewarmStatus;
use super::query::{Query, STORE_CHANNEL};
use crate::event_store::{Credentials, EventFilter, EventStore, StoreError, Target};
use crate::funnel::directory::StoreInfo;
use crate::funnel::report::{FunnelReport, FunnelRow};
use crate::funnel::store;
use crate::funnel::Catalog;
use crate::funnel::StoreDirectory;
use crate::funnel::{Dimension, FunnelOptions};
use crate::hq::fleet::{self, GatewayState, TagAlarms, TagState};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The most days a trend shows: the last month of the range.
pub(super) const MAX_DAYS: usize = 31;

/// The event store and the catalog the dashboard serves.
pub(super) struct Source {
    pub db: Target,
    credentials: Credentials,
    pub catalog: Catalog,
    /// The store directory (`--stores`): regions, cities, brands, time zones.
    pub stores: StoreDirectory,
    /// SKU code → product name, from the catalog.
    names: HashMap<String, String>,
    /// Recent reports, computed once each however many ask at once.
    pub cache: ReportCache,
    /// What the background prewarm of the default views is doing.
    pub prewarm: PrewarmStatus,
    /// The stores and channels the menus list, kept while no event is
    /// added: listing a chain's stores reads a whole column, about a
    /// second over 100 M events on ClickHouse, and every page has the menu.
    menus: Mutex<Option<Menus>>,
}

/// What the filter menus list, as of the store's change marker.
#[derive(Clone)]
struct Menus {
    marker: (i64, i64),
    stores: Arc<Vec<String>>,
    channels: Arc<Vec<String>>,
}

impl Source {
    pub(super) fn new(
        db: Target,
        credentials: Credentials,
        catalog: Catalog,
        stores: StoreDirectory,
    ) -> Source {
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
            stores,
            names,
            cache: ReportCache::default(),
            prewarm: PrewarmStatus::default(),
            menus: Mutex::new(None),
        }
    }

    /// The stores and channels there are: read again only when the store
    /// has changed since they were last read.
    fn menus(&self, store: &EventStore) -> Result<Menus, StoreError> {
        let marker = store.change_marker()?;
        let kept = self.menus.lock().unwrap_or_else(|e| e.into_inner()).clone();
        if let Some(menus) = kept.filter(|m| m.marker == marker) {
            return Ok(menus);
        }
        let mut channels = vec![STORE_CHANNEL.to_string()];
        channels.extend(
            store
                .online_channels()?
                .into_iter()
                .filter(|c| c != STORE_CHANNEL),
        );
        let menus = Menus {
            marker,
            stores: Arc::new(store.stores()?),
            channels: Arc::new(channels),
        };
        *self.menus.lock().unwrap_or_else(|e| e.into_inner()) = Some(menus.clone());
        Ok(menus)
    }

    /// Whether menus are kept (for tests).
    #[cfg(test)]
    pub(super) fn menus_kept(&self) -> bool {
        self.menus
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .is_some()
    }

    /// The channels a page can be filtered by: `store` (what the tags saw)
    /// and every online channel imported into the store, in order.
    pub(super) fn channels(&self, store: &EventStore) -> Result<Arc<Vec<String>>, StoreError> {
        Ok(self.menus(store)?.channels)
    }

    /// Opens the store for one request; a page that cannot open it says so.
    pub(super) fn open(&self) -> Result<EventStore, StoreError> {
        EventStore::open_read_only(&self.db, &self.credentials)
    }

    /// The funnel report `aisle funnel --by BY` gives for `filter`: the
    /// report function's own result, or a copy of it kept from an earlier
    /// request while no event has been added since, or the one another
    /// request is computing right now.
    pub(super) fn report(
        &self,
        store: &EventStore,
        filter: &EventFilter,
        window: Duration,
        by: Vec<Dimension>,
    ) -> Result<Arc<FunnelReport>, StoreError> {
        let key = ReportKey {
            filter: filter.clone(),
            window,
            by: by.clone(),
            last_event: store.change_marker()?,
        };
        let opts = FunnelOptions {
            window,
            by,
            catalog: self.catalog.clone(),
            stores: self.stores.clone(),
        };
        self.cache
            .get_or_compute(key, || store::report(store, filter, &opts))
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

/// What the filter form offers: the stores with events (only those of the
/// chosen region and brand, when one is chosen), the channels, and the
/// store directory's regions and brands.
pub(super) struct Choices {
    pub stores: Vec<String>,
    pub channels: Vec<String>,
    pub regions: Vec<String>,
    pub brands: Vec<String>,
}

impl Source {
    /// The form's choices for a query already resolved (`Query::resolve`):
    /// a store outside the chosen region or brand is no choice, but the
    /// store the query names stays listed, so the form shows what the page
    /// is filtered by.
    pub(super) fn choices(&self, store: &EventStore, q: &Query) -> Result<Choices, StoreError> {
        let distinct = |field: fn(&StoreInfo) -> &Option<String>| {
            let mut values: Vec<String> = self
                .stores
                .iter()
                .filter_map(|(_, info)| field(info).clone())
                .collect();
            values.sort();
            values.dedup();
            values
        };
        let menus = self.menus(store)?;
        let mut stores = menus.stores.as_ref().clone();
        if let Some(chosen) = &q.stores {
            stores.retain(|s| chosen.contains(s) || q.store.as_ref() == Some(s));
        }
        Ok(Choices {
            stores,
            channels: menus.channels.as_ref().clone(),
            regions: distinct(|info| &info.region),
            brands: distinct(|info| &info.brand),
        })
    }
}

impl Source {
    /// The rows of `aisle funnel --by BY` for the query's filters; with an
    /// online `channel=`, the rows of `--by BY,channel` of that channel,
    /// without the channel column (`store` is what `--by BY` already shows).
    pub(super) fn rows(
        &self,
        store: &EventStore,
        q: &Query,
        by: Vec<Dimension>,
    ) -> Result<Vec<FunnelRow>, StoreError> {
        let channel = q.channel.as_deref().filter(|c| *c != STORE_CHANNEL);
        let Some(channel) = channel else {
            return Ok(self
                .report(store, &q.filter(), q.window(), by)?
                .rows
                .clone());
        };
        let appended = !by.contains(&Dimension::Channel);
        let mut keyed = by;
        if appended {
            keyed.push(Dimension::Channel);
        }
        let at = keyed
            .iter()
            .position(|d| *d == Dimension::Channel)
            .unwrap_or_default();
        let report = self.report(store, &q.filter(), q.window(), keyed)?;
        Ok(report
            .rows
            .iter()
            .filter(|r| r.dims[at].as_deref() == Some(channel))
            .map(|r| {
                let mut row = r.clone();
                if appended {
                    row.dims.remove(at);
                }
                row
            })
            .collect())
    }
}

/// The sum of the counts and visits of `rows` (medians do not add up and
/// stay empty).
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
        if let Some(visits) = row.visits {
            sum.visits = Some(sum.visits.unwrap_or(0) + visits);
        }
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
        ingest_into(store, "S1", id);
    }

    fn ingest_into(store: &mut EventStore, shop: &str, id: &str) {
        let topic = &Topic::new(shop, TopicKind::Events).to_string();
        let payload =
            serde_json::json!({"schema": "aisle.batch.v1", "store": shop, "gateway": "gw",
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

    /// A source over `target` with no catalog and no store directory.
    fn plain_source(target: Target) -> Source {
        Source::new(
            target,
            Credentials::default(),
            Catalog::default(),
            StoreDirectory::default(),
        )
    }

    #[test]
    fn a_report_is_reused_only_until_another_event_is_stored() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hq.db");
        let target = Target::Sqlite(path);
        let mut writer = EventStore::open(&target, &Credentials::default()).unwrap();
        ingest(&mut writer, "e1");
        let src = plain_source(target);
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

    #[test]
    fn the_menus_are_reused_only_until_another_event_is_stored() {
        let dir = tempfile::tempdir().unwrap();
        let target = Target::Sqlite(dir.path().join("hq.db"));
        let mut writer = EventStore::open(&target, &Credentials::default()).unwrap();
        ingest(&mut writer, "e1");
        let src = plain_source(target);
        let reader = src.open().unwrap();
        let first = src.menus(&reader).unwrap();
        assert_eq!(*first.stores, ["S1"]);
        assert_eq!(*first.channels, [STORE_CHANNEL]);
        assert!(Arc::ptr_eq(
            &first.stores,
            &src.menus(&reader).unwrap().stores
        ));
        ingest_into(&mut writer, "S2", "e2");
        let fresh = src.menus(&reader).unwrap();
        assert_eq!(*fresh.stores, ["S1", "S2"]);
    }
}
