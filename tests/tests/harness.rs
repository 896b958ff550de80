//! Tests of the system-test harness itself: if these fail, a failing system
//! test says nothing about aisle.

use aisle_system_tests::tags::{frame_bytes, pickup};
use aisle_system_tests::tls::{make_server_pki, mosquitto_password_file};
use aisle_system_tests::{
    aisle_bin, wait_until, Mosquitto, MosquittoOptions, SerialLink, Subscriber,
};
use protocol::topics::{Topic, TopicKind};
use protocol::{encode, Downlink, Frame, FrameDecoder, Message};
use std::io::{Read, Write};
use std::time::Duration;

const DEADLINE: Duration = Duration::from_secs(10);

fn publish(url_port: u16, topic: &str, payload: &str, extra: &[&str]) -> std::process::Output {
    std::process::Command::new("mosquitto_pub")
        .args([
            "-h",
            "127.0.0.1",
            "-p",
            &url_port.to_string(),
            "-q",
            "1",
            "-t",
            topic,
            "-m",
            payload,
        ])
        .args(extra)
        .output()
        .expect("run mosquitto_pub")
}

#[test]
fn persistent_subscriber_receives_messages_queued_across_a_broker_restart() {
    let mut broker = Mosquitto::start();
    let sub = Subscriber::connect(&broker.observer_url());
    assert!(publish(
        broker.port(),
        &Topic::new("S1", TopicKind::Status).to_string(),
        r#"{"state":"online"}"#,
        &[]
    )
    .status
    .success());
    sub.wait_status("the first status", DEADLINE, |s| s["state"] == "online");

    broker.stop();
    assert!(!broker.is_running());
    broker.start_again();
    // Queued for the subscriber's persistent session while it reconnects.
    assert!(publish(
        broker.port(),
        &Topic::new("S1", TopicKind::Status).to_string(),
        r#"{"state":"later"}"#,
        &[]
    )
    .status
    .success());
    sub.wait_status("a status published after the restart", DEADLINE, |s| {
        s["state"] == "later"
    });
    broker.restart();
    sub.barrier(DEADLINE);
}

#[test]
fn tls_broker_with_password_accepts_only_the_right_credentials() {
    let dir = tempfile::tempdir().unwrap();
    let tls = make_server_pki(dir.path());
    let passwords = mosquitto_password_file(dir.path(), "store-s1", "s3cret");
    let broker = Mosquitto::start_with(MosquittoOptions {
        tls: Some(tls.clone()),
        password_file: Some(passwords),
        allow_anonymous: false,
        ..MosquittoOptions::default()
    });
    assert!(broker.url().starts_with("mqtts://localhost:"));
    let ca = tls.ca.display().to_string();
    let good = publish(
        broker.port(),
        "t",
        "x",
        &["--cafile", &ca, "-u", "store-s1", "-P", "s3cret"],
    );
    assert!(
        good.status.success(),
        "{}",
        String::from_utf8_lossy(&good.stderr)
    );
    let bad = publish(
        broker.port(),
        "t",
        "x",
        &["--cafile", &ca, "-u", "store-s1", "-P", "wrong"],
    );
    assert!(!bad.status.success(), "a wrong password was accepted");
    let plain = publish(broker.port(), "t", "x", &["-u", "store-s1", "-P", "s3cret"]);
    assert!(
        !plain.status.success(),
        "plain MQTT was accepted on the TLS listener"
    );
}

#[test]
fn serial_link_carries_bytes_both_ways_and_survives_unplug_and_replug() {
    let dir = tempfile::tempdir().unwrap();
    let mut link = SerialLink::open(dir.path());
    let open = |p: &std::path::Path| {
        std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(p)
            .unwrap()
    };
    let mut gateway_end = open(&link.gateway_path());
    let mut device_end = open(&link.device_path());

    let frame = frame_bytes(&pickup(3001, 1, 7));
    device_end.write_all(&frame).unwrap();
    let mut buf = vec![0u8; frame.len()];
    gateway_end.read_exact(&mut buf).unwrap();
    assert_eq!(buf, frame);

    link.unplug();
    assert!(
        !link.gateway_path().exists(),
        "the receiver's link outlived the unplug"
    );
    // The gateway's end hangs up: EOF or EIO, never a blocking read.
    let mut one = [0u8; 1];
    assert!(matches!(gateway_end.read(&mut one), Ok(0) | Err(_)));

    link.replug();
    let mut gateway_end = open(&link.gateway_path());
    let mut device_end = open(&link.device_path());
    gateway_end.write_all(b"ack").unwrap();
    let mut back = [0u8; 3];
    device_end.read_exact(&mut back).unwrap();
    assert_eq!(&back, b"ack");
}

#[test]
fn tag_writer_records_acks_written_by_the_gateway_end() {
    let dir = tempfile::tempdir().unwrap();
    let link = SerialLink::open(dir.path());
    let mut gateway_end = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(link.gateway_path())
        .unwrap();
    let tags = aisle_system_tests::TagWriter::open(&link.device_path());
    let event = pickup(3002, 4, 9);
    tags.send(&event).unwrap();

    // Play gateway: decode the uplink, ack it twice (a duplicate's re-ack).
    let mut decoder = FrameDecoder::new();
    let mut buf = [0u8; 256];
    let uplink = wait_until("the uplink frame", DEADLINE, || {
        let n = gateway_end.read(&mut buf).unwrap();
        decoder.feed(&buf[..n]).find_map(|f| match f {
            Ok(Frame {
                message: Message::Uplink(up),
                ..
            }) => Some(up),
            _ => None,
        })
    });
    assert_eq!(uplink, event);
    let ack = Frame::downlink(Downlink::Ack {
        tag: 3002,
        boot: 4,
        seq: 9,
    });
    let mut out = [0u8; protocol::MAX_ENCODED_LEN];
    let n = encode(&ack, &mut out).unwrap();
    gateway_end.write_all(&out[..n]).unwrap();
    gateway_end.write_all(&out[..n]).unwrap();
    wait_until("two acks", DEADLINE, || {
        (tags.ack_count((3002, 4, 9)) == 2).then_some(())
    });
    assert_eq!(tags.acked().len(), 1);
    assert_eq!(tags.bad_downlink_frames(), 0);
}

#[test]
fn aisle_binary_is_found_or_built() {
    let bin = aisle_bin();
    let out = std::process::Command::new(&bin)
        .arg("--version")
        .output()
        .unwrap();
    assert!(out.status.success(), "{} --version failed", bin.display());
    assert!(String::from_utf8_lossy(&out.stdout).contains("aisle"));
}
