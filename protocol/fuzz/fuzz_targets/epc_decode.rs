//! Decodes arbitrary bytes (and the same bytes as hex text) as an SGTIN.
//! Whatever decodes must render its URIs and GTIN and re-encode to the same
//! bytes: decoding is strict, so one EPC has one encoding.
#![no_main]

use libfuzzer_sys::fuzz_target;
use protocol::epc::Sgtin;

fuzz_target!(|data: &[u8]| {
    if let Ok(sgtin) = Sgtin::decode(data) {
        let _ = (sgtin.tag_uri(), sgtin.pure_uri(), sgtin.gtin());
        let bytes = sgtin.encode().expect("a decoded SGTIN re-encodes");
        // A 25-byte SGTIN-198 gains only its word padding.
        assert_eq!(&bytes[..data.len()], data);
        assert_eq!(Sgtin::decode(&bytes).as_ref(), Ok(&sgtin));
    }
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = Sgtin::decode_hex(text);
    }
});
