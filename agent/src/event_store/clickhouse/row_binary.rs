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

    fn exact<const N: usize>(&mut self) -> io::Result<[u8; N]> {
        let mut buf = [0u8; N];
        io::Read::read_exact(&mut self.inner, &mut buf)?;
        Ok(buf)
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
