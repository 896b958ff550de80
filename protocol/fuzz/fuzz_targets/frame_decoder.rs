//! Feeds arbitrary bytes to the streaming frame decoder in arbitrary chunks.
//! Beyond "never panics", it checks that chunking does not change the
//! result and that every accepted frame re-encodes to a frame that decodes
//! to itself.
#![no_main]

use libfuzzer_sys::fuzz_target;
use protocol::{encode, FrameDecoder, MAX_ENCODED_LEN};

fuzz_target!(|data: &[u8]| {
    // The first byte picks the chunk size, as a serial port returns
    // whatever happened to arrive.
    let Some((&chunk, input)) = data.split_first() else { return };
    let chunk = usize::from(chunk).max(1);

    let mut one_shot = FrameDecoder::new();
    let expected: Vec<_> = one_shot.feed(input).collect();

    let mut chunked = FrameDecoder::new();
    let mut got = Vec::new();
    for piece in input.chunks(chunk) {
        got.extend(chunked.feed(piece));
    }
    assert_eq!(got, expected);

    for frame in expected.into_iter().flatten() {
        let mut buf = [0u8; MAX_ENCODED_LEN];
        let n = encode(&frame, &mut buf).expect("a decoded frame re-encodes");
        let again: Vec<_> = FrameDecoder::new().feed(&buf[..n]).collect();
        assert_eq!(again, vec![Ok(frame)]);
    }
});
