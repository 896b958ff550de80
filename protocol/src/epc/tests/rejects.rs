//! What the EPC codec refuses: malformed hex, foreign headers, reserved
//! partitions, fields and serials that do not fit, and hand-built values
//! that contradict themselves. Each must be an error naming the problem,
//! never a panic.

use super::*;

#[test]
fn rejects_malformed_hex_with_the_reason() {
    assert_eq!(Sgtin::decode_hex(""), Err(EpcError::Empty));
    assert_eq!(Sgtin::decode_hex("307"), Err(EpcError::OddHexLength(3)));
    assert_eq!(
        Sgtin::decode_hex("3074257BF7194E4000001A8G"),
        Err(EpcError::NotHex {
            ch: 'G',
            position: 24
        })
    );
    assert_eq!(Sgtin::decode(&[]), Err(EpcError::Empty));
}

#[test]
fn rejects_wrong_lengths_and_foreign_headers() {
    assert_eq!(
        Sgtin::decode_hex("3074257BF7194E4000001A"),
        Err(EpcError::WrongLength {
            scheme: Scheme::Sgtin96,
            len: 11,
            expected: "12"
        })
    );
    assert_eq!(
        Sgtin::decode_hex("3074257BF7194E4000001A8500"),
        Err(EpcError::WrongLength {
            scheme: Scheme::Sgtin96,
            len: 13,
            expected: "12"
        })
    );
    assert!(matches!(
        Sgtin::decode_hex("3666C4409047E159B2C2BF10"),
        Err(EpcError::WrongLength {
            scheme: Scheme::Sgtin198,
            len: 12,
            ..
        })
    ));
    // SSCC-96 from TDS 2.3 E.3: a valid EPC, but not an SGTIN.
    assert_eq!(
        Sgtin::decode_hex("311BA1B300CE0A6A83000000"),
        Err(EpcError::NotSgtin(0x31))
    );
}

#[test]
fn rejects_partition_seven() {
    // The TDS example with partition bits 101 changed to 111.
    let mut bytes = from_hex("3074257BF7194E4000001A85").unwrap();
    bytes[1] |= 0b0001_1100;
    assert_eq!(Sgtin::decode(&bytes), Err(EpcError::Partition(7)));
    let mut sgtin = Sgtin::decode_hex("3074257BF7194E4000001A85").unwrap();
    sgtin.partition = 7;
    assert_eq!(sgtin.encode(), Err(EpcError::Partition(7)));
}

#[test]
fn rejects_fields_wider_than_their_digits() {
    // Partition 6 has a 20-bit company prefix of 6 digits: 0xFFFFF = 1048575
    // has 7, so no valid SGTIN encodes it.
    let mut w = BitWriter::new(12);
    w.write(0x30, 8);
    w.write(1, 3);
    w.write(6, 3);
    w.write(0xFFFFF, 20);
    assert_eq!(
        Sgtin::decode(&w.into_bytes()),
        Err(EpcError::FieldOverflow {
            field: "company prefix",
            value: 0xFFFFF,
            digits: 6
        })
    );
}

#[test]
fn rejects_sgtin96_serials_that_do_not_fit() {
    let make = |serial| Sgtin::from_gtin("80614141123458", serial, 7, 3, Scheme::Sgtin96);
    assert!(make("274877906943").is_ok());
    assert_eq!(
        make("274877906944"),
        Err(EpcError::Sgtin96SerialOutOfRange("274877906944".into()))
    );
    assert_eq!(
        make("99999999999999999999999"),
        Err(EpcError::Sgtin96SerialOutOfRange(
            "99999999999999999999999".into()
        ))
    );
    assert_eq!(make("0").map(|s| s.serial), Ok("0".to_string()));
    assert_eq!(
        make("007"),
        Err(EpcError::Sgtin96SerialNotNumeric("007".into()))
    );
    assert_eq!(
        make("A1"),
        Err(EpcError::Sgtin96SerialNotNumeric("A1".into()))
    );
    assert_eq!(make(""), Err(EpcError::EmptySerial));
}

