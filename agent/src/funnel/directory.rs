//! The store directory (`aisle funnel --stores stores.csv`): each store's
//! name, region, city, brand and time zone, so reports can be keyed by
//! region, city or brand, and by the store's own days and hours.
//!
//! Format (header required, columns in this order, RFC 4180 quoting):
//! `store,name,region,city,brand,timezone`. The time zone is an IANA name
//! (`Asia/Shanghai`); empty means UTC. The tz database is compiled in, so a
//! report is the same on every machine.

use super::csv::ShapeError;
use jiff::tz::TimeZone;
use std::collections::HashMap;

/// One store of the directory. Empty cells are `None`.
#[derive(Debug, Clone)]
pub struct StoreInfo {
    pub name: Option<String>,
    pub region: Option<String>,
    pub city: Option<String>,
    pub brand: Option<String>,
    pub time_zone: TimeZone,
}

/// Store id → its directory entry. Empty when no directory was given.
#[derive(Debug, Clone, Default)]
pub struct StoreDirectory {
    stores: HashMap<String, StoreInfo>,
}

/// A directory file that cannot be used, and what to fix; [`Self::line`]
/// says where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DirectoryError {
    #[error("the header must be `store,name,region,city,brand,timezone`, found `{0}`")]
    Header(String),
    #[error("expected 6 fields (store,name,region,city,brand,timezone), found {found}")]
    Fields { line: usize, found: usize },
    #[error("unterminated quoted field")]
    Quote { line: usize },
    #[error("the store id is empty")]
    EmptyStore { line: usize },
    #[error("unknown time zone `{zone}` (use an IANA name such as Asia/Shanghai or Europe/Paris, or leave it empty for UTC)")]
    TimeZone { line: usize, zone: String },
    #[error("store `{store}` is listed twice (first on line {first})")]
    Duplicate {
        line: usize,
        store: String,
        first: usize,
    },
}

impl DirectoryError {
    /// The file's line (1-based) the error is on.
    pub fn line(&self) -> usize {
        match self {
            DirectoryError::Header(_) => 1,
            DirectoryError::Fields { line, .. }
            | DirectoryError::Quote { line }
            | DirectoryError::EmptyStore { line }
            | DirectoryError::TimeZone { line, .. }
            | DirectoryError::Duplicate { line, .. } => *line,
        }
    }
}

impl From<ShapeError> for DirectoryError {
    fn from(e: ShapeError) -> Self {
        match e {
            ShapeError::Header(found) => DirectoryError::Header(found),
            ShapeError::Fields { line, found } => DirectoryError::Fields { line, found },
            ShapeError::Quote { line } => DirectoryError::Quote { line },
        }
    }
}

const HEADER: [&str; 6] = ["store", "name", "region", "city", "brand", "timezone"];

fn cell(field: String) -> Option<String> {
    let trimmed = field.trim();
    (!trimmed.is_empty()).then(|| trimmed.to_string())
}

impl StoreDirectory {
    /// Parses the directory CSV text. Blank lines are skipped.
    pub fn parse(text: &str) -> Result<StoreDirectory, DirectoryError> {
        let mut stores = HashMap::new();
        let mut first_line: HashMap<String, usize> = HashMap::new();
        for record in super::csv::records(text, HEADER)? {
            let (line_no, [store, name, region, city, brand, zone]) = record?;
            let store = store.trim().to_string();
            if store.is_empty() {
                return Err(DirectoryError::EmptyStore { line: line_no });
            }
            if let Some(&first) = first_line.get(&store) {
                return Err(DirectoryError::Duplicate {
                    line: line_no,
                    store,
                    first,
                });
            }
            let zone = zone.trim();
            let time_zone = if zone.is_empty() {
                TimeZone::UTC
            } else {
                TimeZone::get(zone).map_err(|_| DirectoryError::TimeZone {
                    line: line_no,
                    zone: zone.to_string(),
                })?
            };
            first_line.insert(store.clone(), line_no);
            stores.insert(
                store,
                StoreInfo {
                    name: cell(name),
                    region: cell(region),
                    city: cell(city),
                    brand: cell(brand),
                    time_zone,
                },
            );
        }
        Ok(StoreDirectory { stores })
    }

