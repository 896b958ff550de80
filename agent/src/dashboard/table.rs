//! Funnel rows as HTML table cells, with the same field names as the JSON
//! report (`data-field="pickups"`), so a reader (or a test) can match
//! every figure on a page to `aisle funnel --format json`.

use super::html::{escape, Ctx};
use super::i18n::T;
use super::svg;
use crate::funnel::report::FunnelRow;
use std::cmp::Ordering;
use std::fmt::Write as _;

/// The report's figures in its JSON order, with their labels.
pub(super) const FIELDS: [(&str, T); 13] = [
    ("exposures", T::Exposures),
    ("pickups", T::Pickups),
    ("try_ons", T::TryOns),
    ("purchases", T::Purchases),
    ("journeys", T::Journeys),
    ("journeys_try_on", T::JourneysTryOn),
    ("journeys_purchase", T::JourneysPurchase),
    ("exposure_to_view", T::ExposureToView),
    ("view_to_try_on", T::ViewToTryOn),
    ("try_on_to_purchase", T::TryOnToPurchase),
    ("view_to_purchase", T::ViewToPurchase),
    ("median_s_view_to_try_on", T::MedianViewToTryOn),
    ("median_s_try_on_to_purchase", T::MedianTryOnToPurchase),
];

/// One figure of a row.
enum Figure {
    Count(u64),
    Rate(Option<f64>),
    Seconds(Option<i64>),
}

fn figure(row: &FunnelRow, field: &str) -> Figure {
    match field {
        "exposures" => Figure::Count(row.exposures),
        "pickups" => Figure::Count(row.pickups),
        "try_ons" => Figure::Count(row.try_ons),
        "purchases" => Figure::Count(row.purchases),
        "journeys" => Figure::Count(row.journeys),
        "journeys_try_on" => Figure::Count(row.journeys_try_on),
        "journeys_purchase" => Figure::Count(row.journeys_purchase),
        "exposure_to_view" => Figure::Rate(row.exposure_to_view()),
        "view_to_try_on" => Figure::Rate(row.view_to_try_on()),
        "try_on_to_purchase" => Figure::Rate(row.try_on_to_purchase()),
        "view_to_purchase" => Figure::Rate(row.view_to_purchase()),
        "median_s_view_to_try_on" => Figure::Seconds(row.median_s_view_to_try_on),
        _ => Figure::Seconds(row.median_s_try_on_to_purchase),
    }
}

/// Whether `field` names a figure (for `sort=`).
pub(super) fn is_field(field: &str) -> bool {
    FIELDS.iter().any(|(f, _)| *f == field)
}

/// Orders two rows by `field`, rows without a value last.
pub(super) fn compare(a: &FunnelRow, b: &FunnelRow, field: &str) -> Ordering {
    let key = |row: &FunnelRow| -> Option<f64> {
        match figure(row, field) {
            Figure::Count(n) => Some(n as f64),
            Figure::Rate(r) => r,
            Figure::Seconds(s) => s.map(|s| s as f64),
        }
    };
    match (key(a), key(b)) {
        (Some(x), Some(y)) => x.total_cmp(&y),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => Ordering::Equal,
    }
}

/// Which figures a table shows: all, or the counts only.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Figures {
    All,
    WithoutMedians,
}

fn shown(figures: Figures) -> &'static [(&'static str, T)] {
    match figures {
        Figures::All => &FIELDS,
        Figures::WithoutMedians => &FIELDS[..11],
    }
}

/// Header cells for the figures; with `sort`, each is a link that sorts by
/// it (the current column toggles its direction).
pub(super) fn header(ctx: &Ctx, figures: Figures, sort: Option<&Sort<'_>>) -> String {
    let mut out = String::new();
    for (field, label) in shown(figures) {
        match sort {
            Some(sort) => {
                let desc = if sort.field == *field && sort.descending {
                    "asc"
                } else {
                    "desc"
                };
                let mark = match (sort.field == *field, sort.descending) {
                    (true, true) => " ▼",
                    (true, false) => " ▲",
                    _ => "",
                };
                let _ = write!(
                    out,
                    "<th data-sort=\"{field}\"><a href=\"{}\">{}{mark}</a></th>",
                    ctx.link(sort.path, sort.keep, &[("sort", field), ("dir", desc)]),
                    ctx.t(*label)
                );
            }
            None => {
                let _ = write!(out, "<th>{}</th>", ctx.t(*label));
            }
        }
    }
    out
}

