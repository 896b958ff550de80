//! A dwell's exposures as the SQLite store keeps them: the GTINs it showed,
//! each once and sorted, as a JSON array of strings in the dwell's own
//! `events.gtins` (schema 6). One row per dwell instead of one per (dwell,
//! GTIN) keeps the collector's inserts to the two B-trees a dwell already
//! writes; the report expands the list when it reads.
//!
//! `exposure_totals` counts the exposures per (store, GTIN) of the dwells
//! up to `exposure_fold.upto`; [`fold`] adds the dwells stored since, in
//! the collector's commit once about [`FOLD_EXPOSURES`] have gathered, so
//! each pair's row is written once per fold rather than once per commit.

use crate::event_store::EventFilter;
use rusqlite::Connection;
use serde::Deserialize;
use std::borrow::Cow;
use std::collections::BTreeMap;

/// Exposures stored since the last fold that make the collector fold: a
/// report with no bounds expands at most about this many GTINs besides the
/// totals, and a fold writes each (store, GTIN) pair it saw once.
pub(crate) const FOLD_EXPOSURES: u64 = 1_000_000;

/// The dwells stored after the last fold (rowid above `exposure_fold.upto`),
/// as a condition on `events`.
pub(crate) const UNFOLDED: &str = "rowid > (SELECT upto FROM exposure_fold)
     AND event = 'fixture_dwell' AND gtins IS NOT NULL";

/// How many exposures the dwells stored since the last fold have.
pub(crate) fn unfolded(conn: &Connection) -> rusqlite::Result<u64> {
    conn.query_row(
        &format!("SELECT COALESCE(SUM(json_array_length(gtins)), 0) FROM events NOT INDEXED WHERE {UNFOLDED}"),
        [],
        |r| r.get::<_, i64>(0),
    )
    .map(|n| u64::try_from(n).unwrap_or(0))
}

/// Adds the exposures of the dwells stored since the last fold to
/// `exposure_totals`, pair by pair in key order, and moves the fold up to
/// the last stored event; inside the caller's transaction.
pub(crate) fn fold(conn: &Connection) -> rusqlite::Result<()> {
    let mut per_pair: BTreeMap<(String, String), i64> = BTreeMap::new();
    {
        let mut dwells = conn.prepare(&format!(
            "SELECT store, gtins FROM events NOT INDEXED WHERE {UNFOLDED}"
        ))?;
        let mut rows = dwells.query([])?;
        while let Some(row) = rows.next()? {
            let (store, list): (String, String) = (row.get(0)?, row.get(1)?);
            for gtin in parse(&list) {
                *per_pair
                    .entry((store.clone(), gtin.into_owned()))
                    .or_default() += 1;
            }
        }
    }
    let mut add = conn.prepare(
        "INSERT INTO exposure_totals (store, gtin, n) VALUES (?1, ?2, ?3)
         ON CONFLICT (store, gtin) DO UPDATE SET n = n + excluded.n",
    )?;
    for ((store, gtin), n) in per_pair {
        add.execute(rusqlite::params![store, gtin, n])?;
    }
    conn.execute(
        "UPDATE exposure_fold SET upto = (SELECT COALESCE(MAX(rowid), 0) FROM events)",
        [],
    )?;
    Ok(())
}

/// `gtins` (distinct, sorted) as stored.
pub(crate) fn to_json(gtins: &[&str]) -> String {
    serde_json::to_string(gtins).unwrap_or_else(|_| "[]".to_string())
}

/// Whether `filter` keeps exposures of `gtin` (it names no GTINs, or names
/// this one).
pub(crate) fn wanted(filter: &EventFilter, gtin: &str) -> bool {
    filter
        .gtins
        .as_ref()
        .is_none_or(|g| g.iter().any(|w| w == gtin))
}

/// Most GTINs a report may ask for and still have SQLite search the lists
/// for them (a SKU's or a style's GTINs).
const SEARCHED_GTINS_MAX: usize = 100;

/// `gtins` as they appear inside a stored list (quoted), for SQLite to
/// find the dwells that show one of them; `None` when there is nothing to
/// narrow by, too many to search for, or one whose quoting in JSON an
/// older file's lists might spell differently (a GTIN with quotes,
/// backslashes or control characters): the reader filters those itself.
pub(crate) fn quoted_for_search(gtins: Option<&[String]>) -> Option<Vec<String>> {
    let gtins = gtins?;
    let plain = |g: &str| g.chars().all(|c| c != '"' && c != '\\' && !c.is_control());
    (gtins.len() <= SEARCHED_GTINS_MAX && gtins.iter().all(|g| plain(g)))
        .then(|| gtins.iter().map(|g| format!("\"{g}\"")).collect())
}

/// A stored list; borrowed from the column's text where it has no escapes.
#[derive(Deserialize)]
struct Stored<'a>(#[serde(borrow)] Vec<Cow<'a, str>>);

/// The GTINs of a stored list. A value the collector did not write (not a
/// JSON array of strings) shows nothing rather than failing the report.
pub(crate) fn parse(json: &str) -> Vec<Cow<'_, str>> {
    serde_json::from_str::<Stored<'_>>(json).map_or_else(|_| Vec::new(), |s| s.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_list_reads_back_as_written_whatever_its_characters() {
        let gtins = ["00000000000017", "a \"quoted\", comma", "\u{3c0}\n"];
        let stored = to_json(&gtins);
        assert_eq!(parse(&stored), gtins);
        assert_eq!(to_json(&["09506000134352"]), r#"["09506000134352"]"#);
    }

    #[test]
    fn a_searched_gtin_is_found_in_the_lists_that_hold_it_and_only_those() {
        let asked = vec!["0950".to_string()];
        let quoted = quoted_for_search(Some(&asked)).unwrap();
        for (list, holds) in [
            (to_json(&["0950", "1234"]), true),
            (to_json(&["09501", "10950"]), false),
        ] {
            assert_eq!(list.contains(&quoted[0]), holds, "{list}");
        }
        assert!(quoted_for_search(None).is_none());
        assert!(quoted_for_search(Some(&["a\"b".to_string()])).is_none());
        assert!(quoted_for_search(Some(&vec!["1".to_string(); 101])).is_none());
    }

    #[test]
    fn a_value_not_written_by_the_collector_shows_no_exposures() {
        for foreign in ["", "0950", "{\"a\":1}", "[1,2]", "[\"a\""] {
            assert!(parse(foreign).is_empty(), "{foreign:?}");
        }
    }
}
