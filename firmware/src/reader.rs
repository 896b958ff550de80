//! Zone reader nodes (fitting room, checkout): turn a UHF module's stream of
//! EPC reads into one `EpcSeen` per garment per visit.
//!
//! A UHF reader sees a garment in a fitting room dozens of times a second.
//! The node remembers each garment it has reported and stays quiet about it
//! until the garment has been out of sight for `reader_visit_ms`.

use protocol::{EpcBytes, Settings, TagEvent};

/// Garments a node remembers at once. A fitting room holds a handful and a
/// checkout basket rarely more than 20; at 48 bytes an entry, 32 keeps the
/// table at 1.5 KiB of a Cortex-M0+'s RAM. When it overflows, the garment
/// seen least recently is forgotten and would be reported again.
pub const READER_TABLE_LEN: usize = 32;

#[derive(Debug, Clone, Copy)]
struct Seen {
    epc: EpcBytes,
    last_seen: u64,
}

/// One zone reader's de-duplication of EPC reads.
#[derive(Debug, Clone)]
pub struct ReaderNode {
    visit_ms: u64,
    seen: heapless::Vec<Seen, READER_TABLE_LEN>,
}

impl ReaderNode {
    /// A reader node with the config page's visit length, no garment seen.
    pub fn new(settings: &Settings) -> Self {
        ReaderNode {
            visit_ms: u64::from(settings.reader_visit_ms),
            seen: heapless::Vec::new(),
        }
    }

    /// Takes new thresholds from a `Configure` downlink.
    pub fn update_settings(&mut self, settings: &Settings) {
        self.visit_ms = u64::from(settings.reader_visit_ms);
    }

    /// Feeds one read. Returns `EpcSeen` when this read opens a new visit of
    /// the garment, `None` for repeats within the visit.
    pub fn read(&mut self, now_ms: u64, epc: EpcBytes, rssi: i8) -> Option<TagEvent> {
        let visit_ms = self.visit_ms;
        if let Some(entry) = self.seen.iter_mut().find(|s| s.epc == epc) {
            let new_visit = now_ms.saturating_sub(entry.last_seen) >= visit_ms;
            entry.last_seen = now_ms;
            return new_visit.then_some(TagEvent::EpcSeen { epc, rssi });
        }
        if self.seen.is_full() {
            self.forget_least_recent();
        }
        // Cannot fail: a slot was just freed if the table was full.
        let _ = self.seen.push(Seen {
            epc,
            last_seen: now_ms,
        });
        Some(TagEvent::EpcSeen { epc, rssi })
    }

    /// Garments currently remembered.
    pub fn remembered(&self) -> usize {
        self.seen.len()
    }

    fn forget_least_recent(&mut self) {
        if let Some((oldest, _)) = self
            .seen
            .iter()
            .enumerate()
            .min_by_key(|(_, s)| s.last_seen)
        {
            self.seen.swap_remove(oldest);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn epc(n: u8) -> EpcBytes {
        EpcBytes::new(&[
            0x30, 0x14, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, n,
        ])
        .unwrap()
    }

    #[test]
    fn garment_read_fifty_times_in_ten_seconds_is_one_event() {
        let mut node = ReaderNode::new(&Settings::default());
        let events: std::vec::Vec<_> = (0..50)
            .filter_map(|i| node.read(i * 200, epc(1), -50 - (i % 7) as i8))
            .collect();
        assert_eq!(
            events,
            [TagEvent::EpcSeen {
                epc: epc(1),
                rssi: -50
            }]
        );
    }

    #[test]
    fn each_garment_in_the_room_is_reported_once() {
        let mut node = ReaderNode::new(&Settings::default());
        let mut seen = std::vec::Vec::new();
        for round in 0..20u64 {
            for g in 1..=5 {
                if let Some(TagEvent::EpcSeen { epc, .. }) =
                    node.read(round * 300 + u64::from(g), epc(g), -60)
                {
                    seen.push(epc);
                }
            }
        }
        assert_eq!(seen, [epc(1), epc(2), epc(3), epc(4), epc(5)]);
    }

    #[test]
    fn garment_back_after_the_visit_window_is_a_new_visit() {
        let settings = Settings {
            reader_visit_ms: 60_000,
            ..Settings::default()
        };
        let mut node = ReaderNode::new(&settings);
        assert!(node.read(0, epc(1), -40).is_some());
        assert!(node.read(59_000, epc(1), -40).is_none());
        // Continuous reads keep the visit open: the window counts from the
        // last read, not the first.
        assert!(node.read(118_000, epc(1), -40).is_none());
        assert!(node.read(178_000, epc(1), -40).is_some());
    }

    #[test]
    fn full_table_forgets_the_least_recently_seen_garment() {
        let mut node = ReaderNode::new(&Settings::default());
        for g in 0..READER_TABLE_LEN as u8 {
            assert!(node.read(u64::from(g), epc(g), -60).is_some());
        }
        // Garment 0 is seen again, so garment 1 is now the least recent.
        assert!(node.read(100, epc(0), -60).is_none());
        assert!(node.read(101, epc(200), -60).is_some());
        assert_eq!(node.remembered(), READER_TABLE_LEN);
        assert!(node.read(102, epc(0), -60).is_none());
        assert!(
            node.read(103, epc(1), -60).is_some(),
            "garment 1 was forgotten"
        );
    }
}
