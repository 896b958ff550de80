//! Decodes arbitrary bytes as an SGTIN, and the same bytes as text through
//! the hex and tag-URI parsers. Whatever is accepted must render its URIs
//! and GTIN, re-encode, and come back unchanged: decoding is strict, so one
//! EPC has one encoding.
#![no_main]

use libfuzzer_sys::fuzz_target;
use protocol::epc::Sgtin;

fuzz_target!(|data: &[u8]| {
    if let Ok(sgtin) = Sgtin::decode(data) {
        let _ = (sgtin.pure_uri(), sgtin.gtin());
        let bytes = sgtin.encode().expect("a decoded SGTIN re-encodes");
        // A 25-byte SGTIN-198 gains only its word padding.
        assert_eq!(&bytes[..data.len()], data);
        assert_eq!(Sgtin::from_tag_uri(&sgtin.tag_uri()).as_ref(), Ok(&sgtin));
    }
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = Sgtin::decode_hex(text);
        if let Ok(sgtin) = Sgtin::from_tag_uri(text) {
            let bytes = sgtin.encode().expect("a parsed tag URI encodes");
            assert_eq!(Sgtin::decode(&bytes).as_ref(), Ok(&sgtin));
            assert_eq!(Sgtin::from_tag_uri(&sgtin.tag_uri()).as_ref(), Ok(&sgtin));
        }
    }
});
