//! Commands to tags through the gateway: `aisle tag identify|configure` on
//! the gateway's control socket and HQ's commands on the store's topic,
//! sent to a tag right after its uplinks, confirmed by it, refused with a
//! reason when they cannot be carried out, and kept across a SIGKILL.
//!
//! The tag here is played by the test over the receiver's pty: it
//! transmits heartbeats as a tag does, decodes the gateway's downlinks and
//! answers a numbered command with `CommandDone`, as the firmware does.

use aisle_system_tests::publisher::Message;
use aisle_system_tests::{aisle_bin, clear_ready_file, publish, wait_until, GatewayRig, STEP};
use protocol::{Command, CommandOutcome, Downlink, FwVersion, TagEvent, Uplink};
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::process::{Command as Process, Output, Stdio};
use std::sync::atomic::{AtomicU16, Ordering};
use std::thread;

/// The first firmware that confirms numbered commands (docs/gateway.md,
/// "Commands to tags").
const CONFIRMING_FW: FwVersion = FwVersion {
    major: 0,
    minor: 2,
    patch: 0,
};
/// A firmware from before numbered commands.
const OLD_FW: FwVersion = FwVersion {
    major: 0,
    minor: 1,
    patch: 0,
};
const TAG: u32 = aisle_system_tests::store::GARMENT_TAG;
const BOOT: u32 = 1;

/// A rig whose gateway is running and ready (connected, subscribed to
/// HQ's commands, its receiver open).
fn ready_rig() -> GatewayRig {
    let mut rig = GatewayRig::new(|_| {});
    start_ready(&mut rig);
    rig
}

fn start_ready(rig: &mut GatewayRig) {
    let ready = rig.path("gateway.ready");
    clear_ready_file(&ready);
    if !rig.args.extra.contains(&"--ready-file".to_string()) {
        rig.args
            .extra
            .extend(["--ready-file".into(), ready.display().to_string()]);
    }
    rig.start_gateway().wait_ready(&ready, STEP);
}

/// The tag's next sequence number (shared by every test tag: the gateway
/// only needs `(tag, boot, seq)` to be new).
fn next_seq() -> u16 {
    static SEQ: AtomicU16 = AtomicU16::new(1);
    SEQ.fetch_add(1, Ordering::Relaxed)
}

fn uplink(tag: u32, event: TagEvent) -> Uplink {
    Uplink {
        tag,
        boot: BOOT,
        seq: next_seq(),
        age_ms: 0,
        event,
    }
}

fn heartbeat(tag: u32, fw: FwVersion) -> Uplink {
    uplink(
        tag,
        TagEvent::Heartbeat {
            battery_mv: 3_000,
            fw,
            dropped: 0,
        },
    )
}

