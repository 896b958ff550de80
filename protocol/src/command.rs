//! Numbered commands to a tag ([`Downlink::Command`](crate::Downlink::Command))
//! and what the tag did with them
//! ([`TagEvent::CommandDone`](crate::TagEvent::CommandDone)): identify, or
//! change some thresholds through a [`SettingsPatch`].

use crate::frame::Settings;
use core::fmt;
use serde::{Deserialize, Serialize};

/// What a tag did with a numbered command.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum CommandOutcome {
    /// The command took effect: the LED blinks, or the new thresholds are in
    /// force and persisted in the config page.
    Applied,
    /// The thresholds that would result are not valid for this tag (for
    /// example `pickup_k` above `pickup_m`); nothing changed.
    InvalidSettings,
    /// The tag's config page could not be written; the new thresholds are in
    /// force until the next reboot only.
    NotPersisted,
}

/// What a [`Downlink::Command`](crate::Downlink::Command) asks of a tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Command {
    /// Blink the LED for `duration_ms` (capped by the tag).
    Identify {
        /// How long to blink.
        duration_ms: u32,
    },
    /// Change some thresholds, keep the rest; the tag persists the result.
    Configure {
        /// The thresholds to change.
        changes: SettingsPatch,
    },
}

/// Some of a tag's [`Settings`]: the fields whose bit is set in `mask`
/// take their value from `values`, the others keep the tag's current value,
/// so a technician changes one threshold without knowing the others. Built
/// from a whole [`Settings`] and a mask, rather than a struct of options,
/// because the tag already decodes `Settings`: this costs the Cortex-M0+
/// image a byte and a loop instead of eight optional fields' decoders.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SettingsPatch {
    /// Which fields to change: bit `i` for the `i`-th name in
    /// [`SettingsPatch::FIELDS`].
    pub mask: u8,
    /// The new values; fields outside `mask` are ignored.
    pub values: Settings,
}

impl SettingsPatch {
    /// The settings' names, in mask-bit order, as technicians type them.
    pub const FIELDS: [&'static str; 8] = [
        "pickup_threshold_mg",
        "pickup_k",
        "pickup_m",
        "still_ms",
        "dwell_min_ms",
        "dwell_gap_ms",
        "reader_visit_ms",
        "heartbeat_s",
    ];

    /// Sets the field named `name` (one of [`SettingsPatch::FIELDS`]) to
    /// `value`. `Err` names what is wrong: an unknown name, or a value
    /// outside the field's type.
    pub fn set(&mut self, name: &str, value: u32) -> Result<(), PatchError> {
        let bit = Self::FIELDS
            .iter()
            .position(|f| *f == name)
            .ok_or(PatchError::UnknownSetting)?;
        let narrow = |max: u32| {
            if value <= max {
                Ok(value)
            } else {
                Err(PatchError::OutOfRange { max })
            }
        };
        let v = &mut self.values;
        match bit {
            0 => v.pickup_threshold_mg = narrow(u32::from(u16::MAX))? as u16,
            1 => v.pickup_k = narrow(u32::from(u8::MAX))? as u8,
            2 => v.pickup_m = narrow(u32::from(u8::MAX))? as u8,
            3 => v.still_ms = value,
            4 => v.dwell_min_ms = value,
            5 => v.dwell_gap_ms = value,
            6 => v.reader_visit_ms = value,
            _ => v.heartbeat_s = value,
        }
        self.mask |= 1 << bit;
        Ok(())
    }

    /// `settings` with this patch's values put over it.
    pub fn apply(&self, settings: Settings) -> Settings {
        let take = |bit: u8| self.mask & (1 << bit) != 0;
        let (new, old) = (&self.values, settings);
        Settings {
            pickup_threshold_mg: if take(0) {
                new.pickup_threshold_mg
            } else {
                old.pickup_threshold_mg
            },
            pickup_k: if take(1) { new.pickup_k } else { old.pickup_k },
            pickup_m: if take(2) { new.pickup_m } else { old.pickup_m },
            still_ms: if take(3) { new.still_ms } else { old.still_ms },
            dwell_min_ms: if take(4) {
                new.dwell_min_ms
            } else {
                old.dwell_min_ms
            },
            dwell_gap_ms: if take(5) {
                new.dwell_gap_ms
            } else {
                old.dwell_gap_ms
            },
            reader_visit_ms: if take(6) {
                new.reader_visit_ms
            } else {
                old.reader_visit_ms
            },
            heartbeat_s: if take(7) {
                new.heartbeat_s
            } else {
                old.heartbeat_s
            },
        }
    }
}

/// Why [`SettingsPatch::set`] refused a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatchError {
    /// The name is not one of [`SettingsPatch::FIELDS`].
    UnknownSetting,
    /// The value does not fit the field; `max` is the largest that does.
    OutOfRange {
        /// The field's largest value.
        max: u32,
    },
}

impl fmt::Display for PatchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PatchError::UnknownSetting => {
                f.write_str("unknown setting (known:")?;
                for name in SettingsPatch::FIELDS {
                    write!(f, " {name}")?;
                }
                f.write_str(")")
            }
            PatchError::OutOfRange { max } => write!(f, "value above the largest allowed, {max}"),
        }
    }
}
