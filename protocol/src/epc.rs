//! GS1 EPC codec for SGTIN-96 and SGTIN-198 (GS1 EPC Tag Data Standard, TDS).
//!
//! An SGTIN is a GTIN-14 (the SKU) plus a serial (the one garment). On the
//! tag it is a bit string: header, filter, partition, company prefix, item
//! reference, serial. People and HQ read it as URIs
//! (`urn:epc:id:sgtin:0614141.812345.6789`) or as the GTIN. Host-only: the
//! firmware carries the raw bytes and never interprets them.
//!
//! Longer than most files on purpose: decoding, encoding and the TDS's
//! partition table are checked against each other and read best side by
//! side; bit fields, serials and URIs are in their own files.

use core::fmt;
use core::str::FromStr;

mod bits;
mod serial;
mod uri;

use bits::{BitReader, BitWriter};
pub use serial::{escape_uri_serial, is_serial_char};

/// The two SGTIN binary encodings (TDS, "SGTIN-96" and "SGTIN-198" coding tables).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scheme {
    /// Numeric serial up to 2^38 − 1, 96 bits: what most garment tags carry.
    Sgtin96,
    /// Alphanumeric serial of up to 20 characters, 198 bits.
    Sgtin198,
}

impl Scheme {
    /// The scheme's name in GS1 URIs and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::Sgtin96 => "sgtin-96",
            Scheme::Sgtin198 => "sgtin-198",
        }
    }

    fn header(self) -> u8 {
        match self {
            Scheme::Sgtin96 => HEADER_SGTIN96,
            Scheme::Sgtin198 => HEADER_SGTIN198,
        }
    }

    /// Bytes [`Sgtin::encode`] writes. SGTIN-198 is 198 bits; Gen2 EPC memory
    /// is addressed in 16-bit words, so it is written as 13 words (26 bytes)
    /// with zero padding, as readers report it.
    pub fn encoded_len(self) -> usize {
        match self {
            Scheme::Sgtin96 => 12,
            Scheme::Sgtin198 => 26,
        }
    }
}

impl fmt::Display for Scheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Scheme {
    type Err = EpcError;
    fn from_str(s: &str) -> Result<Self, EpcError> {
        match s.to_ascii_lowercase().as_str() {
            "sgtin-96" | "sgtin96" => Ok(Scheme::Sgtin96),
            "sgtin-198" | "sgtin198" => Ok(Scheme::Sgtin198),
            _ => Err(EpcError::UnknownScheme(s.to_string())),
        }
    }
}

const HEADER_SGTIN96: u8 = 0x30;
const HEADER_SGTIN198: u8 = 0x36;

/// Width of the SGTIN-96 serial field.
const SGTIN96_SERIAL_BITS: u32 = 38;

/// Largest SGTIN-96 serial.
pub const SGTIN96_MAX_SERIAL: u64 = (1 << SGTIN96_SERIAL_BITS) - 1;

/// One row of the TDS's SGTIN partition table: how the 44 bits
/// after the partition are split between company prefix and item reference.
struct Partition {
    company_prefix_bits: u32,
    company_prefix_digits: usize,
    item_reference_bits: u32,
    item_reference_digits: usize,
}

const fn row(cp_bits: u32, cp_digits: usize, ir_bits: u32, ir_digits: usize) -> Partition {
    Partition {
        company_prefix_bits: cp_bits,
        company_prefix_digits: cp_digits,
        item_reference_bits: ir_bits,
        item_reference_digits: ir_digits,
    }
}

// Partition P: company prefix bits and digits, item reference bits and digits.
const PARTITIONS: [Partition; 7] = [
    row(40, 12, 4, 1),
    row(37, 11, 7, 2),
    row(34, 10, 10, 3),
    row(30, 9, 14, 4),
    row(27, 8, 17, 5),
    row(24, 7, 20, 6),
    row(20, 6, 24, 7),
];

fn partition_row(partition: u8) -> Result<&'static Partition, EpcError> {
    PARTITIONS
        .get(usize::from(partition))
        .ok_or(EpcError::Partition(partition))
}

