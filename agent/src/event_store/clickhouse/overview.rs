//! The store overview (agent/src/event_store/overview.rs) from ClickHouse.

use super::row_binary::RowReader;
use super::{ClickHouseError, ClickHouseStore};

impl ClickHouseStore {
    /// The stores in the events and exposures, from the first column of
    /// both tables' sort keys.
    pub fn stores(&self) -> Result<Vec<String>, ClickHouseError> {
        let db = self.database();
        let mut out = Vec::new();
        self.read_rows(
            &format!(
                "SELECT DISTINCT store FROM
                   (SELECT store FROM {db}.events WHERE event NOT IN ('fixture_dwell', 'store_visits')
                    UNION ALL SELECT store FROM {db}.exposures)
                 ORDER BY store FORMAT RowBinary"
            ),
            |r: &mut RowReader<_>| r.string(),
            &mut |s| out.push(s),
        )?;
        Ok(out)
    }

    pub fn event_span(&self) -> Result<Option<(i64, i64)>, ClickHouseError> {
        let mut span = None;
        self.read_rows(
            &format!(
                "SELECT min(ts_ms), max(ts_ms), count() FROM {}.events FORMAT RowBinary",
                self.database()
            ),
            |r| Ok((r.i64()?, r.i64()?, r.u64()?)),
            &mut |(min, max, count)| span = (count > 0).then_some((min, max)),
        )?;
        Ok(span)
    }

    /// The row counts of the events and the online steps, repeats included:
    /// every write adds rows, and counting them reads only part metadata.
    pub fn change_marker(&self) -> Result<(i64, i64), ClickHouseError> {
        let db = self.database();
        let events = self.count(&format!("SELECT count() FROM {db}.events"))?;
        let online = if self.tables()?.iter().any(|t| t == "online_events") {
            self.count(&format!("SELECT count() FROM {db}.online_events"))?
        } else {
            0
        };
        Ok((events as i64, online as i64))
    }
}
