//! The spool writer: one thread that owns the spool and makes every promise
//! to the tags.
//!
//! It drains its channel into a group (everything that arrived during the
//! previous commit), dedups and enriches each uplink, commits the group in
//! one transaction (group commit: one fsync for many events), and only then
//! sends the acks to the receivers the frames came from. The uplink's
//! deletes go through the same channel, so the spool has one writer and its
//! byte count is exact; the uplink reads batches through its own
//! [`super::SpoolReader`].

mod commands;

use super::{NewEvent, Spool};
use crate::gateway::commands::queue::CommandQueue;
use crate::gateway::commands::Updates;
use crate::gateway::enrich::{enrich, Dedup, Enriched, EventKey, StoreMap, UnroutedRead};
use crate::gateway::messages::{PortMsg, SpoolMsg};
use crate::gateway::status::{EntriesPeriod, Stats, TagHealthBook};
use protocol::time::UnixMillis;
use protocol::{CommandOutcome, TagEvent, Uplink};
use std::collections::HashSet;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, watch};

/// Most uplinks in one group commit; bounds the memory of one group and the
/// delay of the first ack in it.
const MAX_GROUP_EVENTS: usize = 4_096;

/// Share of the spool dropped when the disk is full before the cap.
const DISK_FULL_SHED: f64 = 0.1;

/// The writer's state; [`Writer::run`] is its thread body.
pub(crate) struct Writer {
    pub spool: Spool,
    pub map: StoreMap,
    pub dedup: Dedup,
    pub stats: Arc<Stats>,
    pub tags: Arc<Mutex<TagHealthBook>>,
    /// One sender per receiver, by port index.
    pub ports: Vec<mpsc::Sender<PortMsg>>,
    /// Highest committed spool id, watched by the uplink.
    pub head: watch::Sender<i64>,
    /// Commands waiting for their tags.
    pub commands: CommandQueue,
    /// Where every command's state changes go.
    pub updates: Updates,
}

#[derive(Default)]
struct Group {
    uplinks: usize,
    events: Vec<NewEvent>,
    unrouted: Vec<UnroutedRead>,
    /// Keys to remember as seen once committed.
    keys: Vec<EventKey>,
    in_group: HashSet<EventKey>,
    /// Acks per port, sent after the commit.
    acks: Vec<Vec<EventKey>>,
    delivered: Vec<(i64, i64)>,
    quarantine: Vec<(i64, i64, &'static str)>,
    /// Ports that asked to be told once their events are committed.
    flushes: Vec<usize>,
    /// Tags heard, with the port they were heard on: once their uplinks
    /// are acked, each may be sent a command.
    heard: Vec<(usize, u32)>,
    /// Confirmations of commands, acted on once committed.
    done: Vec<(u32, u16, CommandOutcome)>,
}

impl Writer {
    /// Runs until every sender of `rx` is gone.
    pub(crate) fn run(mut self, mut rx: mpsc::Receiver<SpoolMsg>) {
        let mut last_error_log: Option<Instant> = None;
        // Delivered ranges whose delete failed (a full disk): retried with
        // every later commit, so space and the depth gauge come back.
        let mut undeleted: Vec<(i64, i64)> = Vec::new();
        self.publish_gauges();
        while let Some(first) = rx.blocking_recv() {
            let mut group = Group {
                acks: vec![Vec::new(); self.ports.len()],
                ..Group::default()
            };
            self.take(first, &mut group);
            while group.uplinks < MAX_GROUP_EVENTS {
                match rx.try_recv() {
                    Ok(msg) => self.take(msg, &mut group),
                    Err(_) => break,
                }
            }
            if !self.commit(group, &mut last_error_log, &mut undeleted) {
                return;
            }
        }
        tracing::info!(depth = self.spool.depth(), "spool closed");
    }

    fn take(&mut self, msg: SpoolMsg, g: &mut Group) {
        match msg {
            SpoolMsg::Frames {
                port,
                received_at,
                uplinks,
            } => {
                for u in &uplinks {
                    self.take_uplink(port, received_at, u, g);
                }
            }
            SpoolMsg::Delivered { first, last } => g.delivered.push((first, last)),
            SpoolMsg::Quarantine {
                first,
                last,
                reason,
            } => g.quarantine.push((first, last, reason)),
            SpoolMsg::Flush { port } => g.flushes.push(port),
            SpoolMsg::Command(enqueue) => self.enqueue(enqueue),
            SpoolMsg::ExpireCommands => self.expire_commands(),
        }
    }

