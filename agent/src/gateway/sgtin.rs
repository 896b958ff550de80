//! The gateway's one door to EPC decoding: the GTIN and serial of a garment
//! EPC, GTIN check digits and hex, all from `protocol::epc` (SGTIN-96 and
//! SGTIN-198 per the GS1 Tag Data Standard).

use protocol::epc::{self, Sgtin};

/// GTIN-14 and serial of an SGTIN EPC; `None` for any other EPC scheme or a
/// malformed SGTIN (the event is still kept, with the raw EPC only).
pub fn gtin_and_serial(bytes: &[u8]) -> Option<(String, String)> {
    let sgtin = Sgtin::decode(bytes).ok()?;
    let gtin = sgtin.gtin();
    Some((gtin, sgtin.serial))
}

/// Whether `gtin` is 14 digits with a correct GS1 check digit.
pub fn is_valid_gtin14(gtin: &str) -> bool {
    epc::validate_gtin14(gtin).is_ok()
}

/// Upper-case hex, as EPCs are written in batches and configs.
pub fn to_hex(bytes: &[u8]) -> String {
    epc::to_hex(bytes)
}

/// Bytes of an EPC written as hex; `None` if it is not hex.
pub fn from_hex(hex: &str) -> Option<Vec<u8>> {
    epc::from_hex(hex).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_the_gs1_example_epc() {
        // GS1 TDS example: urn:epc:tag:sgtin-96:3.0614141.812345.6789
        let bytes = from_hex("3074257BF7194E4000001A85").unwrap();
        assert_eq!(
            gtin_and_serial(&bytes),
            Some(("80614141123458".to_owned(), "6789".to_owned()))
        );
        assert!(is_valid_gtin14("80614141123458"));
        assert!(!is_valid_gtin14("80614141123459"));
        assert_eq!(to_hex(&bytes), "3074257BF7194E4000001A85");
        assert_eq!(gtin_and_serial(&[0xE2, 0x00]), None, "not an SGTIN");
    }
}
