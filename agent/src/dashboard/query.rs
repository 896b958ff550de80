//! Query strings: the filters every page and `/api/funnel` share with
//! `aisle funnel` (`by`, `from`, `to`, `window`, `store`, `region`,
//! `brand`, `sku`, `channel`) plus the pages' own (`lang`, `q`, `sort`,
//! `dir`, `code`, `page`).
//!
//! Each route names the keys it takes; any other key, a repeated key or a
//! bad value is refused with one line saying what was wrong, so a typo in a
//! bookmarked URL never silently shows the unfiltered chain.

use super::i18n::Lang;
use crate::cli::parse_duration;
use crate::event_store::EventFilter;
use crate::funnel::{store, Catalog, Dimension, StoreDirectory};
use protocol::time::UnixMillis;
use std::time::Duration;

/// The stores' own channel, what their tags saw; online channels are named
/// by `aisle online import`.
pub(super) const STORE_CHANNEL: &str = "store";

/// A query string that cannot be served.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(super) enum BadQuery {
    #[error("unknown query parameter `{key}` (this page takes: {allowed})")]
    Unknown { key: String, allowed: String },
    #[error("query parameter `{0}` is given twice (only `sku` may be repeated)")]
    Repeated(String),
    #[error("`{key}`: {reason}")]
    Value { key: String, reason: String },
    #[error("the query string is not URL-encoded form data: {0}")]
    Encoding(String),
}

/// The parsed query of one request. Empty values (a form's blank field)
/// count as absent.
#[derive(Debug, Clone, Default)]
pub(super) struct Query {
    pub by: Option<Vec<Dimension>>,
    pub from_ms: Option<i64>,
    pub to_ms: Option<i64>,
    pub window: Option<Duration>,
    pub store: Option<String>,
    /// A region and a brand of the store directory (`aisle funnel
    /// --region`, `--brand`).
    pub region: Option<String>,
    pub brand: Option<String>,
    /// SKU codes (`aisle funnel --sku`, repeatable as `sku=A&sku=B`).
    pub skus: Vec<String>,
    /// The stores of `region` and `brand` and the GTINs of `skus`, as the
    /// store directory and the catalog resolve them (`resolve`).
    pub stores: Option<Vec<String>>,
    pub gtins: Option<Vec<String>>,
    /// `store` or an online channel; whether the event store has it is
    /// checked against the store (see `data::channels`).
    pub channel: Option<String>,
    pub lang: Option<Lang>,
    pub q: Option<String>,
    pub sort: Option<String>,
    pub descending: bool,
    pub code: Option<String>,
    /// The page of a long table, from 1.
    pub page: Option<usize>,
}

/// The journey window when none is given: `aisle funnel`'s default.
pub(super) const DEFAULT_WINDOW: Duration = Duration::from_secs(3600);

impl Query {
    /// Parses `raw` (without the `?`), accepting only `allowed` keys.
    pub(super) fn parse(raw: Option<&str>, allowed: &[&str]) -> Result<Query, BadQuery> {
        let pairs: Vec<(String, String)> = serde_urlencoded::from_str(raw.unwrap_or(""))
            .map_err(|e| BadQuery::Encoding(e.to_string()))?;
        let mut query = Query::default();
        let mut seen: Vec<&str> = Vec::new();
        for (key, value) in &pairs {
            let Some(&known) = allowed.iter().find(|k| **k == key) else {
                return Err(BadQuery::Unknown {
                    key: key.clone(),
                    allowed: allowed.join(", "),
                });
            };
            if seen.contains(&known) && known != "sku" {
                return Err(BadQuery::Repeated(key.clone()));
            }
            seen.push(known);
            let value = value.trim();
            if value.is_empty() {
                continue;
            }
            let bad = |reason: String| BadQuery::Value {
                key: key.clone(),
                reason,
            };
            match known {
                "by" => {
                    query.by = Some(
                        crate::funnel::dimension::parse_by(value)
                            .map_err(|e| bad(e.to_string()))?,
                    )
                }
                "from" => query.from_ms = Some(time(value).map_err(bad)?),
                "to" => query.to_ms = Some(time(value).map_err(bad)?),
                "window" => {
                    query.window = Some(parse_duration(value).map_err(|e| bad(e.to_string()))?)
                }
                "store" => query.store = Some(value.to_string()),
                "channel" => query.channel = Some(value.to_string()),
                "lang" => {
                    query.lang = Some(
                        Lang::parse(value)
                            .ok_or_else(|| bad(format!("`{value}` is not en or zh-CN")))?,
                    )
                }
                "q" => query.q = Some(value.to_string()),
                "sort" => query.sort = Some(value.to_string()),
                "dir" => {
                    query.descending = match value {
                        "asc" => false,
                        "desc" => true,
                        _ => return Err(bad(format!("`{value}` is not asc or desc"))),
                    }
                }
                "code" => query.code = Some(value.to_string()),
                "region" => query.region = Some(value.to_string()),
                "brand" => query.brand = Some(value.to_string()),
                "sku" => query.skus.push(value.to_string()),
                "page" => {
                    query.page = Some(
                        value
                            .parse::<usize>()
                            .ok()
                            .filter(|p| *p >= 1)
                            .ok_or_else(|| {
                                bad(format!("`{value}` is not a page number (1, 2, …)"))
                            })?,
                    )
                }
                _ => unreachable!("every allowed key is handled above"),
            }
        }
        if let (Some(from), Some(to)) = (query.from_ms, query.to_ms) {
            if to <= from {
                return Err(BadQuery::Value {
                    key: "to".to_string(),
                    reason: "must be after `from`".to_string(),
                });
            }
        }
        Ok(query)
    }

