//! aisle's wire formats, shared by the tag firmware, the store gateway and HQ.
//!
//! `no_std` and allocation-free by default so the same frame code runs on a
//! Cortex-M0+ tag; the `std` feature adds the JSON batch schema used between
//! the gateway and HQ. [`topics`] names the MQTT topics that batch travels on.
#![cfg_attr(not(feature = "std"), no_std)]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod codec;
pub mod command;
#[cfg(feature = "std")]
pub mod epc;
pub mod frame;
pub mod postcard_reader;
pub mod stage;
pub mod time;
pub mod topics;

#[cfg(feature = "std")]
pub mod batch;
#[cfg(feature = "std")]
pub mod fleet;

pub use codec::{encode, DecodeError, EncodeError, FrameDecoder, MAX_ENCODED_LEN};
pub use command::{Command, CommandOutcome, PatchError, SettingsPatch};
pub use frame::{
    ConfigStatus, Downlink, EpcBytes, Frame, FwVersion, Message, ResetReason, Settings, TagEvent,
    Uplink, FIRST_FW_WITH_COMMANDS, PROTOCOL_VERSION,
};
pub use postcard_reader::PostcardReader;
pub use stage::{FunnelStage, StoreEventKind};
pub use topics::{Filter, Topic, TopicKind};
