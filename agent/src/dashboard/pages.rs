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

/// The funnel chart of a row: exposure → pickup → journeys reaching try-on
/// → journeys reaching purchase.
pub(super) fn funnel_chart(ctx: &Ctx, row: &FunnelRow) -> String {
    let stages = [
        (T::Exposures, row.exposures),
        (T::Pickups, row.pickups),
        (T::Journeys, row.journeys),
        (T::JourneysTryOn, row.journeys_try_on),
        (T::JourneysPurchase, row.journeys_purchase),
    ];
    let stages: Vec<(&str, u64, String)> = stages
        .iter()
        .map(|(label, n)| (ctx.t(*label), *n, ctx.lang.count(*n)))
        .collect();
    svg::funnel(&stages)
}

/// One engine pass per day of the range, as totals of per-store rows; with
/// `sku`, that SKU's row only.
pub(super) fn daily(
    src: &Source,
    store: &EventStore,
    q: &Query,
    sku: Option<&str>,
) -> Result<Vec<(i64, FunnelRow)>, StoreError> {
    let filter = q.filter();
    let mut out = Vec::new();
    for day in data::days(store, &filter)? {
        let day_filter = data::day_filter(&filter, day);
        let row = match sku {
            None => {
                let report = src.report(store, &day_filter, q.window(), vec![Dimension::Store])?;
                data::total(&report.rows)
            }
            Some(code) => {
                let report = src.report(store, &day_filter, q.window(), vec![Dimension::Sku])?;
                report
                    .rows
                    .iter()
                    .find(|r| r.dims[0].as_deref() == Some(code))
                    .cloned()
                    .unwrap_or_default()
            }
        };
        out.push((day, row));
    }
    Ok(out)
}

/// The daily trend as a chart and a table (`id="days"`, one row per day).
pub(super) fn trend(ctx: &Ctx, days: &[(i64, FunnelRow)]) -> String {
    if days.is_empty() {
        return format!("<p class=\"note\">{}</p>", ctx.t(T::NoEvents));
    }
    let labels: Vec<String> = days.iter().map(|(d, _)| ctx.lang.day(*d)).collect();
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
            &protocol::time::UnixMillis(*day).to_string()[..10],
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

/// `/`: the chain's funnel (or one store's), beside each channel, with
/// rates, the daily trend and the stores.
pub(super) fn overview(src: &Source, ctx: &Ctx, q: &Query) -> Result<String, StoreError> {
    let store = src.open()?;
    let stores = data::stores(&store)?;
    let by_store = src.report(&store, &q.filter(), q.window(), vec![Dimension::Store])?;
    let total = data::total(&by_store.rows);
    let by_channel = src.report(&store, &q.filter(), q.window(), vec![Dimension::Channel])?;
    let days = daily(src, &store, q, None)?;
    let mut body = format!("<h1>{}</h1>", ctx.t(T::Overview));
    body.push_str(&filter_form(ctx, "/", &stores, ""));
    body.push_str(&kpis(ctx, &total));
    body.push_str(&section(ctx.t(T::Funnel), &funnel_chart(ctx, &total)));
    body.push_str(&section(
        ctx.t(T::PerChannel),
        &channels(ctx, &by_channel.rows),
    ));
    body.push_str(&section(ctx.t(T::DailyTrend), &trend(ctx, &days)));
    body.push_str(&section(
        ctx.t(T::PerStore),
        &store_table(ctx, &by_store.rows),
    ));
    Ok(page(ctx, "/", "/", ctx.t(T::Overview), &body))
}

/// One row per store (`id="stores"`), each linking to its Stores page.
fn store_table(ctx: &Ctx, rows: &[FunnelRow]) -> String {
    if rows.is_empty() {
        return format!("<p class=\"note\">{}</p>", ctx.t(T::NoData));
    }
    let max = table::maxima(rows);
    let mut out = table_head(
        "stores",
        &[(ctx.t(T::Store), true)],
        &table::header(ctx, Figures::All, None),
    );
    for row in rows {
        let id = row.dims[0].as_deref().unwrap_or("");
        let _ = write!(
            out,
            "<tr data-key=\"{k}\"><td class=\"k\"><a href=\"{href}\">{k}</a></td>{}</tr>",
            table::cells(ctx, row, Figures::All, Some(&max)),
            k = escape(id),
            href = ctx.link("/stores", &FILTER_KEYS, &[("store", id)]),
        );
    }
    out.push_str("</table>");
    out
}

/// `/stores`: every store's funnel; the fixtures (of the chosen store, or
/// all) ranked by exposures and then pickups.
pub(super) fn stores(src: &Source, ctx: &Ctx, q: &Query) -> Result<String, StoreError> {
    let store = src.open()?;
    let all = data::stores(&store)?;
    let filter = q.filter();
    let by_store = src.report(&store, &filter, q.window(), vec![Dimension::Store])?;
    let by_fixture = src.report(
        &store,
        &filter,
        q.window(),
        vec![Dimension::Store, Dimension::Fixture],
    )?;
    let mut fixtures: Vec<&FunnelRow> = by_fixture.rows.iter().collect();
    fixtures.sort_by(|a, b| {
        (b.exposures, b.pickups)
            .cmp(&(a.exposures, a.pickups))
            .then_with(|| a.dims.cmp(&b.dims))
    });
    let mut body = format!("<h1>{}</h1>", ctx.t(T::Stores));
    body.push_str(&filter_form(ctx, "/stores", &all, ""));
    body.push_str(&section(
        ctx.t(T::PerStore),
        &store_table(ctx, &by_store.rows),
    ));
    body.push_str(&section(ctx.t(T::Fixtures), ""));
    body.push_str(&table_head(
        "fixtures",
        &[(ctx.t(T::Store), true), (ctx.t(T::Fixture), true)],
        &table::header(ctx, Figures::WithoutMedians, None),
    ));
    let max = table::maxima(fixtures.iter().copied());
    for row in fixtures {
        let shop = row.dims[0].as_deref().unwrap_or("");
        let fixture = row.dims[1].as_deref().unwrap_or("–");
        let _ = write!(
            body,
            "<tr data-key=\"{}\"><td class=\"k\">{}</td><td class=\"k\">{}</td>{}</tr>",
            escape(&format!("{shop}/{fixture}")),
            escape(shop),
            escape(fixture),
            table::cells(ctx, row, Figures::WithoutMedians, Some(&max))
        );
    }
    body.push_str("</table>");
    Ok(page(ctx, "/stores", "/stores", ctx.t(T::Stores), &body))
}
