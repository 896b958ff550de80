//! The SKUs page (every SKU or style with its funnel as bars and rates,
//! searchable and sortable) and the page of one SKU (its funnel per
//! channel, per store and per day, and its median times between steps).

use super::data::Source;
use super::html::{escape, filter_form, page, section, table_head, Ctx, FILTER_KEYS};
use super::i18n::T;
use super::pages::{channels, daily, funnel_chart, trend};
use super::query::Query;
use super::table::{self, Figures, Sort};
use crate::event_store::{EventStore, StoreError};
use crate::funnel::report::FunnelRow;
use crate::funnel::Dimension;
use std::fmt::Write as _;

/// The keys the SKU list's links keep.
const LIST_KEYS: [&str; 11] = [
    "from", "to", "store", "region", "brand", "window", "channel", "lang", "by", "q", "sort",
];
/// The keys a page link of the list keeps: the list's and the direction.
const PAGE_LINK_KEYS: [&str; 12] = [
    "from", "to", "store", "region", "brand", "window", "channel", "lang", "by", "q", "sort", "dir",
];
/// Rows per page of the list: a chain's catalog has thousands of SKUs, and
/// a page of them all weighs megabytes before it is read. Search and sort
/// run over every row on the server, so a page is a slice of the whole
/// sorted list.
pub(super) const PAGE_ROWS: usize = 200;

/// What `/skus` answers: a page of the list, or, for a page number past
/// the list's end (a bookmark from before a filter narrowed it, a
/// hand-edited URL), a page saying so with a link to the last page.
pub(super) enum Listing {
    Page(String),
    PastEnd(String),
}

/// The dimension the list is keyed by: `sku`, or `style` with `by=style`.
fn list_dimension(q: &Query) -> Dimension {
    match q.by.as_deref() {
        Some([Dimension::Style]) => Dimension::Style,
        _ => Dimension::Sku,
    }
}

/// The rows of the list before search, sort and paging: `aisle funnel
/// --by sku` (or `--by style`) for the query's filters.
pub(super) fn list_rows(
    src: &Source,
    store: &EventStore,
    q: &Query,
) -> Result<Vec<FunnelRow>, StoreError> {
    src.rows(store, q, vec![list_dimension(q)])
}

