//! `aisle tag identify` and `aisle tag configure`: hand a command for one
//! tag to the gateway on this box, through its control socket (found from
//! the store config), and print each state the command reaches until a
//! final one. The gateway checks, keeps and sends the command; this is
//! only its client.

use crate::cli::parse_duration_ms;
use crate::config;
use crate::gateway::commands::request::CommandRequest;
use std::io::{BufRead, BufReader, ErrorKind, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// The tag confirmed (or, for old firmware, was sent) the command.
const EXIT_DONE: u8 = 0;
/// Refused (by the gateway or the tag), expired, or not persisted.
const EXIT_FAILED: u8 = 1;
/// The store config is invalid.
const EXIT_BAD_CONFIG: u8 = 2;
/// The gateway's control socket cannot be reached.
const EXIT_NO_GATEWAY: u8 = 3;
/// The gateway went away while the command waited; it stays queued.
const EXIT_LOST_GATEWAY: u8 = 4;

const AFTER_HELP_COMMON: &str = "\
The gateway sends the command right after the tag's next transmission (a tag
listens 100 ms after each), resends it until the tag confirms it, and gives
up at --expires-in. Each state is printed as it happens:
  queued → delivered → confirmed by the tag | refused | expired
The result also goes to HQ on aisle/v1/stores/{store}/tags.

Exit status: 0 confirmed (or delivered to a tag whose firmware cannot
confirm), 1 refused or expired, 2 bad config, 3 gateway not reachable,
4 gateway restarted while waiting (the command stays queued in its spool;
  if it went before answering, check the tags topic before sending again).
Run as root or as a member of the aisle group. Reference: docs/gateway.md";

#[derive(clap::Args)]
#[command(after_help = format!("Examples:\n  \
    aisle tag identify --tag 3001\n  \
    aisle tag identify --tag 0x00000BB9 --for 2m\n\n{AFTER_HELP_COMMON}"))]
pub struct IdentifyArgs {
    /// The tag, decimal or 0x-prefixed hex (printed on its label).
    #[arg(long, value_parser = super::parse_tag_id)]
    tag: u32,
    /// How long the tag's LED blinks (at most 5m, the firmware's cap).
    #[arg(long = "for", value_name = "DURATION", default_value = "60s", value_parser = parse_duration_ms)]
    duration: i64,
    #[command(flatten)]
    common: Common,
}

#[derive(clap::Args)]
#[command(after_help = format!("Examples:\n  \
    aisle tag configure --tag 3001 --set pickup_threshold_mg=180\n  \
    aisle tag configure --tag 3001 --set pickup_k=4 --set pickup_m=8\n  \
    aisle tag configure --tag 1001 --set dwell_min_ms=8000\n\n\
    Settings, by role: motion: pickup_threshold_mg pickup_k pickup_m still_ms;\n\
    presence: dwell_min_ms dwell_gap_ms; reader: reader_visit_ms; every tag:\n\
    heartbeat_s. The others keep their values; the tag persists the result.\n\n\
    {AFTER_HELP_COMMON}"))]
pub struct ConfigureArgs {
    /// The tag, decimal or 0x-prefixed hex (printed on its label).
    #[arg(long, value_parser = super::parse_tag_id)]
    tag: u32,
    /// A setting to change, as NAME=VALUE; repeat for several.
    #[arg(long = "set", value_name = "NAME=VALUE", required = true, value_parser = parse_setting)]
    set: Vec<(String, u64)>,
    #[command(flatten)]
    common: Common,
}

#[derive(clap::Args)]
struct Common {
    /// The store config, which names the gateway's control socket
    /// (`[control] socket`, by default control.sock beside the spool).
    #[arg(long, default_value = "/etc/aisle/store.toml")]
    config: PathBuf,
    /// Give up if the tag has not confirmed within this long.
    #[arg(long, value_name = "DURATION", default_value = "15m", value_parser = parse_duration_ms)]
    expires_in: i64,
}

fn parse_setting(text: &str) -> Result<(String, u64), String> {
    let (name, value) = text
        .split_once('=')
        .ok_or_else(|| format!("{text:?} is not NAME=VALUE (e.g. pickup_k=3)"))?;
    let value = value
        .trim()
        .parse()
        .map_err(|_| format!("{text:?}: the value is not a whole number"))?;
    Ok((name.trim().to_owned(), value))
}

