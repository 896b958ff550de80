use super::*;
use proptest::prelude::*;

/// Inputs the codec must refuse, each with the reason it gives.
mod rejects;

/// A published vector: the EPC hex and what it must decode to.
struct Vector {
    hex: &'static str,
    tag_uri: &'static str,
    pure_uri: &'static str,
    gtin: &'static str,
    serial: &'static str,
}

const VECTORS: &[Vector] = &[
    // GS1 EPC Tag Data Standard, Appendix E worked example (GTIN
    // 80614141123458, serial 6789, company prefix 0614141, filter 3 to
    // SGTIN-96); the pair docs/epc.md quotes. Partition 5.
    Vector {
        hex: "3074257BF7194E4000001A85",
        tag_uri: "urn:epc:tag:sgtin-96:3.0614141.812345.6789",
        pure_uri: "urn:epc:id:sgtin:0614141.812345.6789",
        gtin: "80614141123458",
        serial: "6789",
    },
    // GS1 EPC Tag Data Standard 2.3, Appendix E.3 (SGTIN-96 row), as also
    // used by the GS1 TDT engine test suites: partition 1 (11-digit prefix).
    Vector {
        hex: "3066C4409047E140075BCD15",
        tag_uri: "urn:epc:tag:sgtin-96:3.95060001343.05.123456789",
        pure_uri: "urn:epc:id:sgtin:95060001343.05.123456789",
        gtin: "09506000134352",
        serial: "123456789",
    },
    // GS1 EPC Tag Data Standard 2.3, Appendix E.3 (SGTIN-198 row): a `/` in
    // the serial is written %2F in both URIs. 26 bytes (13 words) as in the
    // standard's table.
    Vector {
        hex: "3666C4409047E159B2C2BF100000000000000000000000000000",
        tag_uri: "urn:epc:tag:sgtin-198:3.95060001343.05.32a%2Fb",
        pure_uri: "urn:epc:id:sgtin:95060001343.05.32a%2Fb",
        gtin: "09506000134352",
        serial: "32a/b",
    },
    // Fosstrak TDT (org.fosstrak.tdt.TestCaseSgtin, testPage13), following
    // fig. 4 of the EPCglobal TDT 1.0 spec; the binary there converted to hex.
    Vector {
        hex: "30740242201D8840000FE632",
        tag_uri: "urn:epc:tag:sgtin-96:3.0037000.030241.1041970",
        pure_uri: "urn:epc:id:sgtin:0037000.030241.1041970",
        gtin: "00037000302414",
        serial: "1041970",
    },
    // Fosstrak TDT (TestCaseSgtin, testAlphanumeric): partition 0 with most
    // punctuation GS1 allows; only `/` is escaped. Binary converted to hex
    // and padded to 26 bytes.
    Vector {
        hex: "36403C3C3C3C3E50A750A552B5AB172F74EDEDF0000000000000",
        tag_uri: "urn:epc:tag:sgtin-198:2.064677154575.9.!'()*+-,.%2F:;=_",
        pure_uri: "urn:epc:id:sgtin:064677154575.9.!'()*+-,.%2F:;=_",
        // Not in the source: computed by hand (9 + prefix, weights 3-1 from the right: 152, check 8).
        gtin: "90646771545758",
        serial: "!'()*+-,./:;=_",
    },
    // epcGS1coder (Java) Sgtin96Test.fromEpc: filter 1, partition 5.
    Vector {
        hex: "3034007D00011C400000000B",
        tag_uri: "urn:epc:tag:sgtin-96:1.0008000.001137.11",
        pure_uri: "urn:epc:id:sgtin:0008000.001137.11",
        gtin: "00008000011378",
        serial: "11",
    },
    // epcGS1coder (Java) Sgtin198Test.fromEpcTest.
    Vector {
        hex: "3634007D00011C7A68D3CE4F383532F3E8000000000000000000",
        tag_uri: "urn:epc:tag:sgtin-198:1.0008000.001137.thisIsATest",
        pure_uri: "urn:epc:id:sgtin:0008000.001137.thisIsATest",
        gtin: "00008000011378",
        serial: "thisIsATest",
    },
    // epcpy (Python) test_sgtin: partition 4, SGTIN-198.
    Vector {
        hex: "36300001DB011169E5E5A70EC000000000000000000000000000",
        tag_uri: "urn:epc:tag:sgtin-198:1.00000950.01093.Serial",
        pure_uri: "urn:epc:id:sgtin:00000950.01093.Serial",
        gtin: "00000095010939",
        serial: "Serial",
    },
    // python-epc (epc.schemes.SGTIN) test_96_encode: filter 0, partition 6.
    Vector {
        hex: "301800004000004000000001",
        tag_uri: "urn:epc:tag:sgtin-96:0.000001.0000001.1",
        pure_uri: "urn:epc:id:sgtin:000001.0000001.1",
        gtin: "00000010000014",
        serial: "1",
    },
];

