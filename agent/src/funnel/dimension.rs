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
}

impl Dimension {
    pub fn as_str(self) -> &'static str {
        match self {
            Dimension::Sku => "sku",
            Dimension::Store => "store",
            Dimension::Style => "style",
            Dimension::Fixture => "fixture",
            Dimension::Channel => "channel",
        }
    }
}

impl fmt::Display for Dimension {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A `--by` list that is not made of known dimensions.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ByError {
    #[error(
        "unknown dimension `{0}` (use sku, store, style, fixture or channel, comma separated)"
    )]
    Unknown(String),
    #[error("dimension `{0}` is given twice")]
    Repeated(String),
}

/// Parses `sku`, `sku,store`, … into dimensions, in the order given.
pub fn parse_by(s: &str) -> Result<Vec<Dimension>, ByError> {
    let mut dims = Vec::new();
    for part in s.split(',').map(str::trim) {
        let dim = match part {
            "sku" => Dimension::Sku,
            "store" => Dimension::Store,
            "style" => Dimension::Style,
            "fixture" => Dimension::Fixture,
            "channel" => Dimension::Channel,
            other => return Err(ByError::Unknown(other.to_string())),
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
