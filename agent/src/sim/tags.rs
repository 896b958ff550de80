//! The virtual tags: one firmware [`Tag`] per garment, fixture and zone
//! reader, fed synthetic sensor traces of the [`Script`].
//!
//! The tags are the firmware crate's own code, so a brush is filtered by the
//! real pickup detector, a pass-by by the real dwell detector, a fitting room
//! full of reads by the real reader node, and every frame, ack and
//! retransmission is the real outbox at work. Pure: fed the simulation time,
//! it samples every [`SAMPLE_MS`] and never reads a clock.

use super::shoppers::{Script, Span, SAMPLE_MS};
use firmware::{BootInfo, Config, PickupTuning, Role, Tag};
use protocol::{ConfigStatus, Downlink, EpcBytes, ResetReason, Settings, TagEvent, Uplink};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::collections::HashMap;

/// Events a virtual tag holds until acked: as the QEMU firmware image.
pub const OUTBOX_LEN: usize = 16;

/// Thresholds of the simulated store's tags. Shorter than the field
/// defaults so a run of tens of seconds sees whole journeys; per-tag config
/// in a real store too.
pub fn settings() -> Settings {
    Settings {
        pickup_threshold_mg: 150,
        pickup_k: 4,
        pickup_m: 6,
        still_ms: 1_500,
        dwell_min_ms: 2_000,
        dwell_gap_ms: 600,
        reader_visit_ms: 5_000,
        heartbeat_s: 30,
    }
}

/// The tag ids and EPCs of the store, index-aligned with the model's
/// [`super::shoppers::Layout`].
#[derive(Debug, Clone)]
pub struct TagIds {
    pub garments: Vec<(u32, EpcBytes)>,
    pub fixtures: Vec<u32>,
    pub readers: Vec<u32>,
}

/// Where a garment hangs when still: a tilted hanger, about 1 g in total.
const REST_MG: [i16; 3] = [40, -985, 160];
/// Sensor noise while still, well under the pickup threshold.
const NOISE_MG: i16 = 8;
/// Per-axis deviation while handled: always far above the pickup threshold,
/// and |a| stays far from free fall (the detector would call that a drop).
const HANDLED_MG: std::ops::RangeInclusive<i16> = 200..=500;
/// A brush jolts the garment for this many samples, fewer than the pickup
/// detector's K.
const BRUSH_SAMPLES: u64 = 2;

#[derive(Debug, Clone, Copy)]
enum Sensor {
    Motion { garment: usize },
    Presence { fixture: usize },
    Reader { reader: usize },
}

struct VirtualTag {
    tag: Tag<OUTBOX_LEN>,
    sensor: Sensor,
}

/// Event counts so far, for progress reports.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TagStats {
    /// Funnel events the tags produced (dwell ends, pickups, zone reads).
    pub funnel_events: u64,
    /// All events, including boots, heartbeats, dwell starts and put-downs.
    pub events: u64,
    /// Frames sent, retransmissions included.
    pub frames: u64,
    /// Events the gateway acked.
    pub acked: u64,
}

/// Every tag of the simulated store.
pub struct VirtualStore {
    tags: Vec<VirtualTag>,
    by_id: HashMap<u32, usize>,
    script: Script,
    /// Reads per reader, so a sample looks only at its own.
    reads: Vec<Vec<(usize, Span)>>,
    /// Each garment's EPC, for the readers.
    epcs: Vec<EpcBytes>,
    next_sample: u64,
    noise: ChaCha8Rng,
    stats: TagStats,
}

impl VirtualStore {
    /// Boots every tag at time 0 with boot counter `boot`. Each queues its
    /// Boot event.
    pub fn boot(ids: &TagIds, script: Script, boot: u32, seed: u64) -> Self {
        let info = BootInfo {
            boot,
            reset_reason: ResetReason::PowerOn,
            config_status: ConfigStatus::Loaded,
        };
        let new_tag = |tag: u32, role: Role, epc: Option<EpcBytes>| {
            Tag::new(
                0,
                Config {
                    tag,
                    role,
                    settings: settings(),
                    epc,
                    pickup: PickupTuning::default(),
                },
                info,
            )
        };
        let mut tags = Vec::new();
        for (garment, &(id, epc)) in ids.garments.iter().enumerate() {
            tags.push(VirtualTag {
                tag: new_tag(id, Role::Motion, Some(epc)),
                sensor: Sensor::Motion { garment },
            });
        }
        for (fixture, &id) in ids.fixtures.iter().enumerate() {
            tags.push(VirtualTag {
                tag: new_tag(id, Role::Presence, None),
                sensor: Sensor::Presence { fixture },
            });
        }
        for (reader, &id) in ids.readers.iter().enumerate() {
            tags.push(VirtualTag {
                tag: new_tag(id, Role::Reader, None),
                sensor: Sensor::Reader { reader },
            });
        }
        let mut reads = vec![Vec::new(); ids.readers.len()];
        for r in &script.reads {
            reads[r.reader].push((r.garment, r.span));
        }
        let by_id = tags
            .iter()
            .enumerate()
            .map(|(i, t)| (t.tag.config().tag, i))
            .collect();
        let events = tags.len() as u64;
        VirtualStore {
            tags,
            by_id,
            script,
            reads,
            epcs: ids.garments.iter().map(|&(_, epc)| epc).collect(),
            next_sample: 0,
            // Noise has its own stream so it never shifts the shoppers.
            noise: ChaCha8Rng::seed_from_u64(seed ^ 0x5EED_0F5E_4501),
            stats: TagStats {
                events,
                ..TagStats::default()
            },
        }
    }