#[test]
fn decodes_published_vectors() {
    for v in VECTORS {
        let sgtin = Sgtin::decode_hex(v.hex).unwrap_or_else(|e| panic!("{}: {e}", v.hex));
        assert_eq!(sgtin.tag_uri(), v.tag_uri, "{}", v.hex);
        assert_eq!(sgtin.pure_uri(), v.pure_uri, "{}", v.hex);
        assert_eq!(sgtin.gtin(), v.gtin, "{}", v.hex);
        assert_eq!(sgtin.serial, v.serial, "{}", v.hex);
    }
}

#[test]
fn encodes_published_vectors_from_their_gtin() {
    for v in VECTORS {
        let decoded = Sgtin::decode_hex(v.hex).unwrap();
        let built = Sgtin::from_gtin(
            v.gtin,
            v.serial,
            decoded.company_prefix.len(),
            decoded.filter,
            decoded.scheme,
        )
        .unwrap();
        assert_eq!(built, decoded, "{}", v.hex);
        assert_eq!(built.encode_hex().unwrap(), v.hex, "{}", v.tag_uri);
    }
}

#[test]
fn tag_uris_of_published_vectors_parse_to_the_same_sgtin() {
    for v in VECTORS {
        let from_uri: Sgtin = v
            .tag_uri
            .parse()
            .unwrap_or_else(|e| panic!("{}: {e}", v.tag_uri));
        assert_eq!(from_uri, Sgtin::decode_hex(v.hex).unwrap(), "{}", v.tag_uri);
        assert_eq!(from_uri.encode_hex().unwrap(), v.hex, "{}", v.tag_uri);
    }
}

#[test]
fn tag_uri_parser_unescapes_and_refuses_malformed_uris() {
    let sgtin = Sgtin::from_tag_uri("urn:epc:tag:sgtin-198:3.0614141.812345.10%25%2Fx%3F").unwrap();
    assert_eq!(sgtin.serial, "10%/x?");
    let bad = [
        "urn:epc:id:sgtin:0614141.812345.6789",
        "urn:epc:tag:sgtin-96:8.0614141.812345.6789",
        "urn:epc:tag:sgtin-96:3.0614141.81234.6789",
        "urn:epc:tag:sgtin-96:3.0614141.812345",
        "urn:epc:tag:sgtin-96:3.061414A.812345.6789",
        "urn:epc:tag:sgtin-198:3.0614141.812345.a/b",
        "urn:epc:tag:sgtin-198:3.0614141.812345.a%2",
        "urn:epc:tag:sgtin-198:3.0614141.812345.a%23",
        "urn:epc:tag:sgtin-198:3.0614141.812345.ab\u{e9}",
    ];
    for uri in bad {
        assert!(Sgtin::from_tag_uri(uri).is_err(), "{uri}");
    }
    assert_eq!(
        Sgtin::from_tag_uri("urn:epc:tag:sgtin-96:3.0614141.812345.06789"),
        Err(EpcError::Sgtin96SerialNotNumeric("06789".into()))
    );
    assert_eq!(
        Sgtin::from_tag_uri("urn:epc:tag:sscc-96:3.0614141.812345.1"),
        Err(EpcError::UnknownScheme("sscc-96".into()))
    );
}