    /// Resolves `region`, `brand` and `sku` against the store directory
    /// and the catalog, as `aisle funnel` does; a region or brand no store
    /// has is refused.
    pub(super) fn resolve(
        &mut self,
        directory: &StoreDirectory,
        catalog: &Catalog,
    ) -> Result<(), BadQuery> {
        let key = if self.region.is_some() {
            "region"
        } else {
            "brand"
        };
        self.stores = store::stores_of(directory, self.region.as_deref(), self.brand.as_deref())
            .map_err(|reason| BadQuery::Value {
                key: key.to_string(),
                reason,
            })?;
        self.gtins = store::gtins_of(catalog, &self.skus);
        Ok(())
    }

    /// The events this query covers (after [`Query::resolve`]).
    pub(super) fn filter(&self) -> EventFilter {
        EventFilter {
            store: self.store.clone(),
            stores: self.stores.clone(),
            gtins: self.gtins.clone(),
            from: self.from_ms.map(UnixMillis),
            to: self.to_ms.map(UnixMillis),
        }
    }

    pub(super) fn window(&self) -> Duration {
        self.window.unwrap_or(DEFAULT_WINDOW)
    }
}

/// An RFC 3339 time, as `aisle funnel --from` takes, or a day
/// (`2026-11-20`, what a date field sends) meaning its UTC midnight.
fn time(value: &str) -> Result<i64, String> {
    let full = if value.len() == 10 {
        format!("{value}T00:00:00Z")
    } else {
        value.to_string()
    };
    full.parse::<UnixMillis>().map(|t| t.0).map_err(|_| {
        format!("`{value}` is not a day (2026-11-20) or an RFC 3339 time (2026-11-20T00:00:00Z)")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: &[&str] = &[
        "by", "from", "to", "window", "store", "region", "brand", "sku", "channel", "lang", "page",
    ];

    #[test]
    fn reads_the_funnel_parameters_like_the_command_line() {
        let q = Query::parse(
            Some("by=sku,store&from=2026-11-20&to=2026-11-21T00%3A00%3A00Z&window=2h&store=S1&channel=store&lang=zh-CN"),
            ALL,
        )
        .unwrap();
        assert_eq!(q.by, Some(vec![Dimension::Sku, Dimension::Store]));
        assert_eq!(q.to_ms.unwrap() - q.from_ms.unwrap(), 86_400_000);
        assert_eq!(q.window(), Duration::from_secs(7200));
        assert_eq!(q.store.as_deref(), Some("S1"));
        assert_eq!(q.channel.as_deref(), Some("store"));
        assert_eq!(q.lang, Some(Lang::ZhCn));
        let skus = Query::parse(Some("sku=A&sku=B%20C&region=East&brand=b&page=3"), ALL).unwrap();
        assert_eq!(skus.skus, ["A", "B C"]);
        assert_eq!(
            (skus.region.as_deref(), skus.brand.as_deref()),
            (Some("East"), Some("b"))
        );
        assert_eq!(skus.page, Some(3));
        let blank = Query::parse(Some("from=&store="), ALL).unwrap();
        assert_eq!((blank.from_ms, blank.store), (None, None));
    }

    #[test]
    fn refuses_unknown_repeated_and_bad_parameters() {
        let err = |raw| Query::parse(Some(raw), ALL).unwrap_err().to_string();
        assert!(err("stor=S1").starts_with("unknown query parameter `stor`"));
        assert_eq!(
            err("store=a&store=b"),
            "query parameter `store` is given twice (only `sku` may be repeated)"
        );
        assert!(err("page=0").starts_with("`page`: `0` is not a page number"));
        assert!(err("window=1x").starts_with("`window`: `1x` is not a duration"));
        assert!(err("by=colour").contains("unknown dimension `colour`"));
        assert_eq!(
            err("from=2026-11-21&to=2026-11-20"),
            "`to`: must be after `from`"
        );
        assert!(err("from=yesterday").contains("is not a day"));
    }
}
