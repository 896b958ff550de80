//! aisle tag firmware: pure, clock-free detectors and delivery logic that run
//! on the tag's MCU, on the host in tests, and inside the store simulator.
//!
//! Everything here is fed samples, frames and `now_ms` (milliseconds since
//! boot) and never reads a clock or touches a peripheral, except the sensor
//! driver in [`lis2dh`], which is generic over embedded-hal 1.0.
#![no_std]
#![warn(missing_docs)]

#[cfg(test)]
extern crate std;

pub mod config;
pub mod dwell;
pub mod entrance;
pub mod flash;
pub mod lis2dh;
pub mod outbox;
pub mod pickup;
pub mod reader;
pub mod shell;
pub mod tag;

pub use config::{validate, Config, ConfigError, InvalidSettings, Role, CONFIG_IMAGE_LEN};
pub use dwell::{DwellDetector, DwellEvent};
pub use entrance::{EntranceCounter, EntranceSettings, EntryCounts};
pub use flash::{BootCounter, RamFlash};
pub use outbox::Outbox;
pub use pickup::{MotionEvent, PickupDetector, PickupTuning};
pub use reader::ReaderNode;
pub use shell::{Board, Input, Shell, StoreFailed};
pub use tag::{BootInfo, DownlinkEffect, Tag, FW_VERSION};
