//! The dimensions a funnel report is keyed by (`--by sku,store`): their
//! names on the command line and in every output format.

use std::fmt;
use std::str::FromStr;

/// A dimension a report row is keyed by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Dimension {
    /// The catalog's SKU code for the GTIN; the GTIN itself when there is no
    /// catalog or the catalog does not list it.
    Sku,
    Store,
    /// The catalog's style for the GTIN (needs a catalog); null when the
    /// catalog does not list the GTIN.
    Style,
    /// The fixture of the event; for journeys, the fixture of the pickup
    /// that opened it. Null when the event carries none.
    Fixture,
    /// Where the funnel was seen: `store` for everything the tags saw, the
    /// import's channel name for online behaviours (`aisle online import`).
    /// Only a report keyed by channel includes online behaviours, so a
    /// store's pickups and a shop's product views are never summed.
    Channel,
    /// The zone of the event (a dwell's or pickup's fixture's zone, the
    /// fitting room, the checkout); for journeys, the opening pickup's.
    Zone,
    /// The store's region, city and brand from the store directory
    /// (`--stores`); null for a store it does not list.
    Region,
    City,
    Brand,
    /// The store's local day (`2026-11-11`), ISO week (`2026-W46`) and hour
    /// (`2026-11-11T14`), in its directory time zone (UTC without one). A
    /// journey is in the period of the pickup that opened it.
    Day,
    Week,
    Hour,
}

impl Dimension {
    pub fn as_str(self) -> &'static str {
        match self {
            Dimension::Sku => "sku",
            Dimension::Store => "store",
            Dimension::Style => "style",
            Dimension::Fixture => "fixture",
            Dimension::Channel => "channel",
            Dimension::Zone => "zone",
            Dimension::Region => "region",
            Dimension::City => "city",
            Dimension::Brand => "brand",
            Dimension::Day => "day",
            Dimension::Week => "week",
            Dimension::Hour => "hour",
        }
    }

    /// Every dimension, in the order `--help` lists them.
    pub const ALL: [Dimension; 12] = [
        Dimension::Sku,
        Dimension::Store,
        Dimension::Style,
        Dimension::Fixture,
        Dimension::Channel,
        Dimension::Zone,
        Dimension::Region,
        Dimension::City,
        Dimension::Brand,
        Dimension::Day,
        Dimension::Week,
        Dimension::Hour,
    ];

    /// A property of a whole store at a time (where it is, when): rows keyed
    /// only by these can be put against the store's visits.
    pub fn is_store_level(self) -> bool {
        matches!(
            self,
            Dimension::Store
                | Dimension::Region
                | Dimension::City
                | Dimension::Brand
                | Dimension::Day
                | Dimension::Week
                | Dimension::Hour
        )
    }

    /// Read from the store directory.
    pub fn needs_directory(self) -> bool {
        matches!(self, Dimension::Region | Dimension::City | Dimension::Brand)
    }
}

impl fmt::Display for Dimension {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Whether rows keyed `by` carry dwell figures: keyed by zone or fixture,
/// and not by a garment (a dwell is at a fixture, not of one SKU).
pub fn shows_dwells(by: &[Dimension]) -> bool {
    by.iter()
        .any(|d| matches!(d, Dimension::Zone | Dimension::Fixture))
        && !by
            .iter()
            .any(|d| matches!(d, Dimension::Sku | Dimension::Style))
}

/// Whether rows keyed `by` carry visit figures: keyed only by store-level
/// dimensions (a door count is of a store at a time).
pub fn shows_visits(by: &[Dimension]) -> bool {
    by.iter().all(|d| d.is_store_level())
}

/// A `--by` list that is not made of known dimensions.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ByError {
    #[error("unknown dimension `{0}` (use sku, store, style, fixture, channel, zone, region, city, brand, day, week or hour, comma separated)")]
    Unknown(String),
    #[error("dimension `{0}` is given twice")]
    Repeated(String),
}

/// Parses `sku`, `sku,store`, … into dimensions, in the order given.
pub fn parse_by(s: &str) -> Result<Vec<Dimension>, ByError> {
    let mut dims = Vec::new();
    for part in s.split(',').map(str::trim) {
        let Some(dim) = Dimension::ALL.into_iter().find(|d| d.as_str() == part) else {
            return Err(ByError::Unknown(part.to_string()));
        };
        if dims.contains(&dim) {
            return Err(ByError::Repeated(part.to_string()));
        }
        dims.push(dim);
    }
    Ok(dims)
}

impl FromStr for Dimension {
    type Err = ByError;
    fn from_str(s: &str) -> Result<Self, ByError> {
        match parse_by(s)?.as_slice() {
            [one] => Ok(*one),
            _ => Err(ByError::Unknown(s.to_string())),
        }
    }
}
