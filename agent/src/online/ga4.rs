//! Google Analytics 4 ecommerce events in the shape of GA4's BigQuery export
//! (one row per event, its products in `items`), as newline-delimited JSON:
//! reading them into funnel steps (each item of an event is one step for
//! that SKU), and writing a store's funnel in the same shape. The mapping is
//! documented in docs/online.md.

use super::event::{integer_at, text_at, OnlineEvent, Rejection};
use super::export::{StoreBehaviour, StoreStep};
use protocol::stage::FunnelStage;
use protocol::time::UnixMillis;
use serde_json::json;

/// Reads one exported event row: one step per item that names its SKU, and
/// how many items named none. An event whose items all lack `item_id` is
/// rejected as missing its SKU.
pub fn parse(
    line: &serde_json::Value,
    channel: &str,
) -> Result<(Vec<OnlineEvent>, usize), Rejection> {
    let name = text_at(line, &["event_name"]).ok_or(Rejection::UnknownBehaviour)?;
    let stage = match name.as_ref() {
        "view_item_list" => FunnelStage::Exposure,
        "select_item" | "view_item" => FunnelStage::View,
        "add_to_cart" => FunnelStage::TryOn,
        "purchase" => FunnelStage::Purchase,
        "refund" => return Err(Rejection::Refund),
        _ => return Err(Rejection::UnknownBehaviour),
    };
    let micros = integer_at(line, "event_timestamp").ok_or(Rejection::MissingTime)?;
    let user = text_at(line, &["user_pseudo_id"]).ok_or(Rejection::MissingUser)?;
    let order = if stage == FunnelStage::Purchase {
        Some(
            text_at(line, &["ecommerce", "transaction_id"])
                .ok_or(Rejection::MissingOrder)?
                .into_owned(),
        )
    } else {
        None
    };
    let items = line
        .get("items")
        .and_then(serde_json::Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    let steps: Vec<OnlineEvent> = items
        .iter()
        .filter_map(|item| {
            let sku = text_at(item, &["item_id"])?;
            Some(OnlineEvent {
                channel: channel.to_string(),
                stage,
                behaviour: name.to_string(),
                user: user.to_string(),
                sku: sku.into_owned(),
                ts_ms: micros.div_euclid(1000),
                store: text_at(item, &["location_id"]).map(|s| s.into_owned()),
                order: order.clone(),
                once_per_order: false,
            })
        })
        .collect();
    if steps.is_empty() {
        return Err(Rejection::MissingSku);
    }
    let skipped = items.len() - steps.len();
    Ok((steps, skipped))
}

/// The export row for one store behaviour, with every column a GA4
/// ecommerce event needs: `event_date`, `event_timestamp` (µs),
/// `event_name`, `user_pseudo_id`, `items` (`item_id`, `item_name`,
/// `item_variant`, `location_id`, `quantity`), and on a purchase
/// `ecommerce.transaction_id`.
pub fn row(b: &StoreBehaviour) -> serde_json::Value {
    let name = match b.step {
        StoreStep::Exposure => "view_item_list",
        StoreStep::View => "view_item",
        StoreStep::AddToCart => "add_to_cart",
        StoreStep::Purchase => "purchase",
    };
    // YYYYMMDD of the UTC day: the export's dates follow the property's
    // time zone, and a store export has none but UTC.
    let day: String = UnixMillis(b.ts_ms)
        .to_string()
        .chars()
        .take(10)
        .filter(char::is_ascii_digit)
        .collect();
    let items: Vec<serde_json::Value> = b
        .products
        .iter()
        .map(|p| {
            json!({
                "item_id": p.sku,
                "item_name": p.name,
                "item_variant": p.gtin,
                "location_id": b.store,
                "quantity": 1,
            })
        })
        .collect();
    let mut doc = json!({
        "event_date": day,
        "event_timestamp": b.ts_ms * 1000,
        "event_name": name,
        "user_pseudo_id": b.user,
        "items": items,
    });
    if b.step == StoreStep::Purchase {
        doc["ecommerce"] = json!({
            "transaction_id": b.event_id,
            "total_item_quantity": b.products.len(),
        });
    }
    doc
}