    pub fn get(&self, store: &str) -> Option<&StoreInfo> {
        self.stores.get(store)
    }

    /// Whether the directory lists `store`.
    pub fn contains(&self, store: &str) -> bool {
        self.stores.contains_key(store)
    }

    /// Whether a directory was given (it lists at least one store).
    pub fn is_empty(&self) -> bool {
        self.stores.is_empty()
    }

    /// The time zone days and hours of `store` are counted in: the
    /// directory's, UTC for a store it does not list.
    pub fn time_zone(&self, store: Option<&str>) -> &TimeZone {
        static UTC: TimeZone = TimeZone::UTC;
        store
            .and_then(|s| self.stores.get(s))
            .map_or(&UTC, |info| &info.time_zone)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEAD: &str = "store,name,region,city,brand,timezone\n";

    #[test]
    fn reads_stores_with_their_time_zones_and_empty_cells_as_none() {
        let dir = StoreDirectory::parse(&format!(
            "{HEAD}S1,\"Nanjing Rd, flagship\",East,Shanghai,Aisle,Asia/Shanghai\n\
             \n\
             S2,Rue de Rivoli,,Paris,Aisle Outlet,Europe/Paris\r\n\
             S3,Online returns desk,,,,\n"
        ))
        .unwrap();
        let s1 = dir.get("S1").unwrap();
        assert_eq!(s1.name.as_deref(), Some("Nanjing Rd, flagship"));
        assert_eq!(
            (
                s1.region.as_deref(),
                s1.city.as_deref(),
                s1.brand.as_deref()
            ),
            (Some("East"), Some("Shanghai"), Some("Aisle"))
        );
        assert_eq!(s1.time_zone.iana_name(), Some("Asia/Shanghai"));
        let s2 = dir.get("S2").unwrap();
        assert_eq!(
            (s2.region.as_deref(), s2.city.as_deref()),
            (None, Some("Paris"))
        );
        assert_eq!(s2.time_zone.iana_name(), Some("Europe/Paris"));
        assert_eq!(dir.time_zone(Some("S3")), &TimeZone::UTC);
        assert_eq!(dir.time_zone(Some("S9")), &TimeZone::UTC);
        assert!(!dir.contains("S9"));
    }

    #[test]
    fn points_at_the_bad_line_and_says_what_to_fix() {
        let err = |text: &str| StoreDirectory::parse(text).unwrap_err();
        assert!(matches!(
            err("store,name,region,city,timezone\nS1,a,b,c,UTC\n"),
            DirectoryError::Header(_)
        ));
        assert_eq!(
            err(&format!("{HEAD}S1,a,b,c,d,UTC\nS2,a,b,c,UTC\n")),
            DirectoryError::Fields { line: 3, found: 5 }
        );
        assert_eq!(
            err(&format!("{HEAD}S1,a,b,c,d,Asia/Shangai\n")),
            DirectoryError::TimeZone {
                line: 2,
                zone: "Asia/Shangai".into()
            }
        );
        assert_eq!(
            err(&format!("{HEAD}S1,a,b,c,d,\n\nS1,e,f,g,h,\n")),
            DirectoryError::Duplicate {
                line: 4,
                store: "S1".into(),
                first: 2
            }
        );
        assert_eq!(
            err(&format!("{HEAD} ,a,b,c,d,\n")),
            DirectoryError::EmptyStore { line: 2 }
        );
        assert_eq!(
            err(&format!("{HEAD}S1,\"a,b,c,d,\n")),
            DirectoryError::Quote { line: 2 }
        );
        let message = err(&format!("{HEAD}S1,a,b,c,d,Mars/Olympus\n")).to_string();
        assert!(message.contains("IANA name"), "{message}");
    }
}
