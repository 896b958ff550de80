//! A chunk: up to [`CHUNK_EVENTS`] queued events stored as one row, so the
//! B-tree work of an insert, a delete and the page rebalance after it is
//! paid once per chunk rather than once per event.
//!
//! Every event keeps its own spool position (the number the uplink's
//! cursor and delivered ranges count in), so a chunk is cut wherever a
//! delivered range, the cap or the dead-letter table cuts it: the events
//! left are written back as a smaller chunk. The row holds the events'
//! JSON joined with commas (a run of them is one slice, ready for a
//! batch's `"events":[…]`) and a fixed-size record per event with its
//! position, key, spool time and length.

use super::ROW_OVERHEAD;
use crate::gateway::enrich::EventKey;

/// Most events written as one chunk. A cut rewrites what is left of a
/// chunk, so chunks stay a fraction of a batch (500 events by default):
/// about 30 KiB of JSON, and at most one cut per batch boundary.
pub(super) const CHUNK_EVENTS: usize = 128;

/// Bytes of one event's record: position (8), spool time (8), tag (4),
/// boot (4), seq (2), JSON length (4), all little-endian.
const RECORD: usize = 30;

/// One queued event of a chunk, without its JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Entry {
    pub pos: i64,
    pub key: EventKey,
    pub spooled_at: i64,
    pub len: usize,
}

impl Entry {
    /// Bytes this event counts against the spool's cap.
    pub(super) fn counted(&self) -> u64 {
        self.len as u64 + ROW_OVERHEAD
    }
}

/// A chunk as read from or written to its row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Chunk {
    pub entries: Vec<Entry>,
    /// The events' JSON, joined with commas, in `entries` order.
    pub body: String,
}

/// Why a row is not a well-formed chunk.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("chunk {id}: {what}")]
pub(super) struct BadChunk {
    pub id: i64,
    pub what: &'static str,
}

impl Chunk {
    /// A chunk of `events` (position, key, spool time, JSON), in order.
    pub(super) fn of<'a>(events: impl IntoIterator<Item = (i64, EventKey, i64, &'a str)>) -> Chunk {
        let mut chunk = Chunk {
            entries: Vec::new(),
            body: String::new(),
        };
        for (pos, key, spooled_at, json) in events {
            chunk.push(pos, key, spooled_at, json);
        }
        chunk
    }

    fn push(&mut self, pos: i64, key: EventKey, spooled_at: i64, json: &str) {
        if !self.entries.is_empty() {
            self.body.push(',');
        }
        self.body.push_str(json);
        self.entries.push(Entry {
            pos,
            key,
            spooled_at,
            len: json.len(),
        });
    }

    /// Reads row `id`'s records and body, checking they agree.
    pub(super) fn decode(id: i64, meta: &[u8], body: &str) -> Result<Chunk, BadChunk> {
        Ok(Chunk {
            entries: entries(id, meta, body)?,
            body: body.to_owned(),
        })
    }

    /// The records, as stored in the row's `meta` column.
    pub(super) fn meta(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.entries.len() * RECORD);
        for e in &self.entries {
            out.extend_from_slice(&e.pos.to_le_bytes());
            out.extend_from_slice(&e.spooled_at.to_le_bytes());
            out.extend_from_slice(&e.key.tag.to_le_bytes());
            out.extend_from_slice(&e.key.boot.to_le_bytes());
            out.extend_from_slice(&e.key.seq.to_le_bytes());
            out.extend_from_slice(&(e.len as u32).to_le_bytes());
        }
        out
    }

    /// Position of the first event (chunks are never empty).
    pub(super) fn first(&self) -> i64 {
        self.entries[0].pos
    }

    /// Spool time of the oldest event.
    pub(super) fn spooled_at(&self) -> i64 {
        self.entries.iter().map(|e| e.spooled_at).min().unwrap_or(0)
    }

    /// Bytes the chunk counts against the cap.
    pub(super) fn counted(&self) -> u64 {
        self.entries.iter().map(Entry::counted).sum()
    }

    /// The JSON of events `from..to`, joined with commas.
    #[cfg(test)]
    fn json(&self, from: usize, to: usize) -> &str {
        let (start, end) = span(&self.entries, from, to);
        &self.body[start..end]
    }

    /// Keeps the events `keep` says yes to; returns the removed ones' count
    /// and counted bytes.
    pub(super) fn retain(&mut self, mut keep: impl FnMut(&Entry) -> bool) -> (u64, u64) {
        let mut kept = Chunk {
            entries: Vec::with_capacity(self.entries.len()),
            body: String::with_capacity(self.body.len()),
        };
        let (mut rows, mut bytes) = (0, 0);
        let mut at = 0;
        for e in &self.entries {
            let json = &self.body[at..at + e.len];
            at += e.len + 1;
            if keep(e) {
                kept.push(e.pos, e.key, e.spooled_at, json);
            } else {
                rows += 1;
                bytes += e.counted();
            }
        }
        *self = kept;
        (rows, bytes)
    }
}

