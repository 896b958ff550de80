//! An online behaviour as aisle stores it: one funnel step of one user and
//! one SKU in one channel, named by its content so that importing the same
//! export twice, or two overlapping exports, stores it once.

use protocol::stage::FunnelStage;
use sha2::{Digest, Sha256};

/// One imported funnel step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OnlineEvent {
    /// The import's `--channel`.
    pub channel: String,
    pub stage: FunnelStage,
    /// The behaviour's name in its format (`browse_sku_page`, `view_item`, …).
    pub behaviour: String,
    /// The user: Youshu's `open_id` (or `union_id`), GA4's `user_pseudo_id`.
    pub user: String,
    /// The merchant's SKU code, as the mini-program or site sent it.
    pub sku: String,
    pub ts_ms: i64,
    /// The store the behaviour is attributed to (`chan_shop_id`, `location_id`).
    pub store: Option<String>,
    /// The order (`order.order_id`, `ecommerce.transaction_id`), on purchases.
    pub order: Option<String>,
    /// A Youshu order line is one purchase per (order, SKU), whatever status
    /// lines arrive and whenever; every other step is one per content.
    pub once_per_order: bool,
}

impl OnlineEvent {
    /// The identity: (channel, behaviour, user, time, SKU, order), or
    /// (channel, behaviour, order, SKU) for a Youshu order line, written as
    /// a JSON array so that no field's text can run into the next, and
    /// stored as the first 16 bytes of its SHA-256: a tenth of the index a
    /// day of a large mini-program would otherwise need, and no two of the
    /// world's behaviours will ever share one.
    pub fn id(&self) -> [u8; 16] {
        let content = match (&self.order, self.once_per_order) {
            (Some(order), true) => {
                serde_json::json!([self.channel, self.behaviour, order, self.sku])
            }
            _ => serde_json::json!([
                self.channel,
                self.behaviour,
                self.user,
                self.ts_ms,
                self.sku,
                self.order
            ]),
        };
        let digest = Sha256::digest(content.to_string().as_bytes());
        let mut id = [0; 16];
        id.copy_from_slice(&digest[..16]);
        id
    }
}

/// Why a line was not imported. Every rejected line is counted under one
/// of these and shown, by line number, in the import's report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Rejection {
    /// A line longer than the import reads (`import::MAX_LINE_BYTES`).
    LineTooLong,
    NotJson,
    /// A behaviour or event outside the funnel (page views, searches, …).
    UnknownBehaviour,
    MissingTime,
    MissingUser,
    MissingSku,
    MissingOrder,
    /// Youshu's `add_to_cart` with `action_type` `remove_from_cart`.
    RemovedFromCart,
    Refund,
    CancelledOrder,
    /// An order placed but not (yet) paid: Youshu's `give_order`.
    UnpaidOrder,
    UnknownOrderStatus,
    /// A GA4 event some of whose items name no `item_id`: those items are
    /// skipped, the event's other items imported. The only reason that
    /// does not reject its line.
    ItemsWithoutSku,
}

impl Rejection {
    /// Whether the line was not imported at all.
    pub fn rejects_line(self) -> bool {
        self != Rejection::ItemsWithoutSku
    }

    pub fn describe(self) -> &'static str {
        match self {
            Rejection::LineTooLong => "line longer than 1 MiB",
            Rejection::NotJson => "not a JSON object",
            Rejection::UnknownBehaviour => "behaviour outside the funnel",
            Rejection::MissingTime => "missing or bad time",
            Rejection::MissingUser => "missing user",
            Rejection::MissingSku => "missing SKU",
            Rejection::MissingOrder => "order without an order id",
            Rejection::RemovedFromCart => "removal from cart",
            Rejection::Refund => "refund",
            Rejection::CancelledOrder => "cancelled order",
            Rejection::UnpaidOrder => "order not paid",
            Rejection::UnknownOrderStatus => "unknown order status",
            Rejection::ItemsWithoutSku => {
                "items without item_id skipped (the rest of the event imported)"
            }
        }
    }
}

/// A string field of a JSON object at `path`, if present and non-empty.
/// Numbers are taken as their decimal text: some exports write ids as
/// numbers.
pub fn text_at<'v>(
    value: &'v serde_json::Value,
    path: &[&str],
) -> Option<std::borrow::Cow<'v, str>> {
    let mut at = value;
    for key in path {
        at = at.get(key)?;
    }
    match at {
        serde_json::Value::String(s) if !s.is_empty() => Some(std::borrow::Cow::Borrowed(s)),
        serde_json::Value::Number(n) => Some(std::borrow::Cow::Owned(n.to_string())),
        _ => None,
    }
}

/// An integer field at `key`, written as a JSON number or as a string of
/// digits (BigQuery's JSON export writes INT64 columns as strings).
pub fn integer_at(value: &serde_json::Value, key: &str) -> Option<i64> {
    match value.get(key)? {
        serde_json::Value::Number(n) => n.as_i64(),
        serde_json::Value::String(s) => s.parse().ok(),
        _ => None,
    }
}