/// Runs `aisle tag …` with the rig's config on a thread, so the test can
/// play the tag meanwhile.
fn run_cli(rig: &GatewayRig, args: &[&str]) -> thread::JoinHandle<Output> {
    let mut cmd = Process::new(aisle_bin());
    cmd.arg("tag")
        .args(args)
        .arg("--config")
        .arg(rig.path("store.toml"));
    thread::spawn(move || cmd.output().expect("run aisle tag"))
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The tag transmits heartbeats (each acked) until the gateway follows
/// one with a downlink other than an ack that `pick` accepts.
fn transmit_until<T>(
    rig: &GatewayRig,
    tag: u32,
    fw: FwVersion,
    pick: impl Fn(&Downlink) -> Option<T>,
) -> T {
    let seen = rig.tags.other_downlinks().len();
    wait_until(
        "a command after one of the tag's transmissions",
        STEP,
        || {
            rig.tags.deliver(&[heartbeat(tag, fw)], STEP);
            rig.tags.other_downlinks()[seen..].iter().find_map(&pick)
        },
    )
}

/// The numbered command the gateway sends `tag`: its id and content.
fn numbered(tag: u32) -> impl Fn(&Downlink) -> Option<(u16, Command)> {
    move |d| match d {
        Downlink::Command {
            tag: t,
            id,
            command,
        } if *t == tag => Some((*id, *command)),
        _ => None,
    }
}

fn confirm(rig: &GatewayRig, tag: u32, id: u16, outcome: CommandOutcome) {
    rig.tags
        .deliver(&[uplink(tag, TagEvent::CommandDone { id, outcome })], STEP);
}

/// Every command update the gateway published on the tags topic.
fn command_updates(rig: &GatewayRig) -> Vec<Value> {
    rig.sub
        .tag_reports()
        .iter()
        .flat_map(|r| r["commands"].as_array().cloned().unwrap_or_default())
        .collect()
}

fn wait_update(rig: &GatewayRig, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
    wait_until(what, STEP, || command_updates(rig).into_iter().find(&pred))
}

/// `lines` holds each of `wanted`, in this order.
fn assert_in_order(lines: &str, wanted: &[&str]) {
    let mut rest = lines;
    for w in wanted {
        let at = rest
            .find(w)
            .unwrap_or_else(|| panic!("{w:?} missing (or out of order) in:\n{lines}"));
        rest = &rest[at + w.len()..];
    }
}

#[test]
fn identify_and_configure_are_delivered_and_confirmed_by_the_tag() {
    let rig = ready_rig();

    let cli = run_cli(
        &rig,
        &["identify", "--tag", &TAG.to_string(), "--for", "5s"],
    );
    let (id, command) = transmit_until(&rig, TAG, CONFIRMING_FW, numbered(TAG));
    assert_eq!(command, Command::Identify { duration_ms: 5_000 });
    confirm(&rig, TAG, id, CommandOutcome::Applied);
    let out = cli.join().unwrap();
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}{}", text(&out.stderr));
    assert_in_order(
        &stdout,
        &[
            &format!("queued as command {id} for tag {TAG}"),
            "delivered",
            "confirmed by the tag",
        ],
    );
    let confirmed = wait_update(&rig, "identify confirmed on the tags topic", |u| {
        u["command"] == id && u["state"] == "confirmed"
    });
    assert_eq!(confirmed["tag"], TAG);
    assert_eq!(confirmed["kind"], "identify");
    assert_eq!(confirmed["source"], "local");
    assert_eq!(confirmed["final"], true);

    let cli = run_cli(
        &rig,
        &[
            "configure",
            "--tag",
            &TAG.to_string(),
            "--set",
            "pickup_k=4",
            "--set",
            "pickup_m=8",
        ],
    );
    let (id2, command) = transmit_until(&rig, TAG, CONFIRMING_FW, numbered(TAG));
    assert_ne!(id2, id, "each command has its own number");
    let Command::Configure { changes } = command else {
        panic!("expected a configure, got {command:?}");
    };
    // pickup_k and pickup_m are settings 1 and 2 (SettingsPatch::FIELDS).
    assert_eq!(changes.mask, 0b0000_0110);
    assert_eq!((changes.values.pickup_k, changes.values.pickup_m), (4, 8));
    confirm(&rig, TAG, id2, CommandOutcome::Applied);
    let out = cli.join().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    assert_in_order(
        &text(&out.stdout),
        &["queued", "delivered", "confirmed by the tag"],
    );
}

#[test]
fn a_tag_refusing_the_thresholds_is_reported_and_fails_the_command() {
    let rig = ready_rig();
    let cli = run_cli(
        &rig,
        &[
            "configure",
            "--tag",
            &TAG.to_string(),
            "--set",
            "pickup_k=20",
        ],
    );
    let (id, _) = transmit_until(&rig, TAG, CONFIRMING_FW, numbered(TAG));
    confirm(&rig, TAG, id, CommandOutcome::InvalidSettings);
    let out = cli.join().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_in_order(&text(&out.stdout), &["delivered", "refused by the tag"]);
}

