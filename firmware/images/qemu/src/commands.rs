//! The commanding gateway: a technician's numbered commands, sent over
//! UART0 (a pty on the host) by the system test or by `aisle gateway`.
//!
//! The garment trace runs in virtual time, far faster than a host can
//! answer, so at [`LISTEN_AT_MS`] (after the Boot uplink, before the brush
//! at 3 s) the tag's listen window is held open in real time until
//! [`COMMAND_FRAMES`] frames have arrived; then the trace goes on with
//! whatever the commands changed.
//!
//! A real gateway sends one command after each of the tag's uplinks (the
//! ack, then the command), and the next only once the tag's confirmation
//! has come back. So each pass of the main loop waits for bytes only until
//! some arrive: the pass then ends, the tag transmits its confirmation, and
//! the next pass waits again. The test that writes all its frames at once
//! gets the same confirmations, pass by pass.

use crate::uart;

/// When the tag waits for the commands: its listen window after the Boot
/// uplink, before anything happens to the garment.
pub const LISTEN_AT_MS: u64 = 1_000;

/// How many frames (delimiters) the tag waits for: the tests send this
/// many (4 commands, or 2 acks and 2 commands from the gateway).
pub const COMMAND_FRAMES: usize = 4;

pub struct UartGateway {
    frames: usize,
    /// Bytes were handed over in this pass of the main loop: the next
    /// empty read ends the pass instead of waiting.
    received: bool,
}

impl UartGateway {
    pub fn new() -> Self {
        UartGateway {
            frames: 0,
            received: false,
        }
    }

    /// When the tag must next listen for the commands.
    pub fn next_at(&self) -> Option<u64> {
        (self.frames < COMMAND_FRAMES).then_some(LISTEN_AT_MS)
    }

    /// Moves the UART's received bytes into `out`; from [`LISTEN_AT_MS`]
    /// on, until every command frame has arrived, waits for bytes if none
    /// came in this pass yet.
    pub fn receive(&mut self, now_ms: u64, out: &mut [u8]) -> usize {
        let listening = now_ms >= LISTEN_AT_MS && self.frames < COMMAND_FRAMES;
        loop {
            let n = uart::read(out);
            self.frames += out[..n].iter().filter(|&&b| b == 0).count();
            if n > 0 {
                self.received = true;
                return n;
            }
            if !listening || self.received {
                self.received = false;
                return 0;
            }
        }
    }
}
