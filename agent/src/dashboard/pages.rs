//! The Overview and Stores pages: the chain's funnel for a date range with
//! its daily trend, and each store's funnel with its fixtures.
//!
//! Visits, zones, regions and hours are not collected
//! yet; each page has its place for them (the channel table, the store
//! table) and shows what exists.

use super::data::{self, Source};
use super::html::{escape, filter_form, page, section, table_head, Ctx, FILTER_KEYS};
use super::i18n::T;
use super::query::{Query, STORE_CHANNEL};
use super::svg;
use super::table::{self, Figures};
use crate::event_store::{EventStore, StoreError};
use crate::funnel::report::FunnelRow;
use crate::funnel::Dimension;
use std::fmt::Write as _;

/// The headline figures of a funnel as cards, named like the JSON fields.
fn kpis(ctx: &Ctx, row: &FunnelRow) -> String {
    let mut out = String::from("<div class=\"kpis\" id=\"kpis\">");
    if let Some(visits) = row.visits.filter(|v| *v > 0) {
        let _ = write!(
            out,
            "<div class=\"kpi\" data-field=\"visits\">{}<b>{}</b></div>",
            ctx.t(T::Visits),
            ctx.lang.count(visits)
        );
    }
    let counts = [
        ("exposures", T::Exposures, row.exposures),
        ("pickups", T::Pickups, row.pickups),
        ("journeys", T::Journeys, row.journeys),
        ("journeys_try_on", T::JourneysTryOn, row.journeys_try_on),
        (
            "journeys_purchase",
            T::JourneysPurchase,
            row.journeys_purchase,
        ),
    ];
    for (field, label, n) in counts {
        let _ = write!(
            out,
            "<div class=\"kpi\" data-field=\"{field}\">{}<b>{}</b></div>",
            ctx.t(label),
            ctx.lang.count(n)
        );
    }
    let rates = [
        (
            "exposure_to_view",
            T::ExposureToView,
            row.exposure_to_view(),
        ),
        ("view_to_try_on", T::ViewToTryOn, row.view_to_try_on()),
        (
            "try_on_to_purchase",
            T::TryOnToPurchase,
            row.try_on_to_purchase(),
        ),
        (
            "view_to_purchase",
            T::ViewToPurchase,
            row.view_to_purchase(),
        ),
    ];
    for (field, label, r) in rates {
        let _ = write!(
            out,
            "<div class=\"kpi\" data-field=\"{field}\">{}<b>{}</b></div>",
            ctx.t(label),
            ctx.lang.rate(r)
        );
    }
    out.push_str("</div>");
    out
}

/// The funnel chart of a row: visits (where counted) → exposure → pickup →
/// journeys reaching try-on → journeys reaching purchase.
pub(super) fn funnel_chart(ctx: &Ctx, row: &FunnelRow) -> String {
    // Without an entrance counter there is nothing to draw the funnel from.
    let visits = row.visits.filter(|v| *v > 0).map(|v| (T::Visits, v));
    let stages = visits.into_iter().chain([
        (T::Exposures, row.exposures),
        (T::Pickups, row.pickups),
        (T::Journeys, row.journeys),
        (T::JourneysTryOn, row.journeys_try_on),
        (T::JourneysPurchase, row.journeys_purchase),
    ]);
    let stages: Vec<(&str, u64, String)> = stages
        .map(|(label, n)| (ctx.t(label), n, ctx.lang.count(n)))
        .collect();
    svg::funnel(&stages)
}

/// The daily trend: rows keyed by the engine's `day` (each store's local
/// day), from one pass over the range; with `sku`, that SKU's rows. The
/// last [`data::MAX_DAYS`] days with any figure.
pub(super) fn daily(
    src: &Source,
    store: &EventStore,
    q: &Query,
    sku: Option<&str>,
) -> Result<Vec<(String, FunnelRow)>, StoreError> {
    let mut days: Vec<(String, FunnelRow)> = match sku {
        None => src
            .rows(store, q, vec![Dimension::Day])?
            .into_iter()
            .map(|row| (row.dims[0].clone().unwrap_or_default(), row))
            .collect(),
        Some(code) => src
            .rows(store, q, vec![Dimension::Sku, Dimension::Day])?
            .into_iter()
            .filter(|row| row.dims[0].as_deref() == Some(code))
            .map(|row| (row.dims[1].clone().unwrap_or_default(), row))
            .collect(),
    };
    let older = days.len().saturating_sub(data::MAX_DAYS);
    days.drain(..older);
    Ok(days)
}

/// A `day` value (`2026-11-20`) as the page's language writes it.
pub(super) fn day_label(ctx: &Ctx, day: &str) -> String {
    match format!("{day}T00:00:00Z").parse::<protocol::time::UnixMillis>() {
        Ok(ms) => ctx.lang.day(ms.0),
        Err(_) => day.to_string(),
    }
}

