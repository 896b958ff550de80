//! Dedup and enrich: from a tag's uplink to a funnel event HQ understands.
//!
//! Pure logic, fed uplinks and the time they were received: [`Dedup`]
//! remembers recent `(tag, boot, seq)` keys in bounded memory, [`StoreMap`]
//! knows the store's fixtures, readers and garments, and [`enrich`] turns one
//! uplink into a funnel event, a read without a stage, or tag health only.

use crate::config::{ReaderKind, StoreConfig};
use crate::epc;
use protocol::batch::{event_id, BatchEvent};
use protocol::time::UnixMillis;
use protocol::{StoreEventKind, TagEvent, Uplink};
use std::collections::{HashMap, HashSet, VecDeque};

/// Names one tag event forever.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct EventKey {
    pub tag: u32,
    pub boot: u32,
    pub seq: u16,
}

impl EventKey {
    pub(crate) fn of(u: &Uplink) -> Self {
        EventKey {
            tag: u.tag,
            boot: u.boot,
            seq: u.seq,
        }
    }
}

/// Keys remembered for dedup. A tag retransmits only what sits in its small
/// outbox, so duplicates arrive within seconds of the original; 64 Ki keys
/// cover minutes of a busy store in about 2 MiB. An older duplicate that
/// slips past is still caught by the spool's unique key while undelivered,
/// and by HQ's insert-by-id after that.
pub(crate) const DEDUP_CAPACITY: usize = 65_536;

/// Bounded set of event keys already committed, oldest forgotten first.
pub(crate) struct Dedup {
    seen: HashSet<EventKey>,
    order: VecDeque<EventKey>,
    capacity: usize,
}

impl Dedup {
    pub(crate) fn new(capacity: usize) -> Self {
        Dedup {
            seen: HashSet::with_capacity(capacity),
            order: VecDeque::with_capacity(capacity),
            capacity,
        }
    }

    pub(crate) fn contains(&self, key: &EventKey) -> bool {
        self.seen.contains(key)
    }

    /// Remembers `key`; call only once the event is durably committed, so a
    /// failed commit never turns the tag's retransmission into a "duplicate".
    pub(crate) fn remember(&mut self, key: EventKey) {
        if self.capacity == 0 || !self.seen.insert(key) {
            return;
        }
        if self.order.len() == self.capacity {
            if let Some(old) = self.order.pop_front() {
                self.seen.remove(&old);
            }
        }
        self.order.push_back(key);
    }
}

struct FixtureInfo {
    id: String,
    zone: String,
    gtins: Vec<String>,
}

/// The store's layout, indexed by tag id.
pub(crate) struct StoreMap {
    store: String,
    fixtures: HashMap<u32, FixtureInfo>,
    readers: HashMap<u32, (ReaderKind, String)>,
    /// Garment tag → index of its home fixture's presence tag.
    garments: HashMap<u32, u32>,
}

impl StoreMap {
    pub(crate) fn new(cfg: &StoreConfig) -> Self {
        let fixtures: HashMap<u32, FixtureInfo> = cfg
            .fixtures
            .iter()
            .map(|f| {
                (
                    f.presence_tag,
                    FixtureInfo {
                        id: f.id.clone(),
                        zone: f.zone.clone(),
                        gtins: f.gtins.clone(),
                    },
                )
            })
            .collect();
        let presence_of: HashMap<&str, u32> = cfg
            .fixtures
            .iter()
            .map(|f| (f.id.as_str(), f.presence_tag))
            .collect();
        StoreMap {
            store: cfg.store.clone(),
            fixtures,
            readers: cfg
                .readers
                .iter()
                .map(|r| (r.tag, (r.kind, r.zone.clone())))
                .collect(),
            garments: cfg
                .garments
                .iter()
                .filter_map(|g| presence_of.get(g.fixture.as_str()).map(|&p| (g.tag, p)))
                .collect(),
        }
    }

    /// Whether the config knows `tag`. A store may leave its garments out
    /// of the config (the EPC travels with each pickup); then an unlisted tag
    /// is presumed to be a garment's, and only counts as unknown when it
    /// reports what only a fixture or a reader can (a dwell, a read).
    fn knows(&self, tag: u32, event: &TagEvent) -> bool {
        self.fixtures.contains_key(&tag)
            || self.readers.contains_key(&tag)
            || self.garments.contains_key(&tag)
            || (self.garments.is_empty()
                && !matches!(
                    event,
                    TagEvent::DwellStart | TagEvent::DwellEnd { .. } | TagEvent::EpcSeen { .. }
                ))
    }
}

/// A garment read by a tag that is not a configured reader: it has no stage,
/// so it is kept aside in the spool (not sent) and counted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct UnroutedRead {
    pub key: EventKey,
    pub ts: UnixMillis,
    pub epc: String,
}

/// What one uplink becomes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Enriched {
    /// A funnel event for HQ.
    Funnel(BatchEvent),
    /// A garment read without a stage.
    Unrouted(UnroutedRead),
    /// Boot, heartbeat, dwell start, put-down: tag health only.
    Health,
}

