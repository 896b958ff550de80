//! The gateway's queue of commands to tags, as a pure state machine: fed
//! the tags' uplinks, their confirmations and `now`, it says which downlink
//! to send after a tag's uplink and how each command ends. The spool writer
//! drives it and persists every transition in the spool's `commands` table.
//!
//! A tag listens for 100 ms after each transmission, so a command goes out
//! right after the ack of one of its uplinks, and again after later ones
//! until the tag confirms it ([`TagEvent::CommandDone`]) or it expires.

use super::{CommandKind, CommandState, CommandUpdate, Source};
use protocol::time::UnixMillis;
use protocol::{Command, CommandOutcome, Downlink, FwVersion};
use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};

/// Commands waiting for one tag: a technician sends one or two; more means
/// something is repeating requests, which the tag could not act on anyway
/// (it takes one command per uplink).
pub(crate) const MAX_PER_TAG: usize = 4;

/// Commands waiting in the whole store: every one is a row in the spool
/// and a line in the status; a store's technicians never need more.
pub(crate) const MAX_QUEUED: usize = 64;

/// HQ command ids remembered, so a QoS 1 redelivery is queued once: far
/// more than the commands a broker could redeliver after a reconnect.
pub(crate) const HQ_IDS_REMEMBERED: usize = 1_024;

/// The first firmware that confirms numbered commands. Older tags drop
/// [`Downlink::Command`] as an undecodable frame: they get the unnumbered
/// Identify, and nothing that needs a confirmation.
pub(crate) const FIRST_CONFIRMING_FW: FwVersion = protocol::FIRST_FW_WITH_COMMANDS;

/// One accepted command, waiting for its tag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Pending {
    /// The spool row's id: orders commands, and its low 16 bits are the
    /// number the tag echoes.
    pub seq: i64,
    pub tag: u32,
    pub command: Command,
    pub source: Source,
    pub expires_at: UnixMillis,
    /// Sent at least once.
    pub delivered: bool,
}

impl Pending {
    /// The number on the wire: the row id's low 16 bits, so it wraps and
    /// survives restarts with the table.
    pub(crate) fn wire_id(&self) -> u16 {
        (self.seq & 0xFFFF) as u16
    }

    fn update(&self, state: CommandState, reason: Option<String>, at: UnixMillis) -> CommandUpdate {
        self.update_final(state, state.is_final(), reason, at)
    }

    fn update_final(
        &self,
        state: CommandState,
        is_final: bool,
        reason: Option<String>,
        at: UnixMillis,
    ) -> CommandUpdate {
        CommandUpdate {
            seq: self.seq,
            id: Some(self.wire_id()),
            tag: Some(self.tag),
            kind: Some(CommandKind::of(&self.command)),
            source: self.source.clone(),
            state,
            is_final,
            reason,
            at,
        }
    }
}

/// Why a command was not queued.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Admission {
    /// Room for it: persist it, then [`CommandQueue::insert`].
    Admit,
    /// HQ sent this command id before (a QoS 1 redelivery): already queued.
    Duplicate,
    /// No room: the reason, for the technician.
    Full(String),
}

/// What hearing from a tag does to its commands.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Heard {
    /// The downlink to send after the uplink's ack, if any.
    pub downlink: Option<Downlink>,
    /// State changes to persist and report.
    pub updates: Vec<CommandUpdate>,
}

/// The commands waiting for their tags, oldest first per tag.
#[derive(Default)]
pub(crate) struct CommandQueue {
    pending: BTreeMap<i64, Pending>,
    /// Firmware versions from the tags' Boot and Heartbeat frames.
    firmware: HashMap<u32, FwVersion>,
    hq_ids: HashSet<String>,
    hq_order: VecDeque<String>,
}

impl CommandQueue {
    /// Whether a command for `tag` (from HQ with `hq_id`) may be queued.
    pub(crate) fn admit(&self, tag: u32, hq_id: Option<&str>) -> Admission {
        if hq_id.is_some_and(|id| self.hq_ids.contains(id)) {
            return Admission::Duplicate;
        }
        let for_tag = self.pending.values().filter(|p| p.tag == tag).count();
        if for_tag >= MAX_PER_TAG {
            return Admission::Full(format!(
                "tag {tag} already has {for_tag} commands waiting (at most {MAX_PER_TAG}); wait for them to be confirmed or expire"
            ));
        }
        if self.pending.len() >= MAX_QUEUED {
            return Admission::Full(format!(
                "the gateway already holds {MAX_QUEUED} commands waiting for their tags; wait for them to be confirmed or expire"
            ));
        }
        Admission::Admit
    }

    /// Queues an admitted (and persisted) command, or one read back from
    /// the spool at start.
    pub(crate) fn insert(&mut self, p: Pending) {
        if let Source::Hq { id } = &p.source {
            self.remember_hq_id(id.clone());
        }
        self.pending.insert(p.seq, p);
    }

