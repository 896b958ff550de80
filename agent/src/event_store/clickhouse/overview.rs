//! The store overview (agent/src/event_store/overview.rs) from ClickHouse.

use super::row_binary::RowReader;
use super::{quote, ClickHouseError, ClickHouseStore};

impl ClickHouseStore {
    /// The stores in the events and exposures, from the first column of
    /// both tables' sort keys.
    pub fn stores(&self) -> Result<Vec<String>, ClickHouseError> {
        let db = self.database();
        let mut out = Vec::new();
        self.read_rows(
            &format!(
                "SELECT DISTINCT store FROM
                   (SELECT store FROM {db}.events UNION ALL SELECT store FROM {db}.exposures)
                 ORDER BY store FORMAT RowBinary"
            ),
            |r: &mut RowReader<_>| r.string(),
            &mut |s| out.push(s),
        )?;
        Ok(out)
    }

    pub fn online_channels(&self) -> Result<Vec<String>, ClickHouseError> {
        let mut out = Vec::new();
        self.read_rows(
            &format!(
                "SELECT DISTINCT channel FROM {}.online_events ORDER BY channel FORMAT RowBinary",
                self.database()
            ),
            |r: &mut RowReader<_>| r.string(),
            &mut |c| out.push(c),
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

    /// For the events and the online steps, the sum over partitions of
    /// the highest insert block number: every `INSERT` raises its
    /// partition's, a background merge keeps it (so a
    /// `ReplacingMergeTree` shrinking by merges does not look like older
    /// data), and it is read from part metadata, not from the rows.
    pub fn change_marker(&self) -> Result<(i64, i64), ClickHouseError> {
        let marker = |table: &str| {
            self.count(&format!(
                "SELECT sum(m) FROM (SELECT max(max_block_number) AS m FROM system.parts
                 WHERE database = {} AND table = {} AND active GROUP BY partition)",
                quote(self.database()),
                quote(table)
            ))
        };
        Ok((marker("events")? as i64, marker("online_events")? as i64))
    }
}
