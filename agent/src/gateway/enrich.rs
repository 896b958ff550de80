//! Dedup and enrich: from a tag's uplink to a funnel event HQ understands.
//!
//! Pure logic, fed uplinks and the time they were received: [`Dedup`]
//! remembers recent `(tag, boot, seq)` keys in bounded memory, [`StoreMap`]
//! knows the store's fixtures, readers, entrances and garments, and
//! [`enrich`] turns one uplink into a funnel event, a read without a stage,
//! or tag health only.

use crate::config::{ReaderKind, StoreConfig};
use crate::epc;
use protocol::batch::{event_id, BatchEvent};
use protocol::frame::EpcBytes;
use protocol::time::UnixMillis;
use protocol::{StoreEventKind, TagEvent, Uplink};
use std::cell::RefCell;
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
/// cover minutes of a busy store in about 2 MiB. The gateway seeds them at
/// start with the newest events in the spool, whose acks a restart may have
/// lost. An older duplicate that slips past is spooled and sent again, and
/// HQ's insert-by-id stores it once.
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

/// EPCs whose names [`StoreMap`] remembers: a store's garments are picked
/// up again and again, and decoding an SGTIN cost as much as serialising the
/// whole event. A few thousand garments fit; beyond, it starts over.
const EPC_MEMO_CAPACITY: usize = 8_192;

/// What an EPC is called in a batch: its hex, and its GTIN and serial when
/// it is an SGTIN.
#[derive(Clone)]
struct EpcNames {
    hex: String,
    gtin_serial: Option<(String, String)>,
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
    /// Entrance counter tag → the door's zone.
    entrances: HashMap<u32, String>,
    /// Garment tag → index of its home fixture's presence tag.
    garments: HashMap<u32, u32>,
    /// Decoded EPCs (the writer thread owns the map, so no lock).
    epcs: RefCell<HashMap<EpcBytes, EpcNames>>,
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
            entrances: cfg
                .entrances
                .iter()
                .map(|e| (e.tag, e.zone.clone()))
                .collect(),
            garments: cfg
                .garments
                .iter()
                .filter_map(|g| presence_of.get(g.fixture.as_str()).map(|&p| (g.tag, p)))
                .collect(),
            epcs: RefCell::default(),
        }
    }

    /// The names of `epc`, decoded once while it stays remembered.
    fn epc_names(&self, epc: &EpcBytes) -> EpcNames {
        let mut memo = self.epcs.borrow_mut();
        if let Some(names) = memo.get(epc) {
            return names.clone();
        }
        if memo.len() >= EPC_MEMO_CAPACITY {
            memo.clear();
        }
        let names = EpcNames {
            hex: epc::to_hex(epc.as_bytes()),
            gtin_serial: epc::gtin_and_serial(epc.as_bytes()),
        };
        memo.insert(*epc, names.clone());
        names
    }

    /// Whether the config knows `tag`. A store may leave its garments out
    /// of the config (the EPC travels with each pickup); then an unlisted tag
    /// is presumed to be a garment's, and only counts as unknown when it
    /// reports what only a fixture, a reader or an entrance can (a dwell, a
    /// read, people counts).
    fn knows(&self, tag: u32, event: &TagEvent) -> bool {
        self.fixtures.contains_key(&tag)
            || self.readers.contains_key(&tag)
            || self.entrances.contains_key(&tag)
            || self.garments.contains_key(&tag)
            || (self.garments.is_empty()
                && !matches!(
                    event,
                    TagEvent::DwellStart
                        | TagEvent::DwellEnd { .. }
                        | TagEvent::EpcSeen { .. }
                        | TagEvent::Entries { .. }
                        | TagEvent::EntranceHeartbeat { .. }
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
    /// Boot, heartbeat, dwell start, put-down, a period in which people
    /// only left: tag health only.
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
    let with_epc = |mut e: BatchEvent, epc: &EpcBytes| {
        let names = map.epc_names(epc);
        e.epc = Some(names.hex);
        if let Some((gtin, serial)) = names.gtin_serial {
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
            let mut e = with_epc(event(StoreEventKind::ItemPickup, happened), epc);
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
                let mut e = with_epc(event(kind, happened), epc);
                e.zone = Some(zone.clone());
                Enriched::Funnel(e)
            }
            None => Enriched::Unrouted(UnroutedRead {
                key: EventKey::of(u),
                ts: happened,
                epc: epc::to_hex(epc.as_bytes()),
            }),
        },
        // The visit stage counts people coming in. A period in which people
        // only left adds nothing to any funnel count, so it is not sent: an
        // event with a count of zero would only be rows for HQ to skip.
        TagEvent::Entries {
            entered, period_ms, ..
        } if *entered > 0 => {
            // age_ms dates the period's start: the visits are stamped there,
            // as a dwell is stamped when the shopper arrived.
            let mut e = event(StoreEventKind::StoreVisits, happened);
            e.count = Some(u32::from(*entered));
            e.duration_ms = Some(u64::from(*period_ms));
            e.zone = map.entrances.get(&u.tag).cloned();
            Enriched::Funnel(e)
        }
        TagEvent::Boot { .. }
        | TagEvent::Heartbeat { .. }
        | TagEvent::EntranceHeartbeat { .. }
        | TagEvent::DwellStart
        | TagEvent::PutDown { .. }
        | TagEvent::Entries { .. }
        | TagEvent::CommandDone { .. } => Enriched::Health,
    };
    Outcome {
        enriched,
        unknown_tag,
    }
}

#[cfg(test)]
mod tests;
