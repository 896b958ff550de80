//! Flash storage for the tag's persistent state: the boot counter, and a
//! RAM-backed NOR flash for host tests, the simulator and the QEMU image.
//!
//! Storage goes through embedded-storage's `NorFlash`, the trait that nRF,
//! STM32 and RP2040 HALs implement, so a board plugs its flash controller in.

use embedded_storage::nor_flash::{
    ErrorType, NorFlash, NorFlashError, NorFlashErrorKind, ReadNorFlash,
};

/// A persisted boot counter on two flash pages, written as an append-only log.
///
/// NOR flash can only clear bits, and erasing a page is slow and wears it, so
/// each boot appends an 8-byte record `(n, !n)` after the last one instead of
/// rewriting a word. When the active page is full the next record goes to the
/// other page, erased first; the full page keeps its (smaller) values until it
/// is needed again. At any moment one page holds the current value, so a
/// power cut during an erase or a write never loses the count: a torn record
/// fails its complement check and is skipped. The boot number must never
/// repeat, because `(tag, boot, seq)` is the gateway's dedup key.
#[derive(Debug, Clone, Copy)]
pub struct BootCounter {
    pages: [u32; 2],
    page_size: u32,
}

const RECORD_LEN: u32 = 8;
const ERASED: u32 = 0xFFFF_FFFF;

/// What a scan of one counter page found.
struct PageScan {
    max: Option<u32>,
    free_slot: Option<u32>,
}

impl BootCounter {
    /// A counter on the two pages at flash offsets `first` and
    /// `first + page_size`.
    pub const fn new(first: u32, page_size: u32) -> Self {
        BootCounter {
            pages: [first, first + page_size],
            page_size,
        }
    }

    /// Reads the last boot number (0 on a fresh tag), persists its successor
    /// and returns it: call once per boot.
    pub fn increment<F: NorFlash>(&self, flash: &mut F) -> Result<u32, F::Error> {
        let scans = [
            self.scan(flash, self.pages[0])?,
            self.scan(flash, self.pages[1])?,
        ];
        let active = usize::from(scans[1].max > scans[0].max);
        let last = scans[0].max.max(scans[1].max).unwrap_or(0);
        let next = last.wrapping_add(1);
        let offset = match scans[active].free_slot {
            Some(slot) => slot,
            None => {
                let other = self.pages[1 - active];
                flash.erase(other, other + self.page_size)?;
                other
            }
        };
        let mut record = [0u8; RECORD_LEN as usize];
        record[..4].copy_from_slice(&next.to_le_bytes());
        record[4..].copy_from_slice(&(!next).to_le_bytes());
        flash.write(offset, &record)?;
        Ok(next)
    }

    fn scan<F: ReadNorFlash>(&self, flash: &mut F, page: u32) -> Result<PageScan, F::Error> {
        let mut scan = PageScan {
            max: None,
            free_slot: None,
        };
        let mut offset = page;
        while offset + RECORD_LEN <= page + self.page_size {
            let mut record = [0u8; RECORD_LEN as usize];
            flash.read(offset, &mut record)?;
            let value = u32::from_le_bytes([record[0], record[1], record[2], record[3]]);
            let check = u32::from_le_bytes([record[4], record[5], record[6], record[7]]);
            if value == ERASED && check == ERASED {
                // Records are appended in order: the first free slot ends the log.
                scan.free_slot = Some(offset);
                break;
            }
            if check == !value {
                scan.max = scan.max.max(Some(value));
            }
            offset += RECORD_LEN;
        }
        Ok(scan)
    }
}

/// NOR flash in RAM with real NOR rules: erase sets a page to `0xFF`, a write
/// can only clear bits. `SIZE` bytes in pages of `PAGE` bytes.
#[derive(Debug, Clone)]
pub struct RamFlash<const SIZE: usize, const PAGE: usize> {
    bytes: [u8; SIZE],
}

/// Misuse of a [`RamFlash`], as a flash controller would report it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RamFlashError {
    /// The range runs past the end of the flash.
    OutOfBounds,
    /// The address or length is not a multiple of the write or erase size.
    NotAligned,
}

impl NorFlashError for RamFlashError {
    fn kind(&self) -> NorFlashErrorKind {
        match self {
            RamFlashError::OutOfBounds => NorFlashErrorKind::OutOfBounds,
            RamFlashError::NotAligned => NorFlashErrorKind::NotAligned,
        }
    }
}

impl<const SIZE: usize, const PAGE: usize> Default for RamFlash<SIZE, PAGE> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const SIZE: usize, const PAGE: usize> RamFlash<SIZE, PAGE> {
    /// Fully erased flash, as a new chip comes.
    pub const fn new() -> Self {
        RamFlash {
            bytes: [0xFF; SIZE],
        }
    }