/// Reads row `id`'s event records, checking they agree with its `body`:
/// positions rising and within the row's range, lengths adding up to the
/// body with a comma between each two events.
pub(super) fn entries(id: i64, meta: &[u8], body: &str) -> Result<Vec<Entry>, BadChunk> {
    let bad = |what| BadChunk { id, what };
    if meta.is_empty() || !meta.len().is_multiple_of(RECORD) {
        return Err(bad("event records cut short"));
    }
    let mut entries = Vec::with_capacity(meta.len() / RECORD);
    for r in meta.chunks_exact(RECORD) {
        let int = |at: usize, n: usize| {
            let mut b = [0u8; 8];
            b[..n].copy_from_slice(&r[at..at + n]);
            u64::from_le_bytes(b)
        };
        entries.push(Entry {
            pos: int(0, 8) as i64,
            spooled_at: int(8, 8) as i64,
            key: EventKey {
                tag: int(16, 4) as u32,
                boot: int(20, 4) as u32,
                seq: int(24, 2) as u16,
            },
            len: int(26, 4) as usize,
        });
    }
    if entries.windows(2).any(|w| w[0].pos >= w[1].pos) || entries[entries.len() - 1].pos > id {
        return Err(bad("event positions out of order"));
    }
    let joined: usize = entries.iter().map(|e| e.len).sum::<usize>() + entries.len() - 1;
    if joined != body.len() {
        return Err(bad("event lengths do not match its JSON"));
    }
    // A comma between each two events: then each one is whole text.
    let mut at = 0;
    for e in &entries[..entries.len() - 1] {
        at += e.len;
        if body.as_bytes()[at] != b',' {
            return Err(bad("event lengths do not match its JSON"));
        }
        at += 1;
    }
    Ok(entries)
}

/// Byte range in a chunk's body of its events `from..to` (to > from),
/// without the commas around it.
pub(super) fn span(entries: &[Entry], from: usize, to: usize) -> (usize, usize) {
    let start: usize = entries[..from].iter().map(|e| e.len + 1).sum();
    let len: usize = entries[from..to].iter().map(|e| e.len + 1).sum::<usize>() - 1;
    (start, start + len)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(seq: u16) -> EventKey {
        EventKey {
            tag: 70_000,
            boot: 3,
            seq,
        }
    }

    fn sample() -> Chunk {
        Chunk::of([
            (10, key(1), 100, "{\"a\":1}"),
            (11, key(2), 90, "{\"b\":\"é\"}"),
            (12, key(3), 110, "{}"),
        ])
    }

    #[test]
    fn a_chunk_reads_back_as_written() {
        let c = sample();
        assert_eq!(c.body, "{\"a\":1},{\"b\":\"é\"},{}");
        let back = Chunk::decode(12, &c.meta(), &c.body).unwrap();
        assert_eq!(back, c);
        assert_eq!(back.first(), 10);
        assert_eq!(back.spooled_at(), 90);
        assert_eq!(back.json(1, 3), "{\"b\":\"é\"},{}");
        assert_eq!(back.json(0, 1), "{\"a\":1}");
        assert_eq!(back.counted(), (7 + 10 + 2) + 3 * ROW_OVERHEAD);
    }

    #[test]
    fn retain_keeps_positions_and_joins_the_rest() {
        let mut c = sample();
        let removed = c.retain(|e| e.pos != 11);
        assert_eq!(removed, (1, 10 + ROW_OVERHEAD));
        assert_eq!(c.body, "{\"a\":1},{}");
        assert_eq!(
            c.entries.iter().map(|e| e.pos).collect::<Vec<_>>(),
            vec![10, 12]
        );
        assert_eq!(c.spooled_at(), 100);
        assert_eq!(Chunk::decode(12, &c.meta(), &c.body).unwrap(), c);
    }

    #[test]
    fn rows_that_disagree_with_their_records_are_refused() {
        let c = sample();
        let meta = c.meta();
        assert!(Chunk::decode(12, &meta[..meta.len() - 1], &c.body).is_err());
        assert!(Chunk::decode(12, &meta, "{}").is_err());
        assert!(Chunk::decode(11, &meta, &c.body).is_err(), "beyond its id");
        assert!(Chunk::decode(12, &[], "").is_err());
        let mut swapped = meta.clone();
        swapped[..8].copy_from_slice(&20i64.to_le_bytes());
        assert!(Chunk::decode(30, &swapped, &c.body).is_err());
    }
}
