//! UART0 of the LM3S6965 (an ARM PL011), the radio link in this image.

use core::ptr::{read_volatile, write_volatile};

const UART0: usize = 0x4000_C000;
const DR: *mut u32 = UART0 as *mut u32;
const FR: *const u32 = (UART0 + 0x18) as *const u32;
const CR: *mut u32 = (UART0 + 0x30) as *mut u32;
const FR_RXFE: u32 = 1 << 4;
const FR_TXFF: u32 = 1 << 5;
const CR_UARTEN_TXE_RXE: u32 = 0x301;

pub fn init() {
    // SAFETY: UART0's control register, owned by this single-threaded image.
    unsafe { write_volatile(CR, CR_UARTEN_TXE_RXE) }
}

pub fn write(bytes: &[u8]) {
    for &byte in bytes {
        // SAFETY: UART0's flag and data registers; nothing else uses them.
        unsafe {
            while read_volatile(FR) & FR_TXFF != 0 {}
            write_volatile(DR, u32::from(byte));
        }
    }
}

pub fn read(buf: &mut [u8]) -> usize {
    let mut n = 0;
    while n < buf.len() {
        // SAFETY: as in `write`.
        let byte = unsafe {
            if read_volatile(FR) & FR_RXFE != 0 {
                break;
            }
            read_volatile(DR)
        };
        buf[n] = byte as u8;
        n += 1;
    }
    n
}
