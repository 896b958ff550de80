//! SGTIN serials: the numeric SGTIN-96 serial and the 7-bit alphanumeric
//! SGTIN-198 serial, with the URI escaping the TDS prescribes.

use super::bits::BitReader;
use super::{EpcError, Scheme, SGTIN96_MAX_SERIAL};

/// Most characters an SGTIN-198 serial holds (GS1 AI 21 allows 20).
pub(super) const MAX_CHARS: usize = 20;

/// Whether `c` is in GS1's 82-character set for serials (TDS Table A-1,
/// GS1 General Specifications "CSET 82"): A–Z a–z 0–9 and
/// `! " % & ' ( ) * + , - . / : ; < = > ? _`.
pub fn is_serial_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || b"!\"%&'()*+,-./:;<=>?_".contains(&c)
}

/// The serial as it appears in an EPC URI. TDS Table A-1 marks these
/// characters as written percent-escaped in URIs, because they are
/// delimiters or otherwise unsafe in a URN: `"` `%` `&` `/` `<` `>` `?`.
pub fn escape_uri_serial(serial: &str) -> String {
    let mut out = String::with_capacity(serial.len());
    for c in serial.chars() {
        match c {
            '"' | '%' | '&' | '/' | '<' | '>' | '?' => {
                out.push_str(&format!("%{:02X}", c as u32));
            }
            _ => out.push(c),
        }
    }
    out
}

/// Checks that `serial` can be encoded in `scheme`.
pub(super) fn validate(scheme: Scheme, serial: &str) -> Result<(), EpcError> {
    if serial.is_empty() {
        return Err(EpcError::EmptySerial);
    }
    match scheme {
        Scheme::Sgtin96 => {
            let canonical = serial.bytes().all(|b| b.is_ascii_digit())
                && (serial == "0" || !serial.starts_with('0'));
            if !canonical {
                return Err(EpcError::Sgtin96SerialNotNumeric(serial.to_string()));
            }
            // Digits only, so a parse failure can only be overflow.
            match serial.parse::<u64>() {
                Ok(n) if n <= SGTIN96_MAX_SERIAL => Ok(()),
                _ => Err(EpcError::Sgtin96SerialOutOfRange(serial.to_string())),
            }
        }
        Scheme::Sgtin198 => {
            if let Some((i, ch)) = serial
                .chars()
                .enumerate()
                .find(|&(_, c)| !c.is_ascii() || !is_serial_char(c as u8))
            {
                return Err(EpcError::BadSerialChar {
                    ch,
                    position: i + 1,
                });
            }
            if serial.len() > MAX_CHARS {
                return Err(EpcError::SerialTooLong(serial.len()));
            }
            Ok(())
        }
    }
}

/// Reads the 20 seven-bit characters of an SGTIN-198 serial. The serial ends
/// at the first zero character and everything after it must be zero too
/// (TDS, "String" decoding method), so each serial has one encoding.
pub(super) fn decode_chars(r: &mut BitReader<'_>) -> Result<String, EpcError> {
    let mut serial = String::with_capacity(MAX_CHARS);
    let mut ended = false;
    for position in 1..=MAX_CHARS {
        let code = r.read(7) as u8;
        if code == 0 {
            ended = true;
        } else if ended {
            return Err(EpcError::NonZeroPadding(Scheme::Sgtin198));
        } else if is_serial_char(code) {
            serial.push(char::from(code));
        } else {
            return Err(EpcError::BadSerialCode { code, position });
        }
    }
    if serial.is_empty() {
        return Err(EpcError::EmptySerial);
    }
    Ok(serial)
}
