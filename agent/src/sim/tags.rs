//! The virtual tags: one firmware [`Tag`] per garment, fixture, zone reader
//! and entrance, fed synthetic sensor traces of the [`Script`].
//!
//! The tags are the firmware crate's own code, so a brush or a push along
//! the rail is filtered by the real pickup detector, a pass-by by the real
//! dwell detector, a fitting room full of reads by the real reader node,
//! people in the door's beams by the real entrance counter, and every
//! frame, ack and retransmission is the real outbox at work. A garment's
//! accelerometer plays the physical models of [`super::motion`]:
//! each garment has its own hanger and sensor, and every lift, brush and
//! browse of the script is rendered once, at boot, into the samples the tag
//! will read. Pure: fed the simulation time, it samples every [`SAMPLE_MS`]
//! and never reads a clock.

use super::door;
use super::motion::touches::{self, Lift};
use super::motion::{Drive, Hanger, Scene, Sensor as Accelerometer};
use super::shoppers::{Script, Span, SAMPLE_MS};
use firmware::{BootInfo, Config, DownlinkEffect, EntranceSettings, PickupTuning, Role, Tag};
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

/// The entrance counters' thresholds in the simulated store: the firmware's
/// debounce and blocked time, with periods of 10 s so that a run of tens of
/// seconds reports several.
pub fn entrance_settings() -> EntranceSettings {
    EntranceSettings {
        period_ms: 10_000,
        ..EntranceSettings::default()
    }
}

/// The tag ids and EPCs of the store, index-aligned with the model's
/// [`super::shoppers::Layout`].
#[derive(Debug, Clone)]
pub struct TagIds {
    pub garments: Vec<(u32, EpcBytes)>,
    pub fixtures: Vec<u32>,
    pub readers: Vec<u32>,
    pub entrances: Vec<u32>,
}

/// How long after a lift begins the tags report it, with [`settings`] and
/// the store's lifts ([`Lift::in_store`]): the middle of the spread the
/// firmware's detector shows on them, 1.3–1.55 s at 20 Hz (checked by this
/// module's tests). The shopper model times the steps of a journey from it;
/// HQ's medians are whole seconds, so the spread never shows in them.
pub const PICKUP_LATENCY_MS: u64 = 1_400;

/// The quiet lead-in of a rendered touch, so it starts from a hanging
/// garment; a multiple of [`SAMPLE_MS`].
const LEAD_IN_MS: u64 = 200;
/// How long a touch's swing is rendered after it: it has died down by then.
const SWING_TAIL_MS: u64 = 6_000;

/// A touch of the script rendered into the samples the garment's tag reads
/// from `start` on, one every [`SAMPLE_MS`].
#[derive(Debug, Clone)]
struct Rendered {
    start: u64,
    samples: Vec<[i16; 3]>,
}

impl Rendered {
    fn at(&self, t: u64) -> Option<[i16; 3]> {
        let i = t.checked_sub(self.start)? / SAMPLE_MS;
        self.samples.get(i as usize).copied()
    }
}

/// One garment's accelerometer: its hanger, its sensor and its touches.
struct Garment {
    sensor: Accelerometer,
    touches: Vec<Rendered>,
}

