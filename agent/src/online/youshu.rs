//! Tencent Youshu (腾讯有数) behaviours, one JSON object per line, in the
//! shape of Youshu's data specification: reading them into funnel steps, and
//! writing a store's funnel in the same shape. The mapping is documented in
//! docs/online.md.

use super::event::{integer_at, text_at, OnlineEvent, Rejection};
use super::export::{Product, StoreBehaviour, StoreStep};
use protocol::stage::FunnelStage;
use serde_json::json;

/// Which `wx_user` field names the user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum UserKey {
    /// `wx_user.open_id`: the user within one mini-program.
    OpenId,
    /// `wx_user.union_id`: the user across the merchant's apps.
    UnionId,
}

/// The mini-program scene Youshu requires on every behaviour
/// (`chan.chan_wxapp_scene`). Exported store behaviours happened in no
/// mini-program; 1001 is WeChat's scene for "opened from the discover
/// menu", the plainest entry there is.
const EXPORT_SCENE: i64 = 1001;

/// Reads one behaviour. `Ok` holds the funnel step it is.
pub fn parse(
    line: &serde_json::Value,
    channel: &str,
    user_key: UserKey,
) -> Result<OnlineEvent, Rejection> {
    let behaviour = text_at(line, &["type"]).ok_or(Rejection::UnknownBehaviour)?;
    let stage = match behaviour.as_ref() {
        "expose_sku_component" => FunnelStage::Exposure,
        "trigger_sku_component" | "browse_sku_page" => FunnelStage::View,
        "add_to_cart" => FunnelStage::TryOn,
        "custom_order" => FunnelStage::Purchase,
        _ => return Err(Rejection::UnknownBehaviour),
    };
    if stage == FunnelStage::TryOn
        && text_at(line, &["action_type"]).as_deref() == Some("remove_from_cart")
    {
        return Err(Rejection::RemovedFromCart);
    }
    let order = if stage == FunnelStage::Purchase {
        match text_at(line, &["order", "order_status"]).as_deref() {
            Some("pay" | "payed") => {}
            Some("refund") => return Err(Rejection::Refund),
            Some("cancel_give_order" | "cancel_pay") => return Err(Rejection::CancelledOrder),
            Some("give_order") => return Err(Rejection::UnpaidOrder),
            _ => return Err(Rejection::UnknownOrderStatus),
        }
        Some(
            text_at(line, &["order", "order_id"])
                .ok_or(Rejection::MissingOrder)?
                .into_owned(),
        )
    } else {
        None
    };
    let ts_ms = integer_at(line, "time").ok_or(Rejection::MissingTime)?;
    let user_field = match user_key {
        UserKey::OpenId => "open_id",
        UserKey::UnionId => "union_id",
    };
    let user = text_at(line, &["wx_user", user_field]).ok_or(Rejection::MissingUser)?;
    let sku = text_at(line, &["sku", "sku_id"]).ok_or(Rejection::MissingSku)?;
    Ok(OnlineEvent {
        channel: channel.to_string(),
        stage,
        behaviour: behaviour.into_owned(),
        user: user.into_owned(),
        sku: sku.into_owned(),
        ts_ms,
        store: text_at(line, &["chan", "chan_shop_id"]).map(|s| s.into_owned()),
        once_per_order: order.is_some(),
        order,
    })
}

/// The Youshu lines for one store behaviour: one per product (a behaviour
/// names one SKU), each with every field Youshu's specification marks
/// required for that behaviour.
pub fn write(behaviour: &StoreBehaviour, app_id: &str, out: &mut Vec<serde_json::Value>) {
    for product in &behaviour.products {
        out.push(line(behaviour, product, app_id));
    }
}

fn line(b: &StoreBehaviour, product: &Product, app_id: &str) -> serde_json::Value {
    let kind = match b.step {
        StoreStep::Exposure => "expose_sku_component",
        StoreStep::View => "browse_sku_page",
        StoreStep::AddToCart => "add_to_cart",
        StoreStep::Purchase => "custom_order",
    };
    let mut doc = json!({
        "type": kind,
        "time": b.ts_ms,
        "page": format!("stores/{}", b.store),
        "wx_user": { "app_id": app_id, "open_id": b.user },
        "sku": { "sku_id": product.sku, "sku_name": product.name },
        "spu": { "spu_id": product.spu, "spu_name": product.spu_name },
        "chan": {
            "chan_wxapp_scene": EXPORT_SCENE,
            "chan_shop_id": b.store,
            "chan_shop_name": b.store,
        },
    });
    match b.step {
        StoreStep::AddToCart => {
            doc["action_type"] = json!("append_to_cart");
            // Items in the cart after the action: a fitting room holds the one.
            doc["sku_num"] = json!(1);
        }
        StoreStep::Purchase => {
            doc["order"] = json!({
                "order_id": b.event_id,
                "order_time": b.ts_ms,
                "pay_time": b.ts_ms,
                "order_status": "pay",
            });
        }
        StoreStep::Exposure | StoreStep::View => {}
    }
    doc
}
