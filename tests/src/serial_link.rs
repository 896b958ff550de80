//! A serial line between the gateway and a fake receiver: a socat pty pair.
//!
//! socat joins two pseudo-terminals and publishes them as symlinks with
//! stable names, the way udev publishes `/dev/serial/by-id/…` for a USB
//! receiver. Killing socat is unplugging the receiver: the gateway's reads
//! fail (EIO) and the symlink disappears; starting socat again with the same
//! link names is plugging it back in, behind a different `/dev/pts/N`.

use crate::process::{wait_until, ChildGuard};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

const SOCAT: &str = "socat";
const LINK_DEADLINE: Duration = Duration::from_secs(5);

pub struct SerialLink {
    gateway: PathBuf,
    device: PathBuf,
    log: PathBuf,
    socat: Option<ChildGuard>,
}

impl SerialLink {
    /// Creates the pty pair with its links in `dir` (`gateway-tty` and
    /// `device-tty`) and waits until both links exist.
    pub fn open(dir: &Path) -> SerialLink {
        Self::open_named(dir, "gateway-tty", "device-tty")
    }

    /// Like [`SerialLink::open`] with chosen link names, for several
    /// receivers in one directory.
    pub fn open_named(dir: &Path, gateway_name: &str, device_name: &str) -> SerialLink {
        let mut link = SerialLink {
            gateway: dir.join(gateway_name),
            device: dir.join(device_name),
            log: dir.join(format!("socat-{gateway_name}.log")),
            socat: None,
        };
        link.replug();
        link
    }

    /// The end the gateway opens (`--receiver`).
    pub fn gateway_path(&self) -> PathBuf {
        self.gateway.clone()
    }

    /// The end the fake receiver (test, simulator) writes tag frames to.
    pub fn device_path(&self) -> PathBuf {
        self.device.clone()
    }

    pub fn is_plugged(&self) -> bool {
        self.socat.is_some()
    }

    /// Pulls the receiver out: socat exits (SIGTERM removes its links), both
    /// ptys hang up. Waits until the links are gone.
    pub fn unplug(&mut self) {
        if let Some(mut socat) = self.socat.take() {
            socat.sigterm();
            socat.wait_exit(LINK_DEADLINE);
        }
        // If socat died some other way its links may dangle; a real device
        // node would be gone, so remove them.
        let _ = std::fs::remove_file(&self.gateway);
        let _ = std::fs::remove_file(&self.device);
    }

    /// Plugs the receiver back in under the same link names (a fresh pty
    /// pair), and waits until both links exist.
    pub fn replug(&mut self) {
        self.unplug();
        let mut cmd = Command::new(SOCAT);
        cmd.arg("-d")
            .arg("-d")
            .arg(format!("pty,raw,echo=0,link={}", self.gateway.display()))
            .arg(format!("pty,raw,echo=0,link={}", self.device.display()));
        let mut socat = ChildGuard::spawn("socat", &mut cmd, &self.log);
        wait_until("socat to create its pty links", LINK_DEADLINE, || {
            if let Some(status) = socat.try_exit() {
                panic!("socat exited with {status}:\n{}", socat.log_text());
            }
            (self.gateway.exists() && self.device.exists()).then_some(())
        });
        self.socat = Some(socat);
    }
}

impl Drop for SerialLink {
    fn drop(&mut self) {
        self.unplug();
    }
}