    fn take_uplink(&mut self, port: usize, received_at: UnixMillis, u: &Uplink, g: &mut Group) {
        g.uplinks += 1;
        self.stats.received.fetch_add(1, Relaxed);
        let key = EventKey::of(u);
        let port = port.min(self.ports.len().saturating_sub(1));
        g.heard.push((port, u.tag));
        let acks = &mut g.acks[port];
        // A duplicate is acked again: the tag resends because it missed
        // the first ack, and only an ack stops it.
        if self.dedup.contains(&key) || !g.in_group.insert(key) {
            self.stats.duplicates.fetch_add(1, Relaxed);
            acks.push(key);
            return;
        }
        acks.push(key);
        g.keys.push(key);
        self.note_health(u, received_at);
        if let TagEvent::CommandDone { id, outcome } = u.event {
            g.done.push((u.tag, id, outcome));
        }
        let outcome = enrich(&self.map, u, received_at);
        if outcome.unknown_tag {
            self.stats.unknown_tag(u.tag);
        }
        match outcome.enriched {
            Enriched::Funnel(event) => match serde_json::to_string(&event) {
                Ok(body) => g.events.push(NewEvent {
                    key,
                    spooled_at: received_at.0,
                    body,
                }),
                // BatchEvent is plain data; serialising it cannot fail.
                Err(e) => tracing::error!(error = %e, tag = u.tag, "cannot serialise an event"),
            },
            Enriched::Unrouted(read) => {
                self.stats.unrouted_reads.fetch_add(1, Relaxed);
                g.unrouted.push(read);
            }
            Enriched::Health => {}
        }
    }

    fn note_health(&mut self, u: &Uplink, now: UnixMillis) {
        let mut book = self.tags.lock().unwrap_or_else(|p| p.into_inner());
        match &u.event {
            TagEvent::Heartbeat {
                battery_mv,
                fw,
                dropped,
            } => {
                self.commands.note_firmware(u.tag, *fw);
                book.heartbeat(u.tag, u.boot, now, *battery_mv, *fw, *dropped)
            }
            TagEvent::EntranceHeartbeat {
                battery_mv,
                fw,
                dropped,
                beam_blocked,
            } => {
                self.commands.note_firmware(u.tag, *fw);
                book.entrance_heartbeat(
                    u.tag,
                    u.boot,
                    now,
                    *battery_mv,
                    *fw,
                    *dropped,
                    *beam_blocked,
                )
            }
            TagEvent::Boot {
                fw, reset_reason, ..
            } => {
                self.commands.note_firmware(u.tag, *fw);
                book.boot(u.tag, u.boot, now, *fw, *reset_reason)
            }
            TagEvent::Entries {
                entered,
                exited,
                period_ms,
            } => {
                let period = EntriesPeriod {
                    // The uplink's age dates the period's start.
                    start: UnixMillis(now.0 - i64::from(u.age_ms)),
                    period_ms: *period_ms,
                    entered: *entered,
                    exited: *exited,
                };
                book.entries(u.tag, u.boot, now, period);
            }
            _ => {
                book.seen(u.tag, u.boot, now);
            }
        }
    }

