//! One tag: its role's detector, its outbox, its heartbeat schedule and its
//! handling of downlinks, tied together.
//!
//! This is what the MCU's main loop drives and what the store simulator
//! instantiates per virtual tag. Like the pieces it holds, it is fed samples,
//! downlinks and `now_ms`, and asked what to send and when to wake up.

use crate::config::{self, Config, Role};
use crate::entrance::{EntranceCounter, EntryCounts};
use crate::{DwellDetector, DwellEvent, MotionEvent, Outbox, PickupDetector, ReaderNode};
use protocol::{
    Command, CommandOutcome, ConfigStatus, Downlink, EpcBytes, FwVersion, ResetReason, Settings,
    TagEvent, Uplink,
};

/// This firmware's version, from the crate's version.
pub const FW_VERSION: FwVersion = FwVersion {
    major: parse_u8(env!("CARGO_PKG_VERSION_MAJOR")),
    minor: parse_u8(env!("CARGO_PKG_VERSION_MINOR")),
    patch: parse_u8(env!("CARGO_PKG_VERSION_PATCH")),
};

/// Longest blink an Identify may ask for: a forgotten or malicious request
/// must not drain the coin cell.
pub const MAX_IDENTIFY_MS: u32 = 5 * 60 * 1_000;

/// How this boot came about; reported in the Boot event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BootInfo {
    /// The persisted boot counter's value for this boot.
    pub boot: u32,
    /// Why the MCU reset before this boot.
    pub reset_reason: ResetReason,
    /// Whether the config page was usable (else fallback defaults are in use).
    pub config_status: ConfigStatus,
}

/// The role-specific detector. A tag keeps one role for its whole life and
/// there is no heap to box the reader's table into, so the enum is as large
/// as its largest variant on purpose.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
enum Sensor {
    Motion(PickupDetector),
    Presence(DwellDetector),
    Reader(ReaderNode),
    Entrance(EntranceCounter),
}

/// What a downlink did, so the shell can act on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DownlinkEffect {
    /// Addressed to another tag, or an ack for nothing pending.
    Ignored,
    /// An event was released from the outbox.
    Acked,
    /// Thresholds changed by an unnumbered `Configure`: the shell should
    /// persist [`Tag::config`].
    Configured,
    /// Thresholds changed by the numbered command `id`: the shell should
    /// persist [`Tag::config`] and report whether it could with
    /// [`Tag::config_stored`], which queues the confirmation.
    ConfiguredByCommand {
        /// The command's number.
        id: u16,
    },
    /// A numbered command was refused, or repeated one already done: its
    /// confirmation is queued and the shell has nothing to do.
    Confirmed,
    /// Blink the LED until `until_ms`.
    Identify {
        /// When to stop blinking, in the tag's time.
        until_ms: u64,
    },
}

/// A tag with an outbox of `N` events.
#[derive(Debug, Clone)]
pub struct Tag<const N: usize> {
    config: Config,
    sensor: Sensor,
    outbox: Outbox<N>,
    next_heartbeat: u64,
    battery_mv: u16,
    identify_until: u64,
    /// Whether the last heartbeat said a break-beam was blocked (entrance
    /// counters): a change brings the next heartbeat forward.
    beam_blocked_reported: bool,
    /// The last numbered command done and its outcome. The gateway resends
    /// a command until its confirmation arrives and sends one command at a
    /// time, so a repeat of this id is re-confirmed, not re-applied. RAM
    /// only: after a reboot a resent Configure is applied again, which
    /// leaves the same thresholds.
    last_command: Option<(u16, CommandOutcome)>,
}

