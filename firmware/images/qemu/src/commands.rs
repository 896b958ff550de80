//! The commanding gateway: a technician's numbered commands, sent by the
//! system test over UART0 (a pty on the host).
//!
//! The garment trace runs in virtual time, far faster than the test can
//! answer, so at [`LISTEN_AT_MS`] (after the Boot uplink, before the brush
//! at 3 s) the tag's listen window is held open in real time until
//! [`COMMAND_FRAMES`] frames have arrived; then the trace goes on with
//! whatever the commands changed.

use crate::uart;

/// When the tag waits for the test's commands: its listen window after
/// the Boot uplink, before anything happens to the garment.
pub const LISTEN_AT_MS: u64 = 1_000;

/// How many frames (delimiters) the test sends; the test expects this.
pub const COMMAND_FRAMES: usize = 4;

pub struct UartGateway {
    frames: usize,
}

impl UartGateway {
    pub fn new() -> Self {
        UartGateway { frames: 0 }
    }

    /// When the tag must next listen for the commands.
    pub fn next_at(&self) -> Option<u64> {
        (self.frames < COMMAND_FRAMES).then_some(LISTEN_AT_MS)
    }

    /// Moves the UART's received bytes into `out`; from [`LISTEN_AT_MS`]
    /// on, waits for bytes until every command frame has arrived.
    pub fn receive(&mut self, now_ms: u64, out: &mut [u8]) -> usize {
        let listening = now_ms >= LISTEN_AT_MS && self.frames < COMMAND_FRAMES;
        loop {
            let n = uart::read(out);
            self.frames += out[..n].iter().filter(|&&b| b == 0).count();
            if n > 0 || !listening {
                return n;
            }
        }
    }
}
