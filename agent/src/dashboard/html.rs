//! The page frame every dashboard page shares: escaping, links that keep
//! the current filters, the navigation, the language switch and the
//! filter form. Styles are inline in the page: nothing is fetched from
//! anywhere, not even from this server.

use super::data::Choices;
use super::i18n::{Lang, T};
use std::fmt::Write as _;

/// Text made safe for HTML content and attribute values.
pub(super) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// What a page knows about its request: the language and the query as
/// given, so links can keep the filters.
pub(super) struct Ctx {
    pub lang: Lang,
    /// The request's query pairs, in order.
    pub pairs: Vec<(String, String)>,
}

impl Ctx {
    pub(super) fn t(&self, label: T) -> &'static str {
        label.text(self.lang)
    }

    /// A link to `path` with the current filters (`keep` keys only), then
    /// `set` (replacing), escaped for an attribute.
    pub(super) fn link(&self, path: &str, keep: &[&str], set: &[(&str, &str)]) -> String {
        let mut pairs: Vec<(&str, &str)> = self
            .pairs
            .iter()
            .filter(|(k, v)| {
                !v.is_empty() && keep.contains(&k.as_str()) && !set.iter().any(|(s, _)| s == k)
            })
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        pairs.extend(set.iter().filter(|(_, v)| !v.is_empty()).copied());
        let query = serde_urlencoded::to_string(&pairs).unwrap_or_default();
        if query.is_empty() {
            escape(path)
        } else {
            escape(&format!("{path}?{query}"))
        }
    }

    /// The current value of `key`, for a form field.
    pub(super) fn value(&self, key: &str) -> &str {
        self.pairs
            .iter()
            .find(|(k, _)| k == key)
            .map_or("", |(_, v)| v.as_str())
    }
}

/// The navigation entries: path, label.
const NAV: [(&str, T); 4] = [
    ("/", T::Overview),
    ("/skus", T::Skus),
    ("/stores", T::Stores),
    ("/fleet", T::Fleet),
];

/// The filters a page's links carry to the other pages.
pub(super) const FILTER_KEYS: [&str; 8] = [
    "from", "to", "store", "region", "brand", "window", "channel", "lang",
];

const STYLE: &str = "body{font-family:system-ui,'Noto Sans CJK SC','Microsoft YaHei',sans-serif;margin:0;color:#1d2330;background:#f6f7f9}\
header{background:#1d2330;color:#fff;padding:10px 20px;display:flex;gap:18px;align-items:center;flex-wrap:wrap}\
header a{color:#cfd8e6;text-decoration:none}header a.active{color:#fff;font-weight:600;border-bottom:2px solid #f58518}\
header .brand{font-weight:700;color:#fff}header .lang{margin-left:auto}\
main{padding:16px 20px}h1{font-size:22px;margin:4px 0 12px}h2{font-size:17px;margin:22px 0 8px}\
form.filters{display:flex;gap:12px;flex-wrap:wrap;align-items:end;background:#fff;padding:10px;border:1px solid #dde2ea;border-radius:6px}\
form.filters label{display:flex;flex-direction:column;font-size:12px;gap:3px}\
table{border-collapse:collapse;background:#fff;font-size:13px}th,td{border:1px solid #dde2ea;padding:4px 8px;text-align:right}\
th{background:#eef1f5}td.k,th.k{text-align:left}th a{color:inherit}\
.note{color:#5b6475;font-size:12px}.error{background:#fff3f3;border:1px solid #e45756;padding:12px;border-radius:6px}\
.bad{color:#c2312f;font-weight:600}.ok{color:#2e7d32;font-weight:600}.chart{max-width:100%;height:auto;background:#fff;border:1px solid #dde2ea;border-radius:6px;padding:6px}\
.kpis{display:flex;gap:12px;flex-wrap:wrap}.kpi{background:#fff;border:1px solid #dde2ea;border-radius:6px;padding:8px 12px}\
.kpi b{display:block;font-size:20px}svg.bar{width:80px;height:10px;display:block;margin-left:auto}";

/// A whole page: the frame around `body`, with `active` highlighted in the
/// navigation. `path` is this page's path, for the language switch.
pub(super) fn page(ctx: &Ctx, path: &str, active: &str, title: &str, body: &str) -> String {
    let mut out = String::with_capacity(body.len() + 4096);
    let _ = write!(
        out,
        "<!DOCTYPE html><html lang=\"{lang}\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <link rel=\"icon\" href=\"data:,\"><title>{title} · {app}</title><style>{STYLE}</style></head><body>\
         <header><span class=\"brand\">{app}</span>",
        lang = ctx.lang.code(),
        title = escape(title),
        app = ctx.t(T::Title),
    );
    for (href, label) in NAV {
        let class = if href == active {
            " class=\"active\""
        } else {
            ""
        };
        // The fleet is not filtered: it takes the language only.
        let keep: &[&str] = if href == "/fleet" {
            &["lang"]
        } else {
            &FILTER_KEYS
        };
        let _ = write!(
            out,
            "<a href=\"{}\"{class}>{}</a>",
            ctx.link(href, keep, &[]),
            ctx.t(label)
        );
    }
    let other = ctx.lang.other();
    let all_keys: Vec<&str> = ctx.pairs.iter().map(|(k, _)| k.as_str()).collect();
    let _ = write!(
        out,
        "<a class=\"lang\" id=\"lang-switch\" hreflang=\"{code}\" href=\"{href}\">{name}</a></header><main>",
        code = other.code(),
        href = ctx.link(path, &all_keys, &[("lang", other.code())]),
        name = match other {
            Lang::En => "English",
            Lang::ZhCn => "中文",
        },
    );
    out.push_str(body);
    out.push_str("</main></body></html>");
    out
}

