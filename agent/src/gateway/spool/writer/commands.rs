//! The writer's side of commands to tags: it queues them (committing each
//! before answering `queued`), sends one after the acks of a tag's uplinks,
//! takes the tag's confirmation once that is committed like any event, and
//! records every change in the spool before telling anyone.

use super::Writer;
use crate::gateway::commands::queue::{Admission, Pending};
use crate::gateway::commands::{CommandState, CommandUpdate, Enqueue};
use crate::gateway::messages::PortMsg;
use protocol::time::UnixMillis;
use protocol::{CommandOutcome, Downlink};
use std::sync::atomic::Ordering::Relaxed;

impl Writer {
    /// Queues a checked command, or refuses it when the queue is full.
    pub(super) fn enqueue(&mut self, e: Enqueue) {
        let now = UnixMillis::now();
        let c = e.command;
        let hq_id = match &c.source {
            crate::gateway::commands::Source::Hq { id } => Some(id.as_str()),
            crate::gateway::commands::Source::Local => None,
        };
        let refuse = |reason: String| {
            CommandUpdate::refused(
                c.source.clone(),
                Some(c.tag),
                Some(crate::gateway::commands::CommandKind::of(&c.command)),
                reason,
                now,
            )
        };
        let update = match self.commands.admit(c.tag, hq_id) {
            Admission::Duplicate => {
                tracing::info!(
                    hq_id,
                    tag = c.tag,
                    "HQ sent a command again; it is queued once"
                );
                return;
            }
            Admission::Full(reason) => refuse(reason),
            Admission::Admit => match self.spool.insert_command(&c, now) {
                Ok(seq) => {
                    let pending = Pending {
                        seq,
                        tag: c.tag,
                        command: c.command,
                        source: c.source.clone(),
                        expires_at: c.expires_at,
                        delivered: false,
                    };
                    let update = CommandUpdate {
                        seq,
                        id: Some(pending.wire_id()),
                        tag: Some(c.tag),
                        kind: Some(crate::gateway::commands::CommandKind::of(&c.command)),
                        source: c.source.clone(),
                        state: CommandState::Queued,
                        is_final: false,
                        reason: None,
                        at: now,
                    };
                    self.commands.insert(pending);
                    update
                }
                Err(err) => {
                    self.stats.spool_errors.fetch_add(1, Relaxed);
                    refuse(format!("cannot keep the command in the spool: {err}"))
                }
            },
        };
        if let Some(reply) = e.reply {
            let _ = reply.send(update.clone());
        }
        self.announce(update);
    }

    /// Ends the commands whose expiry has come.
    pub(super) fn expire_commands(&mut self) {
        for update in self.commands.expire(UnixMillis::now()) {
            self.record(update);
        }
    }

    /// After a group's acks went out: takes the committed confirmations,
    /// then sends each tag heard its oldest waiting command, on the port it
    /// was heard on.
    pub(super) fn after_acks(
        &mut self,
        done: Vec<(u32, u16, CommandOutcome)>,
        heard: Vec<(usize, u32)>,
    ) {
        let now = UnixMillis::now();
        for (tag, id, outcome) in done {
            match self.commands.on_done(tag, id, outcome, now) {
                Some(update) => self.record(update),
                None => tracing::debug!(tag, id, "a confirmation of no waiting command"),
            }
        }
        if self.commands.len() == 0 {
            return;
        }
        let mut per_port: Vec<Vec<Downlink>> = vec![Vec::new(); self.ports.len()];
        let mut tags_done = std::collections::HashSet::new();
        // The last port a tag was heard on is the one nearest it now.
        for &(port, tag) in heard.iter().rev() {
            if !tags_done.insert(tag) {
                continue;
            }
            let heard = self.commands.on_heard(tag, now);
            if let Some(downlink) = heard.downlink {
                per_port[port].push(downlink);
            }
            for update in heard.updates {
                self.record(update);
            }
        }
        for (port, downlinks) in per_port.into_iter().enumerate() {
            if !downlinks.is_empty()
                && self.ports[port]
                    .try_send(PortMsg::Commands(downlinks))
                    .is_err()
            {
                // Sent again after the tag's next uplink.
                tracing::debug!(
                    port,
                    "receiver not draining; commands wait for the next uplink"
                );
            }
        }
    }

    /// Persists a state change, then tells whoever listens.
    fn record(&mut self, update: CommandUpdate) {
        if let Err(e) = self.spool.set_command_state(&update) {
            self.stats.spool_errors.fetch_add(1, Relaxed);
            tracing::error!(error = %e, seq = update.seq, state = update.state.as_str(), "cannot record a command's state in the spool");
        }
        self.announce(update);
    }

    fn announce(&self, update: CommandUpdate) {
        self.stats.command_update(&update);
        tracing::info!(
            command = update.id,
            tag = update.tag,
            kind = ?update.kind,
            state = update.state.as_str(),
            reason = update.reason.as_deref().unwrap_or(""),
            "command"
        );
        // No listener is fine: the spool holds the state.
        let _ = self.updates.send(update);
    }
}
