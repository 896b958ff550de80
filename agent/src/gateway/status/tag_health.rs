//! Tag health for `…/tags`: what each tag's Boot, Heartbeat and Entries
//! events say about it, kept per tag and handed to the uplink as the tags
//! that changed since its last publication.

use super::MAX_TAGS_TRACKED;
use protocol::fleet::{EntriesPeriod, TagHealth};
use protocol::frame::{FwVersion, ResetReason};
use protocol::time::UnixMillis;
use std::collections::{BTreeSet, HashMap};

/// Tag health seen since the last publication on `…/tags`.
#[derive(Default)]
pub(crate) struct TagHealthBook {
    tags: HashMap<u32, TagHealth>,
    changed: BTreeSet<u32>,
}

impl TagHealthBook {
    /// Notes that `tag` (boot `boot`) was heard at `now`.
    pub(crate) fn seen(&mut self, tag: u32, boot: u32, now: UnixMillis) -> Option<&mut TagHealth> {
        if !self.tags.contains_key(&tag) && self.tags.len() >= MAX_TAGS_TRACKED {
            return None;
        }
        self.changed.insert(tag);
        let h = self.tags.entry(tag).or_insert_with(|| TagHealth {
            tag,
            last_seen: now,
            boot,
            battery_mv: None,
            dropped: None,
            fw: None,
            reset_reason: None,
            entries: None,
            beam_blocked: None,
        });
        h.last_seen = h.last_seen.max(now);
        if boot > h.boot {
            // A new boot restarts the tag's per-boot drop counter.
            h.boot = boot;
            h.dropped = None;
        }
        Some(h)
    }

    pub(crate) fn heartbeat(
        &mut self,
        tag: u32,
        boot: u32,
        now: UnixMillis,
        battery_mv: u16,
        fw: FwVersion,
        dropped: u32,
    ) {
        if let Some(h) = self.seen(tag, boot, now) {
            h.battery_mv = Some(battery_mv);
            h.fw = Some(fw.to_string());
            if boot == h.boot {
                h.dropped = Some(h.dropped.unwrap_or(0).max(dropped));
            }
        }
    }

    /// An entrance counter's heartbeat: the common health, and whether a
    /// break-beam is blocked.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn entrance_heartbeat(
        &mut self,
        tag: u32,
        boot: u32,
        now: UnixMillis,
        battery_mv: u16,
        fw: FwVersion,
        dropped: u32,
        beam_blocked: bool,
    ) {
        self.heartbeat(tag, boot, now, battery_mv, fw, dropped);
        if let Some(h) = self.tags.get_mut(&tag) {
            h.beam_blocked = Some(beam_blocked);
        }
    }

    pub(crate) fn boot(
        &mut self,
        tag: u32,
        boot: u32,
        now: UnixMillis,
        fw: FwVersion,
        reason: ResetReason,
    ) {
        if let Some(h) = self.seen(tag, boot, now) {
            h.fw = Some(fw.to_string());
            h.reset_reason = Some(format!("{reason:?}"));
        }
    }

    /// Notes an entrance's counts for one period; an older period heard
    /// late (a retransmission) does not replace a newer one.
    pub(crate) fn entries(&mut self, tag: u32, boot: u32, now: UnixMillis, period: EntriesPeriod) {
        if let Some(h) = self.seen(tag, boot, now) {
            if h.entries.is_none_or(|e| e.start <= period.start) {
                h.entries = Some(period);
            }
        }
    }

    /// The tags that changed since the last call, at most `max`.
    pub(crate) fn take_changed(&mut self, max: usize) -> Vec<TagHealth> {
        let ids: Vec<u32> = self.changed.iter().copied().take(max).collect();
        ids.iter()
            .filter_map(|id| {
                self.changed.remove(id);
                self.tags.get(id).cloned()
            })
            .collect()
    }
}
