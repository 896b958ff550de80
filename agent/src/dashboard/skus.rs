//! The SKUs page (every SKU or style with its funnel as bars and rates,
//! searchable and sortable) and the page of one SKU (its funnel per
//! channel, per store and per day, and its median times between steps).

use super::data::Source;
use super::html::{escape, filter_form, page, section, table_head, Ctx, FILTER_KEYS};
use super::i18n::T;
use super::pages::{channels, daily, funnel_chart, trend};
use super::query::Query;
use super::table::{self, Figures, Sort};
use crate::event_store::StoreError;
use crate::funnel::report::FunnelRow;
use crate::funnel::Dimension;
use std::fmt::Write as _;

/// The keys the SKU list's links keep.
const LIST_KEYS: [&str; 9] = [
    "from", "to", "store", "window", "channel", "lang", "by", "q", "sort",
];

/// `/skus`: one row per SKU (`by=style`: per style), filtered by `q` on the
/// code or the catalog name, sorted by `sort` (a JSON field name, or `sku`
/// or `name`) in `dir`.
pub(super) fn list(src: &Source, ctx: &Ctx, q: &Query) -> Result<String, StoreError> {
    let by_style = matches!(q.by.as_deref(), Some([Dimension::Style]));
    let store = src.open()?;
    let stores = super::data::stores(&store)?;
    let channel_list = super::data::channels(&store)?;
    let dim = if by_style {
        Dimension::Style
    } else {
        Dimension::Sku
    };
    let report = src.rows(&store, q, vec![dim])?;
    let needle = q.q.as_deref().map(str::to_lowercase);
    let mut rows: Vec<(&str, Option<&str>, &FunnelRow)> = report
        .iter()
        .map(|row| {
            let code = row.dims[0].as_deref().unwrap_or("–");
            let name = if by_style { None } else { src.name(code) };
            (code, name, row)
        })
        .filter(|(code, name, _)| {
            needle.as_deref().is_none_or(|n| {
                code.to_lowercase().contains(n)
                    || name.is_some_and(|m| m.to_lowercase().contains(n))
            })
        })
        .collect();
    let sort = q.sort.as_deref().unwrap_or("sku");
    match sort {
        "name" => rows.sort_by(|a, b| a.1.unwrap_or("").cmp(b.1.unwrap_or("")).then(a.0.cmp(b.0))),
        field if table::is_field(field) => {
            rows.sort_by(|a, b| table::compare(a.2, b.2, field).then(a.0.cmp(b.0)))
        }
        _ => rows.sort_by(|a, b| a.0.cmp(b.0)),
    }
    if q.descending {
        rows.reverse();
    }

    let title = if by_style { T::Styles } else { T::Skus };
    let mut body = format!("<h1>{}</h1><p>", ctx.t(title));
    for (label, by) in [(T::Skus, "sku"), (T::Styles, "style")] {
        if by == "style" && !src.has_styles() {
            continue;
        }
        let _ = write!(
            body,
            "<a id=\"by-{by}\" href=\"{}\">{}</a> ",
            ctx.link("/skus", &FILTER_KEYS, &[("by", by)]),
            ctx.t(label)
        );
    }
    body.push_str("</p>");
    let extra = format!(
        "<label>{search}<input type=\"search\" name=\"q\" id=\"search\" value=\"{qv}\"></label>\
         <input type=\"hidden\" name=\"by\" value=\"{by}\">",
        search = ctx.t(T::Search),
        qv = escape(ctx.value("q")),
        by = dim.as_str(),
    );
    body.push_str(&filter_form(ctx, "/skus", &stores, &channel_list, &extra));
    if rows.is_empty() {
        let _ = write!(body, "<p class=\"note\">{}</p>", ctx.t(T::NoData));
        return Ok(page(ctx, "/skus", "/skus", ctx.t(title), &body));
    }
    let sorting = Sort {
        path: "/skus",
        keep: &LIST_KEYS,
        field: sort,
        descending: q.descending,
    };
    let key_header = |field: &str, label: T| {
        let dir = if sort == field && !q.descending {
            "desc"
        } else {
            "asc"
        };
        format!(
            "<th class=\"k\" data-sort=\"{field}\"><a href=\"{}\">{}</a></th>",
            ctx.link("/skus", &LIST_KEYS, &[("sort", field), ("dir", dir)]),
            ctx.t(label)
        )
    };
    let _ = write!(
        body,
        "<table id=\"skus\"><tr>{}{}{}</tr>",
        key_header("sku", if by_style { T::Styles } else { T::Sku }),
        if by_style {
            String::new()
        } else {
            key_header("name", T::Name)
        },
        table::header(ctx, Figures::All, Some(&sorting))
    );
    let max = table::maxima(rows.iter().map(|r| r.2));
    for (code, name, row) in &rows {
        let key = if by_style {
            escape(code)
        } else {
            format!(
                "<a href=\"{}\">{}</a>",
                ctx.link("/sku", &FILTER_KEYS, &[("code", code)]),
                escape(code)
            )
        };
        let name = if by_style {
            String::new()
        } else {
            format!("<td class=\"k name\">{}</td>", escape(name.unwrap_or("")))
        };
        let _ = write!(
            body,
            "<tr data-key=\"{}\"><td class=\"k\">{key}</td>{name}{}</tr>",
            escape(code),
            table::cells(ctx, row, Figures::All, Some(&max))
        );
    }
    body.push_str("</table>");
    Ok(page(ctx, "/skus", "/skus", ctx.t(title), &body))
}

