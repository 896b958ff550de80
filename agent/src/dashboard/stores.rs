//! The Stores page: each store's funnel and visits, the regions (with a
//! store directory), visits by the stores' local day and hour with the
//! figures per visit, per store and per region, the zones ranked by
//! dwell, and the fixtures by exposures and pickups.
//!
//! Every table is rows of one engine report, keyed as `aisle funnel --by`
//! names in the table's `data-by`, so each figure can be checked against
//! `aisle funnel --format json` for the same parameters.

use super::data::{self, Source};
use super::html::{escape, filter_form, page, section, table_head, Ctx};
use super::i18n::T;
use super::pages::{day_label, store_table};
use super::query::Query;
use super::svg;
use super::table::{self, Figures};
use crate::event_store::StoreError;
use crate::funnel::report::FunnelRow;
use crate::funnel::Dimension;
use std::fmt::Write as _;

/// `/stores`: every store's funnel and visits, the regions, visits by day
/// and by hour, the zones by dwell, the fixtures by exposures and pickups.
pub(super) fn page_html(src: &Source, ctx: &Ctx, q: &Query) -> Result<String, StoreError> {
    let store = src.open()?;
    let choices = src.choices(&store, q)?;
    let by_store = src.rows(&store, q, vec![Dimension::Store])?;
    let mut body = format!("<h1>{}</h1>", ctx.t(T::Stores));
    body.push_str(&filter_form(ctx, "/stores", &choices, ""));
    body.push_str(&section(ctx.t(T::PerStore), &store_table(ctx, &by_store)));
    let _ = write!(body, "<p class=\"note\">{}</p>", ctx.t(T::VisitsNote));
    if !src.stores.is_empty() {
        let regions = src.rows(&store, q, vec![Dimension::Region])?;
        body.push_str(&section(
            ctx.t(T::PerRegion),
            &keyed_table(
                ctx,
                "regions",
                "region",
                &[T::Region],
                &regions,
                Extra::Visits,
            ),
        ));
    }

    let by_day = src.rows(&store, q, vec![Dimension::Store, Dimension::Day])?;
    let day_totals = src.rows(&store, q, vec![Dimension::Day])?;
    let mut html = visits_chart(ctx, &day_totals, |d| day_label(ctx, d));
    html.push_str(&keyed_table(
        ctx,
        "store-days",
        "store,day",
        &[T::Store, T::Day],
        &by_day,
        Extra::Visits,
    ));
    body.push_str(&section(ctx.t(T::VisitsByDay), &html));

    let by_hour = src.rows(&store, q, vec![Dimension::Store, Dimension::Hour])?;
    let hour_totals = src.rows(&store, q, vec![Dimension::Hour])?;
    let mut html = visits_chart(ctx, &hour_totals, |h| h.replace('T', " ") + "h");
    html.push_str(&keyed_table(
        ctx,
        "store-hours",
        "store,hour",
        &[T::Store, T::Hour],
        &by_hour,
        Extra::Visits,
    ));
    body.push_str(&section(ctx.t(T::VisitsByHour), &html));

    if !src.stores.is_empty() {
        for (dim, id, title, column) in [
            (Dimension::Day, "region-days", T::RegionDays, T::Day),
            (Dimension::Hour, "region-hours", T::RegionHours, T::Hour),
        ] {
            let rows = src.rows(&store, q, vec![Dimension::Region, dim])?;
            let mut html = region_chart(ctx, &rows, dim);
            html.push_str(&keyed_table(
                ctx,
                id,
                &format!("region,{dim}"),
                &[T::Region, column],
                &rows,
                Extra::Visits,
            ));
            body.push_str(&section(ctx.t(title), &html));
        }
    }

    let mut zones = src.rows(&store, q, vec![Dimension::Zone])?;
    zones.sort_by(|a, b| {
        (b.dwell_s_total, b.dwell_s_median)
            .cmp(&(a.dwell_s_total, a.dwell_s_median))
            .then_with(|| a.dims.cmp(&b.dims))
    });
    body.push_str(&section(
        ctx.t(T::Zones),
        &keyed_table(ctx, "zones", "zone", &[T::Zone], &zones, Extra::Dwells),
    ));

    let mut fixtures = src.rows(&store, q, vec![Dimension::Store, Dimension::Fixture])?;
    fixtures.sort_by(|a, b| {
        (b.exposures, b.pickups)
            .cmp(&(a.exposures, a.pickups))
            .then_with(|| a.dims.cmp(&b.dims))
    });
    body.push_str(&section(
        ctx.t(T::Fixtures),
        &keyed_table(
            ctx,
            "fixtures",
            "store,fixture",
            &[T::Store, T::Fixture],
            &fixtures,
            Extra::Dwells,
        ),
    ));
    Ok(page(ctx, "/stores", "/stores", ctx.t(T::Stores), &body))
}

