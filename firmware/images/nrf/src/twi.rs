//! TWI0, the legacy I²C master of the nRF51 and nRF52, as an embedded-hal
//! 1.0 `I2c` bus for the accelerometer driver.

use crate::{layout::pins, reg};
use embedded_hal::i2c::{self, ErrorKind, I2c, NoAcknowledgeSource, Operation};

const TWI0: usize = 0x4000_3000;
const TASKS_STARTRX: usize = TWI0;
const TASKS_STARTTX: usize = TWI0 + 0x008;
const TASKS_STOP: usize = TWI0 + 0x014;
const TASKS_RESUME: usize = TWI0 + 0x020;
const EVENTS_STOPPED: usize = TWI0 + 0x104;
const EVENTS_RXDREADY: usize = TWI0 + 0x108;
const EVENTS_TXDSENT: usize = TWI0 + 0x11C;
const EVENTS_ERROR: usize = TWI0 + 0x124;
const SHORTS: usize = TWI0 + 0x200;
const ERRORSRC: usize = TWI0 + 0x4C4;
const ENABLE: usize = TWI0 + 0x500;
const PSELSCL: usize = TWI0 + 0x508;
const PSELSDA: usize = TWI0 + 0x50C;
const RXD: usize = TWI0 + 0x518;
const TXD: usize = TWI0 + 0x51C;
const FREQUENCY: usize = TWI0 + 0x524;
const ADDRESS: usize = TWI0 + 0x588;
const ENABLE_TWI: u32 = 5;
const FREQ_400K: u32 = 0x0668_0000;
const SHORT_BB_SUSPEND: u32 = 1 << 0;
const SHORT_BB_STOP: u32 = 1 << 1;
const ERRORSRC_ANACK: u32 = 1 << 1;
/// A byte at 400 kHz takes 23 µs; this many polls means the bus is stuck.
const SPINS: u32 = 50_000;

/// Why a transfer failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TwiError {
    AddressNack,
    DataNack,
    Timeout,
}

impl i2c::Error for TwiError {
    fn kind(&self) -> ErrorKind {
        match self {
            TwiError::AddressNack => ErrorKind::NoAcknowledge(NoAcknowledgeSource::Address),
            TwiError::DataNack => ErrorKind::NoAcknowledge(NoAcknowledgeSource::Data),
            TwiError::Timeout => ErrorKind::Other,
        }
    }
}

pub struct Twi;

impl Twi {
    pub fn new() -> Self {
        reg::write(PSELSCL, pins::I2C_SCL);
        reg::write(PSELSDA, pins::I2C_SDA);
        reg::write(FREQUENCY, FREQ_400K);
        reg::write(ENABLE, ENABLE_TWI);
        Twi
    }

    /// Waits for `event`, turning a bus error into a `TwiError`.
    fn wait(&mut self, event: usize) -> Result<(), TwiError> {
        for _ in 0..SPINS {
            if reg::read(EVENTS_ERROR) != 0 {
                reg::write(EVENTS_ERROR, 0);
                let source = reg::read(ERRORSRC);
                reg::write(ERRORSRC, source);
                self.stop();
                return Err(if source & ERRORSRC_ANACK != 0 {
                    TwiError::AddressNack
                } else {
                    TwiError::DataNack
                });
            }
            if reg::read(event) != 0 {
                reg::write(event, 0);
                return Ok(());
            }
        }
        self.stop();
        Err(TwiError::Timeout)
    }

    fn stop(&mut self) {
        reg::write(SHORTS, 0);
        reg::write(TASKS_STOP, 1);
        reg::wait_event(EVENTS_STOPPED, SPINS);
    }

    fn write_bytes(&mut self, bytes: &[u8], last: bool) -> Result<(), TwiError> {
        reg::write(SHORTS, 0);
        reg::write(TASKS_STARTTX, 1);
        for &byte in bytes {
            reg::write(TXD, u32::from(byte));
            self.wait(EVENTS_TXDSENT)?;
        }
        if last {
            self.stop();
        }
        Ok(())
    }

    /// Reads `buf` and ends the transaction with a stop: the byte-boundary
    /// shortcut suspends the bus after each byte, and the last one stops it.
    fn read_bytes(&mut self, buf: &mut [u8]) -> Result<(), TwiError> {
        let n = buf.len();
        reg::write(
            SHORTS,
            if n <= 1 {
                SHORT_BB_STOP
            } else {
                SHORT_BB_SUSPEND
            },
        );
        reg::write(TASKS_STARTRX, 1);
        for (i, byte) in buf.iter_mut().enumerate() {
            self.wait(EVENTS_RXDREADY)?;
            *byte = reg::read(RXD) as u8;
            if i + 2 == n {
                reg::write(SHORTS, SHORT_BB_STOP);
            }
            if i + 1 < n {
                reg::write(TASKS_RESUME, 1);
            }
        }
        let stopped = self.wait(EVENTS_STOPPED);
        reg::write(SHORTS, 0);
        stopped
    }
}

impl i2c::ErrorType for Twi {
    type Error = TwiError;
}

impl I2c for Twi {
    fn transaction(
        &mut self,
        address: u8,
        operations: &mut [Operation<'_>],
    ) -> Result<(), TwiError> {
        reg::write(ADDRESS, u32::from(address));
        let count = operations.len();
        for (i, operation) in operations.iter_mut().enumerate() {
            let last = i + 1 == count;
            match operation {
                Operation::Write(bytes) => self.write_bytes(bytes, last)?,
                // A read always ends the transaction here; the accelerometer
                // driver never reads before writing again.
                Operation::Read(buf) => self.read_bytes(buf)?,
            }
        }
        Ok(())
    }
}