/// `/sku?code=…`: one SKU's funnel, per channel, per store and per day,
/// with its medians. An unknown code shows an empty funnel, not an error:
/// a SKU may simply have had no events in the range.
pub(super) fn one(src: &Source, ctx: &Ctx, q: &Query, code: &str) -> Result<String, StoreError> {
    let store = src.open()?;
    let stores = super::data::stores(&store)?;
    let channel_list = super::data::channels(&store)?;
    let total = src
        .rows(&store, q, vec![Dimension::Sku])?
        .iter()
        .find(|r| r.dims[0].as_deref() == Some(code))
        .cloned()
        .unwrap_or_default();
    let per_store: Vec<FunnelRow> = src
        .rows(&store, q, vec![Dimension::Sku, Dimension::Store])?
        .iter()
        .filter(|r| r.dims[0].as_deref() == Some(code))
        .cloned()
        .collect();
    let per_channel: Vec<FunnelRow> = src
        .report(
            &store,
            &q.filter(),
            q.window(),
            vec![Dimension::Sku, Dimension::Channel],
        )?
        .rows
        .iter()
        .filter(|r| r.dims[0].as_deref() == Some(code))
        .cloned()
        .collect();
    let days = daily(src, &store, q, Some(code))?;

    let title = match src.name(code) {
        Some(name) => format!("{code} · {name}"),
        None => code.to_string(),
    };
    let mut body = format!("<h1 id=\"sku-title\">{}</h1>", escape(&title));
    let hidden = format!(
        "<input type=\"hidden\" name=\"code\" value=\"{}\">",
        escape(code)
    );
    body.push_str(&filter_form(ctx, "/sku", &stores, &channel_list, &hidden));
    body.push_str(&section(ctx.t(T::Funnel), &funnel_chart(ctx, &total)));
    let _ = write!(
        body,
        "<table id=\"sku-total\"><tr>{}</tr><tr data-key=\"{}\">{}</tr></table>",
        table::header(ctx, Figures::All, None),
        escape(code),
        table::cells(ctx, &total, Figures::All, None)
    );
    body.push_str(&section(ctx.t(T::PerChannel), &channels(ctx, &per_channel)));
    body.push_str(&section(ctx.t(T::PerStore), ""));
    body.push_str(&table_head(
        "sku-stores",
        &[(ctx.t(T::Store), true)],
        &table::header(ctx, Figures::All, None),
    ));
    let max = table::maxima(&per_store);
    for row in &per_store {
        let shop = row.dims[1].as_deref().unwrap_or("");
        let _ = write!(
            body,
            "<tr data-key=\"{k}\"><td class=\"k\">{k}</td>{}</tr>",
            table::cells(ctx, row, Figures::All, Some(&max)),
            k = escape(shop)
        );
    }
    body.push_str("</table>");
    body.push_str(&section(ctx.t(T::PerDay), &trend(ctx, &days)));
    Ok(page(ctx, "/sku", "/skus", &title, &body))
}