/// Why an EPC could not be decoded or encoded. Messages name the field and
/// the rule, since technicians read them straight off `aisle epc`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
// Each variant's `#[error]` message is its documentation: it is what the
// technician reads.
#[allow(missing_docs)]
pub enum EpcError {
    #[error("EPC is empty")]
    Empty,
    #[error("EPC hex has an odd number of digits ({0}); each byte is two hex digits")]
    OddHexLength(usize),
    #[error("EPC hex has a non-hex character {ch:?} at position {position}")]
    NotHex { ch: char, position: usize },
    #[error(
        "EPC header 0x{0:02X} is not an SGTIN (expected 0x30 for SGTIN-96 or 0x36 for SGTIN-198)"
    )]
    NotSgtin(u8),
    #[error("{scheme} EPC must be {expected} bytes long, got {len}")]
    WrongLength {
        scheme: Scheme,
        len: usize,
        expected: &'static str,
    },
    #[error("partition {0} is invalid (0 to 6 are defined; 7 is reserved)")]
    Partition(u8),
    #[error("{field} field holds {value}, which has more than {digits} digits")]
    FieldOverflow {
        field: &'static str,
        value: u64,
        digits: usize,
    },
    #[error("bits after the {0} serial are not zero")]
    NonZeroPadding(Scheme),
    #[error("SGTIN-198 serial has character code {code} at position {position}, which GS1 does not allow in a serial")]
    BadSerialCode { code: u8, position: usize },
    #[error("serial is empty")]
    EmptySerial,
    #[error("SGTIN-96 serial {0:?} is not a decimal number without leading zeros (use sgtin-198 for other serials)")]
    Sgtin96SerialNotNumeric(String),
    #[error("SGTIN-96 serial {0} is larger than 274877906943 (2^38 - 1); use sgtin-198")]
    Sgtin96SerialOutOfRange(String),
    #[error("SGTIN-198 serial is {0} characters; at most 20 fit")]
    SerialTooLong(usize),
    #[error("serial has {ch:?} at position {position}; GS1 serials allow A-Z a-z 0-9 and !\"%&'()*+,-./:;<=>?_")]
    BadSerialChar { ch: char, position: usize },
    #[error("filter {0} is out of range (0 to 7)")]
    Filter(u8),
    #[error("company prefix length {0} is out of range (6 to 12 digits)")]
    CompanyPrefixLength(usize),
    #[error("company prefix {0:?} must be {1} digits for its partition")]
    CompanyPrefix(String, usize),
    #[error(
        "item reference {0:?} must be {1} digits (indicator digit included) for its partition"
    )]
    ItemReference(String, usize),
    #[error("GTIN {0:?} must be 14 digits (pad a GTIN-8/12/13 with leading zeros)")]
    GtinFormat(String),
    #[error("GTIN {gtin} has check digit {found}, expected {expected}")]
    GtinCheckDigit {
        gtin: String,
        found: u8,
        expected: u8,
    },
    #[error("{0:?} must be 13 digits to compute a GTIN check digit")]
    CheckDigitInput(String),
    #[error("unknown EPC scheme {0:?} (expected sgtin-96 or sgtin-198)")]
    UnknownScheme(String),
    #[error(
        "not an SGTIN tag URI: {0} (expected e.g. urn:epc:tag:sgtin-96:3.0614141.812345.6789)"
    )]
    BadTagUri(&'static str),
}

/// A decoded SGTIN. Fields are strings of digits exactly as they appear in
/// the URIs, so leading zeros of the company prefix survive.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Sgtin {
    /// SGTIN-96 or SGTIN-198: which serials fit and how long the EPC is.
    pub scheme: Scheme,
    /// Filter value 0–7 (1 = point-of-sale trade item, per the TDS's SGTIN
    /// filter value table).
    pub filter: u8,
    /// Partition 0–6: 12 − number of company prefix digits.
    pub partition: u8,
    /// The GS1 company prefix, 12 − partition digits.
    pub company_prefix: String,
    /// Indicator digit followed by the item reference, 1 + partition digits.
    pub item_reference: String,
    /// The serial, unescaped. Numeric without leading zeros on SGTIN-96.
    pub serial: String,
}