/// `/skus`: one row per SKU (`by=style`: per style), filtered by `q` on the
/// code or the catalog name, sorted by `sort` (a JSON field name, or `sku`
/// or `name`) in `dir`, [`PAGE_ROWS`] at a time (`page`).
pub(super) fn list(src: &Source, ctx: &Ctx, q: &Query) -> Result<Listing, StoreError> {
    let dim = list_dimension(q);
    let by_style = dim == Dimension::Style;
    let store = src.open()?;
    let choices = src.choices(&store, q)?;
    let report = list_rows(src, &store, q)?;
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
    body.push_str(&filter_form(ctx, "/skus", &choices, &extra));
    // An empty list still has its one (empty) page.
    let pages = rows.len().div_ceil(PAGE_ROWS).max(1);
    let current = q.page.unwrap_or(1);
    if current > pages {
        body.push_str(&past_end(ctx, current, pages));
        return Ok(Listing::PastEnd(page(
            ctx,
            "/skus",
            "/skus",
            ctx.t(title),
            &body,
        )));
    }
    if rows.is_empty() {
        let _ = write!(body, "<p class=\"note\">{}</p>", ctx.t(T::NoData));
        return Ok(Listing::Page(page(
            ctx,
            "/skus",
            "/skus",
            ctx.t(title),
            &body,
        )));
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
    // Bars are scaled to the whole list, so a page's bars compare with the
    // next page's.
    let max = table::maxima(rows.iter().map(|r| r.2));
    let first = (current - 1) * PAGE_ROWS;
    let shown = &rows[first..rows.len().min(first + PAGE_ROWS)];
    for (code, name, row) in shown {
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
    body.push_str(&pager(ctx, current, pages, first, shown.len(), rows.len()));
    Ok(Listing::Page(page(
        ctx,
        "/skus",
        "/skus",
        ctx.t(title),
        &body,
    )))
}

/// The notice for a page past the end (`id="past-end"`): which page was
/// asked for, how many there are, and a link to the last one with the same
/// filters, search and sort.
fn past_end(ctx: &Ctx, asked: usize, pages: usize) -> String {
    let notice = ctx
        .t(T::PageMissing)
        .replace("{page}", &ctx.lang.count(asked as u64))
        .replace("{pages}", &ctx.lang.count(pages as u64));
    format!(
        "<p class=\"error\" id=\"past-end\" data-page=\"{asked}\" data-pages=\"{pages}\">{} \
         <a id=\"last-page\" href=\"{}\">{}</a></p>",
        escape(&notice),
        ctx.link("/skus", &PAGE_LINK_KEYS, &[("page", &pages.to_string())]),
        ctx.t(T::LastPage)
    )
}

/// Where the page is in the list (`rows 201–400 of 5,000`) and links to the
/// pages before and after it.
fn pager(
    ctx: &Ctx,
    current: usize,
    pages: usize,
    first: usize,
    shown: usize,
    all: usize,
) -> String {
    let mut out = format!(
        "<p class=\"pager\" id=\"pager\" data-page=\"{current}\" data-pages=\"{pages}\" data-rows=\"{all}\">{} {}–{} / {}",
        ctx.t(T::Rows),
        ctx.lang.count((first + 1) as u64),
        ctx.lang.count((first + shown) as u64),
        ctx.lang.count(all as u64),
    );
    for (id, label, to) in [
        (
            "previous",
            T::Previous,
            current.checked_sub(1).filter(|p| *p >= 1),
        ),
        ("next", T::Next, Some(current + 1).filter(|p| *p <= pages)),
    ] {
        if let Some(to) = to {
            let _ = write!(
                out,
                " <a id=\"{id}\" href=\"{}\">{}</a>",
                ctx.link("/skus", &PAGE_LINK_KEYS, &[("page", &to.to_string())]),
                ctx.t(label)
            );
        }
    }
    out.push_str("</p>");
    out
}

/// `/sku?code=…`: one SKU's funnel, per channel, per store and per day,
/// with its medians. An unknown code shows an empty funnel, not an error:
/// a SKU may simply have had no events in the range.
pub(super) fn one(src: &Source, ctx: &Ctx, q: &Query, code: &str) -> Result<String, StoreError> {
    let store = src.open()?;
    let choices = src.choices(&store, q)?;
    // Every report below reads this SKU's items only (`aisle funnel
    // --sku`), not the chain's; its rows are the SKU's rows of the whole
    // chain's report.
    let mut q = q.clone();
    q.gtins = crate::funnel::store::gtins_of(&src.catalog, &[code.to_string()]);
    let q = &q;
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
    body.push_str(&filter_form(ctx, "/sku", &choices, &hidden));
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

#[cfg(test)]
mod tests {
    use super::super::i18n::Lang;
    use super::*;

    #[test]
    fn a_middle_page_links_to_its_neighbours_keeping_the_filters_and_the_sort() {
        let ctx = Ctx {
            lang: Lang::En,
            pairs: [
                ("store", "S1"),
                ("page", "2"),
                ("sort", "pickups"),
                ("dir", "desc"),
            ]
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .to_vec(),
        };
        let middle = pager(&ctx, 2, 3, 200, 200, 450);
        assert!(middle.contains("rows 201–400 / 450"), "{middle}");
        assert!(
            middle.contains(
                "id=\"previous\" href=\"/skus?store=S1&amp;sort=pickups&amp;dir=desc&amp;page=1\""
            ),
            "{middle}"
        );
        assert!(middle.contains(
            "id=\"next\" href=\"/skus?store=S1&amp;sort=pickups&amp;dir=desc&amp;page=3\""
        ));
        let last = pager(&ctx, 3, 3, 400, 50, 450);
        assert!(last.contains("rows 401–450 / 450") && !last.contains("id=\"next\""));
        let only = pager(&ctx, 1, 1, 0, 3, 3);
        assert!(!only.contains("<a "), "{only}");
    }

    #[test]
    fn a_page_past_the_end_says_so_and_links_to_the_last_page_keeping_the_filters() {
        let ctx = Ctx {
            lang: Lang::En,
            pairs: [("store", "S1"), ("sort", "pickups"), ("page", "999")]
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .to_vec(),
        };
        let notice = past_end(&ctx, 999, 25);
        assert!(
            notice.contains("Page 999 of 25 does not exist."),
            "{notice}"
        );
        assert!(
            notice.contains("href=\"/skus?store=S1&amp;sort=pickups&amp;page=25\""),
            "{notice}"
        );
    }
}
