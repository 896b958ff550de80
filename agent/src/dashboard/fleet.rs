//! The Fleet page and `/api/fleet`: every store's gateway, online or
//! offline and since when, with the status figures store IT acts on; and
//! the tags that are silent, low on battery or dropping events.

use super::data::{self, Source};
use super::html::{escape, page, section, table_head, Ctx};
use super::i18n::T;
use crate::event_store::StoreError;
use crate::hq::fleet::{GatewayState, TagAlarms, TagState};
use protocol::time::UnixMillis;
use serde_json::{json, Value};
use std::fmt::Write as _;

/// When a tag counts as silent, low or dropping.
#[derive(Debug, Clone, Copy)]
pub(super) struct TagLimits {
    /// The tags' heartbeat period; silent = not heard for two of them.
    pub heartbeat_ms: i64,
    pub low_battery_mv: u16,
}

impl TagLimits {
    fn alarms(self, now_ms: i64) -> TagAlarms {
        TagAlarms {
            silent_before_ms: now_ms - 2 * self.heartbeat_ms,
            low_battery_mv: self.low_battery_mv,
        }
    }

    /// What is wrong with `tag` at `now`: `silent`, `low_battery`, `dropping`.
    fn problems(self, tag: &TagState, now_ms: i64) -> Vec<&'static str> {
        let mut out = Vec::new();
        if tag.last_seen_ms < now_ms - 2 * self.heartbeat_ms {
            out.push("silent");
        }
        if tag.battery_mv.is_some_and(|mv| mv < self.low_battery_mv) {
            out.push("low_battery");
        }
        if tag.dropped.is_some_and(|d| d > 0) {
            out.push("dropping");
        }
        out
    }
}

fn figure(status: &Value, key: &str) -> Option<u64> {
    status.get(key).and_then(Value::as_u64)
}

/// The sum of the status's bad-frame counters.
fn bad_frames(status: &Value) -> Option<u64> {
    status
        .get("bad_frames")
        .and_then(Value::as_object)
        .map(|kinds| kinds.values().filter_map(Value::as_u64).sum())
}

/// `/api/fleet`: `{"at", "gateways": [...], "tags_known", "tags": [...]}`,
/// times in RFC 3339, each gateway's latest status document as sent.
pub(super) fn json(src: &Source, limits: TagLimits, now_ms: i64) -> Result<String, StoreError> {
    let store = src.open()?;
    let fleet = data::fleet(&store, limits.alarms(now_ms))?;
    let gateways: Vec<Value> = fleet
        .gateways
        .iter()
        .map(|g: &GatewayState| {
            json!({
                "store": g.store,
                "gateway": g.gateway,
                "state": g.state,
                "since": UnixMillis(g.since_ms),
                "last_status": UnixMillis(g.status_ms),
                "status": g.status,
            })
        })
        .collect();
    let tags: Vec<Value> = fleet
        .tags
        .iter()
        .map(|t| {
            json!({
                "store": t.store,
                "tag": t.tag,
                "gateway": t.gateway,
                "last_seen": UnixMillis(t.last_seen_ms),
                "boot": t.boot,
                "battery_mv": t.battery_mv,
                "dropped": t.dropped,
                "fw": t.fw,
                "problems": limits.problems(t, now_ms),
            })
        })
        .collect();
    let doc = json!({
        "at": UnixMillis(now_ms),
        "gateways": gateways,
        "tags_known": fleet.tags_known,
        "tags": tags,
    });
    Ok(format!("{doc}\n"))
}