impl Sgtin {
    /// Decodes an EPC as read from a tag. SGTIN-96 is 12 bytes; SGTIN-198
    /// is 25 (198 bits rounded to bytes) or 26 (rounded to 16-bit words).
    pub fn decode(bytes: &[u8]) -> Result<Sgtin, EpcError> {
        let header = *bytes.first().ok_or(EpcError::Empty)?;
        let (scheme, expected) = match header {
            HEADER_SGTIN96 => (Scheme::Sgtin96, "12"),
            HEADER_SGTIN198 => (Scheme::Sgtin198, "25 or 26"),
            other => return Err(EpcError::NotSgtin(other)),
        };
        let len_ok = match scheme {
            Scheme::Sgtin96 => bytes.len() == 12,
            Scheme::Sgtin198 => bytes.len() == 25 || bytes.len() == 26,
        };
        if !len_ok {
            return Err(EpcError::WrongLength {
                scheme,
                len: bytes.len(),
                expected,
            });
        }

        let mut r = BitReader::new(bytes);
        r.read(8);
        let filter = r.read(3) as u8;
        let partition = r.read(3) as u8;
        let row = partition_row(partition)?;
        let company_prefix = decimal_field(
            "company prefix",
            r.read(row.company_prefix_bits),
            row.company_prefix_digits,
        )?;
        let item_reference = decimal_field(
            "item reference",
            r.read(row.item_reference_bits),
            row.item_reference_digits,
        )?;
        let serial = match scheme {
            Scheme::Sgtin96 => r.read(SGTIN96_SERIAL_BITS).to_string(),
            Scheme::Sgtin198 => serial::decode_chars(&mut r)?,
        };
        if !r.rest_is_zero() {
            return Err(EpcError::NonZeroPadding(scheme));
        }
        Ok(Sgtin {
            scheme,
            filter,
            partition,
            company_prefix,
            item_reference,
            serial,
        })
    }

    /// Decodes an EPC written as hex (either case; surrounding whitespace and
    /// a `0x` prefix are tolerated, as readers and spreadsheets add them).
    pub fn decode_hex(hex: &str) -> Result<Sgtin, EpcError> {
        Sgtin::decode(&from_hex(hex)?)
    }

    /// Builds an SGTIN from a GTIN-14 and a serial. `company_prefix_len` is
    /// the length of the brand's GS1 company prefix (6–12 digits), which the
    /// GTIN alone does not reveal.
    pub fn from_gtin(
        gtin14: &str,
        serial: &str,
        company_prefix_len: usize,
        filter: u8,
        scheme: Scheme,
    ) -> Result<Sgtin, EpcError> {
        validate_gtin14(gtin14)?;
        if !(6..=12).contains(&company_prefix_len) {
            return Err(EpcError::CompanyPrefixLength(company_prefix_len));
        }
        if filter > 7 {
            return Err(EpcError::Filter(filter));
        }
        let sgtin = Sgtin {
            scheme,
            filter,
            partition: (12 - company_prefix_len) as u8,
            company_prefix: gtin14[1..1 + company_prefix_len].to_string(),
            item_reference: format!("{}{}", &gtin14[..1], &gtin14[1 + company_prefix_len..13]),
            serial: serial.to_string(),
        };
        serial::validate(scheme, serial)?;
        Ok(sgtin)
    }

    /// Encodes to the bytes written to the tag ([`Scheme::encoded_len`]).
    pub fn encode(&self) -> Result<Vec<u8>, EpcError> {
        if self.filter > 7 {
            return Err(EpcError::Filter(self.filter));
        }
        let row = partition_row(self.partition)?;
        let company_prefix = digits_value(&self.company_prefix, row.company_prefix_digits)
            .ok_or_else(|| {
                EpcError::CompanyPrefix(self.company_prefix.clone(), row.company_prefix_digits)
            })?;
        let item_reference = digits_value(&self.item_reference, row.item_reference_digits)
            .ok_or_else(|| {
                EpcError::ItemReference(self.item_reference.clone(), row.item_reference_digits)
            })?;
        serial::validate(self.scheme, &self.serial)?;

        let mut w = BitWriter::new(self.scheme.encoded_len());
        w.write(u64::from(self.scheme.header()), 8);
        w.write(u64::from(self.filter), 3);
        w.write(u64::from(self.partition), 3);
        w.write(company_prefix, row.company_prefix_bits);
        w.write(item_reference, row.item_reference_bits);
        match self.scheme {
            // validate() has checked it parses and fits in 38 bits.
            Scheme::Sgtin96 => w.write(self.serial.parse().unwrap_or(0), SGTIN96_SERIAL_BITS),
            Scheme::Sgtin198 => {
                for c in self.serial.bytes() {
                    w.write(u64::from(c), 7);
                }
            }
        }
        Ok(w.into_bytes())
    }

    /// [`Sgtin::encode`] as upper-case hex.
    pub fn encode_hex(&self) -> Result<String, EpcError> {
        Ok(to_hex(&self.encode()?))
    }

    /// The GTIN-14 (the SKU), check digit included.
    pub fn gtin(&self) -> String {
        // By chars, not bytes: the fields are public, and a hand-built value
        // with a non-ASCII first character must not panic here.
        let mut item_reference = self.item_reference.chars();
        let indicator = item_reference.next().map(String::from).unwrap_or_default();
        let first13 = format!(
            "{indicator}{}{}",
            self.company_prefix,
            item_reference.as_str()
        );
        format!("{first13}{}", weighted_check_digit(first13.as_bytes()))
    }