#[test]
fn rejects_sgtin198_serials_gs1_does_not_allow() {
    let make = |serial| Sgtin::from_gtin("80614141123458", serial, 7, 3, Scheme::Sgtin198);
    assert!(make("ABCDEFGHIJ0123456789").is_ok());
    assert_eq!(
        make("ABCDEFGHIJ0123456789X"),
        Err(EpcError::SerialTooLong(21))
    );
    assert_eq!(
        make("a b"),
        Err(EpcError::BadSerialChar {
            ch: ' ',
            position: 2
        })
    );
    assert_eq!(
        make("a#"),
        Err(EpcError::BadSerialChar {
            ch: '#',
            position: 2
        })
    );
    assert_eq!(
        make("é"),
        Err(EpcError::BadSerialChar {
            ch: 'é',
            position: 1
        })
    );
    assert_eq!(make(""), Err(EpcError::EmptySerial));
}

/// SGTIN-198 bytes for the TDS 2.3 E.3 GTIN with these 7-bit serial codes.
fn sgtin198_with_codes(codes: &[u8]) -> Vec<u8> {
    let mut w = BitWriter::new(26);
    w.write(0x36, 8);
    w.write(3, 3);
    w.write(1, 3);
    w.write(95_060_001_343, 37);
    w.write(5, 7);
    for &c in codes {
        w.write(u64::from(c), 7);
    }
    w.into_bytes()
}

#[test]
fn rejects_sgtin198_bits_that_are_not_a_canonical_serial() {
    let good = sgtin198_with_codes(b"32a/b");
    assert_eq!(
        to_hex(&good),
        "3666C4409047E159B2C2BF100000000000000000000000000000"
    );
    assert_eq!(
        Sgtin::decode(&sgtin198_with_codes(&[b'a', 0, b'b'])),
        Err(EpcError::NonZeroPadding(Scheme::Sgtin198))
    );
    let mut pad = good;
    pad[25] = 0x01;
    assert_eq!(
        Sgtin::decode(&pad),
        Err(EpcError::NonZeroPadding(Scheme::Sgtin198))
    );
    assert_eq!(
        Sgtin::decode(&sgtin198_with_codes(&[b'a', 0x01])),
        Err(EpcError::BadSerialCode {
            code: 0x01,
            position: 2
        })
    );
    assert_eq!(
        Sgtin::decode(&sgtin198_with_codes(b"#")),
        Err(EpcError::BadSerialCode {
            code: b'#',
            position: 1
        })
    );
    assert_eq!(
        Sgtin::decode(&sgtin198_with_codes(&[])),
        Err(EpcError::EmptySerial)
    );
}

#[test]
fn rejects_hand_built_fields_that_contradict_the_partition() {
    let good = Sgtin::decode_hex("3074257BF7194E4000001A85").unwrap();
    let short_prefix = Sgtin {
        company_prefix: "061414".into(),
        ..good.clone()
    };
    assert_eq!(
        short_prefix.encode(),
        Err(EpcError::CompanyPrefix("061414".into(), 7))
    );
    let letters = Sgtin {
        item_reference: "81234X".into(),
        ..good.clone()
    };
    assert_eq!(
        letters.encode(),
        Err(EpcError::ItemReference("81234X".into(), 6))
    );
    assert_eq!(
        Sgtin { filter: 9, ..good }.encode(),
        Err(EpcError::Filter(9))
    );
    assert_eq!(
        Sgtin::from_gtin("80614141123458", "1", 5, 1, Scheme::Sgtin96),
        Err(EpcError::CompanyPrefixLength(5))
    );
    assert_eq!(
        Sgtin::from_gtin("80614141123458", "1", 13, 1, Scheme::Sgtin96),
        Err(EpcError::CompanyPrefixLength(13))
    );
}

#[test]
fn hand_built_garbage_fields_are_errors_not_panics() {
    let garbage = Sgtin {
        scheme: Scheme::Sgtin198,
        filter: 200,
        partition: 200,
        company_prefix: "é".into(),
        item_reference: "ü1".into(),
        serial: "€".into(),
    };
    assert_eq!(garbage.gtin().chars().count(), 4);
    assert!(garbage.pure_uri().starts_with("urn:epc:id:sgtin:é.ü1."));
    assert_eq!(garbage.encode(), Err(EpcError::Filter(200)));
    assert_eq!(
        Sgtin {
            filter: 1,
            ..garbage.clone()
        }
        .encode(),
        Err(EpcError::Partition(200))
    );
    let empty = Sgtin {
        item_reference: String::new(),
        ..garbage
    };
    assert_eq!(empty.gtin().chars().count(), 2);
}