impl<const N: usize> Tag<N> {
    /// Starts a tag at `now_ms` and queues its Boot event. The first
    /// heartbeat is due one heartbeat period later.
    pub fn new(now_ms: u64, config: Config, boot: BootInfo) -> Self {
        let sensor = match config.role {
            Role::Motion => Sensor::Motion(PickupDetector::new(&config.settings, &config.pickup)),
            Role::Presence => Sensor::Presence(DwellDetector::new(&config.settings)),
            Role::Reader => Sensor::Reader(ReaderNode::new(&config.settings)),
            Role::Entrance => Sensor::Entrance(EntranceCounter::new(config.entrance)),
        };
        let mut tag = Tag {
            config,
            sensor,
            outbox: Outbox::new(config.tag, boot.boot),
            next_heartbeat: now_ms + heartbeat_ms(&config.settings),
            battery_mv: 0,
            identify_until: 0,
            beam_blocked_reported: false,
            last_command: None,
        };
        let event = TagEvent::Boot {
            fw: FW_VERSION,
            reset_reason: boot.reset_reason,
            config: boot.config_status,
        };
        tag.outbox.push(now_ms, event);
        tag
    }

    /// Feeds an accelerometer sample (motion tags; ignored otherwise).
    /// Returns the event it produced, if any, already queued for sending.
    pub fn accel_sample(&mut self, now_ms: u64, accel_mg: [i16; 3]) -> Option<TagEvent> {
        let Sensor::Motion(detector) = &mut self.sensor else {
            return None;
        };
        let motion = detector.sample(now_ms, accel_mg)?;
        // Without a garment EPC a pickup cannot be attributed: the tag is
        // unprovisioned (its Boot event said so), so it stays quiet.
        let epc = self.config.epc?;
        self.emit(now_ms, motion_event(motion, epc))
    }

    /// Feeds the PIR level (presence tags; ignored otherwise).
    pub fn presence_sample(&mut self, now_ms: u64, present: bool) -> Option<TagEvent> {
        let Sensor::Presence(detector) = &mut self.sensor else {
            return None;
        };
        let dwell = detector.sample(now_ms, present)?;
        self.emit(now_ms, dwell_event(dwell))
    }

    /// Feeds one UHF read (reader nodes; ignored otherwise).
    pub fn epc_read(&mut self, now_ms: u64, epc: EpcBytes, rssi: i8) -> Option<TagEvent> {
        let Sensor::Reader(node) = &mut self.sensor else {
            return None;
        };
        let event = node.read(now_ms, epc, rssi)?;
        self.emit(now_ms, event)
    }

    /// Feeds both break-beams' levels, `true` = broken (entrance counters;
    /// ignored otherwise). Beam A is the street side, beam B the store side.
    /// Returns the Entries event of a period that just closed, if any.
    pub fn beam_sample(&mut self, now_ms: u64, beam_a: bool, beam_b: bool) -> Option<TagEvent> {
        let Sensor::Entrance(counter) = &mut self.sensor else {
            return None;
        };
        let counts = counter.sample(now_ms, beam_a, beam_b)?;
        self.emit_entries(counts)
    }

    /// The latest battery measurement, for the next heartbeat (0 until set).
    pub fn set_battery_mv(&mut self, battery_mv: u16) {
        self.battery_mv = battery_mv;
    }

    /// Runs the timers due at `now_ms` (a dwell ending or starting without a
    /// new sample, an entrance count period closing, the heartbeat) and returns the event queued, if any. Call
    /// until `None`; [`Tag::poll_transmit`] does so itself.
    pub fn poll(&mut self, now_ms: u64) -> Option<TagEvent> {
        if let Sensor::Presence(detector) = &mut self.sensor {
            if let Some(dwell) = detector.poll(now_ms) {
                return self.emit(now_ms, dwell_event(dwell));
            }
        }
        let mut beam_blocked = None;
        if let Sensor::Entrance(counter) = &mut self.sensor {
            if let Some(counts) = counter.poll(now_ms) {
                return self.emit_entries(counts);
            }
            beam_blocked = Some(counter.is_blocked());
        }
        if beam_blocked.is_some_and(|blocked| blocked != self.beam_blocked_reported) {
            // A door propped open (or cleared again) is news now, not at
            // the next scheduled heartbeat.
            self.next_heartbeat = now_ms;
        }
        if now_ms >= self.next_heartbeat {
            // After a long sleep, one heartbeat, not a burst of missed ones.
            self.next_heartbeat = now_ms + heartbeat_ms(&self.config.settings);
            // Pushing into a full outbox drops one more: count it now, or
            // it would wait a whole period for the next heartbeat.
            let dropped = self
                .outbox
                .dropped()
                .saturating_add(u32::from(self.outbox.is_full()));
            let battery_mv = self.battery_mv;
            let event = match beam_blocked {
                Some(beam_blocked) => {
                    self.beam_blocked_reported = beam_blocked;
                    TagEvent::EntranceHeartbeat {
                        battery_mv,
                        fw: FW_VERSION,
                        dropped,
                        beam_blocked,
                    }
                }
                None => TagEvent::Heartbeat {
                    battery_mv,
                    fw: FW_VERSION,
                    dropped,
                },
            };
            return self.emit(now_ms, event);
        }
        None
    }

