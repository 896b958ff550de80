//! The funnel report over the event store, whichever backend holds it.
//!
//! ```no_run
//! # fn main() -> anyhow::Result<()> {
//! use aisle_agent::event_store::{Credentials, EventFilter, EventStore, Target};
//! use aisle_agent::funnel::{store, FunnelOptions};
//!
//! let target = Target::parse("clickhouse://127.0.0.1:8123/aisle")?; // or "hq.db"
//! let events = EventStore::open_read_only(&target, &Credentials::default())?;
//! let report = store::report(&events, &EventFilter::default(), &FunnelOptions::default())?;
//! print!("{}", report.render_table());
//! # Ok(())
//! # }
//! ```
//!
//! [`report`] is the one entry point: each backend does the heavy lifting it
//! is good at (filtering by store and time, dropping repeated event ids,
//! grouping each garment's events in time order, counting exposures) and
//! streams garments to the funnel engine ([`super::engine::FunnelBuilder`]),
//! which holds the journey rules. Memory is bounded by the report's rows,
//! not by the events, and the report is the same whatever the backend.
//!
//! What a backend supplies is [`FunnelSource`]; how a report is assembled
//! from it, in which order and over which events, is [`assemble`], once.

use super::dimension::Dimension;
use super::engine::{FunnelBuilder, FunnelOptions};
use super::report::FunnelReport;
use crate::event_store::online::OnlineSteps;
use crate::event_store::{EventStore, StoreError};

pub use crate::event_store::EventFilter;

/// The funnel report over the events in `store` that pass `filter`.
pub fn report(
    store: &EventStore,
    filter: &EventFilter,
    opts: &FunnelOptions,
) -> Result<FunnelReport, StoreError> {
    Ok(match store {
        EventStore::Sqlite(db) => assemble(db, filter, opts)?,
        EventStore::ClickHouse(ch) => assemble(ch, filter, opts)?,
    })
}

/// What an event store supplies to a funnel report: each part is fed to
/// the builder, in whatever order and grouping the backend reads fastest,
/// within the promises below. Online steps come from [`OnlineSteps`].
pub trait FunnelSource: OnlineSteps {
    /// Feeds the builder every exposure count that passes `filter`, per
    /// store and GTIN (and fixture, zone and instant when the report is
    /// keyed by them), each dwell counted once however often it was stored.
    fn add_exposures(
        &self,
        filter: &EventFilter,
        opts: &FunnelOptions,
        builder: &mut FunnelBuilder<'_>,
    ) -> Result<(), Self::Error>;

    /// Feeds the builder every dwell (when the report shows dwells) and
    /// door count (when it shows visits) that passes `filter`, each event
    /// once.
    fn add_dwells_and_visits(
        &self,
        filter: &EventFilter,
        opts: &FunnelOptions,
        builder: &mut FunnelBuilder<'_>,
    ) -> Result<(), Self::Error>;

    /// Feeds the builder every garment with item events that pass
    /// `journeys`, each garment once and whole, its events in time order
    /// and each event once.
    fn add_garments(
        &self,
        journeys: &EventFilter,
        opts: &FunnelOptions,
        builder: &mut FunnelBuilder<'_>,
    ) -> Result<(), Self::Error>;
}

/// The funnel report over the events in `source` that pass `filter`: the
/// one definition of what a report reads, whichever backend supplies it.
pub fn assemble<S: FunnelSource>(
    source: &S,
    filter: &EventFilter,
    opts: &FunnelOptions,
) -> Result<FunnelReport, S::Error> {
    let mut builder = FunnelBuilder::until(opts, filter.to);
    // No store or no item selects nothing (and SQLite finds no plan for an
    // index read under `IN ()`).
    if [&filter.stores, &filter.gtins]
        .iter()
        .any(|set| set.as_ref().is_some_and(Vec::is_empty))
    {
        return Ok(builder.finish());
    }
    source.add_exposures(filter, opts, &mut builder)?;
    // Dwells and door counts are of no item: a report of some items has none.
    if (opts.shows_dwells() || opts.shows_visits()) && filter.gtins.is_none() {
        source.add_dwells_and_visits(filter, opts, &mut builder)?;
    }
    // Online channels report only beside the stores' own channel.
    if opts.by.contains(&Dimension::Channel) {
        crate::online::store::add_to_report(source, filter, opts, &mut builder)?;
    }
    // Journeys opened before `--to` are read to their window's end; only
    // what is before `--to` counts.
    source.add_garments(&journey_filter(filter, opts), opts, &mut builder)?;
    Ok(builder.finish())
}

/// The filter the item events (and online steps) of a report are read
/// with: `--to` moved on by the window, so that a journey opened before
/// `--to` keeps the steps it makes after it. The engine
/// ([`FunnelBuilder::until`](super::engine::FunnelBuilder::until)) counts
/// nothing at or after `--to` itself.
pub fn journey_filter(filter: &EventFilter, opts: &FunnelOptions) -> EventFilter {
    EventFilter {
        to: filter
            .to
            .map(|to| super::seconds::window_end(to, opts.window)),
        ..filter.clone()
    }
}

/// Whether the report is keyed by a store's local day, week or hour.
pub fn keyed_by_time(opts: &FunnelOptions) -> bool {
    opts.by.iter().any(|d| {
        matches!(
            d,
            super::Dimension::Day | super::Dimension::Week | super::Dimension::Hour
        )
    })
}

