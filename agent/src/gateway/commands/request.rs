//! What a technician or HQ asks for, read and checked before anything is
//! queued: the tag must be in the store config, the settings must be ones
//! its role uses with values that fit, and an Identify must not outlast
//! what the firmware allows. One JSON object (docs/gateway.md, "Commands
//! to tags", and protocol/schema/command.v1.json for HQ's).

use super::{CommandKind, NewCommand, Source};
use crate::config::StoreConfig;
use protocol::time::UnixMillis;
use protocol::{Command, SettingsPatch};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

/// An Identify blinks this long unless asked otherwise.
pub(crate) const DEFAULT_IDENTIFY_MS: u32 = 60_000;
/// The firmware caps an Identify at this: longer would drain the cell.
pub(crate) const MAX_IDENTIFY_MS: u32 = firmware::tag::MAX_IDENTIFY_MS;
/// A command waits this long for its tag unless asked otherwise: a
/// technician standing by the rack gives up well before.
pub(crate) const DEFAULT_EXPIRES_IN_MS: u64 = 15 * 60 * 1_000;
/// The longest wait accepted: past a day, nobody is waiting for it.
pub(crate) const MAX_EXPIRES_IN_MS: u64 = 24 * 60 * 60 * 1_000;

/// One command as sent on the control socket or HQ's topic.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct CommandRequest {
    /// HQ's id for the command (required from HQ): a redelivery with the
    /// same id is queued once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) id: Option<String>,
    /// The store the command is for (required from HQ).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) store: Option<String>,
    pub(crate) tag: u32,
    /// `identify` or `configure`.
    pub(crate) command: String,
    /// Identify: how long to blink.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) duration_ms: Option<u32>,
    /// Configure: setting name → new value.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub(crate) settings: BTreeMap<String, u64>,
    /// How long the command may wait for its tag.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) expires_in_ms: Option<u64>,
}

/// What each tag in the store config is, for checking commands.
pub(crate) struct TagDirectory {
    config: PathBuf,
    roles: HashMap<u32, Role>,
}

/// A tag's role, as far as its settings go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Garment,
    Fixture,
    Reader,
    Entrance,
}

impl Role {
    fn name(self) -> &'static str {
        match self {
            Role::Garment => "garment (motion) tag",
            Role::Fixture => "fixture's presence tag",
            Role::Reader => "zone reader",
            Role::Entrance => "entrance counter",
        }
    }

    /// The settings this role's detector uses ([`SettingsPatch::FIELDS`]).
    fn settings(self) -> &'static [&'static str] {
        match self {
            Role::Garment => &[
                "pickup_threshold_mg",
                "pickup_k",
                "pickup_m",
                "still_ms",
                "heartbeat_s",
            ],
            Role::Fixture => &["dwell_min_ms", "dwell_gap_ms", "heartbeat_s"],
            Role::Reader => &["reader_visit_ms", "heartbeat_s"],
            Role::Entrance => &["heartbeat_s"],
        }
    }
}

impl TagDirectory {
    /// The tags of `cfg`, read from the file `config`.
    pub(crate) fn new(cfg: &StoreConfig, config: &Path) -> Self {
        let mut roles = HashMap::new();
        roles.extend(cfg.garments.iter().map(|g| (g.tag, Role::Garment)));
        roles.extend(cfg.fixtures.iter().map(|f| (f.presence_tag, Role::Fixture)));
        roles.extend(cfg.readers.iter().map(|r| (r.tag, Role::Reader)));
        roles.extend(cfg.entrances.iter().map(|e| (e.tag, Role::Entrance)));
        TagDirectory {
            config: config.to_owned(),
            roles,
        }
    }

    /// Checks `req` from `source`, received at `now`; `Err` is the reason,
    /// one line for the technician or HQ.
    pub(crate) fn check(
        &self,
        req: &CommandRequest,
        source: Source,
        now: UnixMillis,
    ) -> Result<NewCommand, String> {
        let role = *self.roles.get(&req.tag).ok_or_else(|| {
            format!(
                "tag {} is not in {}; commands go only to the store's configured tags",
                req.tag,
                self.config.display()
            )
        })?;
        let command = match req.command.as_str() {
            "identify" => {
                if !req.settings.is_empty() {
                    return Err("an identify takes no settings".into());
                }
                let duration_ms = req.duration_ms.unwrap_or(DEFAULT_IDENTIFY_MS);
                if duration_ms == 0 || duration_ms > MAX_IDENTIFY_MS {
                    return Err(format!(
                        "identify duration {duration_ms} ms is outside 1..={MAX_IDENTIFY_MS} ms (the firmware blinks at most {} minutes)",
                        MAX_IDENTIFY_MS / 60_000
                    ));
                }
                Command::Identify { duration_ms }
            }
            "configure" => Command::Configure {
                changes: patch(req, role)?,
            },
            other => {
                return Err(format!(
                    "unknown command {other:?}: use \"identify\" or \"configure\""
                ))
            }
        };
        let expires_in = req.expires_in_ms.unwrap_or(DEFAULT_EXPIRES_IN_MS);
        if expires_in == 0 || expires_in > MAX_EXPIRES_IN_MS {
            return Err(format!(
                "expires_in_ms {expires_in} is outside 1..={MAX_EXPIRES_IN_MS} (a day)"
            ));
        }
        Ok(NewCommand {
            tag: req.tag,
            command,
            source,
            expires_at: UnixMillis(now.0.saturating_add(expires_in as i64)),
        })
    }
}