#[test]
fn a_command_for_a_tag_not_in_the_config_is_refused_naming_the_file() {
    let rig = ready_rig();
    let out = run_cli(&rig, &["identify", "--tag", "9999"])
        .join()
        .unwrap();
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    let config = rig.path("store.toml");
    assert!(
        stdout.contains(&format!("refused: tag 9999 is not in {}", config.display())),
        "{stdout}"
    );
    let refused = wait_update(&rig, "the refusal on the tags topic", |u| u["tag"] == 9999);
    assert_eq!(refused["state"], "refused");
    assert_eq!(refused["final"], true);
}

#[test]
fn a_command_the_tag_does_not_confirm_expires() {
    let rig = ready_rig();
    let cli = run_cli(
        &rig,
        &["identify", "--tag", &TAG.to_string(), "--expires-in", "2s"],
    );
    transmit_until(&rig, TAG, CONFIRMING_FW, numbered(TAG));
    // The tag never confirms: the gateway gives up at the expiry.
    let out = cli.join().unwrap();
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert_in_order(&stdout, &["queued", "delivered", "expired"]);
    let expired = wait_update(&rig, "expired on the tags topic", |u| {
        u["state"] == "expired"
    });
    assert_eq!(expired["tag"], TAG);
}

#[test]
fn the_cli_says_when_no_gateway_is_running() {
    let rig = GatewayRig::new(|_| {});
    let out = run_cli(&rig, &["identify", "--tag", &TAG.to_string()])
        .join()
        .unwrap();
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    let socket = rig.path("control.sock");
    assert!(
        stderr.contains(&format!(
            "is the gateway running? expected its control socket at {}",
            socket.display()
        )),
        "{stderr}"
    );
}

#[test]
fn a_tag_with_old_firmware_gets_a_plain_identify_and_no_configure() {
    let rig = ready_rig();
    let tag = TAG + 1;
    let cli = run_cli(
        &rig,
        &["identify", "--tag", &tag.to_string(), "--for", "3s"],
    );
    let duration = transmit_until(&rig, tag, OLD_FW, |d| match d {
        Downlink::Identify {
            tag: t,
            duration_ms,
        } if *t == tag => Some(*duration_ms),
        _ => None,
    });
    assert_eq!(duration, 3_000);
    let out = cli.join().unwrap();
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(
        stdout.contains("delivered: firmware 0.1.0 cannot confirm commands"),
        "{stdout}"
    );

    let out = run_cli(
        &rig,
        &[
            "configure",
            "--tag",
            &tag.to_string(),
            "--set",
            "pickup_k=2",
        ],
    );
    wait_until("the configure refused after a transmission", STEP, || {
        rig.tags.deliver(&[heartbeat(tag, OLD_FW)], STEP);
        command_updates(&rig)
            .into_iter()
            .find(|u| u["tag"] == tag && u["kind"] == "configure" && u["state"] == "refused")
    });
    let out = out.join().unwrap();
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("refused: firmware 0.1.0 predates numbered commands"),
        "{stdout}"
    );
}