/// How many events each store has among those that pass `filter` (each
/// event once, however often it was stored).
pub fn events_per_store(
    store: &EventStore,
    filter: &EventFilter,
) -> Result<Vec<(String, u64)>, StoreError> {
    Ok(match store {
        EventStore::Sqlite(db) => super::sqlite::events_per_store(db, filter)?,
        EventStore::ClickHouse(ch) => super::clickhouse::events_per_store(ch, filter)?,
    })
}

/// The stores the directory lists in `region` and under `brand` (each
/// `None` for any), for [`EventFilter::stores`]; `None` when neither is
/// asked. A store the directory does not list is in no region or brand.
/// A region or brand no store has is refused, with the ones there are.
pub fn stores_of(
    directory: &super::StoreDirectory,
    region: Option<&str>,
    brand: Option<&str>,
) -> Result<Option<Vec<String>>, String> {
    type Field = fn(&super::directory::StoreInfo) -> &Option<String>;
    let fields: [(&str, Option<&str>, Field); 2] = [
        ("region", region, |info| &info.region),
        ("brand", brand, |info| &info.brand),
    ];
    for (name, want, field) in fields {
        let Some(want) = want else { continue };
        let mut known: Vec<&str> = directory
            .iter()
            .filter_map(|(_, info)| field(info).as_deref())
            .collect();
        known.sort_unstable();
        known.dedup();
        if !known.contains(&want) {
            return Err(format!(
                "no store of the directory has {name} `{want}` (it lists {})",
                if known.is_empty() {
                    "none".to_string()
                } else {
                    known.join(", ")
                }
            ));
        }
    }
    if region.is_none() && brand.is_none() {
        return Ok(None);
    }
    let mut stores: Vec<String> = directory
        .iter()
        .filter(|(_, info)| {
            fields
                .iter()
                .all(|(_, want, field)| want.is_none_or(|w| field(info).as_deref() == Some(w)))
        })
        .map(|(id, _)| id.to_string())
        .collect();
    stores.sort();
    Ok(Some(stores))
}

/// What an event's or online step's item column holds for the SKU codes
/// `skus` (for [`EventFilter::gtins`]): every GTIN the catalog lists under
/// one of them, and each code itself (a GTIN without a catalog entry is its
/// own SKU code; an online step names the merchant's code) unless the
/// catalog lists the code as the GTIN of another SKU. `None` for no codes.
pub fn gtins_of(catalog: &super::Catalog, skus: &[String]) -> Option<Vec<String>> {
    if skus.is_empty() {
        return None;
    }
    let mut gtins: Vec<String> = catalog
        .items()
        .filter(|(_, item)| skus.contains(&item.sku))
        .map(|(gtin, _)| gtin.to_string())
        .collect();
    gtins.extend(
        skus.iter()
            .filter(|code| {
                catalog
                    .get(code)
                    .is_none_or(|item| skus.contains(&item.sku))
            })
            .cloned(),
    );
    gtins.sort();
    gtins.dedup();
    Some(gtins)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::funnel::{Catalog, StoreDirectory};

    #[test]
    fn a_region_and_a_brand_name_the_directorys_stores_that_have_both() {
        let directory = StoreDirectory::parse(
            "store,name,region,city,brand,timezone\n\
             S1,,East,Shanghai,Aisle,\n\
             S2,,East,Hangzhou,Outlet,\n\
             S3,,Europe,Paris,Aisle,\n",
        )
        .unwrap();
        let of = |region, brand| stores_of(&directory, region, brand);
        assert_eq!(of(None, None), Ok(None));
        assert_eq!(
            of(Some("East"), None),
            Ok(Some(vec!["S1".into(), "S2".into()]))
        );
        assert_eq!(of(Some("East"), Some("Aisle")), Ok(Some(vec!["S1".into()])));
        assert_eq!(of(Some("Europe"), Some("Outlet")), Ok(Some(vec![])));
        assert_eq!(
            of(Some("West"), None),
            Err("no store of the directory has region `West` (it lists East, Europe)".into())
        );
        assert!(of(None, Some("aisle"))
            .unwrap_err()
            .contains("brand `aisle`"));
    }

    #[test]
    fn a_sku_code_names_its_catalog_gtins_and_itself_unless_it_is_another_skus_gtin() {
        let catalog = Catalog::parse(
            "gtin,sku,style,name,colour,size\n\
             111,TS-M,TS,Tee,red,M\n\
             112,TS-M,TS,Tee,red,M\n\
             113,TS-L,TS,Tee,red,L\n",
        )
        .unwrap();
        let of = |codes: &[&str]| {
            gtins_of(
                &catalog,
                &codes.iter().map(|c| c.to_string()).collect::<Vec<_>>(),
            )
        };
        assert_eq!(of(&[]), None);
        // TS-M: its two GTINs, and the code an online step names it by.
        assert_eq!(
            of(&["TS-M"]),
            Some(vec!["111".into(), "112".into(), "TS-M".into()])
        );
        // A GTIN the catalog does not list is its own SKU.
        assert_eq!(of(&["999"]), Some(vec!["999".into()]));
        // 113 is TS-L's GTIN, so it is not the SKU `113`.
        assert_eq!(of(&["113"]), Some(vec![]));
        assert_eq!(
            of(&["TS-L", "113"]),
            Some(vec!["113".into(), "TS-L".into()])
        );
    }
}
