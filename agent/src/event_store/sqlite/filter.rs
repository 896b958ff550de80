//! The `WHERE` conditions an [`EventFilter`] puts on the SQLite store's
//! tables, shared by the funnel's readers and the store's own queries.

use crate::event_store::EventFilter;
use rusqlite::types::ToSql;
use std::fmt::Write as _;

/// ` AND …` conditions for `filter` and their parameters, on a table with
/// `store`, `gtin` and `ts_ms` columns (events, exposures).
pub(crate) fn filter_sql(filter: &EventFilter) -> (String, Vec<&dyn ToSql>) {
    conditions(filter, Some("gtin"))
}

/// The same for online steps, whose item is the merchant's code in `sku`.
pub(crate) fn online_filter_sql(filter: &EventFilter) -> (String, Vec<&dyn ToSql>) {
    conditions(filter, Some("sku"))
}

/// The same for dwells, without the GTIN condition: a dwell's GTINs are a
/// list (`events.gtins`), which the reader filters as it expands it.
pub(crate) fn dwell_filter_sql(filter: &EventFilter) -> (String, Vec<&dyn ToSql>) {
    conditions(filter, None)
}

fn conditions<'a>(filter: &'a EventFilter, item: Option<&str>) -> (String, Vec<&'a dyn ToSql>) {
    let mut sql = String::new();
    let mut params: Vec<&dyn ToSql> = Vec::new();
    if let Some(store) = &filter.store {
        sql.push_str(" AND store = ?");
        params.push(store);
    }
    let items = item.map(|column| (column, &filter.gtins));
    for (column, values) in [("store", &filter.stores)].into_iter().chain(items) {
        if let Some(values) = values {
            let marks = vec!["?"; values.len()].join(", ");
            let _ = write!(sql, " AND {column} IN ({marks})");
            params.extend(values.iter().map(|v| v as &dyn ToSql));
        }
    }
    if let Some(from) = &filter.from {
        sql.push_str(" AND ts_ms >= ?");
        params.push(&from.0);
    }
    if let Some(to) = &filter.to {
        sql.push_str(" AND ts_ms < ?");
        params.push(&to.0);
    }
    (sql, params)
}
