//! The demo's closing table: per SKU, what HQ reports beside what the
//! simulated shoppers did, cell by cell.

use crate::event_store::{Credentials, EventStore, Target};
use crate::funnel::report::{FunnelReport, FunnelRow};
use crate::funnel::store::{self, EventFilter};
use crate::funnel::{Dimension, FunnelOptions};
use anyhow::Context;
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

/// HQ's funnel by `by`, as `aisle funnel --by …` computes it; empty while
/// the collector has not created its database yet.
pub(super) fn hq_report(
    db: &Path,
    window: Duration,
    by: Vec<Dimension>,
) -> anyhow::Result<FunnelReport> {
    let opts = FunnelOptions {
        window,
        by,
        ..FunnelOptions::default()
    };
    if !db.exists() {
        return Ok(FunnelReport::new(opts.window, opts.by, Vec::new()));
    }
    let events =
        EventStore::open_read_only(&Target::Sqlite(db.to_path_buf()), &Credentials::default())
            .with_context(|| format!("opening HQ's database {}", db.display()))?;
    store::report(&events, &EventFilter::default(), &opts)
        .with_context(|| format!("reading {}", db.display()))
}

/// Funnel events in HQ's database (0 until it exists).
pub(super) fn hq_event_count(db: &Path) -> u64 {
    let flags = rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY;
    rusqlite::Connection::open_with_flags(db, flags)
        .and_then(|c| c.query_row("SELECT COUNT(*) FROM events", [], |row| row.get(0)))
        .unwrap_or(0)
}

/// How HQ's report differs from the truth; empty when they match. They
/// match only when both render to the same bytes of `aisle funnel --format
/// json`, whole-second medians included: no tolerance. Otherwise one line
/// per SKU that differs, then both JSON documents.
pub(super) fn differences(truth: &FunnelReport, hq: &FunnelReport) -> Vec<String> {
    let (truth_json, hq_json) = (truth.to_json(), hq.to_json());
    if truth_json == hq_json {
        return Vec::new();
    }
    let key = |row: &FunnelRow| row.dims.first().cloned().flatten().unwrap_or_default();
    let truth_rows: BTreeMap<String, &FunnelRow> = truth.rows.iter().map(|r| (key(r), r)).collect();
    let hq_rows: BTreeMap<String, &FunnelRow> = hq.rows.iter().map(|r| (key(r), r)).collect();
    let mut out = Vec::new();
    for (sku, t) in &truth_rows {
        match hq_rows.get(sku) {
            None => out.push(format!("{sku}: missing at HQ")),
            Some(h) if h != t => out.push(format!("{sku}: HQ {h:?}, truth {t:?}")),
            Some(_) => {}
        }
    }
    out.extend(
        hq_rows
            .keys()
            .filter(|sku| !truth_rows.contains_key(*sku))
            .map(|sku| format!("{sku}: at HQ but not in the truth")),
    );
    out.push(format!("HQ JSON:    {}", hq_json.trim_end()));
    out.push(format!("truth JSON: {}", truth_json.trim_end()));
    out
}

/// One line per store: the people the door counted and what they did per
/// visit, every figure `HQ|truth`.
pub(super) fn visits_by_store(truth: &FunnelReport, hq: &FunnelReport) -> String {
    let store_of = |row: &FunnelRow| row.dims.first().cloned().flatten().unwrap_or_default();
    let mut stores: Vec<String> = truth.rows.iter().chain(&hq.rows).map(store_of).collect();
    stores.sort();
    stores.dedup();
    let find = |report: &FunnelReport, store: &str| {
        report
            .rows
            .iter()
            .find(|r| store_of(r) == store)
            .cloned()
            .unwrap_or_default()
    };
    let count = |v: Option<u64>| v.map_or("–".to_string(), |v| v.to_string());
    let ratio = |v: Option<f64>| v.map_or("–".to_string(), |v| format!("{v:.2}"));
    let mut out = String::new();
    for store in stores {
        let (h, t) = (find(hq, &store), find(truth, &store));
        out.push_str(&format!(
            "{store}: visits {}|{}; per visit: exposures {}|{}, pickups {}|{}, try-ons {}|{}, purchases {}|{}\n",
            count(h.visits),
            count(t.visits),
            ratio(h.exposures_per_visit()),
            ratio(t.exposures_per_visit()),
            ratio(h.pickups_per_visit()),
            ratio(t.pickups_per_visit()),
            ratio(h.try_ons_per_visit()),
            ratio(t.try_ons_per_visit()),
            ratio(h.purchases_per_visit()),
            ratio(t.purchases_per_visit()),
        ));
    }
    out
}

