//! The agent's one door to EPC decoding: a garment's EPC from the hex in a
//! config or on a command line, its GTIN and serial, GTIN check digits and
//! hex, all from `protocol::epc` (SGTIN-96 and SGTIN-198 per the GS1 Tag
//! Data Standard). The gateway, the config validator, the simulator and the
//! technicians' tools all go through here, so they accept the same EPCs.

use protocol::epc::{self, Sgtin};
use protocol::frame::EpcBytes;

/// A garment EPC as a tag carries it, with what HQ keys journeys by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GarmentEpc {
    /// The EPC's bytes, as they travel in a frame.
    pub bytes: EpcBytes,
    /// GTIN-14: the SKU.
    pub gtin: String,
    /// The one garment of that SKU.
    pub serial: String,
}

/// Why hex is not a garment's EPC.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum GarmentEpcError {
    #[error("not hex ({0})")]
    NotHex(String),
    #[error("not an SGTIN-96/198 ({0})")]
    NotSgtin(String),
    #[error("{0} bytes is longer than any EPC a tag can carry")]
    TooLong(usize),
}

/// The garment EPC written as `hex`. HQ's funnel is per GTIN, so a garment
/// EPC must be an SGTIN.
pub fn garment_from_hex(hex: &str) -> Result<GarmentEpc, GarmentEpcError> {
    let raw = epc::from_hex(hex).map_err(|e| GarmentEpcError::NotHex(e.to_string()))?;
    let sgtin = Sgtin::decode(&raw).map_err(|e| GarmentEpcError::NotSgtin(e.to_string()))?;
    let bytes = EpcBytes::new(&raw).ok_or(GarmentEpcError::TooLong(raw.len()))?;
    Ok(GarmentEpc {
        bytes,
        gtin: sgtin.gtin(),
        serial: sgtin.serial,
    })
}

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

    #[test]
    fn garment_from_hex_names_what_is_wrong() {
        let g = garment_from_hex("3074257BF7194E4000001A85").unwrap();
        assert_eq!(
            (g.gtin.as_str(), g.serial.as_str()),
            ("80614141123458", "6789")
        );
        assert_eq!(
            g.bytes.as_bytes(),
            &from_hex("3074257BF7194E4000001A85").unwrap()[..]
        );
        assert!(matches!(
            garment_from_hex("30zz"),
            Err(GarmentEpcError::NotHex(_))
        ));
        assert!(matches!(
            garment_from_hex("E200"),
            Err(GarmentEpcError::NotSgtin(_))
        ));
    }
}
