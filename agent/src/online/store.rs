//! Online behaviours in the funnel: the event store's online steps
//! (agent/src/event_store/online.rs) read into the funnel engine as
//! (channel, user, SKU) journeys, streamed in journey order like garments,
//! from whichever backend holds them.

use crate::event_store::online::{OnlineStepRow, OnlineSteps};
use crate::event_store::EventFilter;
use crate::funnel::engine::{FunnelBuilder, FunnelOptions, OnlineStep};
use protocol::stage::{FunnelStage, StoreEventKind};
use protocol::time::UnixMillis;

/// The SKU a report row knows an online code by: the catalog's GTIN for
/// the merchant's code, so it meets the stores' rows; else the code itself.
fn sku_key<'a>(opts: &'a FunnelOptions, code: &'a str) -> &'a str {
    opts.catalog.gtin_of_sku(code).unwrap_or(code)
}

/// Adds every online channel's exposures and journeys that pass `filter`.
pub fn add_to_report<S: OnlineSteps>(
    source: &S,
    filter: &EventFilter,
    opts: &FunnelOptions,
    builder: &mut FunnelBuilder<'_>,
) -> Result<(), S::Error> {
    // The store of an online step is the one it is attributed to.
    let by_time = crate::funnel::store::keyed_by_time(opts);
    source.online_exposures(filter, by_time, &mut |e| {
        builder.add_online_exposures(
            &e.channel,
            e.store.as_deref(),
            sku_key(opts, &e.sku),
            UnixMillis(e.ts_ms),
            e.count,
        );
    })?;

    // Journeys opened before `--to` are read to their window's end.
    let journeys = crate::funnel::store::journey_filter(filter, opts);
    let mut current: Option<(String, String, String)> = None;
    let mut journey: Vec<OnlineStep> = Vec::new();
    source.online_steps(&journeys, &mut |row: OnlineStepRow| {
        let same = current
            .as_ref()
            .is_some_and(|(c, u, s)| *c == row.channel && *u == row.user && *s == row.sku);
        if !same {
            if let Some((c, _, s)) = current.take() {
                builder.add_online_journey(&c, sku_key(opts, &s), &journey);
            }
            journey.clear();
            current = Some((row.channel, row.user, row.sku));
        }
        let kind = match row.stage.parse::<FunnelStage>() {
            Ok(FunnelStage::View) => StoreEventKind::ItemPickup,
            Ok(FunnelStage::TryOn) => StoreEventKind::ItemTryOn,
            Ok(FunnelStage::Purchase) => StoreEventKind::ItemPurchase,
            // The importer writes only the four stages; anything else was
            // written by another hand and is not a step.
            Ok(FunnelStage::Visit | FunnelStage::Exposure) | Err(_) => return,
        };
        journey.push(OnlineStep {
            ts: UnixMillis(row.ts_ms),
            kind,
            store: row.store,
        });
    })?;
    if let Some((c, _, s)) = current {
        builder.add_online_journey(&c, sku_key(opts, &s), &journey);
    }
    Ok(())
}
