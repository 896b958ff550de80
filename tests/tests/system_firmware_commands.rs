//! Commands to the firmware in the loop: the tag firmware's QEMU image
//! (scripts/firmware.sh), started with its `commands` scenario, is a tag of
//! the store, and a technician's `aisle tag configure` and `aisle tag
//! identify` go through the real gateway to it and come back confirmed by
//! the tag.
//!
//! The commands are queued before the image boots (the tag is in the
//! config, so the gateway accepts them and the CLI waits). The Boot uplink
//! brings the ack and the first command, its confirmation the ack and the
//! second: the 4 frames the image holds its listen window open for
//! (firmware/images/qemu/src/commands.rs). The image's scripted garment is
//! then lifted at 6 s (trace.rs): a pickup at the default threshold, none
//! once the configure has raised it above the lift's 1 144 mg. The control
//! runs the same image with two identifies and sees the pickup at HQ.
//!
//! HQ has seen everything the image sent once a marker pickup from another
//! garment, written to the receiver after the image exited, has arrived:
//! the gateway reads its receiver in order and delivers its spool in order.

use aisle_system_tests::store::GARMENT_TAG;
use aisle_system_tests::tags::frame_bytes;
use aisle_system_tests::{
    aisle_bin, clear_ready_file, pickup, wait_until, GatewayArgs, HqCollector, Mosquitto,
    SerialLink, StoreToml, Subscriber, STEP,
};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::process::{Command, Output, Stdio};
use std::thread;
use std::time::Duration;

/// The identity the QEMU image provisions itself with (firmware/images/qemu/src/main.rs).
const TAG_ID: u32 = 0x00A1_5E01;
const GARMENT_EPC: &str = "30141D8A0C00028000003039";
/// The GTIN that SGTIN-96 encodes (indicator 0, company prefix 0483971,
/// item reference 00010, check digit 9): the fixture must show it for the
/// garment to hang there.
const GARMENT_GTIN: &str = "00483971000109";
/// The image runs its 30 s trace in virtual time; QEMU itself takes seconds.
const DEADLINE: Duration = Duration::from_secs(60);

/// What one run of the image saw.
struct Run {
    /// Each `aisle tag` command's output, in the order given.
    cli: Vec<Output>,
    /// The image's events at HQ: (event, epc).
    hq_events: Vec<(String, Option<String>)>,
}

/// Starts a broker, HQ and the gateway for a store that knows the image's
/// tag, queues `commands` (`aisle tag` arguments), boots the image and
/// waits until HQ has everything it sent.
fn run_image_with_commands(commands: &[&[&str]]) -> Run {
    let dir = tempfile::Builder::new()
        .prefix("system-fw-cmd-")
        .tempdir()
        .expect("tempdir");
    let path = |name: &str| dir.path().join(name);
    let broker = Mosquitto::start();
    let sub = Subscriber::connect(&broker.observer_url());
    let hq = HqCollector::start(dir.path(), &broker.url(), &["--client-id", "fw-cmd-hq"]);
    let link = SerialLink::open(dir.path());

    let mut store = StoreToml::new(&broker.url(), &link.gateway_path(), &path("spool.sqlite"));
    store.fixture_gtins.push(GARMENT_GTIN.to_string());
    let mut toml = store.render();
    toml.push_str(&format!(
        "\n[[garments]]\ntag = {TAG_ID}\nepc = \"{GARMENT_EPC}\"\nfixture = \"F1\"\n"
    ));
    let config = path("store.toml");
    std::fs::write(&config, toml).expect("write store.toml");
    let ready = path("gateway.ready");
    clear_ready_file(&ready);
    let mut args = GatewayArgs::new(&config);
    args.extra = vec!["--ready-file".into(), ready.display().to_string()];
    let mut gateway = args.spawn();
    gateway.wait_ready(&ready, STEP);

    // Each CLI waits for its command's end; queued one after the other so
    // they go out in this order.
    let mut clis = Vec::new();
    for (i, command) in commands.iter().enumerate() {
        let mut cmd = Command::new(aisle_bin());
        cmd.arg("tag")
            .args(*command)
            .args(["--tag", &TAG_ID.to_string(), "--expires-in", "120s"])
            .arg("--config")
            .arg(&config);
        clis.push(thread::spawn(move || cmd.output().expect("run aisle tag")));
        wait_until(&format!("command {} queued", i + 1), STEP, || {
            let queued = sub
                .tag_reports()
                .iter()
                .flat_map(|r| r["commands"].as_array().cloned().unwrap_or_default())
                .filter(|u| u["tag"] == TAG_ID && u["state"] == "queued")
                .count();
            (queued > i).then_some(())
        });
    }

    // The test's own handle on the tag's end keeps the pty open after the
    // image exits, for the marker; it never reads, so every downlink goes
    // to the image.
    let mut marker_port = std::fs::OpenOptions::new()
        .write(true)
        // Never become the test process's controlling terminal.
        .custom_flags(nix::fcntl::OFlag::O_NOCTTY.bits())
        .open(link.device_path())
        .expect("open the tag end of the pty");
    let image = aisle_system_tests::qemu::image();
    let qemu = aisle_system_tests::qemu::command_on_tty(&image, &["commands"], &link.device_path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("qemu-system-arm must be installed (scripts/test.sh installs it)");
    let cli: Vec<Output> = clis
        .into_iter()
        .map(|c| c.join().expect("aisle tag thread"))
        .collect();
    let output = qemu.wait_with_output().expect("qemu output");
    assert!(
        output.status.success(),
        "firmware exited with {} (a panic, or a config in force that was not persisted): {}{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );

    marker_port
        .write_all(&frame_bytes(&pickup(GARMENT_TAG, 1, 0)))
        .expect("write the marker pickup");
    let events_of = |tag: u32| {
        let flags = rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY;
        let db = rusqlite::Connection::open_with_flags(&hq.db, flags).ok()?;
        let mut query = db
            .prepare("SELECT event, epc FROM events WHERE tag = ?1 ORDER BY rowid")
            .ok()?;
        let rows: Vec<(String, Option<String>)> = query
            .query_map([i64::from(tag)], |r| Ok((r.get(0)?, r.get(1)?)))
            .ok()?
            .filter_map(Result::ok)
            .collect();
        Some(rows)
    };
    wait_until("the marker pickup at HQ", DEADLINE, || {
        events_of(GARMENT_TAG).filter(|rows| !rows.is_empty())
    });
    let hq_events = events_of(TAG_ID).expect("read HQ's events");
    gateway.sigterm();
    Run { cli, hq_events }
}

fn assert_confirmed(out: &Output) {
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("confirmed by the tag"), "{stdout}");
}

#[test]
fn qemu_tag_confirms_a_configure_through_the_gateway_and_its_lift_is_no_longer_a_pickup() {
    let run = run_image_with_commands(&[
        &["configure", "--set", "pickup_threshold_mg=1500"],
        &["identify", "--for", "5s"],
    ]);
    run.cli.iter().for_each(assert_confirmed);
    assert_eq!(
        run.hq_events,
        [],
        "the lift at 6 s stays under the raised threshold: no pickup"
    );
}

#[test]
fn qemu_tag_lift_is_a_pickup_when_the_commands_leave_the_threshold() {
    let run =
        run_image_with_commands(&[&["identify", "--for", "5s"], &["identify", "--for", "5s"]]);
    run.cli.iter().for_each(assert_confirmed);
    assert_eq!(
        run.hq_events,
        [("item_pickup".to_string(), Some(GARMENT_EPC.to_string()))],
        "the default threshold: the lift is a pickup"
    );
}