impl Garment {
    /// Renders the garment's lifts, brushes and browses, each from `LEAD_IN_MS`
    /// before it starts.
    fn new(script: &Script, garment: usize, rng: &mut ChaCha8Rng) -> Self {
        let sensor = Accelerometer::draw(rng, SAMPLE_MS, false);
        let hanger = Hanger {
            swing_hz: rng.gen_range(0.8..1.2),
            damping: rng.gen_range(0.08..0.2),
            tag_depth_m: rng.gen_range(0.05..0.35),
        };
        let mut touches = Vec::new();
        let mut render =
            |start: u64, rng: &mut ChaCha8Rng, play: &dyn Fn(&mut Scene, &mut ChaCha8Rng)| {
                let mut scene = Scene::new();
                scene.rail(&hanger, LEAD_IN_MS, |_| Drive::default());
                play(&mut scene, rng);
                scene.rail(&hanger, SWING_TAIL_MS, |_| Drive::default());
                let samples = sensor
                    .sample(&scene, rng)
                    .into_iter()
                    .map(|(_, a)| a)
                    .collect();
                touches.push(Rendered {
                    start: start.saturating_sub(LEAD_IN_MS),
                    samples,
                });
            };
        for held in &script.held[garment] {
            render(held.start, rng, &|scene, rng| {
                Lift::in_store(held.end - held.start, rng).play(scene, &hanger, rng);
            });
        }
        for &at in &script.brushes[garment] {
            render(at, rng, &|scene, rng| {
                let deg = rng.gen_range(4.0..18.0);
                touches::brush(scene, &hanger, deg, rng);
            });
        }
        for &at in &script.browses[garment] {
            render(at, rng, &|scene, rng| {
                let direction = if rng.gen_bool(0.5) { 1.0 } else { -1.0 };
                touches::push(scene, &hanger, direction, rng);
            });
        }
        // The latest touch wins where a swing's tail meets the next touch.
        touches.sort_by_key(|r| r.start);
        Garment { sensor, touches }
    }

    fn sample(&self, t: u64, noise: &mut ChaCha8Rng) -> [i16; 3] {
        self.touches
            .iter()
            .rev()
            .find_map(|r| r.at(t))
            .unwrap_or_else(|| self.sensor.at_rest(noise))
    }
}

#[derive(Debug, Clone, Copy)]
enum Sensor {
    /// Index into [`VirtualStore::garments`] and the script's garments.
    Motion {
        garment: usize,
    },
    Presence {
        fixture: usize,
    },
    Reader {
        reader: usize,
    },
    /// Index into the script's doors.
    Entrance {
        entrance: usize,
    },
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
    garments: Vec<Garment>,
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
                    entrance: entrance_settings(),
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
        for (entrance, &id) in ids.entrances.iter().enumerate() {
            tags.push(VirtualTag {
                tag: new_tag(id, Role::Entrance, None),
                sensor: Sensor::Entrance { entrance },
            });
        }
        let mut reads = vec![Vec::new(); ids.readers.len()];
        for r in &script.reads {
            reads[r.reader].push((r.garment, r.span));
        }
        // The garments' hangers, sensors and touches have their own stream,
        // so they never shift the shoppers or the noise.
        let mut motion = ChaCha8Rng::seed_from_u64(seed ^ 0x0A11_5EED_4A26);
        let garments = (0..ids.garments.len())
            .map(|g| Garment::new(&script, g, &mut motion))
            .collect();
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
            garments,
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
            Sensor::Motion { garment } => {
                let accel = self.garments[garment].sample(t, &mut self.noise);
                events.extend(self.tags[i].tag.accel_sample(t, accel));
            }
            Sensor::Presence { fixture } => {
                let present = self.script.presence[fixture].iter().any(|p| p.contains(t));
                events.extend(self.tags[i].tag.presence_sample(t, present));
            }
            Sensor::Entrance { entrance } => {
                let (a, b) = door::beams_at(&self.script.door[entrance], t);
                events.extend(self.tags[i].tag.beam_sample(t, a, b));
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
    /// medium; the others would ignore it). A numbered command is carried
    /// out as on a real tag and its confirmation queued; a virtual tag's
    /// config page is its memory, so a Configure is always persisted.
    pub fn handle_downlink(&mut self, now_ms: u64, downlink: &Downlink) {
        let Some(&i) = self.by_id.get(&downlink.tag()) else {
            return;
        };
        let tag = &mut self.tags[i].tag;
        match tag.handle_downlink(now_ms, downlink) {
            DownlinkEffect::Acked => self.stats.acked += 1,
            DownlinkEffect::ConfiguredByCommand { id } => tag.config_stored(now_ms, id, true),
            DownlinkEffect::Ignored
            | DownlinkEffect::Configured
            | DownlinkEffect::Confirmed
            | DownlinkEffect::Identify { .. } => {}
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
    match event {
        TagEvent::DwellEnd { .. } | TagEvent::PickedUp { .. } | TagEvent::EpcSeen { .. } => true,
        TagEvent::Entries { entered, .. } => *entered > 0,
        _ => false,
    }
}

#[cfg(test)]
mod tests;
