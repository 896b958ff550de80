//! Parsing the SGTIN tag URI (`urn:epc:tag:sgtin-96:3.0614141.812345.6789`),
//! the form GS1 tools and EPCIS documents print, back into an [`Sgtin`].

use super::serial::{is_serial_char, validate};
use super::{EpcError, Scheme, Sgtin};
use core::str::FromStr;

impl Sgtin {
    /// Parses a tag URI. The serial may hold `%XX` escapes of GS1 serial
    /// characters; the characters TDS requires escaped (`" % & / < > ?`)
    /// are refused when they appear raw.
    pub fn from_tag_uri(uri: &str) -> Result<Sgtin, EpcError> {
        let rest = uri
            .strip_prefix("urn:epc:tag:")
            .ok_or(EpcError::BadTagUri("no urn:epc:tag: prefix"))?;
        let (scheme, fields) = rest
            .split_once(':')
            .ok_or(EpcError::BadTagUri("no scheme"))?;
        let scheme: Scheme = scheme.parse()?;
        // At most four parts: a serial may itself contain '.'.
        let mut parts = fields.splitn(4, '.');
        let (Some(filter), Some(company_prefix), Some(item_reference), Some(serial)) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(EpcError::BadTagUri(
                "expected filter.company-prefix.item-reference.serial",
            ));
        };
        let filter = match filter.as_bytes() {
            [d @ b'0'..=b'7'] => d - b'0',
            _ => return Err(EpcError::BadTagUri("the filter must be one digit 0 to 7")),
        };
        let all_digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        if !all_digits(company_prefix) || !all_digits(item_reference) {
            return Err(EpcError::BadTagUri(
                "company prefix and item reference must be digits",
            ));
        }
        if !(6..=12).contains(&company_prefix.len()) {
            return Err(EpcError::CompanyPrefixLength(company_prefix.len()));
        }
        if company_prefix.len() + item_reference.len() != 13 {
            return Err(EpcError::ItemReference(
                item_reference.to_string(),
                13 - company_prefix.len(),
            ));
        }
        let serial = unescape(serial)?;
        validate(scheme, &serial)?;
        Ok(Sgtin {
            scheme,
            filter,
            partition: (12 - company_prefix.len()) as u8,
            company_prefix: company_prefix.to_string(),
            item_reference: item_reference.to_string(),
            serial,
        })
    }
}

impl FromStr for Sgtin {
    type Err = EpcError;
    /// Same as [`Sgtin::from_tag_uri`].
    fn from_str(s: &str) -> Result<Self, EpcError> {
        Sgtin::from_tag_uri(s)
    }
}

/// Undoes the URI escaping of a serial.
fn unescape(serial: &str) -> Result<String, EpcError> {
    let mut out = String::with_capacity(serial.len());
    let mut bytes = serial.bytes();
    while let Some(b) = bytes.next() {
        match b {
            b'%' => {
                let hex = [bytes.next(), bytes.next()];
                let code = match hex {
                    [Some(h), Some(l)] => {
                        char::from(h).to_digit(16).zip(char::from(l).to_digit(16))
                    }
                    _ => None,
                };
                let c = code
                    .map(|(h, l)| (h * 16 + l) as u8)
                    .filter(|&c| is_serial_char(c));
                out.push(char::from(c.ok_or(EpcError::BadTagUri(
                    "a % escape must be two hex digits of a GS1 serial character",
                ))?));
            }
            b'"' | b'&' | b'/' | b'<' | b'>' | b'?' => {
                return Err(EpcError::BadTagUri(
                    "\" & / < > ? must be %-escaped in a serial",
                ));
            }
            _ if b.is_ascii() => out.push(char::from(b)),
            _ => return Err(EpcError::BadTagUri("the serial must be ASCII")),
        }
    }
    Ok(out)
}
