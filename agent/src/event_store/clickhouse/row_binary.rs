//! ClickHouse's `RowBinary` format, the parts aisle uses: both ways for
//! inserts and query results, so nothing is escaped or parsed as text.
//!
//! A row is its columns back to back: `String` as a LEB128 length and the
//! bytes, integers little-endian, `Nullable(T)` as one byte (1 = NULL)
//! followed by `T` when not NULL, `Array(T)` as a LEB128 count and the
//! elements, `Tuple(…)` as its elements in order.

use std::io::{self, BufRead};

/// Appends `RowBinary` values to a buffer.
#[derive(Default)]
pub struct RowWriter {
    pub buf: Vec<u8>,
}

impl RowWriter {
    fn leb128(&mut self, mut n: u64) {
        loop {
            let byte = (n & 0x7f) as u8;
            n >>= 7;
            if n == 0 {
                self.buf.push(byte);
                return;
            }
            self.buf.push(byte | 0x80);
        }
    }

    pub fn bytes(&mut self, b: &[u8]) {
        self.leb128(b.len() as u64);
        self.buf.extend_from_slice(b);
    }

    pub fn string(&mut self, s: &str) {
        self.bytes(s.as_bytes());
    }

    pub fn nullable_string(&mut self, s: Option<&str>) {
        match s {
            None => self.buf.push(1),
            Some(s) => {
                self.buf.push(0);
                self.string(s);
            }
        }
    }

    pub fn i64(&mut self, n: i64) {
        self.buf.extend_from_slice(&n.to_le_bytes());
    }

    pub fn u32(&mut self, n: u32) {
        self.buf.extend_from_slice(&n.to_le_bytes());
    }

    pub fn nullable_i64(&mut self, n: Option<i64>) {
        match n {
            None => self.buf.push(1),
            Some(n) => {
                self.buf.push(0);
                self.i64(n);
            }
        }
    }

    pub fn u64(&mut self, n: u64) {
        self.buf.extend_from_slice(&n.to_le_bytes());
    }

    pub fn nullable_u16(&mut self, n: Option<u16>) {
        match n {
            None => self.buf.push(1),
            Some(n) => {
                self.buf.push(0);
                self.buf.extend_from_slice(&n.to_le_bytes());
            }
        }
    }

    pub fn nullable_u32(&mut self, n: Option<u32>) {
        match n {
            None => self.buf.push(1),
            Some(n) => {
                self.buf.push(0);
                self.u32(n);
            }
        }
    }
}

/// Reads `RowBinary` values from a buffered stream.
pub struct RowReader<R> {
    inner: R,
}

impl<R: BufRead> RowReader<R> {
    pub fn new(inner: R) -> Self {
        RowReader { inner }
    }

    /// Whether the stream has ended cleanly, between rows.
    pub fn at_end(&mut self) -> io::Result<bool> {
        Ok(self.inner.fill_buf()?.is_empty())
    }

    /// What is left of the stream, as text: after a decoding error it is
    /// usually the exception ClickHouse appended to a failed result.
    pub fn rest(&mut self) -> String {
        let mut rest = Vec::new();
        let _ = io::Read::read_to_end(&mut self.inner, &mut rest);
        String::from_utf8_lossy(&rest).into_owned()
    }

    /// The next `N` bytes. Taken straight from the buffer when it holds
    /// them, as it nearly always does: a copy of a size known here is a
    /// load, where `read_exact` into a slice calls `memcpy` per value.
    fn exact<const N: usize>(&mut self) -> io::Result<[u8; N]> {
        if let Some(bytes) = self.inner.fill_buf()?.first_chunk::<N>() {
            let bytes = *bytes;
            self.inner.consume(N);
            return Ok(bytes);
        }
        let mut buf = [0u8; N];
        io::Read::read_exact(&mut self.inner, &mut buf)?;
        Ok(buf)
    }

    /// An `Array(Int64)` appended to `out`.
    pub fn i64_array_into(&mut self, out: &mut Vec<i64>) -> io::Result<()> {
        let mut left = self.leb128()?;
        while left > 0 {
            let buffered = self.inner.fill_buf()?;
            let whole = (buffered.len() / 8).min(usize::try_from(left).unwrap_or(usize::MAX));
            if whole == 0 {
                // A value cut by the buffer's end.
                out.push(self.i64()?);
                left -= 1;
                continue;
            }
            out.extend(
                buffered[..whole * 8]
                    .chunks_exact(8)
                    .map(|b| i64::from_le_bytes(b.try_into().expect("8 bytes"))),
            );
            self.inner.consume(whole * 8);
            left -= whole as u64;
        }
        Ok(())
    }

    pub fn u8(&mut self) -> io::Result<u8> {
        Ok(self.exact::<1>()?[0])
    }