/// The settings of a configure, checked against the tag's role and the
/// firmware's limits.
fn patch(req: &CommandRequest, role: Role) -> Result<SettingsPatch, String> {
    if req.settings.is_empty() {
        return Err("a configure needs at least one setting (e.g. pickup_k=3)".into());
    }
    if req.duration_ms.is_some() {
        return Err("a configure takes no duration_ms".into());
    }
    let mut patch = SettingsPatch::default();
    for (name, &value) in &req.settings {
        if !SettingsPatch::FIELDS.contains(&name.as_str()) {
            return Err(format!(
                "unknown setting {name:?}; known: {}",
                SettingsPatch::FIELDS.join(", ")
            ));
        }
        if !role.settings().contains(&name.as_str()) {
            return Err(format!(
                "tag {} is a {}, which does not use {name}; its settings: {}",
                req.tag,
                role.name(),
                role.settings().join(", ")
            ));
        }
        let value = u32::try_from(value).map_err(|_| {
            format!(
                "{name}={value}: value above the largest allowed, {}",
                u32::MAX
            )
        })?;
        patch
            .set(name, value)
            .map_err(|e| format!("{name}={value}: {e}"))?;
        let least = match name.as_str() {
            "pickup_threshold_mg" | "pickup_k" | "pickup_m" | "heartbeat_s" => 1,
            _ => 0,
        };
        if value < least {
            return Err(format!("{name} must be at least {least}"));
        }
        if name == "pickup_m" && value > u32::from(firmware::pickup::MAX_WINDOW) {
            return Err(format!(
                "pickup_m={value}: the pickup detector keeps at most {} samples",
                firmware::pickup::MAX_WINDOW
            ));
        }
    }
    if let (Some(&k), Some(&m)) = (req.settings.get("pickup_k"), req.settings.get("pickup_m")) {
        if k > m {
            return Err(format!("pickup_k={k} is above pickup_m={m}"));
        }
    }
    Ok(patch)
}

/// The kind a request names, if it names a known one.
pub(crate) fn kind_of(req: &CommandRequest) -> Option<CommandKind> {
    match req.command.as_str() {
        "identify" => Some(CommandKind::Identify),
        "configure" => Some(CommandKind::Configure),
        _ => None,
    }
}

/// Reads HQ's command published on `store`'s topic; `Err` carries the
/// reason and whatever could be read of the command (its HQ id and tag).
pub(crate) fn from_hq(
    payload: &[u8],
    store: &str,
) -> Result<CommandRequest, (String, Option<String>, Option<u32>)> {
    let req: CommandRequest = serde_json::from_slice(payload).map_err(|e| {
        // What can be read of a malformed command, to name it in the refusal.
        let loose: serde_json::Value = serde_json::from_slice(payload).unwrap_or_default();
        (
            format!("malformed command: {e}"),
            loose["id"].as_str().map(str::to_owned),
            loose["tag"].as_u64().and_then(|t| u32::try_from(t).ok()),
        )
    })?;
    let who = (req.id.clone(), Some(req.tag));
    let Some(id) = req.id.as_deref().filter(|id| !id.is_empty()) else {
        return Err((
            "malformed command: missing field `id` (HQ's id for the command)".into(),
            who.0,
            who.1,
        ));
    };
    if id.len() > 128 {
        return Err((
            "malformed command: `id` is longer than 128 characters".into(),
            None,
            who.1,
        ));
    }
    match req.store.as_deref() {
        None => Err((
            "malformed command: missing field `store`".into(),
            who.0,
            who.1,
        )),
        Some(s) if s != store => Err((
            format!("command for store {s:?} arrived on store {store:?}'s topic; not taken"),
            who.0,
            who.1,
        )),
        Some(_) => Ok(req),
    }
}

#[cfg(test)]
mod tests;
