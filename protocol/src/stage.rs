//! Store events and the funnel stages they map to.
//!
//! The stages are the online shop's funnel stages, so offline and online
//! conversion can sit in one report (see docs/design.md, "Store events and funnel stages").

use core::fmt;
use core::str::FromStr;
use serde::{Deserialize, Serialize};

/// A store event as sent to HQ.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StoreEventKind {
    /// A shopper dwelt at a fixture (exposure of the fixture's SKUs).
    FixtureDwell,
    /// A garment was lifted.
    ItemPickup,
    /// A garment was read in a fitting room.
    ItemTryOn,
    /// A garment was read at a checkout.
    ItemPurchase,
    /// People came in through an entrance during a period (a count, not one
    /// event a person).
    StoreVisits,
}

/// A funnel stage, in funnel order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FunnelStage {
    /// A shopper came into the store (online: a session started).
    Visit,
    /// A garment was on display where a shopper lingered.
    Exposure,
    /// A garment was picked up (online: a product view).
    View,
    /// A garment was taken to a fitting room (online: added to the cart).
    TryOn,
    /// A garment was bought.
    Purchase,
}

impl StoreEventKind {
    /// Every kind, in funnel order; an index into it is stable.
    pub const ALL: [StoreEventKind; 5] = [
        StoreEventKind::FixtureDwell,
        StoreEventKind::ItemPickup,
        StoreEventKind::ItemTryOn,
        StoreEventKind::ItemPurchase,
        StoreEventKind::StoreVisits,
    ];

    /// The funnel stage this event reaches.
    pub fn stage(self) -> FunnelStage {
        match self {
            StoreEventKind::FixtureDwell => FunnelStage::Exposure,
            StoreEventKind::ItemPickup => FunnelStage::View,
            StoreEventKind::ItemTryOn => FunnelStage::TryOn,
            StoreEventKind::ItemPurchase => FunnelStage::Purchase,
            StoreEventKind::StoreVisits => FunnelStage::Visit,
        }
    }

    /// The event's name in batches and the event store.
    pub fn as_str(self) -> &'static str {
        match self {
            StoreEventKind::FixtureDwell => "fixture_dwell",
            StoreEventKind::ItemPickup => "item_pickup",
            StoreEventKind::ItemTryOn => "item_try_on",
            StoreEventKind::ItemPurchase => "item_purchase",
            StoreEventKind::StoreVisits => "store_visits",
        }
    }
}

impl FunnelStage {
    /// Every stage, in funnel order.
    pub const ALL: [FunnelStage; 5] = [
        FunnelStage::Visit,
        FunnelStage::Exposure,
        FunnelStage::View,
        FunnelStage::TryOn,
        FunnelStage::Purchase,
    ];

    /// The stage's name in batches, the event store and reports.
    pub fn as_str(self) -> &'static str {
        match self {
            FunnelStage::Visit => "visit",
            FunnelStage::Exposure => "exposure",
            FunnelStage::View => "view",
            FunnelStage::TryOn => "try_on",
            FunnelStage::Purchase => "purchase",
        }
    }
}

/// An event or stage name that is not one of ours.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("unknown name")]
pub struct UnknownName;

impl FromStr for StoreEventKind {
    type Err = UnknownName;
    fn from_str(s: &str) -> Result<Self, UnknownName> {
        Self::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or(UnknownName)
    }
}

impl FromStr for FunnelStage {
    type Err = UnknownName;
    fn from_str(s: &str) -> Result<Self, UnknownName> {
        Self::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or(UnknownName)
    }
}

impl fmt::Display for StoreEventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for FunnelStage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_through_from_str() {
        for k in StoreEventKind::ALL {
            assert_eq!(k.as_str().parse::<StoreEventKind>(), Ok(k));
        }
        for s in FunnelStage::ALL {
            assert_eq!(s.as_str().parse::<FunnelStage>(), Ok(s));
        }
        assert_eq!("item_browse".parse::<StoreEventKind>(), Err(UnknownName));
    }

    #[test]
    fn each_event_maps_to_its_design_stage() {
        assert_eq!(StoreEventKind::FixtureDwell.stage(), FunnelStage::Exposure);
        assert_eq!(StoreEventKind::ItemPickup.stage(), FunnelStage::View);
        assert_eq!(StoreEventKind::ItemTryOn.stage(), FunnelStage::TryOn);
        assert_eq!(StoreEventKind::ItemPurchase.stage(), FunnelStage::Purchase);
        assert_eq!(StoreEventKind::StoreVisits.stage(), FunnelStage::Visit);
    }

    #[test]
    fn stages_order_as_the_funnel_runs() {
        let mut sorted = FunnelStage::ALL;
        sorted.sort();
        assert_eq!(sorted, FunnelStage::ALL);
        assert_eq!(FunnelStage::ALL[0], FunnelStage::Visit);
    }
}
