//! Boots the tag firmware's QEMU image (lm3s6965evb, built by
//! scripts/firmware.sh) under qemu-system-arm, reads its UART (the radio
//! link) from a file, decodes the frames with the protocol crate and checks
//! the events its scripted garment trace must produce.
//!
//! The trace (firmware/images/qemu/src/trace.rs): hanging still, a brush at
//! 3 s, lifted and handled from 6 s to 9 s, hung back, then at 17 s it falls
//! off its hanger onto the floor; the run ends at 40 s of virtual time.
//! Heartbeats come every 10 s until, at 20 s, a scripted gateway downlink
//! (firmware/images/qemu/src/gateway.rs) configures a 4 s period. Nobody
//! acks, so the outbox retransmits.
//!
//! Started with `entrance`, the image is a door counter instead: its
//! break-beams play firmware/images/qemu/src/doorway.rs and a scripted
//! gateway (firmware/images/qemu/src/acks.rs) acks every uplink, except the
//! first copy of each Entries event.
//!
//! Started with `commands`, the garment tag plays the same trace with its
//! UART on a pty: the test reads its frames as they come and, once the Boot
//! event is in, sends numbered commands over the pty as a gateway would
//! (firmware/images/qemu/src/commands.rs holds the tag's listen window open
//! until they arrive).

use aisle_system_tests::SerialLink;
use protocol::{
    encode, Command, CommandOutcome, ConfigStatus, Downlink, EpcBytes, Frame, FrameDecoder,
    FwVersion, Message, ResetReason, SettingsPatch, TagEvent, Uplink, FIRST_FW_WITH_COMMANDS,
    MAX_ENCODED_LEN,
};
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::process::Stdio;
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// The identity the QEMU image provisions itself with (firmware/images/qemu/src/main.rs).
const TAG_ID: u32 = 0x00A1_5E01;
const GARMENT_EPC: [u8; 12] = [
    0x30, 0x14, 0x1D, 0x8A, 0x0C, 0x00, 0x02, 0x80, 0x00, 0x00, 0x30, 0x39,
];

/// The firmware's version, firmware/Cargo.toml's.
const FW: FwVersion = FwVersion {
    major: 0,
    minor: 2,
    patch: 0,
};

/// Runs the image to its semihosting exit and returns the UART bytes.
fn run_image() -> Vec<u8> {
    run_image_with(&[])
}

