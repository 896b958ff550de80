//! The garment steps table: every item event once more, keyed by garment
//! and time in a compact integer form, so the funnel reads each garment's
//! journey off sequential pages of a small table.
//!
//! A GTIN-14 (14 ASCII digits) is stored as the INTEGER it spells and a
//! serial in canonical decimal (no leading zero, at most 18 digits) as its
//! INTEGER; anything else as the TEXT it is. Both mappings are one-to-one,
//! so a garment's key still names exactly one garment, and reading it back
//! gives the text that was sent.

use protocol::stage::StoreEventKind;
use rusqlite::types::{ToSqlOutput, Value, ValueRef};

/// Digits in a GTIN-14.
const GTIN_DIGITS: usize = 14;
/// The longest serial stored as an integer: 18 decimal digits always fit
/// in SQLite's signed 64-bit INTEGER.
const SERIAL_DIGITS: usize = 18;

/// The funnel step an item event is, as stored in `garment_steps.step`:
/// ordered as the engine takes ties (pickup, then try-on, then purchase).
pub(crate) fn step_code(kind: StoreEventKind) -> Option<i64> {
    match kind {
        StoreEventKind::ItemPickup => Some(1),
        StoreEventKind::ItemTryOn => Some(2),
        StoreEventKind::ItemPurchase => Some(3),
        StoreEventKind::FixtureDwell | StoreEventKind::StoreVisits => None,
    }
}

/// The item event a stored step code stands for.
pub(crate) fn step_kind(code: i64) -> Option<StoreEventKind> {
    match code {
        1 => Some(StoreEventKind::ItemPickup),
        2 => Some(StoreEventKind::ItemTryOn),
        3 => Some(StoreEventKind::ItemPurchase),
        _ => None,
    }
}

fn all_digits(text: &str) -> bool {
    !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit())
}

/// How `gtin` is stored in `garment_steps`.
pub(crate) fn gtin_key(gtin: &str) -> ToSqlOutput<'_> {
    match gtin.parse::<i64>() {
        Ok(n) if gtin.len() == GTIN_DIGITS && all_digits(gtin) => {
            ToSqlOutput::Owned(Value::Integer(n))
        }
        _ => ToSqlOutput::Borrowed(ValueRef::Text(gtin.as_bytes())),
    }
}

/// [`gtin_key`] as an owned value, for a query's parameters.
pub(crate) fn gtin_value(gtin: &str) -> Value {
    match gtin_key(gtin) {
        ToSqlOutput::Owned(value) => value,
        ToSqlOutput::Borrowed(value) => value.into(),
        _ => Value::Text(gtin.to_string()),
    }
}

/// How `serial` is stored in `garment_steps`.
pub(crate) fn serial_key(serial: &str) -> ToSqlOutput<'_> {
    let canonical = all_digits(serial)
        && serial.len() <= SERIAL_DIGITS
        && (serial == "0" || !serial.starts_with('0'));
    match serial.parse::<i64>() {
        Ok(n) if canonical => ToSqlOutput::Owned(Value::Integer(n)),
        _ => ToSqlOutput::Borrowed(ValueRef::Text(serial.as_bytes())),
    }
}

/// The same mappings in SQL, for filling the table from `events` when an
/// older file is upgraded; `garment_keys_match_between_rust_and_sql` checks
/// that both agree.
pub(crate) const GTIN_KEY_SQL: &str = "CASE WHEN length(gtin) = 14 AND gtin NOT GLOB '*[^0-9]*'
     THEN CAST(gtin AS INTEGER) ELSE gtin END";
pub(crate) const SERIAL_KEY_SQL: &str = "CASE WHEN serial = '0' OR (length(serial) BETWEEN 1 AND 18
     AND serial NOT GLOB '*[^0-9]*' AND serial NOT GLOB '0*')
     THEN CAST(serial AS INTEGER) ELSE serial END";
pub(crate) const STEP_CODE_SQL: &str = "CASE event WHEN 'item_pickup' THEN 1
     WHEN 'item_try_on' THEN 2 WHEN 'item_purchase' THEN 3 END";

/// A stored GTIN or serial, as [`gtin_key`] or [`serial_key`] wrote it, for
/// telling garments apart without turning keys back into text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum StoredKey {
    Number(i64),
    Text(Vec<u8>),
}

impl StoredKey {
    /// Whether `value`, as read from the table, is this key.
    pub(crate) fn is(&self, value: ValueRef<'_>) -> bool {
        match (self, value) {
            (StoredKey::Number(a), ValueRef::Integer(b)) => *a == b,
            (StoredKey::Text(a), ValueRef::Text(b)) => a.as_slice() == b,
            _ => false,
        }
    }

    /// `None` for a value the collector never writes (NULL, REAL, BLOB).
    pub(crate) fn of(value: ValueRef<'_>) -> Option<StoredKey> {
        match value {
            ValueRef::Integer(n) => Some(StoredKey::Number(n)),
            ValueRef::Text(text) => Some(StoredKey::Text(text.to_vec())),
            _ => None,
        }
    }

    /// This key read as a GTIN, back to its text: an integer as its 14
    /// digits, text as it is. `None` for an integer no GTIN-14 spells.
    pub(crate) fn gtin_text<'b>(&'b self, buf: &'b mut [u8; GTIN_DIGITS]) -> Option<&'b [u8]> {
        match self {
            StoredKey::Number(n) if (0..100_000_000_000_000).contains(n) => {
                let mut rest = *n;
                for slot in buf.iter_mut().rev() {
                    *slot = b'0' + (rest % 10) as u8;
                    rest /= 10;
                }
                Some(&buf[..])
            }
            StoredKey::Number(_) => None,
            StoredKey::Text(text) => Some(text),
        }
    }
}
