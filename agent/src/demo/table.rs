//! The demo's closing table: per SKU, what HQ reports beside what the
//! simulated shoppers did, cell by cell.

use crate::funnel::engine::{Dimension, FunnelOptions};
use crate::funnel::report::{FunnelReport, FunnelRow};
use crate::funnel::store::{self, EventFilter};
use crate::hq::db::EventStore;
use anyhow::Context;
use std::collections::BTreeMap;
use std::path::Path;

/// HQ's funnel by SKU, as `aisle funnel --by sku` computes it; empty while
/// the collector has not created its database yet.
pub fn hq_report(db: &Path, window_ms: u64) -> anyhow::Result<FunnelReport> {
    let opts = FunnelOptions {
        window_ms: window_ms as i64,
        by: vec![Dimension::Sku],
        ..FunnelOptions::default()
    };
    if !db.exists() {
        return Ok(FunnelReport::new(opts.window_ms, opts.by, Vec::new()));
    }
    let events = EventStore::open_read_only(db)
        .with_context(|| format!("opening HQ's database {}", db.display()))?;
    store::report(&events, &EventFilter::default(), &opts)
        .with_context(|| format!("reading {}", db.display()))
}

/// Funnel events in HQ's database (0 until it exists).
pub fn hq_event_count(db: &Path) -> u64 {
    let flags = rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY;
    rusqlite::Connection::open_with_flags(db, flags)
        .and_then(|c| c.query_row("SELECT COUNT(*) FROM events", [], |row| row.get(0)))
        .unwrap_or(0)
}

/// How HQ's report differs from the truth, one line per difference; empty
/// when they match. Counts (and so rates) must be equal. HQ measures the
/// step-time medians through a real serial link, which adds milliseconds to
/// the model's whole seconds. Every journey of a SKU keeps the same pace, so
/// the median is that pace plus one journey's link error whatever the
/// count: medians are compared to the whole second, which tolerates up to
/// half a second of error.
pub fn differences(truth: &FunnelReport, hq: &FunnelReport) -> Vec<String> {
    let seconds = |v: Option<f64>| v.map(|s| s.round());
    let key = |row: &FunnelRow| row.dims.first().cloned().flatten().unwrap_or_default();
    let comparable = |row: &FunnelRow| FunnelRow {
        median_s_view_to_try_on: seconds(row.median_s_view_to_try_on),
        median_s_try_on_to_purchase: seconds(row.median_s_try_on_to_purchase),
        ..row.clone()
    };
    let truth_rows: BTreeMap<String, &FunnelRow> = truth.rows.iter().map(|r| (key(r), r)).collect();
    let hq_rows: BTreeMap<String, &FunnelRow> = hq.rows.iter().map(|r| (key(r), r)).collect();
    let mut out = Vec::new();
    for (sku, t) in &truth_rows {
        match hq_rows.get(sku) {
            None => out.push(format!("{sku}: missing at HQ")),
            Some(h) if comparable(h) != comparable(t) => {
                out.push(format!("{sku}: HQ {h:?}, truth {t:?}"))
            }
            Some(_) => {}
        }
    }
    out.extend(
        hq_rows
            .keys()
            .filter(|sku| !truth_rows.contains_key(*sku))
            .map(|sku| format!("{sku}: at HQ but not in the truth")),
    );
    out
}

/// One line per SKU; every cell is `HQ|truth`.
pub fn side_by_side(
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
        let seconds = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.1}"));
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
    let widths: Vec<usize> = (0..header.len())
        .map(|c| {
            lines
                .iter()
                .map(|l| l[c].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = format!(
        "Funnel by SKU, window {}; each cell is HQ|truth\n",
        crate::funnel::report::format_window(truth.window_ms)
    );
    for line in &lines {
        let cells: Vec<String> = line
            .iter()
            .enumerate()
            .map(|(c, cell)| {
                if c < 2 {
                    format!("{cell:<w$}", w = widths[c])
                } else {
                    format!("{cell:>w$}", w = widths[c])
                }
            })
            .collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn differences_ignore_link_milliseconds_but_not_counts_or_late_steps() {
        let mut truth_row = row("a", 3);
        truth_row.median_s_view_to_try_on = Some(8.0);
        let truth = FunnelReport::new(
            3_600_000,
            vec![Dimension::Sku],
            vec![truth_row, row("b", 1)],
        );
        assert_eq!(differences(&truth, &truth), Vec::<String>::new());
        let mut hq = truth.clone();
        hq.rows[0].median_s_view_to_try_on = Some(8.004);
        assert_eq!(
            differences(&truth, &hq),
            Vec::<String>::new(),
            "milliseconds of link latency"
        );
        hq.rows[0].median_s_view_to_try_on = Some(8.6);
        assert_eq!(
            differences(&truth, &hq).len(),
            1,
            "a step late by over half a second"
        );
        hq.rows[0].median_s_view_to_try_on = Some(8.0);
        hq.rows[1].pickups += 1;
        hq.rows.push(row("c", 1));
        assert_eq!(
            differences(&truth, &hq).len(),
            2,
            "{:?}",
            differences(&truth, &hq)
        );
        hq.rows.remove(0);
        assert!(differences(&truth, &hq)
            .iter()
            .any(|d| d.starts_with("a: missing")));
    }

    #[test]
    fn shows_each_sku_once_with_hq_and_truth_in_every_cell() {
        let truth = FunnelReport::new(
            3_600_000,
            vec![Dimension::Sku],
            vec![row("a", 3), row("b", 1)],
        );
        let hq = FunnelReport::new(3_600_000, vec![Dimension::Sku], vec![row("a", 2)]);
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