    /// Remembers an HQ command id seen earlier (read back at start).
    pub(crate) fn remember_hq_id(&mut self, id: String) {
        if !self.hq_ids.insert(id.clone()) {
            return;
        }
        self.hq_order.push_back(id);
        if self.hq_order.len() > HQ_IDS_REMEMBERED {
            if let Some(old) = self.hq_order.pop_front() {
                self.hq_ids.remove(&old);
            }
        }
    }

    /// Commands waiting.
    pub(crate) fn len(&self) -> usize {
        self.pending.len()
    }

    /// Notes the firmware `tag` runs, from its Boot or Heartbeat.
    pub(crate) fn note_firmware(&mut self, tag: u32, fw: FwVersion) {
        self.firmware.insert(tag, fw);
    }

    /// `tag` was heard (and acked) at `now`: the downlink for its oldest
    /// live command, if any. A tag whose firmware predates numbered
    /// commands gets an unnumbered Identify, which ends the command as
    /// delivered; a Configure for it is refused (its Configure would need
    /// every threshold). A tag whose firmware is not known yet (none of its
    /// Boots or Heartbeats heard since the gateway started) is sent the
    /// numbered command.
    pub(crate) fn on_heard(&mut self, tag: u32, now: UnixMillis) -> Heard {
        let mut heard = Heard::default();
        let old_fw = self
            .firmware
            .get(&tag)
            .copied()
            .filter(|fw| !confirms_commands(*fw));
        let Some(seq) = self
            .pending
            .values()
            .find(|p| p.tag == tag && p.expires_at > now)
            .map(|p| p.seq)
        else {
            return heard;
        };
        let p = self.pending.get_mut(&seq).expect("found above");
        match (old_fw, p.command) {
            (None, command) => {
                heard.downlink = Some(Downlink::Command {
                    tag,
                    id: p.wire_id(),
                    command,
                });
                if !p.delivered {
                    p.delivered = true;
                    heard
                        .updates
                        .push(p.update(CommandState::Delivered, None, now));
                }
            }
            (Some(fw), Command::Identify { duration_ms }) => {
                heard.downlink = Some(Downlink::Identify { tag, duration_ms });
                let reason = format!(
                    "firmware {fw} cannot confirm commands (from {FIRST_CONFIRMING_FW} on); the tag was sent an Identify"
                );
                heard.updates.push(p.update_final(
                    CommandState::Delivered,
                    true,
                    Some(reason),
                    now,
                ));
                self.pending.remove(&seq);
            }
            (Some(fw), Command::Configure { .. }) => {
                let reason = format!(
                    "firmware {fw} predates numbered commands (from {FIRST_CONFIRMING_FW} on) and can only take every threshold at once; write its config page with `aisle tag config` instead"
                );
                heard
                    .updates
                    .push(p.update(CommandState::Refused, Some(reason), now));
                self.pending.remove(&seq);
            }
        }
        heard
    }

    /// `tag` confirmed command `id` with `outcome`: its final update, or
    /// `None` for a confirmation of nothing waiting (a repeat, or a
    /// command that expired meanwhile).
    pub(crate) fn on_done(
        &mut self,
        tag: u32,
        id: u16,
        outcome: CommandOutcome,
        now: UnixMillis,
    ) -> Option<CommandUpdate> {
        let seq = self
            .pending
            .values()
            .find(|p| p.tag == tag && p.wire_id() == id)?
            .seq;
        let p = self.pending.remove(&seq)?;
        let (state, reason) = match outcome {
            CommandOutcome::Applied => (CommandState::Confirmed, None),
            CommandOutcome::InvalidSettings => (
                CommandState::RejectedByTag,
                Some("the tag refused the thresholds as invalid together with its others (e.g. pickup_k above pickup_m); nothing changed".to_owned()),
            ),
            CommandOutcome::NotPersisted => (
                CommandState::NotPersisted,
                Some("applied, but the tag could not write its config page: the change is lost at its next reboot".to_owned()),
            ),
        };
        Some(p.update(state, reason, now))
    }

    /// Ends every command whose expiry has come.
    pub(crate) fn expire(&mut self, now: UnixMillis) -> Vec<CommandUpdate> {
        let due: Vec<i64> = self
            .pending
            .values()
            .filter(|p| p.expires_at <= now)
            .map(|p| p.seq)
            .collect();
        due.into_iter()
            .filter_map(|seq| self.pending.remove(&seq))
            .map(|p| {
                let reason = if p.delivered {
                    "sent, but the tag did not confirm it before it expired"
                } else {
                    "the tag was not heard before the command expired (is it in range, is its battery flat?)"
                };
                p.update(CommandState::Expired, Some(reason.to_owned()), now)
            })
            .collect()
    }
}

/// Whether firmware `fw` confirms numbered commands.
pub(crate) fn confirms_commands(fw: FwVersion) -> bool {
    fw >= FIRST_CONFIRMING_FW
}

#[cfg(test)]
mod tests;