    /// Feeds every sensor sample taken up to `now_ms`.
    pub fn advance(&mut self, now_ms: u64) {
        while self.next_sample <= now_ms {
            let t = self.next_sample;
            for i in 0..self.tags.len() {
                self.sample(i, t);
            }
            self.next_sample += SAMPLE_MS;
        }
    }

    fn sample(&mut self, i: usize, t: u64) {
        let mut events = Vec::new();
        match self.tags[i].sensor {
            Sensor::Motion { garment, .. } => {
                let handled = self.script.held[garment].iter().any(|h| h.contains(t));
                let brushed = self.script.brushes[garment]
                    .iter()
                    .any(|&b| (b..b + BRUSH_SAMPLES * SAMPLE_MS).contains(&t));
                let accel = if handled || brushed {
                    handled_sample(&mut self.noise)
                } else {
                    still_sample(&mut self.noise)
                };
                events.extend(self.tags[i].tag.accel_sample(t, accel));
            }
            Sensor::Presence { fixture } => {
                let present = self.script.presence[fixture].iter().any(|p| p.contains(t));
                events.extend(self.tags[i].tag.presence_sample(t, present));
            }
            Sensor::Reader { reader } => {
                for &(garment, span) in &self.reads[reader] {
                    if span.contains(t) {
                        let rssi = self.noise.gen_range(-70..=-40);
                        events.extend(self.tags[i].tag.epc_read(t, self.epcs[garment], rssi));
                    }
                }
            }
        }
        // Timers due without a sample: a dwell ending, a heartbeat.
        while let Some(event) = self.tags[i].tag.poll(t) {
            events.push(event);
        }
        for event in events {
            self.stats.events += 1;
            self.stats.funnel_events += u64::from(is_funnel(&event));
        }
    }

    /// The frames every tag sends at `now_ms`, retransmissions included.
    pub fn poll_transmit(&mut self, now_ms: u64) -> Vec<Uplink> {
        let mut out = Vec::new();
        for t in &mut self.tags {
            while let Some(uplink) = t.tag.poll_transmit(now_ms) {
                out.push(uplink);
            }
        }
        self.stats.frames += out.len() as u64;
        out
    }

    /// Delivers a downlink to the tag it names (the radio is a broadcast
    /// medium; the others would ignore it).
    pub fn handle_downlink(&mut self, now_ms: u64, downlink: &Downlink) {
        if let Some(&i) = self.by_id.get(&downlink.tag()) {
            if self.tags[i].tag.handle_downlink(now_ms, downlink) == firmware::DownlinkEffect::Acked
            {
                self.stats.acked += 1;
            }
        }
    }

    /// Events still waiting for the gateway's ack.
    pub fn unacked(&self) -> usize {
        self.tags.iter().map(|t| t.tag.outbox().len()).sum()
    }

    /// Events pushed out of a full outbox before they were acked.
    pub fn dropped(&self) -> u64 {
        self.tags
            .iter()
            .map(|t| u64::from(t.tag.outbox().dropped()))
            .sum()
    }

    pub fn stats(&self) -> TagStats {
        self.stats
    }
}

/// Whether an event becomes a funnel event at the gateway.
fn is_funnel(event: &TagEvent) -> bool {
    matches!(
        event,
        TagEvent::DwellEnd { .. } | TagEvent::PickedUp { .. } | TagEvent::EpcSeen { .. }
    )
}

fn still_sample(rng: &mut ChaCha8Rng) -> [i16; 3] {
    REST_MG.map(|a| a + rng.gen_range(-NOISE_MG..=NOISE_MG))
}

fn handled_sample(rng: &mut ChaCha8Rng) -> [i16; 3] {
    REST_MG.map(|a| {
        let jolt = rng.gen_range(HANDLED_MG);
        if rng.gen_bool(0.5) {
            a + jolt
        } else {
            a - jolt
        }
    })
}

#[cfg(test)]
mod tests;
