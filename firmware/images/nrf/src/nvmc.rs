//! The nRF5 non-volatile memory controller as an embedded-storage
//! `NorFlash`, for the config page and the boot counter.

use crate::{layout, reg};
use embedded_storage::nor_flash::{
    ErrorType, NorFlash, NorFlashError, NorFlashErrorKind, ReadNorFlash,
};

const NVMC: usize = 0x4001_E000;
const READY: usize = NVMC + 0x400;
const CONFIG: usize = NVMC + 0x504;
const ERASEPAGE: usize = NVMC + 0x508;
const CONFIG_READ: u32 = 0;
const CONFIG_WRITE: u32 = 1;
const CONFIG_ERASE: u32 = 2;

/// The whole on-chip flash; offsets are addresses.
pub struct Nvmc;

/// A request outside flash or not word-aligned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NvmcError {
    OutOfBounds,
    NotAligned,
}

impl NorFlashError for NvmcError {
    fn kind(&self) -> NorFlashErrorKind {
        match self {
            NvmcError::OutOfBounds => NorFlashErrorKind::OutOfBounds,
            NvmcError::NotAligned => NorFlashErrorKind::NotAligned,
        }
    }
}

impl ErrorType for Nvmc {
    type Error = NvmcError;
}

fn wait_ready() {
    while reg::read(READY) == 0 {}
}

impl ReadNorFlash for Nvmc {
    const READ_SIZE: usize = 1;

    fn read(&mut self, offset: u32, bytes: &mut [u8]) -> Result<(), NvmcError> {
        if offset as usize + bytes.len() > self.capacity() {
            return Err(NvmcError::OutOfBounds);
        }
        for (i, byte) in bytes.iter_mut().enumerate() {
            // SAFETY: flash is mapped from address 0 and the range was checked.
            *byte = unsafe { core::ptr::read_volatile((offset as usize + i) as *const u8) };
        }
        Ok(())
    }

    fn capacity(&self) -> usize {
        (layout::CONFIG_PAGE + layout::PAGE) as usize
    }
}

impl NorFlash for Nvmc {
    const WRITE_SIZE: usize = 4;
    const ERASE_SIZE: usize = layout::PAGE as usize;

    fn erase(&mut self, from: u32, to: u32) -> Result<(), NvmcError> {
        if !from.is_multiple_of(layout::PAGE) || !to.is_multiple_of(layout::PAGE) {
            return Err(NvmcError::NotAligned);
        }
        if to as usize > self.capacity() || from > to {
            return Err(NvmcError::OutOfBounds);
        }
        reg::write(CONFIG, CONFIG_ERASE);
        for page in (from..to).step_by(layout::PAGE as usize) {
            reg::write(ERASEPAGE, page);
            wait_ready();
        }
        reg::write(CONFIG, CONFIG_READ);
        Ok(())
    }

    fn write(&mut self, offset: u32, bytes: &[u8]) -> Result<(), NvmcError> {
        if !offset.is_multiple_of(4) || !bytes.len().is_multiple_of(4) {
            return Err(NvmcError::NotAligned);
        }
        if offset as usize + bytes.len() > self.capacity() {
            return Err(NvmcError::OutOfBounds);
        }
        reg::write(CONFIG, CONFIG_WRITE);
        for (i, word) in bytes.chunks_exact(4).enumerate() {
            let value = u32::from_le_bytes([word[0], word[1], word[2], word[3]]);
            reg::write(offset as usize + 4 * i, value);
            wait_ready();
        }
        reg::write(CONFIG, CONFIG_READ);
        Ok(())
    }
}