    pub fn leb128(&mut self) -> io::Result<u64> {
        let mut n = 0u64;
        for shift in (0..64).step_by(7) {
            let byte = self.u8()?;
            n |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Ok(n);
            }
        }
        Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "length too long",
        ))
    }

    /// A `String` into `out` (cleared first), as bytes.
    pub fn bytes_into(&mut self, out: &mut Vec<u8>) -> io::Result<()> {
        let len = self.leb128()?;
        // A length no answer of ours comes near means the stream is not
        // RowBinary (an error text, say): stop before allocating it.
        if len > MAX_STRING {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("a string of {len} bytes"),
            ));
        }
        out.clear();
        out.resize(len as usize, 0);
        io::Read::read_exact(&mut self.inner, out)
    }

    pub fn string(&mut self) -> io::Result<String> {
        let mut out = Vec::new();
        self.bytes_into(&mut out)?;
        String::from_utf8(out).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
    }

    /// `Some` when the `Nullable` marker says the value follows.
    pub fn not_null(&mut self) -> io::Result<bool> {
        match self.u8()? {
            0 => Ok(true),
            1 => Ok(false),
            other => Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("Nullable marker {other}"),
            )),
        }
    }

    pub fn i64(&mut self) -> io::Result<i64> {
        Ok(i64::from_le_bytes(self.exact::<8>()?))
    }

    pub fn u32(&mut self) -> io::Result<u32> {
        Ok(u32::from_le_bytes(self.exact::<4>()?))
    }

    pub fn u64(&mut self) -> io::Result<u64> {
        Ok(u64::from_le_bytes(self.exact::<8>()?))
    }

    pub fn u16(&mut self) -> io::Result<u16> {
        Ok(u16::from_le_bytes(self.exact::<2>()?))
    }

    /// A `Nullable(String)`.
    pub fn nullable_string(&mut self) -> io::Result<Option<String>> {
        Ok(if self.not_null()? {
            Some(self.string()?)
        } else {
            None
        })
    }
}

/// Longer than any identifier aisle stores (they are capped well below).
const MAX_STRING: u64 = 1 << 20;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_read_back_as_written() {
        let mut w = RowWriter::default();
        w.string("");
        w.string(&"x".repeat(300));
        w.nullable_string(None);
        w.nullable_string(Some("rack-1"));
        w.i64(-5);
        w.nullable_i64(Some(i64::MAX));
        w.buf.extend_from_slice(&7u64.to_le_bytes());
        let mut r = RowReader::new(w.buf.as_slice());
        assert_eq!(r.string().unwrap(), "");
        assert_eq!(r.string().unwrap(), "x".repeat(300));
        assert!(!r.not_null().unwrap());
        assert!(r.not_null().unwrap());
        assert_eq!(r.string().unwrap(), "rack-1");
        assert_eq!(r.i64().unwrap(), -5);
        assert!(r.not_null().unwrap());
        assert_eq!(r.i64().unwrap(), i64::MAX);
        assert_eq!(r.u64().unwrap(), 7);
        assert!(r.at_end().unwrap());
    }

    #[test]
    fn values_cut_by_the_buffers_end_read_whole() {
        let numbers: Vec<i64> = (0..40).map(|n| n * 1_000_003 - 7).collect();
        let mut w = RowWriter::default();
        w.leb128(numbers.len() as u64);
        for n in &numbers {
            w.i64(*n);
        }
        w.i64(-9);
        // Buffers of 1 to 13 bytes cut values at every offset.
        for capacity in 1..14 {
            let mut r = RowReader::new(io::BufReader::with_capacity(capacity, w.buf.as_slice()));
            let mut out = vec![1];
            r.i64_array_into(&mut out).unwrap();
            assert_eq!(out[1..], numbers[..], "buffer of {capacity}");
            assert_eq!(out[0], 1, "appended");
            assert_eq!(r.i64().unwrap(), -9);
            assert!(r.at_end().unwrap());
        }
        // A stream that ends inside the array is an error.
        let cut = &w.buf[..w.buf.len() - 12];
        let mut r = RowReader::new(io::BufReader::with_capacity(7, cut));
        let err = r.i64_array_into(&mut Vec::new()).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
    }

    #[test]
    fn lengths_use_leb128() {
        let mut w = RowWriter::default();
        w.string(&"a".repeat(128));
        assert_eq!(&w.buf[..2], &[0x80, 0x01]);
    }

    #[test]
    fn text_where_rowbinary_was_expected_is_an_error_not_a_huge_allocation() {
        let text = b"Code: 241, e.displayText() = DB::Exception: Memory limit exceeded";
        let mut r = RowReader::new(&text[..]);
        let mut out = Vec::new();
        assert!(r.bytes_into(&mut out).is_err() || r.bytes_into(&mut out).is_err());
    }
}