/// The result of [`enrich`]; `unknown_tag` says the config does not know the
/// sender (the event is kept all the same).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Outcome {
    pub enriched: Enriched,
    pub unknown_tag: bool,
}

/// Maps `u`, received at `received_at`, to what the gateway keeps.
pub(crate) fn enrich(map: &StoreMap, u: &Uplink, received_at: UnixMillis) -> Outcome {
    // The tag has no clock: the event happened age_ms before it arrived.
    let happened = UnixMillis(received_at.0 - i64::from(u.age_ms));
    let unknown_tag = !map.knows(u.tag, &u.event);
    let event = |kind: StoreEventKind, ts: UnixMillis| {
        BatchEvent::new(event_id(&map.store, u.tag, u.boot, u.seq), ts, kind, u.tag)
    };
    let with_epc = |mut e: BatchEvent, epc: &[u8]| {
        e.epc = Some(epc::to_hex(epc));
        if let Some((gtin, serial)) = epc::gtin_and_serial(epc) {
            e.gtin = Some(gtin);
            e.serial = Some(serial);
        }
        e
    };
    let enriched = match &u.event {
        TagEvent::DwellEnd { dwell_ms } => {
            // An exposure is stamped when the shopper arrived.
            let mut e = event(
                StoreEventKind::FixtureDwell,
                UnixMillis(happened.0 - i64::from(*dwell_ms)),
            );
            e.duration_ms = Some(u64::from(*dwell_ms));
            if let Some(f) = map.fixtures.get(&u.tag) {
                e.fixture = Some(f.id.clone());
                e.zone = Some(f.zone.clone());
                e.gtins = Some(f.gtins.clone());
            }
            Enriched::Funnel(e)
        }
        TagEvent::PickedUp { epc } => {
            let mut e = with_epc(event(StoreEventKind::ItemPickup, happened), epc.as_bytes());
            if let Some(f) = map.garments.get(&u.tag).and_then(|p| map.fixtures.get(p)) {
                e.fixture = Some(f.id.clone());
                e.zone = Some(f.zone.clone());
            }
            Enriched::Funnel(e)
        }
        TagEvent::EpcSeen { epc, .. } => match map.readers.get(&u.tag) {
            Some((kind, zone)) => {
                let kind = match kind {
                    ReaderKind::FittingRoom => StoreEventKind::ItemTryOn,
                    ReaderKind::Checkout => StoreEventKind::ItemPurchase,
                };
                let mut e = with_epc(event(kind, happened), epc.as_bytes());
                e.zone = Some(zone.clone());
                Enriched::Funnel(e)
            }
            None => Enriched::Unrouted(UnroutedRead {
                key: EventKey::of(u),
                ts: happened,
                epc: epc::to_hex(epc.as_bytes()),
            }),
        },
        TagEvent::Boot { .. }
        | TagEvent::Heartbeat { .. }
        | TagEvent::DwellStart
        | TagEvent::PutDown { .. } => Enriched::Health,
    };
    Outcome {
        enriched,
        unknown_tag,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config;
    use protocol::{EpcBytes, FunnelStage};
    use std::path::Path;

    const STORE: &str = r#"store = "S1"
[broker]
url = "mqtt://localhost"
[spool]
path = "/tmp/x.sqlite"
[[fixtures]]
id = "F1"
zone = "womens-tops"
presence_tag = 1001
gtins = ["80614141123458"]
[[readers]]
tag = 2001
kind = "fitting_room"
zone = "fitting-room-1"
[[readers]]
tag = 2002
kind = "checkout"
zone = "till-1"
[[garments]]
tag = 3001
epc = "3074257BF7194E4000001A85"
fixture = "F1"
"#;

    fn map() -> StoreMap {
        StoreMap::new(&config::parse(Path::new("t.toml"), STORE).unwrap())
    }

    fn epc() -> EpcBytes {
        EpcBytes::new(&epc::from_hex("3074257BF7194E4000001A85").unwrap()).unwrap()
    }

    fn up(tag: u32, age_ms: u32, event: TagEvent) -> Uplink {
        Uplink {
            tag,
            boot: 2,
            seq: 9,
            age_ms,
            event,
        }
    }

    fn funnel(o: Outcome) -> BatchEvent {
        match o.enriched {
            Enriched::Funnel(e) => e,
            other => panic!("expected a funnel event, got {other:?}"),
        }
    }

    #[test]
    fn dwell_end_becomes_exposure_stamped_at_arrival_with_fixture_gtins() {
        let e = funnel(enrich(
            &map(),
            &up(1001, 500, TagEvent::DwellEnd { dwell_ms: 12_000 }),
            UnixMillis(100_000),
        ));
        assert_eq!(
            (e.event, e.stage),
            (StoreEventKind::FixtureDwell, FunnelStage::Exposure)
        );
        assert_eq!(e.ts, UnixMillis(100_000 - 500 - 12_000));
        assert_eq!(e.duration_ms, Some(12_000));
        assert_eq!(e.fixture.as_deref(), Some("F1"));
        assert_eq!(e.zone.as_deref(), Some("womens-tops"));
        assert_eq!(e.gtins, Some(vec!["80614141123458".to_owned()]));
        assert_eq!(e.id, "S1-000003e9-00000002-0009");
    }

    #[test]
    fn pickup_carries_decoded_gtin_serial_and_home_fixture() {
        let e = funnel(enrich(
            &map(),
            &up(3001, 40, TagEvent::PickedUp { epc: epc() }),
            UnixMillis(5_000),
        ));
        assert_eq!(e.event, StoreEventKind::ItemPickup);
        assert_eq!(e.ts, UnixMillis(4_960));
        assert_eq!(e.epc.as_deref(), Some("3074257BF7194E4000001A85"));
        assert_eq!(
            (e.gtin.as_deref(), e.serial.as_deref()),
            (Some("80614141123458"), Some("6789"))
        );
        assert_eq!(e.fixture.as_deref(), Some("F1"));
    }

    #[test]
    fn reads_map_to_try_on_and_purchase_by_reader_kind() {
        let seen = TagEvent::EpcSeen {
            epc: epc(),
            rssi: -50,
        };
        let try_on = funnel(enrich(&map(), &up(2001, 0, seen.clone()), UnixMillis(1)));
        assert_eq!(
            (try_on.event, try_on.zone.as_deref()),
            (StoreEventKind::ItemTryOn, Some("fitting-room-1"))
        );
        let bought = funnel(enrich(&map(), &up(2002, 0, seen), UnixMillis(1)));
        assert_eq!(
            (bought.event, bought.stage),
            (StoreEventKind::ItemPurchase, FunnelStage::Purchase)
        );
    }

    #[test]
    fn read_by_an_unknown_tag_is_kept_aside_and_flagged() {
        let o = enrich(
            &map(),
            &up(
                9999,
                10,
                TagEvent::EpcSeen {
                    epc: epc(),
                    rssi: -50,
                },
            ),
            UnixMillis(100),
        );
        assert!(o.unknown_tag);
        assert!(matches!(
            o.enriched,
            Enriched::Unrouted(UnroutedRead {
                ts: UnixMillis(90),
                ..
            })
        ));
    }

    #[test]
    fn dwell_from_an_unknown_tag_is_kept_without_a_fixture() {
        let o = enrich(
            &map(),
            &up(4242, 0, TagEvent::DwellEnd { dwell_ms: 9_000 }),
            UnixMillis(100_000),
        );
        assert!(o.unknown_tag);
        let e = funnel(o);
        assert_eq!((e.fixture, e.gtins, e.tag), (None, None, 4242));
    }

    #[test]
    fn unlisted_tags_are_presumed_garments_when_no_garments_are_configured() {
        let no_garments = STORE.split("[[garments]]").next().unwrap();
        let bare = StoreMap::new(&config::parse(Path::new("t.toml"), no_garments).unwrap());
        let fw = protocol::FwVersion {
            major: 1,
            minor: 0,
            patch: 0,
        };
        let heartbeat = TagEvent::Heartbeat {
            battery_mv: 3000,
            fw,
            dropped: 0,
        };
        assert!(!enrich(&bare, &up(5555, 0, heartbeat.clone()), UnixMillis(1)).unknown_tag);
        assert!(
            !enrich(
                &bare,
                &up(5555, 0, TagEvent::PickedUp { epc: epc() }),
                UnixMillis(1)
            )
            .unknown_tag
        );
        assert!(
            enrich(
                &bare,
                &up(5555, 0, TagEvent::DwellEnd { dwell_ms: 1 }),
                UnixMillis(1)
            )
            .unknown_tag
        );
        assert!(
            enrich(&map(), &up(5555, 0, heartbeat), UnixMillis(1)).unknown_tag,
            "listed garments: unlisted is unknown"
        );
    }

    #[test]
    fn non_sgtin_epc_is_kept_with_hex_only() {
        let raw = EpcBytes::new(&[0xE2, 0x00, 0x12]).unwrap();
        let e = funnel(enrich(
            &map(),
            &up(2001, 0, TagEvent::EpcSeen { epc: raw, rssi: 0 }),
            UnixMillis(1),
        ));
        assert_eq!((e.epc.as_deref(), e.gtin), (Some("E20012"), None));
    }

    #[test]
    fn health_events_are_not_funnel_events() {
        for ev in [
            TagEvent::DwellStart,
            TagEvent::PutDown {
                epc: epc(),
                held_ms: 3,
            },
        ] {
            assert_eq!(
                enrich(&map(), &up(3001, 0, ev), UnixMillis(1)).enriched,
                Enriched::Health
            );
        }
    }

    #[test]
    fn dedup_forgets_the_oldest_key_beyond_capacity() {
        let mut d = Dedup::new(2);
        let k = |seq| EventKey {
            tag: 1,
            boot: 1,
            seq,
        };
        d.remember(k(1));
        d.remember(k(2));
        d.remember(k(2));
        assert!(d.contains(&k(1)) && d.contains(&k(2)));
        d.remember(k(3));
        assert!(!d.contains(&k(1)));
        assert!(d.contains(&k(2)) && d.contains(&k(3)));
    }
}