    /// The pure identity URI, e.g. `urn:epc:id:sgtin:0614141.812345.6789`.
    pub fn pure_uri(&self) -> String {
        format!(
            "urn:epc:id:sgtin:{}.{}.{}",
            self.company_prefix,
            self.item_reference,
            escape_uri_serial(&self.serial)
        )
    }

    /// The tag URI, which adds scheme and filter, e.g.
    /// `urn:epc:tag:sgtin-96:3.0614141.812345.6789`.
    pub fn tag_uri(&self) -> String {
        format!(
            "urn:epc:tag:{}:{}.{}.{}.{}",
            self.scheme,
            self.filter,
            self.company_prefix,
            self.item_reference,
            escape_uri_serial(&self.serial)
        )
    }
}

impl fmt::Display for Sgtin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.tag_uri())
    }
}

/// A decoded numeric field as zero-padded digits; values too wide for the
/// field's digit count are invalid encodings (TDS, "Partition Table"
/// decoding method).
fn decimal_field(field: &'static str, value: u64, digits: usize) -> Result<String, EpcError> {
    if value >= 10u64.pow(digits as u32) {
        return Err(EpcError::FieldOverflow {
            field,
            value,
            digits,
        });
    }
    Ok(format!("{value:0digits$}"))
}

/// The value of a string of exactly `digits` ASCII digits.
fn digits_value(s: &str, digits: usize) -> Option<u64> {
    if s.len() != digits || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// GS1 mod-10 check digit: weights 3, 1, 3, … from the rightmost digit.
/// Callers pass ASCII digits; anything else is folded into 0–9 so a
/// hand-built [`Sgtin`] cannot make [`Sgtin::gtin`] panic.
fn weighted_check_digit(digits: &[u8]) -> u8 {
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &b)| {
            let d = u32::from(b.wrapping_sub(b'0') % 10);
            if i % 2 == 0 {
                d * 3
            } else {
                d
            }
        })
        .sum();
    ((10 - sum % 10) % 10) as u8
}

/// The check digit for the first 13 digits of a GTIN-14.
pub fn gtin_check_digit(first13: &str) -> Result<u8, EpcError> {
    if first13.len() != 13 || !first13.bytes().all(|b| b.is_ascii_digit()) {
        return Err(EpcError::CheckDigitInput(first13.to_string()));
    }
    Ok(weighted_check_digit(first13.as_bytes()))
}

/// Checks that `gtin` is 14 digits with a correct check digit.
pub fn validate_gtin14(gtin: &str) -> Result<(), EpcError> {
    if gtin.len() != 14 || !gtin.bytes().all(|b| b.is_ascii_digit()) {
        return Err(EpcError::GtinFormat(gtin.to_string()));
    }
    let expected = weighted_check_digit(&gtin.as_bytes()[..13]);
    let found = gtin.as_bytes()[13] - b'0';
    if found != expected {
        return Err(EpcError::GtinCheckDigit {
            gtin: gtin.to_string(),
            found,
            expected,
        });
    }
    Ok(())
}

/// Upper-case hex, the form EPCs are printed in by readers and GS1 tools.
pub fn to_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789ABCDEF";
    let mut s = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 0xF)]));
    }
    s
}

/// Parses hex as [`Sgtin::decode_hex`] describes. Error positions count
/// characters from 1 in the string as given.
pub fn from_hex(hex: &str) -> Result<Vec<u8>, EpcError> {
    let leading = hex.chars().take_while(|c| c.is_whitespace()).count();
    let trimmed = hex.trim();
    let (body, skipped) = match trimmed
        .strip_prefix("0x")
        .or_else(|| trimmed.strip_prefix("0X"))
    {
        Some(rest) => (rest, leading + 2),
        None => (trimmed, leading),
    };
    if body.is_empty() {
        return Err(EpcError::Empty);
    }
    let nibbles = body
        .chars()
        .enumerate()
        .map(|(i, ch)| {
            ch.to_digit(16).map(|d| d as u8).ok_or(EpcError::NotHex {
                ch,
                position: skipped + i + 1,
            })
        })
        .collect::<Result<Vec<u8>, EpcError>>()?;
    if nibbles.len() % 2 != 0 {
        return Err(EpcError::OddHexLength(nibbles.len()));
    }
    Ok(nibbles
        .chunks(2)
        .map(|pair| pair[0] << 4 | pair[1])
        .collect())
}

#[cfg(test)]
mod tests;
