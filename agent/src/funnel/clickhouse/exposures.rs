//! Exposures of a report keyed by SKU or style and by no fixture, zone or
//! time (`--by sku`, `--by sku,store`, `--by style,region`, …), counted
//! from one array of numbers per report row rather than by `uniqExact`.
//!
//! An exposure is a (dwell, GTIN) pair, and a dwell stored twice (its
//! batch redelivered) stores its pairs twice: the report counts distinct
//! dwell ids per row. ClickHouse's `uniqExact` keeps a hash set per row,
//! which costs it about three times what collecting the ids' 64-bit hashes
//! in an array does. So ClickHouse hands over each row's hashes, and the
//! reader sorts them: when they all differ, the row's exposures are their
//! number. A row with a repeated hash (a dwell stored twice, or two dwells
//! whose ids share 64 hash bits) is counted again after the stream by
//! `uniqExact` over its own ids (`exposures_sql`), so a hash never decides
//! a count. Rows are what the report keys, so memory is bounded by the
//! exposures of one SKU at one store (or in the whole chain for `--by
//! sku`), never by all of them.

use super::{exposures_sql, Keys, KEYS_PER_QUERY};
use crate::event_store::clickhouse::{filter_sql, quote};
use crate::event_store::{ClickHouseError, ClickHouseStore, EventFilter};
use crate::funnel::engine::{FunnelBuilder, FunnelOptions};
use protocol::time::UnixMillis;

/// Report rows by the way their exposures were counted.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(super) struct Paths {
    /// From their ids' hashes, all distinct.
    pub(super) hashed: u64,
    /// Again by `uniqExact` (a hash repeated).
    pub(super) counted_again: u64,
}

/// Whether a report's exposures are counted from hashes: keyed by the
/// GTIN (rows then hold one SKU's exposures at most) and by nothing that
/// splits a dwell's pairs further.
pub(super) fn by_hashes(keys: &Keys) -> bool {
    keys.gtin && !keys.fixture && !keys.zone && !keys.time
}

/// Counts the exposures that pass `filter` into `builder`, for a report
/// [`by_hashes`].
pub(super) fn count(
    store: &ClickHouseStore,
    filter: &EventFilter,
    opts: &FunnelOptions,
    builder: &mut FunnelBuilder<'_>,
) -> Result<Paths, ClickHouseError> {
    let keys = Keys::of(opts);
    debug_assert!(by_hashes(&keys));
    let shop = Keys::or_empty(keys.store, "store");
    let sql = format!(
        "SELECT {shop} AS x_store, gtin, groupArray(cityHash64(event_id))
         FROM {}.exposures WHERE 1{} GROUP BY x_store, gtin FORMAT RowBinary",
        store.database(),
        filter_sql(filter)
    );
    let mut paths = Paths::default();
    let mut again: Vec<(String, String)> = Vec::new();
    let mut hashes: Vec<u64> = Vec::new();
    store.read_each(&sql, |rows| {
        let shop = rows.string()?;
        let gtin = rows.string()?;
        hashes.clear();
        for _ in 0..rows.leb128()? {
            hashes.push(rows.u64()?);
        }
        hashes.sort_unstable();
        if hashes.windows(2).any(|w| w[0] == w[1]) {
            again.push((shop, gtin));
            return Ok(());
        }
        paths.hashed += 1;
        let n = hashes.len() as u64;
        builder.add_exposures(&shop, &gtin, None, None, UnixMillis(0), n);
        Ok(())
    })?;
    paths.counted_again = again.len() as u64;
    // Few rows (those of redelivered dwells), counted by their keys.
    for chunk in again.chunks(KEYS_PER_QUERY) {
        let only = if keys.store {
            let pairs: Vec<String> = chunk
                .iter()
                .map(|(s, g)| format!("({}, {})", quote(s), quote(g)))
                .collect();
            format!(" AND (store, gtin) IN ({})", pairs.join(", "))
        } else {
            let gtins: Vec<String> = chunk.iter().map(|(_, g)| quote(g)).collect();
            format!(" AND gtin IN ({})", gtins.join(", "))
        };
        super::read_exposures(
            store,
            &exposures_sql(store.database(), filter, &only, opts),
            builder,
        )?;
    }
    Ok(paths)
}