/// The key cells of a row and its `data-key` (the dimension values joined
/// by `/`, `–` for none).
fn keys(row: &FunnelRow) -> (String, String) {
    let values: Vec<&str> = row
        .dims
        .iter()
        .map(|d| d.as_deref().unwrap_or("–"))
        .collect();
    let cells = values
        .iter()
        .map(|v| format!("<td class=\"k\">{}</td>", escape(v)))
        .collect();
    (escape(&values.join("/")), cells)
}

/// What a table shows after the funnel's counts.
#[derive(Clone, Copy)]
enum Extra {
    /// Rows keyed by store-level dimensions: the visits and the figures
    /// per visit.
    Visits,
    /// Rows keyed by zone or fixture: the dwell figures, with bars scaled
    /// to the largest count.
    Dwells,
}

/// A table of `rows` keyed by `columns`, their counts and `extra`'s
/// figures.
fn keyed_table(
    ctx: &Ctx,
    id: &str,
    by: &str,
    columns: &[T],
    rows: &[FunnelRow],
    extra: Extra,
) -> String {
    if rows.is_empty() {
        return format!("<p class=\"note\">{}</p>", ctx.t(T::NoData));
    }
    let columns: Vec<(&str, bool)> = columns.iter().map(|c| (ctx.t(*c), true)).collect();
    let fields: &[_] = match extra {
        Extra::Visits => &table::VISIT_FIELDS,
        Extra::Dwells => &table::DWELL_FIELDS,
    };
    let mut out = table_head(
        id,
        &columns,
        &(table::header(ctx, Figures::WithoutMedians, None) + &table::extra_header(ctx, fields)),
    )
    .replacen("<table ", &format!("<table data-by=\"{by}\" "), 1);
    let max = match extra {
        Extra::Visits => None,
        Extra::Dwells => Some(table::maxima(rows)),
    };
    for row in rows {
        let (key, cells) = keys(row);
        let extra_cells = match extra {
            Extra::Visits => table::visit_cells(ctx, row),
            Extra::Dwells => table::dwell_cells(ctx, row),
        };
        let _ = write!(
            out,
            "<tr data-key=\"{key}\">{cells}{}{extra_cells}</tr>",
            table::cells(ctx, row, Figures::WithoutMedians, max.as_ref()),
        );
    }
    out.push_str("</table>");
    out
}

/// Visits over the periods of `rows` (keyed by one time dimension) as a
/// line; nothing when no row has visits.
fn visits_chart(ctx: &Ctx, rows: &[FunnelRow], label: impl Fn(&str) -> String) -> String {
    if rows.iter().all(|r| r.visits.is_none()) {
        return String::new();
    }
    let rows = &rows[rows.len().saturating_sub(data::MAX_DAYS * 24)..];
    let labels: Vec<String> = rows
        .iter()
        .map(|r| label(r.dims[0].as_deref().unwrap_or("–")))
        .collect();
    let series = [(
        ctx.t(T::Visits),
        svg::VISITS_COLOUR,
        rows.iter().map(|r| r.visits.unwrap_or(0)).collect(),
    )];
    svg::lines(&labels, &series)
}

/// Visits of each region (rows keyed `region,{day|hour}`) over the periods
/// as one line per region; nothing when no row has visits.
fn region_chart(ctx: &Ctx, rows: &[FunnelRow], period: Dimension) -> String {
    if rows.iter().all(|r| r.visits.is_none_or(|v| v == 0)) {
        return String::new();
    }
    let key = |r: &FunnelRow, i: usize| r.dims[i].clone().unwrap_or_else(|| "–".to_string());
    let mut periods: Vec<String> = rows.iter().map(|r| key(r, 1)).collect();
    periods.sort();
    periods.dedup();
    let periods = &periods[periods.len().saturating_sub(data::MAX_DAYS * 24)..];
    let mut regions: Vec<String> = rows.iter().map(|r| key(r, 0)).collect();
    regions.sort();
    regions.dedup();
    let labels: Vec<String> = periods
        .iter()
        .map(|p| match period {
            Dimension::Day => day_label(ctx, p),
            _ => p.replace('T', " ") + "h",
        })
        .collect();
    let series: Vec<(&str, &str, Vec<u64>)> = regions
        .iter()
        .zip(svg::SERIES_COLOURS.iter().cycle())
        .map(|(region, colour)| {
            let visits = periods
                .iter()
                .map(|p| {
                    rows.iter()
                        .find(|r| key(r, 0) == *region && key(r, 1) == *p)
                        .and_then(|r| r.visits)
                        .unwrap_or(0)
                })
                .collect();
            (region.as_str(), *colour, visits)
        })
        .collect();
    svg::lines(&labels, &series)
}
