//! Commands to tags: a technician's `aisle tag identify` / `aisle tag
//! configure` over the local control socket, or HQ's on the store's
//! `commands` topic. Each is checked against the store config, kept in the
//! spool (so a restart loses none), sent after the tag's next uplink and
//! followed until the tag confirms it or it expires.
//!
//! [`request`] reads and checks what is asked, [`queue`] is the pure state
//! machine the spool writer drives, [`control`] serves the socket, and the
//! uplink subscribes to HQ's topic and publishes every [`CommandUpdate`] on
//! the tags topic.

pub(crate) mod control;
pub(crate) mod queue;
pub(crate) mod request;

use protocol::time::UnixMillis;
use protocol::Command;
use serde::Serialize;
use tokio::sync::{broadcast, oneshot};

/// Updates buffered for slow listeners (a CLI, the uplink): a command makes
/// three or four, and at most [`queue::MAX_QUEUED`] wait at once.
pub(crate) const UPDATES_BUFFER: usize = 1_024;

/// What a command asks, as people and the tags topic name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum CommandKind {
    Identify,
    Configure,
}

impl CommandKind {
    pub(crate) fn of(command: &Command) -> Self {
        match command {
            Command::Identify { .. } => CommandKind::Identify,
            Command::Configure { .. } => CommandKind::Configure,
        }
    }
}

/// Where a command came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Source {
    /// The local control socket (`aisle tag identify|configure`).
    Local,
    /// HQ's `commands` topic, with HQ's id for the command.
    Hq { id: String },
}

/// Where a command stands. `queued` → `delivered` → one final state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum CommandState {
    /// Accepted and in the spool; waiting for the tag to be heard.
    Queued,
    /// Sent after one of the tag's uplinks; resent until confirmed.
    Delivered,
    /// The tag confirmed it took effect.
    Confirmed,
    /// The tag refused the new thresholds; nothing changed.
    RejectedByTag,
    /// The tag applied it but could not persist it.
    NotPersisted,
    /// Neither confirmed nor (for old firmware) sent before its expiry.
    Expired,
    /// Not accepted, or not sendable to this tag; the reason says why.
    Refused,
}

impl CommandState {
    pub(crate) fn is_final(self) -> bool {
        !matches!(self, CommandState::Queued | CommandState::Delivered)
    }

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            CommandState::Queued => "queued",
            CommandState::Delivered => "delivered",
            CommandState::Confirmed => "confirmed",
            CommandState::RejectedByTag => "rejected_by_tag",
            CommandState::NotPersisted => "not_persisted",
            CommandState::Expired => "expired",
            CommandState::Refused => "refused",
        }
    }
}

/// One change of a command's state: streamed to the CLI that sent it and
/// published on the store's tags topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CommandUpdate {
    /// The spool row (0 for a command refused before it had one).
    pub seq: i64,
    /// The number the tag echoes.
    pub id: Option<u16>,
    pub tag: Option<u32>,
    pub kind: Option<CommandKind>,
    pub source: Source,
    pub state: CommandState,
    /// No further update follows (an old tag's Identify ends `delivered`).
    pub is_final: bool,
    pub reason: Option<String>,
    pub at: UnixMillis,
}

impl CommandUpdate {
    /// A command refused before it was queued.
    pub(crate) fn refused(
        source: Source,
        tag: Option<u32>,
        kind: Option<CommandKind>,
        reason: String,
        at: UnixMillis,
    ) -> Self {
        CommandUpdate {
            seq: 0,
            id: None,
            tag,
            kind,
            source,
            state: CommandState::Refused,
            is_final: true,
            reason: Some(reason),
            at,
        }
    }

    /// The JSON object on the control socket and in the tags topic's
    /// `commands` list (docs/gateway.md, "Commands to tags").
    pub(crate) fn to_json(&self) -> serde_json::Value {
        let (source, hq_id) = match &self.source {
            Source::Local => ("local", None),
            // A command too malformed to name its id has an empty one.
            Source::Hq { id } => ("hq", Some(id.as_str()).filter(|id| !id.is_empty())),
        };
        serde_json::json!({
            "command": self.id,
            "tag": self.tag,
            "kind": self.kind,
            "source": source,
            "hq_id": hq_id,
            "state": self.state,
            "final": self.is_final,
            "reason": self.reason,
            "at": self.at,
        })
    }
}

/// A command checked against the store config, ready to queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NewCommand {
    pub tag: u32,
    pub command: Command,
    pub source: Source,
    pub expires_at: UnixMillis,
}

/// A command for the spool writer to queue: it answers on `reply` with the
/// `queued` update or the refusal, and broadcasts every later update.
pub(crate) struct Enqueue {
    pub command: NewCommand,
    pub reply: Option<oneshot::Sender<CommandUpdate>>,
}

/// The sending half of the updates every listener subscribes to.
pub(crate) type Updates = broadcast::Sender<CommandUpdate>;
