//! The scripted gateway: downlinks that reach the tag's radio at set
//! virtual times. QEMU's UART input cannot be timed against the image's
//! virtual clock (the 40 s scenario runs in a fraction of a real second), so
//! downlinks come from this script rather than from the test over UART0.
//!
//! At [`CONFIGURE_AT_MS`] it sends line noise, a `Configure` for another tag
//! (to be ignored) and a `Configure` for this tag that shortens its
//! heartbeat period to [`NEW_HEARTBEAT_S`].

use protocol::{encode, Downlink, Frame, Settings, MAX_ENCODED_LEN};

pub const CONFIGURE_AT_MS: u64 = 20_000;
pub const NEW_HEARTBEAT_S: u32 = 4;

const NOISE: [u8; 3] = [0x55, 0x13, 0x00];
const SCRIPT_LEN: usize = NOISE.len() + 2 * MAX_ENCODED_LEN;

pub struct ScriptedGateway {
    tag: u32,
    settings: Settings,
    bytes: [u8; SCRIPT_LEN],
    len: usize,
    delivered: usize,
    sent: bool,
}

impl ScriptedGateway {
    /// A gateway that will reconfigure `tag`, whose current thresholds are
    /// `settings`.
    pub fn new(tag: u32, settings: Settings) -> Self {
        ScriptedGateway {
            tag,
            settings,
            bytes: [0; SCRIPT_LEN],
            len: 0,
            delivered: 0,
            sent: false,
        }
    }

    /// When the script next has bytes for the tag.
    pub fn next_at(&self) -> Option<u64> {
        (!self.sent).then_some(CONFIGURE_AT_MS)
    }

    /// Moves the bytes the radio has received by `now_ms` into `out`.
    pub fn receive(&mut self, now_ms: u64, out: &mut [u8]) -> usize {
        if !self.sent && now_ms >= CONFIGURE_AT_MS {
            self.sent = true;
            self.script();
        }
        let n = out.len().min(self.len - self.delivered);
        out[..n].copy_from_slice(&self.bytes[self.delivered..self.delivered + n]);
        self.delivered += n;
        n
    }

    fn script(&mut self) {
        self.bytes[..NOISE.len()].copy_from_slice(&NOISE);
        self.len = NOISE.len();
        let other = Downlink::Configure {
            tag: self.tag + 1,
            settings: Settings {
                heartbeat_s: 1,
                ..self.settings
            },
        };
        let ours = Downlink::Configure {
            tag: self.tag,
            settings: Settings {
                heartbeat_s: NEW_HEARTBEAT_S,
                ..self.settings
            },
        };
        for downlink in [other, ours] {
            // MAX_ENCODED_LEN always fits a frame.
            if let Ok(n) = encode(&Frame::downlink(downlink), &mut self.bytes[self.len..]) {
                self.len += n;
            }
        }
    }
}