/// As [`run_image`], with semihosting arguments for the image.
fn run_image_with(args: &[&str]) -> Vec<u8> {
    let image = aisle_system_tests::qemu::image();
    let dir = tempfile::tempdir().expect("temp dir");
    let uart = dir.path().join("uart.bin");
    let mut qemu = aisle_system_tests::qemu::command_with_args(&image, args)
        .arg("-serial")
        .arg(format!("file:{}", uart.display()))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("qemu-system-arm must be installed (scripts/test.sh installs it)");
    // The run takes a fraction of a second; the deadline only guards a hang.
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = qemu.try_wait().expect("wait for qemu") {
            break status;
        }
        if Instant::now() > deadline {
            qemu.kill().ok();
            panic!("firmware did not exit within 60 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let output = qemu.wait_with_output().expect("qemu output");
    assert!(
        status.success(),
        "firmware exited with {status} (a panic exits non-zero): {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    std::fs::read(&uart).expect("UART output file")
}

fn decode_all(bytes: &[u8]) -> Vec<Uplink> {
    let mut decoder = FrameDecoder::new();
    decoder
        .feed(bytes)
        .map(
            |frame| match frame.expect("every frame on the link decodes").message {
                Message::Uplink(uplink) => uplink,
                Message::Downlink(downlink) => panic!("a tag sent a downlink: {downlink:?}"),
            },
        )
        .collect()
}

#[test]
fn qemu_tag_reports_pickup_and_put_down_but_not_brush_or_fall_and_obeys_configure() {
    let uplinks = decode_all(&run_image());
    assert!(!uplinks.is_empty(), "no frames on the UART");
    assert!(
        uplinks.iter().all(|u| u.tag == TAG_ID && u.boot == 1),
        "tag id and first boot"
    );

    // What the gateway would keep: the first copy of each (boot, seq).
    let mut events = BTreeMap::new();
    for uplink in &uplinks {
        events
            .entry(uplink.seq)
            .or_insert_with(|| uplink.event.clone());
    }
    let epc = EpcBytes::new(&GARMENT_EPC).unwrap();
    let fw = FW;
    let funnel: Vec<_> = events
        .values()
        .filter(|e| !matches!(e, TagEvent::Heartbeat { .. }))
        .collect();
    assert_eq!(
        funnel.len(),
        3,
        "Boot, PickedUp, PutDown and nothing for the brush or the fall: {funnel:?}"
    );
    assert_eq!(
        funnel[0],
        &TagEvent::Boot {
            fw,
            reset_reason: ResetReason::PowerOn,
            config: ConfigStatus::Loaded
        }
    );
    assert_eq!(funnel[1], &TagEvent::PickedUp { epc });
    // Handled from 6 s to 9 s; the pickup is called after 4 moving samples.
    let TagEvent::PutDown {
        epc: put_epc,
        held_ms,
    } = funnel[2]
    else {
        panic!("{funnel:?}")
    };
    assert_eq!(put_epc, &epc);
    assert!((2_700..=3_000).contains(held_ms), "held_ms {held_ms}");

    let heartbeats: Vec<_> = events
        .values()
        .filter(|e| matches!(e, TagEvent::Heartbeat { .. }))
        .collect();
    assert_eq!(
        heartbeats.len(),
        6,
        "heartbeats at 10 and 20 s, then every 4 s after the Configure downlink: {heartbeats:?}"
    );
    for heartbeat in heartbeats {
        assert_eq!(
            heartbeat,
            &TagEvent::Heartbeat {
                battery_mv: 3_000,
                fw,
                dropped: 0
            }
        );
    }
}

#[test]
fn qemu_tag_retransmits_unacked_events_with_growing_age() {
    let uplinks = decode_all(&run_image());
    let boot_sends: Vec<u32> = uplinks
        .iter()
        .filter(|u| u.seq == 0)
        .map(|u| u.age_ms)
        .collect();
    assert!(
        boot_sends.len() >= 4,
        "the unacked Boot event is sent again and again: {boot_sends:?}"
    );
    assert_eq!(boot_sends[0], 0, "first sent at once");
    assert!(
        boot_sends.windows(2).all(|w| w[1] > w[0]),
        "age_ms recomputed at every send: {boot_sends:?}"
    );
    let gaps: Vec<u32> = boot_sends.windows(2).map(|w| w[1] - w[0]).collect();
    assert!(
        gaps.windows(2).all(|w| w[1] > w[0]),
        "backoff grows between retransmissions: {gaps:?}"
    );
}

/// The entrance counter's identity (firmware/images/qemu/src/main.rs).
const ENTRANCE_TAG_ID: u32 = 0x0E17_0001;

#[test]
fn qemu_entrance_counter_reports_each_periods_counts_once_acked() {
    let uplinks = decode_all(&run_image_with(&["entrance"]));
    assert!(
        uplinks
            .iter()
            .all(|u| u.tag == ENTRANCE_TAG_ID && u.boot == 1),
        "entrance tag id and first boot: {uplinks:?}"
    );
    let fw = FW;
    // Every copy of every event, in the order sent.
    let copies = |seq: u16| uplinks.iter().filter(|u| u.seq == seq).count();
    let mut events: BTreeMap<u16, &Uplink> = BTreeMap::new();
    for uplink in &uplinks {
        events.entry(uplink.seq).or_insert(uplink);
    }

    // doorway.rs: period 0 has two walking in, one out, a turn-back and a
    // flicker; period 2 two in close together and one out; period 5 one
    // in. Each is reported when its 20 s period is over and its last beam
    // change has settled (40 ms), dated at the period's start.
    let entries: Vec<_> = events
        .values()
        .filter(|u| matches!(u.event, TagEvent::Entries { .. }))
        .collect();
    let counts: Vec<_> = entries.iter().map(|u| (&u.event, u.age_ms)).collect();
    let period = |entered, exited| TagEvent::Entries {
        entered,
        exited,
        period_ms: 20_000,
    };
    assert_eq!(
        counts,
        [
            (&period(2, 1), 20_040),
            (&period(2, 1), 20_040),
            (&period(1, 0), 20_040)
        ],
        "one Entries per period with people, none for the empty ones"
    );
    // The gateway dropped each first copy and acked the second: each
    // Entries event went out exactly twice, the resend after the outbox's
    // first backoff (2 s to 2.5 s), and never after the ack.
    for entry in &entries {
        let ages: Vec<u32> = uplinks
            .iter()
            .filter(|u| u.seq == entry.seq)
            .map(|u| u.age_ms)
            .collect();
        assert_eq!(ages.len(), 2, "seq {}: sent {ages:?}", entry.seq);
        assert!(
            (2_000..=2_500).contains(&(ages[1] - ages[0])),
            "seq {}: resent after {} ms",
            entry.seq,
            ages[1] - ages[0]
        );
    }
    // Everything else was acked at its first sending.
    for (seq, uplink) in &events {
        if !matches!(uplink.event, TagEvent::Entries { .. }) {
            assert_eq!(copies(*seq), 1, "{:?} sent more than once", uplink.event);
        }
    }

    // Heartbeats every 30 s; the pram across beam A from 61 s is blocked
    // at 81 s and reported then, and its removal at 95 s once settled.
    let heartbeats: Vec<_> = events
        .values()
        .filter_map(|u| match u.event {
            TagEvent::EntranceHeartbeat { beam_blocked, .. } => Some(beam_blocked),
            _ => None,
        })
        .collect();
    assert_eq!(heartbeats, [false, false, true, false, false]);
    assert!(events
        .values()
        .all(|u| !matches!(u.event, TagEvent::Heartbeat { .. })));
    assert_eq!(
        events[&0].event,
        TagEvent::Boot {
            fw,
            reset_reason: ResetReason::PowerOn,
            config: ConfigStatus::Loaded
        }
    );
}

/// Frames the commanding test sends; the image waits for exactly this many
/// (firmware/images/qemu/src/commands.rs, `COMMAND_FRAMES`).
const COMMAND_FRAMES: usize = 4;

fn downlink_bytes(downlink: Downlink) -> Vec<u8> {
    let mut buf = [0u8; MAX_ENCODED_LEN];
    let n = encode(&Frame::downlink(downlink), &mut buf).expect("a downlink encodes");
    buf[..n].to_vec()
}

#[test]
fn qemu_tag_confirms_commands_over_its_uart_and_a_raised_threshold_ignores_the_lift() {
    let dir = tempfile::tempdir().expect("temp dir");
    let link = SerialLink::open(dir.path());
    // The gateway's end, open before the tag starts so nothing it sends is
    // lost; a reader thread hands over whatever arrives.
    let mut gateway = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(link.gateway_path())
        .expect("open the gateway end of the pty");
    let mut reader = gateway.try_clone().expect("clone the pty handle");
    let (bytes_tx, bytes_rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut buf = [0u8; 256];
        while let Ok(n @ 1..) = reader.read(&mut buf) {
            if bytes_tx.send(buf[..n].to_vec()).is_err() {
                break;
            }
        }
    });
    let image = aisle_system_tests::qemu::image();
    let mut qemu =
        aisle_system_tests::qemu::command_on_tty(&image, &["commands"], &link.device_path())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("qemu-system-arm must be installed (scripts/test.sh installs it)");

    // Raise the pickup threshold above anything the lift at 6 s reaches
    // (its poses are at most 1 144 mg from rest, trace.rs), find the tag,
    // then a command for another tag and a resend of the first, as a
    // gateway does when a confirmation is lost.
    let mut changes = SettingsPatch::default();
    changes.set("pickup_threshold_mg", 1_500).unwrap();
    let configure = Downlink::Command {
        tag: TAG_ID,
        id: 7,
        command: Command::Configure { changes },
    };
    let commands = [
        configure.clone(),
        Downlink::Command {
            tag: TAG_ID,
            id: 8,
            command: Command::Identify { duration_ms: 5_000 },
        },
        Downlink::Command {
            tag: TAG_ID + 1,
            id: 9,
            command: Command::Identify { duration_ms: 5_000 },
        },
        configure,
    ];
    assert_eq!(commands.len(), COMMAND_FRAMES);

    // Boot, the three confirmations (the resend confirmed again, the other
    // tag's command not at all), then heartbeats at 10, 20 and 30 s; with
    // the default threshold a PickedUp and a PutDown would come between.
    let applied = |id| TagEvent::CommandDone {
        id,
        outcome: CommandOutcome::Applied,
    };
    let heartbeat = TagEvent::Heartbeat {
        battery_mv: 3_000,
        fw: FW,
        dropped: 0,
    };
    let expected = [
        TagEvent::Boot {
            fw: FW,
            reset_reason: ResetReason::PowerOn,
            config: ConfigStatus::Loaded,
        },
        applied(7),
        applied(8),
        applied(7),
        heartbeat.clone(),
        heartbeat.clone(),
        heartbeat,
    ];

    let mut decoder = FrameDecoder::new();
    let mut events: BTreeMap<u16, TagEvent> = BTreeMap::new();
    let mut sent = false;
    let mut exited = None;
    let deadline = Instant::now() + Duration::from_secs(60);
    // Until the image has exited and every expected event has come over
    // the pty (the last one, the 30 s heartbeat, is the run's last event).
    while exited.is_none() || events.len() < expected.len() {
        assert!(
            Instant::now() < deadline,
            "after 60 s: exited {exited:?}, events {events:?}"
        );
        if exited.is_none() {
            exited = qemu.try_wait().expect("wait for qemu");
        }
        let Ok(bytes) = bytes_rx.recv_timeout(Duration::from_millis(50)) else {
            continue;
        };
        for frame in decoder.feed(&bytes) {
            let Message::Uplink(uplink) = frame.expect("every frame on the link decodes").message
            else {
                panic!("a tag sent a downlink");
            };
            assert_eq!((uplink.tag, uplink.boot), (TAG_ID, 1));
            events.entry(uplink.seq).or_insert(uplink.event);
        }
        if !sent && events.contains_key(&0) {
            // The tag listens after its Boot uplink.
            let wire: Vec<u8> = commands.iter().cloned().flat_map(downlink_bytes).collect();
            gateway
                .write_all(&wire)
                .expect("write the commands to the pty");
            sent = true;
        }
    }
    let output = qemu.wait_with_output().expect("qemu output");
    assert!(
        output.status.success(),
        "firmware exited with {} (a panic, or a config in force that was not persisted): {}{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let got: Vec<_> = events.into_values().collect();
    assert_eq!(got, expected);
    assert!(
        FW >= FIRST_FW_WITH_COMMANDS,
        "this firmware confirms commands"
    );
}
