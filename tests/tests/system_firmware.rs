//! Firmware in the loop: the tag firmware's QEMU image (lm3s6965evb, built by
//! scripts/firmware.sh) is the store's tag. Its UART, the radio link, comes
//! out of QEMU on a socket that socat turns into a pty; `aisle gateway` reads
//! that pty as its receiver, and the garment's pickup reaches `aisle hq`.
//!
//! The image's scripted garment (firmware/images/qemu/src/trace.rs) is
//! brushed, lifted and hung back, then falls off its hanger: one pickup.

use aisle_system_tests::{wait_until, ChildGuard, GatewayArgs, HqCollector, Mosquitto};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

/// The identity the QEMU image provisions itself with (firmware/images/qemu/src/main.rs).
const TAG_ID: i64 = 0x00A1_5E01;
const GARMENT_EPC: &str = "30141D8A0C00028000003039";
const DEADLINE: Duration = Duration::from_secs(60);

fn file_exists(path: &Path) -> Option<()> {
    path.exists().then_some(())
}

#[test]
fn qemu_tag_pickup_reaches_hq_through_the_gateway() {
    let image = aisle_system_tests::qemu::image();
    let dir = tempfile::Builder::new()
        .prefix("system-firmware-")
        .tempdir()
        .expect("tempdir");
    let path = |name: &str| dir.path().join(name);
    let broker = Mosquitto::start();

    let hq = HqCollector::start(
        dir.path(),
        &broker.url(),
        &["--client-id", "system-firmware-hq"],
    );

    // QEMU holds the guest until a client connects to its UART socket, and
    // socat connects only once the gateway has opened the pty (wait-slave):
    // not one frame is sent before the gateway listens.
    let mut qemu_cmd = aisle_system_tests::qemu::command(&image);
    qemu_cmd
        .arg("-chardev")
        .arg(format!(
            "socket,id=uart,path={},server=on,wait=on",
            path("uart.sock").display()
        ))
        .args(["-serial", "chardev:uart"]);
    let _qemu = ChildGuard::spawn("qemu-system-arm", &mut qemu_cmd, &path("qemu.log"));
    wait_until("QEMU's UART socket", DEADLINE, || {
        file_exists(&path("uart.sock"))
    });
    let mut socat_cmd = Command::new("socat");
    socat_cmd
        .args(["-d", "-d"])
        .arg(format!(
            "pty,raw,echo=0,wait-slave,link={}",
            path("gateway-tty").display()
        ))
        .arg(format!("unix-connect:{}", path("uart.sock").display()));
    let _socat = ChildGuard::spawn("socat", &mut socat_cmd, &path("socat.log"));
    wait_until("socat's pty link", DEADLINE, || {
        file_exists(&path("gateway-tty"))
    });

    let gateway = GatewayArgs::demo(broker.url(), path("gateway-tty"), dir.path());
    let _gateway = gateway.spawn();

    let pickups = wait_until("the QEMU tag's pickup at HQ", DEADLINE, || {
        let flags = rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY;
        let db = rusqlite::Connection::open_with_flags(&hq.db, flags).ok()?;
        let mut query = db
            .prepare("SELECT event, tag, epc FROM events WHERE tag = ?1")
            .ok()?;
        let rows: Vec<(String, i64, Option<String>)> = query
            .query_map([TAG_ID], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .ok()?
            .filter_map(Result::ok)
            .collect();
        (!rows.is_empty()).then_some(rows)
    });
    assert_eq!(
        pickups,
        [(
            "item_pickup".to_string(),
            TAG_ID,
            Some(GARMENT_EPC.to_string())
        )],
        "one pickup, nothing for the brush, the fall, the put-down or the heartbeats"
    );
}