/// `/fleet`.
pub(super) fn html(
    src: &Source,
    ctx: &Ctx,
    limits: TagLimits,
    now_ms: i64,
) -> Result<String, StoreError> {
    let store = src.open()?;
    let fleet = data::fleet(&store, limits.alarms(now_ms))?;
    let lang = ctx.lang;
    let mut body = format!("<h1>{}</h1>", ctx.t(T::Fleet));
    if fleet.gateways.is_empty() {
        let _ = write!(body, "<p class=\"note\">{}</p>", ctx.t(T::NoGateways));
    } else {
        let (key, number) = (true, false);
        body.push_str(&table_head(
            "gateways",
            &[
                (ctx.t(T::Store), key),
                (ctx.t(T::Gateway), key),
                (ctx.t(T::State), key),
                (ctx.t(T::Since), number),
                (ctx.t(T::LastStatus), number),
                (ctx.t(T::SpoolDepth), number),
                (ctx.t(T::OldestUndelivered), number),
                (ctx.t(T::DroppedAtCap), number),
                (ctx.t(T::BadFrames), number),
            ],
            "",
        ));
        for g in &fleet.gateways {
            let online = g.state == "online";
            let count = |v: Option<u64>| v.map_or("–".to_string(), |n| lang.count(n));
            let _ = write!(
                body,
                "<tr data-key=\"{store}\"><td class=\"k\">{store}</td><td class=\"k\">{gateway}</td>\
                 <td class=\"k {class}\" data-field=\"state\">{state}</td>\
                 <td data-field=\"since\" title=\"{since_iso}\">{since} ({ago})</td><td data-field=\"last_status\">{last}</td>\
                 <td data-field=\"spool_depth\">{depth}</td><td data-field=\"oldest_undelivered_age_s\">{oldest}</td>\
                 <td data-field=\"dropped_at_cap\">{dropped}</td><td data-field=\"bad_frames\">{bad}</td></tr>",
                store = escape(&g.store),
                gateway = escape(g.gateway.as_deref().unwrap_or("–")),
                class = if online { "ok" } else { "bad" },
                state = if online {
                    ctx.t(T::Online).to_string()
                } else if g.state == "offline" {
                    ctx.t(T::Offline).to_string()
                } else {
                    // A state this version does not know: shown as sent.
                    escape(&g.state)
                },
                since_iso = UnixMillis(g.since_ms),
                since = lang.moment(g.since_ms),
                ago = lang.ago(g.since_ms, now_ms),
                last = lang.moment(g.status_ms),
                depth = count(figure(&g.status, "spool_depth")),
                oldest = lang.seconds(figure(&g.status, "oldest_undelivered_age_s").map(|s| s as i64)),
                dropped = count(figure(&g.status, "dropped_at_cap")),
                bad = count(bad_frames(&g.status)),
            );
        }
        body.push_str("</table>");
    }
    body.push_str(&section(ctx.t(T::Tags), ""));
    let _ = write!(
        body,
        "<p class=\"note\" id=\"tags-known\">{} {}</p>",
        lang.count(fleet.tags_known),
        ctx.t(T::TagsKnown)
    );
    if fleet.tags.is_empty() {
        let _ = write!(body, "<p class=\"note\">{}</p>", ctx.t(T::NoTagProblems));
    } else {
        let (key, number) = (true, false);
        body.push_str(&table_head(
            "tags",
            &[
                (ctx.t(T::Store), key),
                (ctx.t(T::Tag), number),
                (ctx.t(T::Problem), key),
                (ctx.t(T::LastSeen), number),
                (ctx.t(T::Battery), number),
                (ctx.t(T::Dropped), number),
            ],
            "",
        ));
        for t in &fleet.tags {
            let problems: Vec<&str> = limits
                .problems(t, now_ms)
                .iter()
                .map(|p| match *p {
                    "silent" => ctx.t(T::Silent),
                    "low_battery" => ctx.t(T::LowBattery),
                    _ => ctx.t(T::Dropping),
                })
                .collect();
            let _ = write!(
                body,
                "<tr data-key=\"{store}/{tag}\"><td class=\"k\">{store}</td><td>{tag}</td><td class=\"k bad\">{problems}</td>\
                 <td>{seen}</td><td>{battery}</td><td>{dropped}</td></tr>",
                store = escape(&t.store),
                tag = t.tag,
                problems = problems.join(", "),
                seen = lang.ago(t.last_seen_ms, now_ms),
                battery = t.battery_mv.map_or("–".to_string(), |mv| format!("{mv} mV")),
                dropped = t.dropped.map_or("–".to_string(), |d| lang.count(u64::from(d))),
            );
        }
        body.push_str("</table>");
    }
    Ok(page(ctx, "/fleet", "/fleet", ctx.t(T::Fleet), &body))
}
