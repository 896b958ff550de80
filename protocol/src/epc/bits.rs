//! Big-endian bit fields, as EPC memory lays them out: the first field
//! starts at the most significant bit of byte 0.

/// Reads fields of up to 64 bits in order. Reading past the end yields zero
/// bits; callers check the length first, so that only guards against panics.
pub(super) struct BitReader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> BitReader<'a> {
    pub(super) fn new(bytes: &'a [u8]) -> Self {
        BitReader { bytes, pos: 0 }
    }

    fn bit(&self, at: usize) -> u64 {
        self.bytes
            .get(at / 8)
            .map_or(0, |b| u64::from(b >> (7 - at % 8) & 1))
    }

    pub(super) fn read(&mut self, bits: u32) -> u64 {
        let mut value = 0;
        for _ in 0..bits {
            value = value << 1 | self.bit(self.pos);
            self.pos += 1;
        }
        value
    }

    /// Whether every bit not yet read is zero (padding must be).
    pub(super) fn rest_is_zero(&self) -> bool {
        (self.pos..self.bytes.len() * 8).all(|at| self.bit(at) == 0)
    }
}

/// Writes fields into a zeroed buffer of fixed length; unwritten bits stay
/// zero, which is the padding the TDS asks for.
pub(super) struct BitWriter {
    bytes: Vec<u8>,
    pos: usize,
}

impl BitWriter {
    pub(super) fn new(len: usize) -> Self {
        BitWriter {
            bytes: vec![0; len],
            pos: 0,
        }
    }

    /// Writes the low `bits` bits of `value`, most significant first.
    pub(super) fn write(&mut self, value: u64, bits: u32) {
        for i in (0..bits).rev() {
            if value >> i & 1 == 1 {
                if let Some(b) = self.bytes.get_mut(self.pos / 8) {
                    *b |= 0x80 >> (self.pos % 8);
                }
            }
            self.pos += 1;
        }
    }

    pub(super) fn into_bytes(self) -> Vec<u8> {
        self.bytes
    }
}