    /// The next uplink to send at `now_ms`. Call until `None`.
    pub fn poll_transmit(&mut self, now_ms: u64) -> Option<Uplink> {
        while self.poll(now_ms).is_some() {}
        self.outbox.poll_transmit(now_ms)
    }

    /// When the tag next needs [`Tag::poll_transmit`] without new input: a
    /// retransmission, a timer or the end of an Identify blink. The MCU
    /// sleeps until then (or until a sensor interrupt).
    pub fn poll_timeout(&self, now_ms: u64) -> u64 {
        let mut due = self.next_heartbeat;
        if let Some(at) = self.outbox.poll_timeout() {
            due = due.min(at);
        }
        let sensor_due = match &self.sensor {
            Sensor::Presence(detector) => detector.poll_timeout(),
            Sensor::Entrance(counter) => counter.poll_timeout(),
            Sensor::Motion(_) | Sensor::Reader(_) => None,
        };
        if let Some(at) = sensor_due {
            due = due.min(at);
        }
        if self.identify_until > now_ms {
            due = due.min(self.identify_until);
        }
        due
    }

    /// Applies a downlink from the gateway. Downlinks for other tags (the
    /// radio is a broadcast medium) are ignored.
    pub fn handle_downlink(&mut self, now_ms: u64, downlink: &Downlink) -> DownlinkEffect {
        if downlink.tag() != self.config.tag {
            return DownlinkEffect::Ignored;
        }
        match *downlink {
            Downlink::Ack { boot, seq, .. } => {
                if self.outbox.on_ack(boot, seq) {
                    DownlinkEffect::Acked
                } else {
                    DownlinkEffect::Ignored
                }
            }
            Downlink::Configure { settings, .. } => {
                self.configure(now_ms, settings);
                DownlinkEffect::Configured
            }
            Downlink::Identify { duration_ms, .. } => self.identify(now_ms, duration_ms),
            Downlink::Command { id, command, .. } => self.command(now_ms, id, command),
        }
    }

    /// Reports whether the shell could persist the thresholds the numbered
    /// command `id` set (after [`DownlinkEffect::ConfiguredByCommand`]) and
    /// queues its confirmation: `Applied`, or `NotPersisted` when the
    /// config page could not be written (the thresholds stay in force
    /// until the next boot).
    pub fn config_stored(&mut self, now_ms: u64, id: u16, stored: bool) {
        let outcome = if stored {
            CommandOutcome::Applied
        } else {
            CommandOutcome::NotPersisted
        };
        self.confirm(now_ms, id, outcome);
    }

    /// Whether the LED should be blinking for a technician at `now_ms`.
    pub fn is_identifying(&self, now_ms: u64) -> bool {
        now_ms < self.identify_until
    }

    /// True when a motion tag's garment hangs still: the MCU may stop
    /// sampling and wait for the accelerometer's wake-on-motion interrupt.
    pub fn motion_resting(&self) -> bool {
        matches!(&self.sensor, Sensor::Motion(detector) if detector.is_resting())
    }

    /// The config in force, including thresholds changed by downlinks.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The events not yet acked.
    pub fn outbox(&self) -> &Outbox<N> {
        &self.outbox
    }