/// One line per SKU; every cell is `HQ|truth`.
pub(super) fn side_by_side(
    truth: &FunnelReport,
    hq: &FunnelReport,
    names: &BTreeMap<String, String>,
) -> String {
    let sku_of = |row: &FunnelRow| row.dims.first().cloned().flatten().unwrap_or_default();
    let mut skus: Vec<String> = truth.rows.iter().chain(&hq.rows).map(sku_of).collect();
    skus.sort();
    skus.dedup();
    let find = |report: &FunnelReport, sku: &str| {
        report
            .rows
            .iter()
            .find(|r| sku_of(r) == sku)
            .cloned()
            .unwrap_or_default()
    };
    let header = [
        "sku",
        "name",
        "exposures",
        "pickups",
        "try_ons",
        "purchases",
        "journeys",
        "j_try_on",
        "j_purchase",
        "view>buy",
        "med_s_view>try",
        "med_s_try>buy",
    ];
    let mut lines: Vec<Vec<String>> = vec![header.map(String::from).to_vec()];
    for sku in &skus {
        let (h, t) = (find(hq, sku), find(truth, sku));
        let counts = |r: &FunnelRow| {
            [
                r.exposures,
                r.pickups,
                r.try_ons,
                r.purchases,
                r.journeys,
                r.journeys_try_on,
                r.journeys_purchase,
            ]
        };
        let mut line = vec![sku.clone(), names.get(sku).cloned().unwrap_or_default()];
        line.extend(
            counts(&h)
                .iter()
                .zip(counts(&t))
                .map(|(a, b)| format!("{a}|{b}")),
        );
        let percent = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{:.0}%", v * 100.0));
        line.push(format!(
            "{}|{}",
            percent(h.view_to_purchase()),
            percent(t.view_to_purchase())
        ));
        let seconds = |v: Option<i64>| v.map_or("-".to_string(), |v| v.to_string());
        line.push(format!(
            "{}|{}",
            seconds(h.median_s_view_to_try_on),
            seconds(t.median_s_view_to_try_on)
        ));
        line.push(format!(
            "{}|{}",
            seconds(h.median_s_try_on_to_purchase),
            seconds(t.median_s_try_on_to_purchase)
        ));
        lines.push(line);
    }
    let mut out = format!(
        "Funnel by SKU, window {}; each cell is HQ|truth\n",
        crate::cli::format_window(truth.window)
    );
    out.push_str(&crate::cli::align_columns(&lines, 2));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn row(sku: &str, pickups: u64) -> FunnelRow {
        FunnelRow {
            dims: vec![Some(sku.into())],
            exposures: 2,
            pickups,
            journeys: pickups,
            ..FunnelRow::default()
        }
    }

    #[test]
    fn differences_are_empty_only_when_the_json_is_identical() {
        let mut truth_row = row("a", 3);
        truth_row.median_s_view_to_try_on = Some(8);
        let truth = FunnelReport::new(
            Duration::from_secs(3600),
            vec![Dimension::Sku],
            vec![truth_row, row("b", 1)],
        );
        assert_eq!(differences(&truth, &truth), Vec::<String>::new());
        let mut hq = truth.clone();
        hq.rows[0].median_s_view_to_try_on = Some(9);
        let found = differences(&truth, &hq);
        assert_eq!(found.len(), 3, "one SKU and both documents: {found:?}");
        assert!(found[0].starts_with("a: "), "{found:?}");
        assert_eq!(found[1], format!("HQ JSON:    {}", hq.to_json().trim_end()));
        assert!(
            found[1].contains("\"median_s_view_to_try_on\": 9"),
            "{found:?}"
        );
        assert!(
            found[2].contains("\"median_s_view_to_try_on\": 8"),
            "{found:?}"
        );
        hq.rows[0].median_s_view_to_try_on = Some(8);
        hq.rows[1].pickups += 1;
        hq.rows.push(row("c", 1));
        let found = differences(&truth, &hq);
        assert!(
            found[0].starts_with("b: ") && found[1].starts_with("c: at HQ"),
            "{found:?}"
        );
        hq.rows.remove(0);
        assert!(differences(&truth, &hq)
            .iter()
            .any(|d| d.starts_with("a: missing")));
        let other_window = FunnelReport::new(
            Duration::from_secs(60),
            truth.by.clone(),
            truth.rows.clone(),
        );
        assert_eq!(
            differences(&truth, &other_window).len(),
            2,
            "same rows, another window: only the documents differ"
        );
    }

    #[test]
    fn shows_each_sku_once_with_hq_and_truth_in_every_cell() {
        let truth = FunnelReport::new(
            Duration::from_secs(3600),
            vec![Dimension::Sku],
            vec![row("a", 3), row("b", 1)],
        );
        let hq = FunnelReport::new(
            Duration::from_secs(3600),
            vec![Dimension::Sku],
            vec![row("a", 2)],
        );
        let names = BTreeMap::from([("a".to_string(), "Linen shirt".to_string())]);
        let text = side_by_side(&truth, &hq, &names);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 4, "{text}");
        assert!(lines[0].contains("window 1h"));
        assert!(
            lines[2].starts_with("a ")
                && lines[2].contains("Linen shirt")
                && lines[2].contains("2|3"),
            "{text}"
        );
        assert!(
            lines[3].starts_with("b ") && lines[3].contains("0|2"),
            "{text}"
        );
    }
}
