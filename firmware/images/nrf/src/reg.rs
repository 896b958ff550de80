//! Volatile access to the nRF5's memory-mapped peripheral registers. The
//! peripherals used here sit at the same addresses on the nRF51 and nRF52.

use core::ptr::{read_volatile, write_volatile};

/// Reads the 32-bit register at `address`.
pub fn read(address: usize) -> u32 {
    // SAFETY: callers pass addresses of nRF5 peripheral registers, which are
    // always mapped; the image is single-threaded with no interrupt handlers.
    unsafe { read_volatile(address as *const u32) }
}

/// Writes the 32-bit register at `address`.
pub fn write(address: usize, value: u32) {
    // SAFETY: as in `read`.
    unsafe { write_volatile(address as *mut u32, value) }
}

/// Waits for an event register to be set, then clears it. `false` after
/// `spins` polls without the event: a peripheral that never answers must
/// not hang the tag.
pub fn wait_event(address: usize, spins: u32) -> bool {
    for _ in 0..spins {
        if read(address) != 0 {
            write(address, 0);
            return true;
        }
    }
    false
}