#[test]
fn hq_commands_are_taken_once_from_the_stores_own_topic_and_bad_ones_refused() {
    let rig = ready_rig();
    let own = "aisle/v1/stores/S1/commands";
    let command = |id: &str, store: &str| {
        format!(
            r#"{{"id":"{id}","store":"{store}","tag":{TAG},"command":"identify","duration_ms":4000}}"#
        )
    };
    publish(
        &rig.broker.url(),
        &[
            Message::new(own, command("hq-1", "S1")),
            // A QoS 1 redelivery of the same command.
            Message::new(own, command("hq-1", "S1")),
            Message::new("aisle/v1/stores/S2/commands", command("hq-other", "S2")),
            Message::new(own, command("hq-wrong-store", "S2")),
            Message::new(
                own,
                r#"{"id":"hq-no-store","tag":3001,"command":"identify"}"#,
            ),
            Message::new(
                own,
                r#"{"id":"hq-unknown","store":"S1","tag":9999,"command":"identify"}"#,
            ),
            Message::new(own, "{not json"),
        ],
    );
    // One publisher's messages on one topic arrive in order: once the last
    // is refused, every earlier one has been taken or refused.
    let malformed = wait_update(&rig, "the malformed command refused", |u| {
        u["reason"]
            .as_str()
            .is_some_and(|r| r.starts_with("malformed command"))
            && u["hq_id"].is_null()
    });
    assert_eq!(malformed["state"], "refused");
    let reason_of = |hq_id: &str| {
        command_updates(&rig)
            .into_iter()
            .find(|u| u["hq_id"] == hq_id && u["state"] == "refused")
            .and_then(|u| u["reason"].as_str().map(str::to_owned))
            .unwrap_or_else(|| panic!("no refusal of {hq_id}: {:?}", command_updates(&rig)))
    };
    assert!(reason_of("hq-wrong-store").contains("store \"S2\""));
    assert!(reason_of("hq-no-store").contains("missing field `store`"));
    assert!(reason_of("hq-unknown").contains("tag 9999 is not in"));
    let queued = wait_update(&rig, "hq-1 queued", |u| {
        u["hq_id"] == "hq-1" && u["state"] == "queued"
    });
    let (id, command) = transmit_until(&rig, TAG, CONFIRMING_FW, numbered(TAG));
    assert_eq!(command, Command::Identify { duration_ms: 4_000 });
    assert_eq!(queued["command"], id);
    confirm(&rig, TAG, id, CommandOutcome::Applied);
    wait_update(&rig, "hq-1 confirmed", |u| {
        u["hq_id"] == "hq-1" && u["state"] == "confirmed"
    });
    // The gateway takes its messages in order, so by now it has seen the
    // redelivery too.
    let updates = command_updates(&rig);
    assert!(
        updates.iter().all(|u| u["hq_id"] != "hq-other"),
        "another store's command reached this gateway: {updates:?}"
    );
    let queued = updates
        .iter()
        .filter(|u| u["hq_id"] == "hq-1" && u["state"] == "queued")
        .count();
    assert_eq!(
        queued, 1,
        "a redelivered command is queued once: {updates:?}"
    );
    // Nothing else waits for the tag: its next transmission brings no command.
    let before = rig.tags.other_downlinks().len();
    rig.tags.deliver(&[heartbeat(TAG, CONFIRMING_FW)], STEP);
    rig.tags.deliver(&[heartbeat(TAG, CONFIRMING_FW)], STEP);
    assert_eq!(rig.tags.other_downlinks()[before..], []);
}

#[test]
fn a_command_queued_when_the_gateway_is_killed_is_confirmed_after_restart() {
    let mut rig = ready_rig();
    // Killed only once the CLI has the gateway's word that the command is
    // queued (its first line), not merely once the gateway has published
    // it: between the two, the CLI cannot know.
    let mut cli = Process::new(aisle_bin())
        .args(["tag", "identify", "--tag", &TAG.to_string(), "--config"])
        .arg(rig.path("store.toml"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run aisle tag");
    let mut lines = BufReader::new(cli.stdout.take().unwrap()).lines();
    let first = lines.next().expect("a line from the CLI").unwrap();
    assert!(first.contains("queued as command"), "{first}");
    let queued = wait_update(&rig, "the command queued", |u| u["state"] == "queued");
    rig.gateway().kill9();
    assert!(lines.all(|line| line.is_ok()));
    let out = cli.wait_with_output().unwrap();
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(4), "{stderr}");
    assert!(
        stderr.contains(&format!("command {} stays queued", queued["command"])),
        "{stderr}"
    );

    start_ready(&mut rig);
    let (id, _) = transmit_until(&rig, TAG, CONFIRMING_FW, numbered(TAG));
    assert_eq!(queued["command"], id, "the same command, not a new one");
    confirm(&rig, TAG, id, CommandOutcome::Applied);
    wait_update(&rig, "the command confirmed after the restart", |u| {
        u["command"] == id && u["state"] == "confirmed"
    });
    // A restart removes the stale socket and makes a new one, again usable
    // by the service's owner and group only (root and the `aisle` group).
    let socket = std::fs::metadata(rig.path("control.sock")).unwrap();
    assert!(
        socket.file_type().is_socket(),
        "the control socket is a socket"
    );
    assert_eq!(socket.permissions().mode() & 0o777, 0o660);
}
