//! UART0, the link to the tag's radio modem: frames out, downlink bytes in.
//! The legacy (non-DMA) UART exists on both the nRF51 and the nRF52.
//!
//! The receiver keeps the high-frequency clock running (hundreds of µA), so
//! it is on only in a short window after each transmission, when the
//! gateway's ack (and any queued downlink) arrives: the scheme LoRaWAN
//! class A devices use to live on a coin cell.

use crate::{layout::pins, reg};

const UART0: usize = 0x4000_2000;
const TASKS_STARTRX: usize = UART0;
const TASKS_STOPRX: usize = UART0 + 0x004;
const TASKS_STARTTX: usize = UART0 + 0x008;
const TASKS_STOPTX: usize = UART0 + 0x00C;
pub const EVENTS_RXDRDY: usize = UART0 + 0x108;
const EVENTS_TXDRDY: usize = UART0 + 0x11C;
const INTENSET: usize = UART0 + 0x304;
const ENABLE: usize = UART0 + 0x500;
const PSELTXD: usize = UART0 + 0x50C;
const PSELRXD: usize = UART0 + 0x514;
const RXD: usize = UART0 + 0x518;
const TXD: usize = UART0 + 0x51C;
const BAUDRATE: usize = UART0 + 0x524;
const BAUD_115200: u32 = 0x01D7_E000;
const ENABLE_UART: u32 = 4;
const INT_RXDRDY: u32 = 1 << 2;
/// One byte at 115 200 Bd takes 87 µs; this many polls is far longer.
const TX_SPINS: u32 = 100_000;

pub fn init() {
    reg::write(PSELTXD, pins::UART_TX);
    reg::write(PSELRXD, pins::UART_RX);
    reg::write(BAUDRATE, BAUD_115200);
    reg::write(ENABLE, ENABLE_UART);
    // The interrupt is never taken; enabling it lets a received byte end a
    // WFE sleep (SEVONPEND).
    reg::write(INTENSET, INT_RXDRDY);
}

/// Opens the receive window.
pub fn start_rx() {
    reg::write(TASKS_STARTRX, 1);
}

/// Closes the receive window.
pub fn stop_rx() {
    reg::write(TASKS_STOPRX, 1);
}

pub fn write(bytes: &[u8]) {
    reg::write(TASKS_STARTTX, 1);
    for &byte in bytes {
        reg::write(TXD, u32::from(byte));
        if !reg::wait_event(EVENTS_TXDRDY, TX_SPINS) {
            break;
        }
    }
    // The transmitter draws current while started.
    reg::write(TASKS_STOPTX, 1);
}

pub fn read(buf: &mut [u8]) -> usize {
    let mut n = 0;
    while n < buf.len() && reg::read(EVENTS_RXDRDY) != 0 {
        reg::write(EVENTS_RXDRDY, 0);
        buf[n] = reg::read(RXD) as u8;
        n += 1;
    }
    n
}