    /// Commits a group and answers for it; `false` when the spool is
    /// unusable and the writer must stop.
    fn commit(
        &mut self,
        mut g: Group,
        last_error_log: &mut Option<Instant>,
        undeleted: &mut Vec<(i64, i64)>,
    ) -> bool {
        // Delivered ranges whose delete failed before are retried too.
        let retrying = !undeleted.is_empty();
        g.delivered.append(undeleted);
        let durable = if g.events.is_empty() && g.unrouted.is_empty() {
            true
        } else {
            // The group's deletes share its commit (one log write, one
            // fsync); if that fails they are tried alone below.
            match self
                .spool
                .append_and_delete(&g.events, &g.unrouted, &g.delivered)
            {
                Ok(done) => {
                    g.delivered.clear();
                    self.stats.spooled.fetch_add(done.inserted, Relaxed);
                    if done.dropped > 0 {
                        self.stats.dropped_at_cap.fetch_add(done.dropped, Relaxed);
                        tracing::warn!(
                            dropped = done.dropped,
                            total_dropped = self.stats.dropped_at_cap.load(Relaxed),
                            depth = self.spool.depth(),
                            "spool cap reached, dropped oldest undelivered events"
                        );
                    }
                    true
                }
                Err(e) if e.is_corrupt() => {
                    // Nothing more can be committed; stopping the writer
                    // stops the gateway, and the next start moves the file
                    // aside. These events are not acked: the tags keep them.
                    tracing::error!(error = %e, "spool file is damaged; stopping so the next start can replace it");
                    self.stats.spool_errors.fetch_add(1, Relaxed);
                    return false;
                }
                Err(e) => {
                    self.stats.spool_errors.fetch_add(1, Relaxed);
                    // Tags resend every few seconds while the disk stays
                    // full: log the failure (and a failed shed) at most
                    // every 10 s, so the log does not fill the disk too.
                    let log_now =
                        last_error_log.is_none_or(|t| t.elapsed() > Duration::from_secs(10));
                    if log_now {
                        *last_error_log = Some(Instant::now());
                        tracing::error!(error = %e, events = g.events.len(), "spool commit failed; events not acked, tags will resend");
                    }
                    if e.is_disk_full() {
                        match self.spool.shed(DISK_FULL_SHED) {
                            Ok(n) => {
                                self.stats.dropped_at_cap.fetch_add(n, Relaxed);
                                tracing::warn!(
                                    dropped = n,
                                    "disk full: dropped oldest undelivered events to make room"
                                );
                            }
                            Err(e) if log_now => {
                                tracing::error!(error = %e, "disk full and cannot make room in the spool")
                            }
                            Err(_) => {}
                        }
                    }
                    false
                }
            }
        };
        if durable {
            for key in g.keys {
                self.dedup.remember(key);
            }
            for (port, acks) in g.acks.into_iter().enumerate() {
                if acks.is_empty() {
                    continue;
                }
                let n = acks.len() as u64;
                if self.ports[port].try_send(PortMsg::Acks(acks)).is_err() {
                    // The receiver is gone or not draining; its tags resend
                    // and are acked as duplicates later.
                    self.stats.acks_dropped.fetch_add(n, Relaxed);
                }
            }
            self.after_acks(g.done, g.heard);
        }
        if !g.delivered.is_empty() {
            if let Err(e) = self.spool.delete_range(&g.delivered) {
                // Kept and retried with the next commit; until then the rows
                // stay, and a reconnect sends them again (HQ ignores repeats).
                if !retrying {
                    tracing::error!(error = %e, "cannot delete delivered events from the spool; will retry");
                }
                *undeleted = g.delivered;
            }
        }
        for (first, last, reason) in g.quarantine {
            self.quarantine(first, last, reason);
        }
        self.publish_gauges();
        for port in g.flushes {
            if let Some(tx) = self.ports.get(port) {
                // The receiver task is draining its acks, so this waits at
                // most for it to read one message.
                let _ = tx.blocking_send(PortMsg::Flushed);
            }
        }
        true
    }

    /// Moves events the broker will never take to the dead-letter table.
    /// On failure they stay queued: the broker refuses them again and they
    /// come back here.
    fn quarantine(&mut self, first: i64, last: i64, reason: &str) {
        match self
            .spool
            .quarantine(first, last, reason, UnixMillis::now().0)
        {
            Ok(0) => {}
            Ok(n) => {
                self.stats.dead_letters.fetch_add(n, Relaxed);
                tracing::error!(first, last, events = n, reason, "moved events the broker will not take to the spool's dead_letter table; they are not delivered (see docs/gateway.md)");
            }
            Err(e) => {
                self.stats.spool_errors.fetch_add(1, Relaxed);
                tracing::error!(error = %e, first, last, "cannot move refused events to the dead_letter table; they stay queued");
            }
        }
    }

    fn publish_gauges(&self) {
        self.stats.spool_depth.store(self.spool.depth(), Relaxed);
        self.stats.spool_bytes.store(self.spool.bytes(), Relaxed);
        let oldest = if self.spool.depth() == 0 {
            None
        } else {
            self.spool.oldest_spooled_at().unwrap_or(None)
        };
        self.stats
            .oldest_undelivered_ms
            .store(oldest.unwrap_or(0), Relaxed);
        let head = self.spool.last_id();
        self.head.send_if_modified(|h| {
            let changed = *h != head;
            *h = head;
            changed
        });
    }
}

#[cfg(test)]
mod tests;
