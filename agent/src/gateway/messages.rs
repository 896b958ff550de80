//! The messages between the gateway's stages, in one place: what a
//! receiver hands the spool writer, what the writer answers each receiver,
//! and what the uplink reports back. Every channel carrying them is bounded,
//! so a slow stage pushes back on the one before it instead of growing
//! memory.

use super::commands::Enqueue;
use super::enrich::EventKey;
use protocol::time::UnixMillis;
use protocol::{Downlink, Uplink};

/// Messages to the spool writer.
pub(crate) enum SpoolMsg {
    /// Uplinks read from receiver `port` at `received_at`.
    Frames {
        port: usize,
        received_at: UnixMillis,
        uplinks: Vec<Uplink>,
    },
    /// Receiver `port` stops: answer [`PortMsg::Flushed`] once everything it
    /// sent before is committed and acked.
    Flush { port: usize },
    /// The broker acknowledged the batch of spool ids `first..=last`.
    Delivered { first: i64, last: i64 },
    /// The broker will never take spool ids `first..=last` (`reason` says
    /// why): move them to the dead-letter table.
    Quarantine {
        first: i64,
        last: i64,
        reason: &'static str,
    },
    /// A checked command to queue for its tag.
    Command(Enqueue),
    /// Time to end the commands whose expiry has come.
    ExpireCommands,
}

/// Messages from the writer to a receiver task.
#[derive(Debug)]
pub(crate) enum PortMsg {
    /// These events are durable: ack them to their tags.
    Acks(Vec<EventKey>),
    /// Commands for tags just heard on this port: send them right after
    /// the acks, while the tags listen.
    Commands(Vec<Downlink>),
    /// Everything this port sent is committed and acked.
    Flushed,
}