    fn identify(&mut self, now_ms: u64, duration_ms: u32) -> DownlinkEffect {
        self.identify_until = now_ms + u64::from(duration_ms.min(MAX_IDENTIFY_MS));
        DownlinkEffect::Identify {
            until_ms: self.identify_until,
        }
    }

    /// Carries out a numbered command, or re-confirms a repeat of the last
    /// one. A Configure's new thresholds are checked by
    /// [`config::validate`] first; refused, nothing changes.
    fn command(&mut self, now_ms: u64, id: u16, command: Command) -> DownlinkEffect {
        if let Some((last, outcome)) = self.last_command {
            if last == id {
                self.confirm(now_ms, id, outcome);
                return DownlinkEffect::Confirmed;
            }
        }
        match command {
            Command::Identify { duration_ms } => {
                let effect = self.identify(now_ms, duration_ms);
                self.confirm(now_ms, id, CommandOutcome::Applied);
                effect
            }
            Command::Configure { changes } => {
                let settings = changes.apply(self.config.settings);
                if config::validate(&settings).is_err() {
                    self.confirm(now_ms, id, CommandOutcome::InvalidSettings);
                    return DownlinkEffect::Confirmed;
                }
                self.configure(now_ms, settings);
                // Done; the outcome is final once the shell says whether
                // the config page took it.
                self.last_command = Some((id, CommandOutcome::Applied));
                DownlinkEffect::ConfiguredByCommand { id }
            }
        }
    }

    /// Queues the confirmation of command `id`, retransmitted like every
    /// event until the gateway acks it.
    fn confirm(&mut self, now_ms: u64, id: u16, outcome: CommandOutcome) {
        self.last_command = Some((id, outcome));
        self.outbox
            .push(now_ms, TagEvent::CommandDone { id, outcome });
    }

    fn configure(&mut self, now_ms: u64, settings: Settings) {
        self.config.settings = settings;
        match &mut self.sensor {
            Sensor::Motion(detector) => detector.update_settings(&settings),
            Sensor::Presence(detector) => detector.update_settings(&settings),
            Sensor::Reader(node) => node.update_settings(&settings),
            // The counter's thresholds live in the config page only: the
            // Configure downlink carries the shared `Settings`.
            Sensor::Entrance(_) => {}
        }
        self.next_heartbeat = self.next_heartbeat.min(now_ms + heartbeat_ms(&settings));
    }

    fn emit(&mut self, now_ms: u64, event: TagEvent) -> Option<TagEvent> {
        self.outbox.push(now_ms, event.clone());
        Some(event)
    }

    /// Queues a period's counts, dated at the period's start so the
    /// gateway stamps the event there.
    fn emit_entries(&mut self, counts: EntryCounts) -> Option<TagEvent> {
        let event = TagEvent::Entries {
            entered: counts.entered,
            exited: counts.exited,
            period_ms: counts.period_ms,
        };
        self.emit(counts.started_ms, event)
    }
}

fn motion_event(motion: MotionEvent, epc: EpcBytes) -> TagEvent {
    match motion {
        MotionEvent::PickedUp => TagEvent::PickedUp { epc },
        MotionEvent::PutDown { held_ms } => TagEvent::PutDown { epc, held_ms },
    }
}

fn dwell_event(dwell: DwellEvent) -> TagEvent {
    match dwell {
        DwellEvent::DwellStart => TagEvent::DwellStart,
        DwellEvent::DwellEnd { dwell_ms } => TagEvent::DwellEnd { dwell_ms },
    }
}

/// A heartbeat period of 0 in a config would flood the channel; one second
/// is the floor.
fn heartbeat_ms(settings: &Settings) -> u64 {
    u64::from(settings.heartbeat_s.max(1)) * 1_000
}

const fn parse_u8(digits: &str) -> u8 {
    let bytes = digits.as_bytes();
    let mut value: u8 = 0;
    let mut i = 0;
    while i < bytes.len() {
        value = value * 10 + (bytes[i] - b'0');
        i += 1;
    }
    value
}

#[cfg(test)]
mod tests;
