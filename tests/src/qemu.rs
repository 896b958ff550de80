//! The tag firmware's QEMU image (lm3s6965evb, built by scripts/firmware.sh)
//! and the qemu-system-arm command that boots it.
//!
//! Both QEMU tests start here so they boot the same machine the same way and
//! neither runs an image older than the code it is meant to test.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::SystemTime;

/// The QEMU image, checked to exist and to be newer than its sources.
///
/// `AISLE_QEMU_IMAGE` wins; otherwise the path scripts/firmware.sh builds.
/// Panics with what to run when the image is missing or stale: a stale image
/// would test old code.
pub fn image() -> PathBuf {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let image = match std::env::var_os("AISLE_QEMU_IMAGE") {
        Some(path) => PathBuf::from(path),
        None => root.join("target/images/thumbv6m-none-eabi/release/aisle-tag-qemu"),
    };
    assert!(
        image.exists(),
        "QEMU firmware image {} is missing: run scripts/firmware.sh first (or set AISLE_QEMU_IMAGE)",
        image.display()
    );
    let built = std::fs::metadata(&image)
        .and_then(|m| m.modified())
        .expect("image mtime");
    // The QEMU image links the nRF image's memory routines (mem.rs) too.
    for sources in [
        "firmware/src",
        "firmware/images/qemu/src",
        "firmware/images/nrf/src",
        "protocol/src",
    ] {
        assert!(
            newest_source(&root.join(sources)) <= built,
            "QEMU firmware image {} is older than {sources}: run scripts/firmware.sh",
            image.display()
        );
    }
    image
}

/// `qemu-system-arm` set up to boot `image` on the lm3s6965evb with
/// semihosting (the image exits through it). The caller adds where the UART
/// goes (`-serial ...`) and how to collect output.
pub fn command(image: &Path) -> Command {
    command_with_args(image, &[])
}

/// As [`command`], handing the image semihosting arguments: `entrance`
/// plays the entrance counter's scenario instead of the garment's.
pub fn command_with_args(image: &Path, args: &[&str]) -> Command {
    let mut semihosting = "enable=on,target=native,arg=aisle-tag-qemu".to_string();
    for arg in args {
        semihosting.push_str(",arg=");
        semihosting.push_str(arg);
    }
    let mut qemu = Command::new("qemu-system-arm");
    qemu.args([
        "-cpu",
        "cortex-m3",
        "-machine",
        "lm3s6965evb",
        "-nographic",
        "-monitor",
        "none",
    ])
    .args(["-semihosting-config", &semihosting])
    .arg("-kernel")
    .arg(image);
    qemu
}

/// As [`command_with_args`], with the image's UART on the terminal device
/// `tty` (one end of a pty pair), where the test or a gateway plays the
/// other side of the radio link.
pub fn command_on_tty(image: &Path, args: &[&str], tty: &Path) -> Command {
    let mut qemu = command_with_args(image, args);
    qemu.arg("-chardev")
        .arg(format!("tty,id=radio,path={}", tty.display()))
        .args(["-serial", "chardev:radio"]);
    qemu
}

/// Newest modification time of the files under `dir` that go into the
/// image. Unit tests (`tests.rs`, `tests/`) do not: cargo does not relink the
/// image when they change.
fn newest_source(dir: &Path) -> SystemTime {
    let mut newest = SystemTime::UNIX_EPOCH;
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        let name = entry.file_name();
        if name == "tests.rs" || name == "tests" {
            continue;
        }
        let modified = if path.is_dir() {
            newest_source(&path)
        } else {
            entry
                .metadata()
                .and_then(|m| m.modified())
                .unwrap_or(SystemTime::UNIX_EPOCH)
        };
        newest = newest.max(modified);
    }
    newest
}