    /// The raw contents, e.g. to corrupt a byte in a test.
    pub fn bytes_mut(&mut self) -> &mut [u8; SIZE] {
        &mut self.bytes
    }

    fn range(offset: u32, len: usize) -> Result<core::ops::Range<usize>, RamFlashError> {
        let start = offset as usize;
        let end = start.checked_add(len).ok_or(RamFlashError::OutOfBounds)?;
        if end > SIZE {
            return Err(RamFlashError::OutOfBounds);
        }
        Ok(start..end)
    }
}

impl<const SIZE: usize, const PAGE: usize> ErrorType for RamFlash<SIZE, PAGE> {
    type Error = RamFlashError;
}

impl<const SIZE: usize, const PAGE: usize> ReadNorFlash for RamFlash<SIZE, PAGE> {
    const READ_SIZE: usize = 1;

    fn read(&mut self, offset: u32, bytes: &mut [u8]) -> Result<(), Self::Error> {
        let range = Self::range(offset, bytes.len())?;
        bytes.copy_from_slice(&self.bytes[range]);
        Ok(())
    }

    fn capacity(&self) -> usize {
        SIZE
    }
}

impl<const SIZE: usize, const PAGE: usize> NorFlash for RamFlash<SIZE, PAGE> {
    /// Word writes, as on nRF5 and most Cortex-M flash controllers.
    const WRITE_SIZE: usize = 4;
    const ERASE_SIZE: usize = PAGE;

    fn erase(&mut self, from: u32, to: u32) -> Result<(), Self::Error> {
        if !(from as usize).is_multiple_of(PAGE) || !(to as usize).is_multiple_of(PAGE) || to < from
        {
            return Err(RamFlashError::NotAligned);
        }
        let range = Self::range(from, (to - from) as usize)?;
        self.bytes[range].fill(0xFF);
        Ok(())
    }

    fn write(&mut self, offset: u32, bytes: &[u8]) -> Result<(), Self::Error> {
        if !(offset as usize).is_multiple_of(Self::WRITE_SIZE)
            || !bytes.len().is_multiple_of(Self::WRITE_SIZE)
        {
            return Err(RamFlashError::NotAligned);
        }
        let range = Self::range(offset, bytes.len())?;
        for (cell, new) in self.bytes[range].iter_mut().zip(bytes) {
            *cell &= new;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PAGE: usize = 64;
    type Flash = RamFlash<{ 4 * PAGE }, PAGE>;
    const COUNTER: BootCounter = BootCounter::new(PAGE as u32, PAGE as u32);

    #[test]
    fn boot_counter_counts_from_one_across_page_switches() {
        let mut flash = Flash::new();
        // 8 records per page: this wraps between the pages several times.
        for expected in 1..=40 {
            assert_eq!(COUNTER.increment(&mut flash).unwrap(), expected);
        }
    }

    #[test]
    fn torn_record_is_skipped_and_the_count_never_repeats() {
        let mut flash = Flash::new();
        for _ in 0..3 {
            COUNTER.increment(&mut flash).unwrap();
        }
        // Power cut while writing record 4: only its first word landed.
        flash.write(PAGE as u32 + 24, &4u32.to_le_bytes()).unwrap();
        assert_eq!(COUNTER.increment(&mut flash).unwrap(), 4);
        assert_eq!(COUNTER.increment(&mut flash).unwrap(), 5);
    }

    #[test]
    fn power_cut_after_erasing_the_other_page_keeps_the_count() {
        let mut flash = Flash::new();
        for _ in 0..16 {
            COUNTER.increment(&mut flash).unwrap();
        }
        // Both pages are full (1-8, 9-16); boot 17 erased the first page and
        // the power failed before its record was written.
        flash.erase(PAGE as u32, 2 * PAGE as u32).unwrap();
        assert_eq!(COUNTER.increment(&mut flash).unwrap(), 17);
        assert_eq!(COUNTER.increment(&mut flash).unwrap(), 18);
    }

    #[test]
    fn flash_writes_only_clear_bits() {
        let mut flash = Flash::new();
        flash.write(0, &[0x0F, 0xF0, 0xFF, 0x00]).unwrap();
        flash.write(0, &[0xF0, 0xFF, 0x0F, 0xFF]).unwrap();
        let mut read = [0u8; 4];
        flash.read(0, &mut read).unwrap();
        assert_eq!(read, [0x00, 0xF0, 0x0F, 0x00]);
        assert_eq!(flash.write(2, &[0; 4]), Err(RamFlashError::NotAligned));
        assert_eq!(
            flash.read(4 * PAGE as u32, &mut read),
            Err(RamFlashError::OutOfBounds)
        );
    }
}
