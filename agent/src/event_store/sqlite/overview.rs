//! The store overview (agent/src/event_store/overview.rs) off SQLite's
//! indexes and rowids.

use super::{DbError, SqliteStore};
use crate::funnel::sqlite::DWELLS_AND_VISITS;

impl SqliteStore {
    /// Walks the tables and indexes that hold the store one store at a
    /// time, so it costs a look-up per store, not a scan of the events.
    pub fn stores(&self) -> Result<Vec<String>, DbError> {
        let conn = self.connection();
        let mut out: Vec<String> = Vec::new();
        // A store whose only events are door counts or dwells is a store
        // too: read off the dwells-and-visits index, one kind at a time so
        // each step is a seek on (event, store).
        let others = |kind| format!("{DWELLS_AND_VISITS} AND event = '{kind}' AND");
        let (visits, dwells) = (others("store_visits"), others("fixture_dwell"));
        for (table, condition) in [
            ("garment_steps", ""),
            (
                "events INDEXED BY events_dwells_and_visits",
                visits.as_str(),
            ),
            (
                "events INDEXED BY events_dwells_and_visits",
                dwells.as_str(),
            ),
        ] {
            let mut next = conn.prepare(&format!(
                "SELECT MIN(store) FROM {table} WHERE {condition} store > ?1"
            ))?;
            let mut after = String::new();
            while let Some(shop) = next.query_row([&after], |r| r.get::<_, Option<String>>(0))? {
                out.push(shop.clone());
                after = shop;
            }
        }
        out.sort();
        out.dedup();
        Ok(out)
    }

    pub fn event_span(&self) -> Result<Option<(i64, i64)>, DbError> {
        let (min, max): (Option<i64>, Option<i64>) =
            self.connection()
                .query_row("SELECT MIN(ts_ms), MAX(ts_ms) FROM events", [], |r| {
                    Ok((r.get(0)?, r.get(1)?))
                })?;
        Ok(min.zip(max))
    }

    pub fn online_channels(&self) -> Result<Vec<String>, DbError> {
        let mut query = self
            .connection()
            .prepare("SELECT DISTINCT channel FROM online_events ORDER BY channel")?;
        let channels = query.query_map([], |r| r.get::<_, String>(0))?;
        Ok(channels.collect::<Result<_, _>>()?)
    }

    /// The last rowid of the stores' events and of the online steps: each
    /// added row has a higher one.
    pub fn change_marker(&self) -> Result<(i64, i64), DbError> {
        Ok(self.connection().query_row(
            "SELECT (SELECT COALESCE(MAX(rowid), 0) FROM events),
                    (SELECT COALESCE(MAX(rowid), 0) FROM online_events)",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?)
    }
}