#[test]
fn tds_example_fields_are_split_as_published() {
    let sgtin = Sgtin::decode_hex("3074257BF7194E4000001A85").unwrap();
    assert_eq!(
        sgtin,
        Sgtin {
            scheme: Scheme::Sgtin96,
            filter: 3,
            partition: 5,
            company_prefix: "0614141".into(),
            item_reference: "812345".into(),
            serial: "6789".into(),
        }
    );
}

#[test]
fn accepts_lower_case_prefix_and_whitespace_and_byte_aligned_sgtin198() {
    let want = Sgtin::decode_hex("3074257BF7194E4000001A85").unwrap();
    assert_eq!(
        Sgtin::decode_hex("  0x3074257bf7194e4000001a85\n").unwrap(),
        want
    );
    // 198 bits fit in 25 bytes; some readers report it without the word padding.
    let short = &from_hex("3666C4409047E159B2C2BF100000000000000000000000000000").unwrap()[..25];
    assert_eq!(Sgtin::decode(short).unwrap().serial, "32a/b");
}

#[test]
fn every_partition_round_trips_through_gtin() {
    let gtin = "80614141123458";
    for cp_len in 6..=12 {
        for scheme in [Scheme::Sgtin96, Scheme::Sgtin198] {
            let sgtin = Sgtin::from_gtin(gtin, "6789", cp_len, 1, scheme).unwrap();
            assert_eq!(usize::from(sgtin.partition), 12 - cp_len);
            assert_eq!(sgtin.company_prefix.len(), cp_len);
            assert_eq!(sgtin.item_reference.len(), 13 - cp_len);
            let bytes = sgtin.encode().unwrap();
            assert_eq!(bytes.len(), scheme.encoded_len());
            let back = Sgtin::decode(&bytes).unwrap();
            assert_eq!(back, sgtin);
            assert_eq!(back.gtin(), gtin);
        }
    }
}

#[test]
fn every_filter_value_round_trips() {
    for filter in 0..=7 {
        let sgtin = Sgtin::from_gtin("80614141123458", "1", 7, filter, Scheme::Sgtin96).unwrap();
        assert_eq!(
            Sgtin::decode(&sgtin.encode().unwrap()).unwrap().filter,
            filter
        );
        assert!(sgtin
            .tag_uri()
            .starts_with(&format!("urn:epc:tag:sgtin-96:{filter}.")));
    }
    assert_eq!(
        Sgtin::from_gtin("80614141123458", "1", 7, 8, Scheme::Sgtin96),
        Err(EpcError::Filter(8))
    );
}

#[test]
fn gtin_check_digits_match_gs1_examples() {
    // The GTIN of the TDS Appendix E example: 8061414112345[8].
    assert_eq!(gtin_check_digit("8061414112345"), Ok(8));
    // TDS 2.3 E.3 GTIN 0950600013435[2].
    assert_eq!(gtin_check_digit("0950600013435"), Ok(2));
    assert!(validate_gtin14("80614141123458").is_ok());
    assert_eq!(
        validate_gtin14("80614141123457"),
        Err(EpcError::GtinCheckDigit {
            gtin: "80614141123457".into(),
            found: 7,
            expected: 8
        })
    );
    assert!(matches!(
        validate_gtin14("8061414112345"),
        Err(EpcError::GtinFormat(_))
    ));
    assert!(matches!(
        validate_gtin14("8061414112345X"),
        Err(EpcError::GtinFormat(_))
    ));
    assert!(matches!(
        gtin_check_digit("12"),
        Err(EpcError::CheckDigitInput(_))
    ));
}

#[test]
fn uri_escapes_the_characters_tds_reserves() {
    assert_eq!(escape_uri_serial("a/b%c"), "a%2Fb%25c");
    assert_eq!(escape_uri_serial("\"&<>?"), "%22%26%3C%3E%3F");
    assert_eq!(escape_uri_serial("!'()*+,-.:;=_Az09"), "!'()*+,-.:;=_Az09");
    let sgtin = Sgtin::from_gtin("80614141123458", "10%/x", 7, 3, Scheme::Sgtin198).unwrap();
    assert_eq!(
        sgtin.pure_uri(),
        "urn:epc:id:sgtin:0614141.812345.10%25%2Fx"
    );
    assert_eq!(
        sgtin.tag_uri(),
        "urn:epc:tag:sgtin-198:3.0614141.812345.10%25%2Fx"
    );
    assert_eq!(
        Sgtin::decode(&sgtin.encode().unwrap()).unwrap().serial,
        "10%/x"
    );
}