/// How a sortable table links its headers.
pub(super) struct Sort<'a> {
    pub path: &'a str,
    pub keep: &'a [&'a str],
    pub field: &'a str,
    pub descending: bool,
}

/// The figure cells of `row`; with `max`, the counts get a bar scaled to it.
pub(super) fn cells(
    ctx: &Ctx,
    row: &FunnelRow,
    figures: Figures,
    max: Option<&FunnelRow>,
) -> String {
    let mut out = String::new();
    for (i, (field, _)) in shown(figures).iter().enumerate() {
        let text = match figure(row, field) {
            Figure::Count(n) => ctx.lang.count(n),
            Figure::Rate(r) => ctx.lang.rate(r),
            Figure::Seconds(s) => ctx.lang.seconds(s),
        };
        let bar = match (max, figure(row, field)) {
            (Some(max), Figure::Count(n)) if i < 4 => {
                let Figure::Count(top) = figure(max, field) else {
                    unreachable!("the same field of another row is a count too")
                };
                svg::bar(n, top, svg::STAGE_COLOURS[i + 1])
            }
            _ => String::new(),
        };
        let _ = write!(
            out,
            "<td data-field=\"{field}\">{bar}<span class=\"v\">{}</span></td>",
            escape(&text)
        );
    }
    out
}

/// The row-wise maximum of each count, for scaling bars.
pub(super) fn maxima<'a>(rows: impl IntoIterator<Item = &'a FunnelRow>) -> FunnelRow {
    let mut max = FunnelRow::default();
    for row in rows {
        max.exposures = max.exposures.max(row.exposures);
        max.pickups = max.pickups.max(row.pickups);
        max.try_ons = max.try_ons.max(row.try_ons);
        max.purchases = max.purchases.max(row.purchases);
    }
    max
}

/// The visit figures of store-level rows, in their JSON order.
pub(super) const VISIT_FIELDS: [(&str, T); 5] = [
    ("visits", T::Visits),
    ("exposures_per_visit", T::ExposuresPerVisit),
    ("pickups_per_visit", T::PickupsPerVisit),
    ("try_ons_per_visit", T::TryOnsPerVisit),
    ("purchases_per_visit", T::PurchasesPerVisit),
];

/// The dwell figures of zone and fixture rows, in their JSON order.
pub(super) const DWELL_FIELDS: [(&str, T); 3] = [
    ("dwells", T::Dwells),
    ("dwell_s_median", T::DwellMedian),
    ("dwell_s_total", T::DwellTotal),
];

/// Header cells for `fields` (from [`VISIT_FIELDS`] or [`DWELL_FIELDS`]).
pub(super) fn extra_header(ctx: &Ctx, fields: &[(&str, T)]) -> String {
    fields
        .iter()
        .map(|(_, label)| format!("<th>{}</th>", ctx.t(*label)))
        .collect()
}

/// The visit figures of `row`: a dash where the row has none (no entrance
/// counter reported, or no visits to divide by).
pub(super) fn visit_cells(ctx: &Ctx, row: &FunnelRow) -> String {
    let values = [
        row.visits.map(|v| ctx.lang.count(v)),
        row.exposures_per_visit().map(|r| ctx.lang.per_visit(r)),
        row.pickups_per_visit().map(|r| ctx.lang.per_visit(r)),
        row.try_ons_per_visit().map(|r| ctx.lang.per_visit(r)),
        row.purchases_per_visit().map(|r| ctx.lang.per_visit(r)),
    ];
    extra_cells(&VISIT_FIELDS, values)
}

/// The dwell figures of `row`.
pub(super) fn dwell_cells(ctx: &Ctx, row: &FunnelRow) -> String {
    let values = [
        row.dwells.map(|d| ctx.lang.count(d)),
        row.dwell_s_median.map(|s| ctx.lang.seconds(Some(s))),
        row.dwell_s_total.map(|s| ctx.lang.seconds(Some(s))),
    ];
    extra_cells(&DWELL_FIELDS, values)
}

fn extra_cells<const N: usize>(fields: &[(&str, T); N], values: [Option<String>; N]) -> String {
    let mut out = String::new();
    for ((field, _), value) in fields.iter().zip(values) {
        let _ = write!(
            out,
            "<td data-field=\"{field}\"><span class=\"v\">{}</span></td>",
            escape(value.as_deref().unwrap_or("–"))
        );
    }
    out
}
