//! The gateway's one door to EPC decoding: the GTIN and serial of a garment
//! EPC, GTIN check digits and hex. Everything else calls these, so the
//! gateway follows the protocol crate's SGTIN codec through one small file.
//!
//! Until `protocol::epc` lands this holds a minimal SGTIN-96 decoder.

/// Bits of (company prefix, item reference) and their digit counts for each
/// SGTIN partition value (GS1 TDS Table 14-2).
const PARTITIONS: [(u32, usize, u32, usize); 7] = [
    (40, 12, 4, 1),
    (37, 11, 7, 2),
    (34, 10, 10, 3),
    (30, 9, 14, 4),
    (27, 8, 17, 5),
    (24, 7, 20, 6),
    (20, 6, 24, 7),
];

/// GTIN-14 and serial of an SGTIN EPC; `None` for any other EPC scheme or a
/// malformed SGTIN (the event is still kept, with the raw EPC only).
pub fn gtin_and_serial(epc: &[u8]) -> Option<(String, String)> {
    if epc.len() != 12 || epc[0] != 0x30 {
        return None;
    }
    let bits = epc.iter().fold(0u128, |acc, &b| (acc << 8) | u128::from(b));
    let field = |from_msb: u32, width: u32| -> u64 {
        ((bits >> (96 - from_msb - width)) & ((1u128 << width) - 1)) as u64
    };
    let partition = field(11, 3) as usize;
    let &(cp_bits, cp_digits, ir_bits, ir_digits) = PARTITIONS.get(partition)?;
    let company = field(14, cp_bits);
    let item = field(14 + cp_bits, ir_bits);
    if company >= 10u64.pow(cp_digits as u32) || item >= 10u64.pow(ir_digits as u32) {
        return None;
    }
    let serial = field(58, 38);
    let item = format!("{item:0ir_digits$}");
    let first13 = format!("{}{company:0cp_digits$}{}", &item[..1], &item[1..]);
    let check = check_digit(&first13);
    Some((format!("{first13}{check}"), serial.to_string()))
}

fn check_digit(first13: &str) -> u8 {
    let sum: u32 = first13
        .bytes()
        .rev()
        .enumerate()
        .map(|(i, b)| u32::from(b - b'0') * if i % 2 == 0 { 3 } else { 1 })
        .sum();
    ((10 - sum % 10) % 10) as u8
}

/// Whether `gtin` is 14 digits with a correct GS1 check digit.
pub fn is_valid_gtin14(gtin: &str) -> bool {
    gtin.len() == 14
        && gtin.bytes().all(|b| b.is_ascii_digit())
        && check_digit(&gtin[..13]) == gtin.as_bytes()[13] - b'0'
}

/// Upper-case hex, as EPCs are written in batches and configs.
pub fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02X}")).collect()
}

/// Bytes of an EPC written as hex (either case); `None` if it is not hex.
pub fn from_hex(hex: &str) -> Option<Vec<u8>> {
    if !hex.len().is_multiple_of(2) || !hex.is_ascii() {
        return None;
    }
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_the_gs1_example_epc() {
        // GS1 TDS example: urn:epc:tag:sgtin-96:3.0614141.812345.6789
        let epc = from_hex("3074257BF7194E4000001A85").unwrap();
        assert_eq!(
            gtin_and_serial(&epc),
            Some(("80614141123458".to_owned(), "6789".to_owned()))
        );
        assert!(is_valid_gtin14("80614141123458"));
        assert!(!is_valid_gtin14("80614141123459"));
        assert_eq!(to_hex(&epc), "3074257BF7194E4000001A85");
    }
}
