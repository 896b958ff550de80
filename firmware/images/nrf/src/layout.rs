//! Where the tag keeps its persistent state: the last three flash pages.
//! build.rs keeps them out of the linker's FLASH region.
//!
//! | chip | page | boot counter pages | config page |
//! | --- | --- | --- | --- |
//! | nRF51822 (256 KiB) | 1 KiB | 0x3F400, 0x3F800 | 0x3FC00 |
//! | nRF52832 (512 KiB) | 4 KiB | 0x7D000, 0x7E000 | 0x7F000 |

#[cfg(nrf51)]
pub const PAGE: u32 = 1024;
#[cfg(nrf51)]
const FLASH_END: u32 = 256 * 1024;

#[cfg(nrf52)]
pub const PAGE: u32 = 4096;
#[cfg(nrf52)]
const FLASH_END: u32 = 512 * 1024;

pub const BOOT_COUNTER: u32 = FLASH_END - 3 * PAGE;
pub const CONFIG_PAGE: u32 = FLASH_END - PAGE;

/// Pins of the reference tag board (nRF52-DK-compatible numbering).
pub mod pins {
    pub const UART_TX: u32 = 6;
    pub const UART_RX: u32 = 8;
    pub const LED: u32 = 17;
    pub const PIR: u32 = 23;
    pub const ACCEL_INT1: u32 = 24;
    pub const I2C_SDA: u32 = 25;
    pub const I2C_SCL: u32 = 26;
    /// Entrance counter: the street-side break-beam receiver's output.
    pub const BEAM_A: u32 = 27;
    /// Entrance counter: the store-side break-beam receiver's output.
    pub const BEAM_B: u32 = 28;
}