/// The filter form: the range, the store, the region and brand (with a
/// store directory), the window, the channel (when there is more than the
/// stores' own), and `extra` fields a page adds (already HTML).
/// Submitting keeps the language.
pub(super) fn filter_form(ctx: &Ctx, action: &str, choices: &Choices, extra: &str) -> String {
    let mut out = format!(
        "<form class=\"filters\" method=\"get\" action=\"{}\">",
        escape(action)
    );
    let _ = write!(
        out,
        "<label>{from}<input type=\"date\" name=\"from\" value=\"{fv}\"></label>\
         <label>{until}<input type=\"date\" name=\"to\" value=\"{tv}\"></label>",
        from = ctx.t(T::From),
        until = ctx.t(T::Until),
        fv = escape(date_only(ctx.value("from"))),
        tv = escape(date_only(ctx.value("to"))),
    );
    let all = ctx.t(T::All);
    out.push_str(&select(
        ctx,
        "store",
        ctx.t(T::Store),
        ctx.t(T::AllStores),
        &choices.stores,
    ));
    if !choices.regions.is_empty() {
        out.push_str(&select(
            ctx,
            "region",
            ctx.t(T::Region),
            all,
            &choices.regions,
        ));
    }
    if !choices.brands.is_empty() {
        out.push_str(&select(ctx, "brand", ctx.t(T::Brand), all, &choices.brands));
    }
    if choices.channels.len() > 1 {
        let _ = write!(
            out,
            "<label>{}<select name=\"channel\" id=\"channel-filter\">",
            ctx.t(T::Channel)
        );
        for channel in &choices.channels {
            let selected = if ctx.value("channel") == channel {
                " selected"
            } else {
                ""
            };
            let label = if channel == super::query::STORE_CHANNEL {
                ctx.t(T::InStore).to_string()
            } else {
                escape(channel)
            };
            let _ = write!(
                out,
                "<option value=\"{}\"{selected}>{label}</option>",
                escape(channel)
            );
        }
        out.push_str("</select></label>");
    }
    let _ = write!(
        out,
        "<label>{window}<input name=\"window\" size=\"5\" placeholder=\"1h\" value=\"{wv}\"></label>\
         {extra}<input type=\"hidden\" name=\"lang\" value=\"{lang}\"><button type=\"submit\" id=\"apply\">{apply}</button></form>",
        window = ctx.t(T::Window),
        wv = escape(ctx.value("window")),
        lang = ctx.lang.code(),
        apply = ctx.t(T::Apply),
    );
    out
}

/// A `<select name="{name}" id="{name}-filter">` of `values`, the first
/// option (`any`) meaning no filter; the current value selected.
fn select(ctx: &Ctx, name: &str, label: &str, any: &str, values: &[String]) -> String {
    let mut out = format!(
        "<label>{label}<select name=\"{name}\" id=\"{name}-filter\"><option value=\"\">{any}</option>"
    );
    for value in values {
        let selected = if ctx.value(name) == value {
            " selected"
        } else {
            ""
        };
        let _ = write!(
            out,
            "<option value=\"{v}\"{selected}>{v}</option>",
            v = escape(value)
        );
    }
    out.push_str("</select></label>");
    out
}

/// A titled section of a page: the `<h2>` heading (a translated label, so
/// already safe) followed by `html`, which the caller has escaped.
pub(super) fn section(title: &str, html: &str) -> String {
    format!("<h2>{title}</h2>{html}")
}

/// `<table id="{id}">` and its header row: a `<th>` per `(label, key)`
/// column, key columns (text, left-aligned) marked `k`, then `more` header
/// cells already in HTML. The caller adds the rows and `</table>`.
pub(super) fn table_head(id: &str, columns: &[(&str, bool)], more: &str) -> String {
    let mut out = format!("<table id=\"{id}\"><tr>");
    for (label, key) in columns {
        let class = if *key { " class=\"k\"" } else { "" };
        let _ = write!(out, "<th{class}>{label}</th>");
    }
    out.push_str(more);
    out.push_str("</tr>");
    out
}

/// The day part of a `from`/`to` value, for a date field.
fn date_only(value: &str) -> &str {
    value.get(..10).unwrap_or(value)
}

/// A page that says what went wrong, in the page's language.
pub(super) fn error_page(ctx: &Ctx, heading: T, detail: &str) -> String {
    let body = format!(
        "<h1>{}</h1><p class=\"error\" id=\"error\">{}</p>",
        ctx.t(heading),
        escape(detail)
    );
    page(ctx, "/", "", ctx.t(heading), &body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_quotes() {
        assert_eq!(
            escape("<img src=x onerror=alert(1)> \"a\" & 'b'"),
            "&lt;img src=x onerror=alert(1)&gt; &quot;a&quot; &amp; &#39;b&#39;"
        );
    }

    #[test]
    fn links_keep_the_chosen_filters_and_replace_the_set_ones() {
        let ctx = Ctx {
            lang: Lang::En,
            pairs: vec![
                ("store".into(), "S&1".into()),
                ("q".into(), "tee".into()),
                ("lang".into(), "en".into()),
            ],
        };
        assert_eq!(
            ctx.link("/skus", &["store", "lang"], &[("lang", "zh-CN")]),
            "/skus?store=S%261&amp;lang=zh-CN"
        );
    }
}
