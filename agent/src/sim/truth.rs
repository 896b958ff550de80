//! The ground-truth funnel: per SKU counts from what the simulated shoppers
//! physically did (the model's bookkeeping), never from frames or events.
//!
//! Because the model keeps the gap rule (see [`super::shoppers`]), each
//! bookkept journey is exactly one HQ journey, so the counts follow directly.

use super::shoppers::{Layout, Script};
use std::collections::BTreeMap;

/// What happened to one SKU.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SkuCounts {
    /// Dwells at fixtures that display the SKU.
    pub exposures: u64,
    /// Every lift of a garment of the SKU.
    pub pickups: u64,
    /// Garment journeys (each opened by a pickup).
    pub journeys: u64,
    /// Journeys that reached a fitting room.
    pub journeys_try_on: u64,
    /// Journeys that reached a checkout after a fitting room.
    pub journeys_purchase: u64,
    /// Fitting-room visits, with or without a journey.
    pub try_ons: u64,
    /// Checkouts, with or without a try-on.
    pub purchases: u64,
}

/// Counts per GTIN. A SKU is listed when anything happened to it, as at HQ,
/// which only learns of a SKU through an event naming it.
pub fn count(layout: &Layout, script: &Script) -> BTreeMap<String, SkuCounts> {
    let mut skus: BTreeMap<String, SkuCounts> = BTreeMap::new();
    for dwell in &script.dwells {
        for gtin in &layout.fixtures[dwell.fixture].gtins {
            skus.entry(gtin.clone()).or_default().exposures += 1;
        }
    }
    for journey in &script.journeys {
        let sku = skus
            .entry(layout.garments[journey.garment].gtin.clone())
            .or_default();
        sku.pickups += journey.lifts.len() as u64;
        sku.journeys += 1;
        sku.try_ons += u64::from(journey.try_on.is_some());
        sku.purchases += u64::from(journey.purchase.is_some());
        sku.journeys_try_on += u64::from(journey.try_on.is_some());
        // Funnel steps are ordered: a purchase without a try-on is counted
        // as a purchase but does not complete the journey.
        sku.journeys_purchase += u64::from(journey.try_on.is_some() && journey.purchase.is_some());
    }
    skus
}