#[test]
fn scheme_names_parse_and_print() {
    assert_eq!("sgtin-96".parse::<Scheme>(), Ok(Scheme::Sgtin96));
    assert_eq!("SGTIN-198".parse::<Scheme>(), Ok(Scheme::Sgtin198));
    assert_eq!(Scheme::Sgtin198.to_string(), "sgtin-198");
    assert_eq!(
        "sscc-96".parse::<Scheme>(),
        Err(EpcError::UnknownScheme("sscc-96".into()))
    );
}

#[test]
fn error_messages_name_the_problem() {
    assert_eq!(
        EpcError::Partition(7).to_string(),
        "partition 7 is invalid (0 to 6 are defined; 7 is reserved)"
    );
    assert_eq!(
        EpcError::NotSgtin(0x31).to_string(),
        "EPC header 0x31 is not an SGTIN (expected 0x30 for SGTIN-96 or 0x36 for SGTIN-198)"
    );
}

/// A valid GTIN-14 built from 13 random digits.
fn gtin14() -> impl Strategy<Value = String> {
    "[0-9]{13}".prop_map(|first13| {
        let check = gtin_check_digit(&first13).unwrap();
        format!("{first13}{check}")
    })
}

fn sgtin96_serial() -> impl Strategy<Value = String> {
    (0..=SGTIN96_MAX_SERIAL).prop_map(|n| n.to_string())
}

fn sgtin198_serial() -> impl Strategy<Value = String> {
    "[A-Za-z0-9!\"%&'()*+,\\-./:;<=>?_]{1,20}"
}

proptest! {
    #[test]
    fn sgtin96_round_trips(gtin in gtin14(), serial in sgtin96_serial(), cp in 6usize..=12, filter in 0u8..=7) {
        let sgtin = Sgtin::from_gtin(&gtin, &serial, cp, filter, Scheme::Sgtin96).unwrap();
        let back = Sgtin::decode_hex(&sgtin.encode_hex().unwrap()).unwrap();
        prop_assert_eq!(back.gtin(), gtin);
        prop_assert_eq!(back, sgtin);
    }

    #[test]
    fn sgtin198_round_trips(gtin in gtin14(), serial in sgtin198_serial(), cp in 6usize..=12, filter in 0u8..=7) {
        let sgtin = Sgtin::from_gtin(&gtin, &serial, cp, filter, Scheme::Sgtin198).unwrap();
        let back = Sgtin::decode(&sgtin.encode().unwrap()).unwrap();
        prop_assert_eq!(&back.serial, &serial);
        prop_assert_eq!(Sgtin::from_tag_uri(&sgtin.tag_uri()), Ok(sgtin.clone()));
        prop_assert_eq!(back, sgtin);
    }

    #[test]
    fn decode_never_panics_and_accepted_bytes_reencode_identically(
        raw in proptest::collection::vec(any::<u8>(), 26),
        len in prop_oneof![Just(12usize), Just(25), Just(26), 0usize..=26],
        header in prop_oneof![Just(0x30u8), Just(0x36u8), any::<u8>()],
    ) {
        let mut bytes = raw[..len].to_vec();
        if let Some(first) = bytes.first_mut() {
            *first = header;
        }
        if let Ok(sgtin) = Sgtin::decode(&bytes) {
            let again = sgtin.encode().unwrap();
            // Decoding is injective: a 26-byte form re-encodes byte for byte,
            // a 25-byte SGTIN-198 gains only its zero word padding.
            prop_assert_eq!(&again[..bytes.len()], &bytes[..]);
        }
    }

    #[test]
    fn decode_hex_never_panics(s in "\\PC{0,60}") {
        let _ = Sgtin::decode_hex(&s);
    }
}
