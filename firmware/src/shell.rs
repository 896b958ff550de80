//! The tag's main loop, written once for every board: it moves bytes and
//! samples between a [`Board`] (the MCU's peripherals, or QEMU's scripted
//! ones) and the pure [`Tag`].
//!
//! One [`Shell::step`] reads the link, applies downlinks, feeds sensor input,
//! sends what is due and sleeps until the tag's next deadline or an interrupt.

use crate::config::Config;
use crate::tag::{DownlinkEffect, Tag};
use protocol::{encode, EpcBytes, FrameDecoder, MAX_ENCODED_LEN};

/// How often the LED toggles while a technician's Identify is running.
pub const BLINK_HALF_PERIOD_MS: u64 = 250;

/// One sensor reading, whatever the tag's role.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Input {
    /// An accelerometer sample, milli-g per axis.
    Accel([i16; 3]),
    /// The PIR's level changed or was sampled.
    Presence(bool),
    /// An entrance counter's break-beams were sampled or one changed
    /// (`true` = broken).
    Beams {
        /// Beam A, on the street side.
        a: bool,
        /// Beam B, on the store side.
        b: bool,
    },
    /// The UHF module read a garment.
    Epc {
        /// The garment's EPC.
        epc: EpcBytes,
        /// Signal strength of the read, dBm.
        rssi: i8,
    },
}

/// What a tag's hardware offers the main loop.
pub trait Board {
    /// Milliseconds since boot; never goes backwards.
    fn now_ms(&mut self) -> u64;
    /// Sends one encoded frame (delimiter included) over the link.
    fn transmit(&mut self, frame: &[u8]);
    /// Moves received link bytes into `buf`; returns how many (0: none).
    fn receive(&mut self, buf: &mut [u8]) -> usize;
    /// The next sensor reading taken by `now_ms`, if any.
    fn sense(&mut self, now_ms: u64) -> Option<Input>;
    /// The supply voltage, for heartbeats.
    fn battery_mv(&mut self) -> u16;
    /// Turns the identify LED on or off.
    fn set_led(&mut self, on: bool);
    /// Persists a config changed by a `Configure` downlink or command;
    /// `Err` when the config page could not be written.
    fn store_config(&mut self, config: &Config) -> Result<(), StoreFailed>;
    /// Sleeps until `deadline_ms` or an interrupt (a sensor, a link byte).
    /// `motion_resting` says a motion tag's garment hangs still, so the
    /// board may stop sampling and arm wake-on-motion instead.
    fn sleep_until(&mut self, deadline_ms: u64, motion_resting: bool);
}

/// The config page could not be written (the flash refused the erase or
/// the write); a numbered Configure is then confirmed as `NotPersisted`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoreFailed;

/// A tag with an outbox of `N` events, and its link decoder.
pub struct Shell<const N: usize> {
    tag: Tag<N>,
    decoder: FrameDecoder,
}

impl<const N: usize> Shell<N> {
    /// A shell around `tag`, with an empty link decoder.
    pub fn new(tag: Tag<N>) -> Self {
        Shell {
            tag,
            decoder: FrameDecoder::new(),
        }
    }

    /// The tag it drives.
    pub fn tag(&self) -> &Tag<N> {
        &self.tag
    }

    /// One pass of the main loop at the board's current time.
    pub fn step<B: Board>(&mut self, board: &mut B) {
        let now = board.now_ms();
        self.receive(board, now);
        while let Some(input) = board.sense(now) {
            match input {
                Input::Accel(accel) => self.tag.accel_sample(now, accel),
                Input::Presence(present) => self.tag.presence_sample(now, present),
                Input::Epc { epc, rssi } => self.tag.epc_read(now, epc, rssi),
                Input::Beams { a, b } => self.tag.beam_sample(now, a, b),
            };
        }
        self.tag.set_battery_mv(board.battery_mv());
        let mut frame = [0u8; MAX_ENCODED_LEN];
        while let Some(uplink) = self.tag.poll_transmit(now) {
            // Encoding an uplink built from protocol's types cannot fail
            // with a MAX_ENCODED_LEN buffer; if it ever did, the event stays
            // in the outbox rather than the tag halting.
            if let Ok(len) = encode(&protocol::Frame::uplink(uplink), &mut frame) {
                board.transmit(&frame[..len]);
            }
        }
        let identifying = self.tag.is_identifying(now);
        // Truncated to 32 bits (the phase slips once in 49 days): 64-bit
        // division would cost a Cortex-M0+ about 1 KiB of code.
        let phase = (now as u32 / BLINK_HALF_PERIOD_MS as u32) % 2;
        board.set_led(identifying && phase == 0);
        let mut deadline = self.tag.poll_timeout(now);
        if identifying {
            deadline = deadline.min(now + BLINK_HALF_PERIOD_MS);
        }
        board.sleep_until(deadline, self.tag.motion_resting());
    }

    fn receive<B: Board>(&mut self, board: &mut B, now: u64) {
        let mut buf = [0u8; 64];
        loop {
            let n = board.receive(&mut buf);
            if n == 0 {
                return;
            }
            // Garbage, corrupt frames and other tags' uplinks are skipped;
            // the decoder resynchronises at the next delimiter.
            for downlink in self.decoder.feed_downlinks(&buf[..n]).flatten().flatten() {
                match self.tag.handle_downlink(now, &downlink) {
                    // An older gateway's unnumbered Configure: nobody to
                    // tell; the next boot's Boot event shows the page.
                    DownlinkEffect::Configured => {
                        let _ = board.store_config(self.tag.config());
                    }
                    DownlinkEffect::ConfiguredByCommand { id } => {
                        let stored = board.store_config(self.tag.config()).is_ok();
                        self.tag.config_stored(now, id, stored);
                    }
                    _ => {}
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;