pub(super) fn identify(args: IdentifyArgs) -> anyhow::Result<ExitCode> {
    let req = CommandRequest {
        tag: args.tag,
        command: "identify".into(),
        duration_ms: Some(u32::try_from(args.duration).unwrap_or(u32::MAX)),
        expires_in_ms: Some(args.common.expires_in as u64),
        ..CommandRequest::default()
    };
    send(&args.common.config, &req)
}

pub(super) fn configure(args: ConfigureArgs) -> anyhow::Result<ExitCode> {
    let req = CommandRequest {
        tag: args.tag,
        command: "configure".into(),
        settings: args.set.into_iter().collect(),
        expires_in_ms: Some(args.common.expires_in as u64),
        ..CommandRequest::default()
    };
    send(&args.common.config, &req)
}

/// Sends `req` to the gateway named by the config at `file` and follows it.
fn send(file: &Path, req: &CommandRequest) -> anyhow::Result<ExitCode> {
    let cfg = match config::load(file) {
        Ok(cfg) => cfg,
        Err(errors) => {
            eprintln!("{errors}");
            eprintln!(
                "aisle: the config is invalid; fix it (check with `aisle check-config {}`)",
                file.display()
            );
            return Ok(ExitCode::from(EXIT_BAD_CONFIG));
        }
    };
    let path = cfg.control_socket();
    let key = if cfg.control.socket.is_some() {
        "[control] socket"
    } else {
        "[control] socket, by default beside [spool] path"
    };
    let mut stream = match UnixStream::connect(&path) {
        Ok(s) => s,
        Err(e) if e.kind() == ErrorKind::PermissionDenied => {
            eprintln!("aisle: permission denied on the gateway's control socket {}: run as root or a member of the aisle group", path.display());
            return Ok(ExitCode::from(EXIT_NO_GATEWAY));
        }
        Err(e) => {
            eprintln!(
                "aisle: is the gateway running? expected its control socket at {} (config key {key} in {}): {e}",
                path.display(),
                file.display()
            );
            return Ok(ExitCode::from(EXIT_NO_GATEWAY));
        }
    };
    let mut line = serde_json::to_string(req)?;
    line.push('\n');
    stream.write_all(line.as_bytes())?;
    let mut command = None;
    for line in BufReader::new(stream).lines() {
        let Ok(line) = line else { break };
        let u: serde_json::Value = serde_json::from_str(&line)?;
        command = command.or(u["command"].as_u64());
        println!("{}  {}", timestamp(&u), describe(&u));
        if u["final"] == true {
            return Ok(ExitCode::from(match u["state"].as_str() {
                Some("confirmed" | "delivered") => EXIT_DONE,
                _ => EXIT_FAILED,
            }));
        }
    }
    match command {
        Some(id) => eprintln!(
            "aisle: the gateway went away (restarted or stopped) before the command finished; command {id} stays queued in its spool and is sent when tag {} is next heard. See its result on aisle/v1/stores/{}/tags or in the gateway's log.",
            req.tag, cfg.store
        ),
        None => eprintln!(
            "aisle: the gateway closed the connection before saying whether it queued the command; if it did, its state shows on aisle/v1/stores/{}/tags and in the gateway's log: check there before sending it again",
            cfg.store
        ),
    }
    Ok(ExitCode::from(EXIT_LOST_GATEWAY))
}

/// The update's time, as UTC RFC 3339.
fn timestamp(u: &serde_json::Value) -> String {
    u["at"]
        .as_i64()
        .and_then(|ms| jiff::Timestamp::from_millisecond(ms).ok())
        .map_or_else(|| "-".into(), |t| t.to_string())
}

/// One state, for people.
fn describe(u: &serde_json::Value) -> String {
    let reason = u["reason"].as_str().unwrap_or("");
    let with_reason = |what: &str| {
        if reason.is_empty() {
            what.to_owned()
        } else {
            format!("{what}: {reason}")
        }
    };
    match u["state"].as_str().unwrap_or("") {
        "queued" => format!(
            "queued as command {} for tag {}; sent after the tag's next transmission",
            u["command"], u["tag"]
        ),
        "delivered" => with_reason("delivered"),
        "confirmed" => "confirmed by the tag".into(),
        "rejected_by_tag" => with_reason("refused by the tag"),
        "not_persisted" => with_reason("applied but not persisted"),
        "expired" => with_reason("expired"),
        "refused" => with_reason("refused"),
        other => with_reason(other),
    }
}