/// The daily trend as a chart and a table (`id="days"`, one row per day).
pub(super) fn trend(ctx: &Ctx, days: &[(String, FunnelRow)]) -> String {
    if days.is_empty() {
        return format!("<p class=\"note\">{}</p>", ctx.t(T::NoEvents));
    }
    let labels: Vec<String> = days.iter().map(|(d, _)| day_label(ctx, d)).collect();
    let series = [
        (
            ctx.t(T::Pickups),
            svg::STAGE_COLOURS[1],
            days.iter().map(|(_, r)| r.pickups).collect(),
        ),
        (
            ctx.t(T::TryOns),
            svg::STAGE_COLOURS[3],
            days.iter().map(|(_, r)| r.try_ons).collect(),
        ),
        (
            ctx.t(T::Purchases),
            svg::STAGE_COLOURS[4],
            days.iter().map(|(_, r)| r.purchases).collect(),
        ),
    ];
    let mut out = svg::lines(&labels, &series);
    let _ = write!(out, "<p class=\"note\">{}</p>", ctx.t(T::DaysNote));
    out.push_str(&table_head(
        "days",
        &[(ctx.t(T::Day), true)],
        &table::header(ctx, Figures::WithoutMedians, None),
    ));
    for ((day, row), label) in days.iter().zip(&labels) {
        let _ = write!(
            out,
            "<tr data-key=\"{}\"><td class=\"k\">{}</td>{}</tr>",
            escape(day),
            escape(label),
            table::cells(ctx, row, Figures::WithoutMedians, None)
        );
    }
    out.push_str("</table>");
    out
}

/// The channel table: the stores' funnel beside each imported online
/// channel, from rows keyed by channel last (`store` is what the tags saw).
pub(super) fn channels(ctx: &Ctx, rows: &[FunnelRow]) -> String {
    let mut out = table_head(
        "channels",
        &[(ctx.t(T::Channel), true)],
        &table::header(ctx, Figures::WithoutMedians, None),
    );
    let mut online = false;
    for row in rows {
        let channel = row.dims.last().cloned().flatten().unwrap_or_default();
        let label = if channel == STORE_CHANNEL {
            ctx.t(T::InStore).to_string()
        } else {
            online = true;
            escape(&channel)
        };
        let _ = write!(
            out,
            "<tr data-key=\"{}\"><td class=\"k\">{label}</td>{}</tr>",
            escape(&channel),
            table::cells(ctx, row, Figures::WithoutMedians, None)
        );
    }
    out.push_str("</table>");
    let note = if online { T::OnlineMeaning } else { T::NotYet };
    let _ = write!(out, "<p class=\"note\">{}</p>", ctx.t(note));
    out
}

/// What the Overview shows: the `--by store` rows (the store table, and
/// summed, the headline figures), the `--by channel` rows and the daily
/// trend.
pub(super) struct OverviewReports {
    pub by_store: Vec<FunnelRow>,
    pub by_channel: Vec<FunnelRow>,
    pub days: Vec<(String, FunnelRow)>,
}

/// The Overview's three reports, each on its own thread and connection, so
/// the page waits for the longest pass over the events rather than for the
/// sum of three. They stay three passes: the store table needs each store's
/// medians, which no other keying gives, and the engine's rules promise no
/// keying's rows add up to another's, so neither the trend nor the channel
/// rows can stand in for the store rows (the total is summed from the
/// store rows, as before).
pub(super) fn overview_reports(src: &Source, q: &Query) -> Result<OverviewReports, StoreError> {
    std::thread::scope(|scope| {
        let by_store = scope.spawn(|| src.rows(&src.open()?, q, vec![Dimension::Store]));
        let by_channel = scope.spawn(|| {
            let store = src.open()?;
            let report = src.report(&store, &q.filter(), q.window(), vec![Dimension::Channel])?;
            Ok::<_, StoreError>(report.rows.clone())
        });
        let days = daily(src, &src.open()?, q, None);
        let join = |handle: std::thread::ScopedJoinHandle<'_, _>| {
            handle
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
        };
        Ok(OverviewReports {
            by_store: join(by_store)?,
            by_channel: join(by_channel)?,
            days: days?,
        })
    })
}

/// `/`: the chain's funnel (or one store's, or one channel's), beside each
/// channel, with rates, the daily trend and the stores.
pub(super) fn overview(src: &Source, ctx: &Ctx, q: &Query) -> Result<String, StoreError> {
    let choices = src.choices(&src.open()?, q)?;
    let OverviewReports {
        by_store,
        by_channel,
        days,
    } = overview_reports(src, q)?;
    let total = data::total(&by_store);
    let mut body = format!("<h1>{}</h1>", ctx.t(T::Overview));
    body.push_str(&filter_form(ctx, "/", &choices, ""));
    body.push_str(&kpis(ctx, &total));
    body.push_str(&section(ctx.t(T::Funnel), &funnel_chart(ctx, &total)));
    body.push_str(&section(ctx.t(T::PerChannel), &channels(ctx, &by_channel)));
    body.push_str(&section(ctx.t(T::DailyTrend), &trend(ctx, &days)));
    body.push_str(&section(ctx.t(T::PerStore), &store_table(ctx, &by_store)));
    Ok(page(ctx, "/", "/", ctx.t(T::Overview), &body))
}

/// One row per store (`id="stores"`), each linking to its Stores page.
pub(super) fn store_table(ctx: &Ctx, rows: &[FunnelRow]) -> String {
    if rows.is_empty() {
        return format!("<p class=\"note\">{}</p>", ctx.t(T::NoData));
    }
    let max = table::maxima(rows);
    let mut out = table_head(
        "stores",
        &[(ctx.t(T::Store), true)],
        &(table::header(ctx, Figures::All, None) + &table::extra_header(ctx, &table::VISIT_FIELDS)),
    );
    for row in rows {
        let id = row.dims[0].as_deref().unwrap_or("");
        let _ = write!(
            out,
            "<tr data-key=\"{k}\"><td class=\"k\"><a href=\"{href}\">{k}</a></td>{}{}</tr>",
            table::cells(ctx, row, Figures::All, Some(&max)),
            table::visit_cells(ctx, row),
            k = escape(id),
            href = ctx.link("/stores", &FILTER_KEYS, &[("store", id)]),
        );
    }
    out.push_str("</table>");
    out
}
