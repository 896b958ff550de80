//! Feeds arbitrary bytes to the streaming frame decoder in arbitrary chunks,
//! then the same bytes wrapped as a packet with a valid CRC, so the fuzzer
//! also reaches deserialization behind the CRC check. Beyond "never panics",
//! it checks that chunking does not change the result and that every
//! accepted frame re-encodes to a frame that decodes to itself.
#![no_main]

use libfuzzer_sys::fuzz_target;
use protocol::{encode, Frame, FrameDecoder, MAX_ENCODED_LEN};

static CRC32: crc::Crc<u32> = crc::Crc::<u32>::new(&crc::CRC_32_ISO_HDLC);

fn assert_round_trips(frame: Frame) {
    let mut buf = [0u8; MAX_ENCODED_LEN];
    let n = encode(&frame, &mut buf).expect("a decoded frame re-encodes");
    let again: Vec<_> = FrameDecoder::new().feed(&buf[..n]).collect();
    assert_eq!(again, vec![Ok(frame)]);
}

fuzz_target!(|data: &[u8]| {
    // The first byte picks the chunk size, as a serial port returns
    // whatever happened to arrive.
    let Some((&chunk, input)) = data.split_first() else {
        return;
    };
    let chunk = usize::from(chunk).max(1);

    let expected: Vec<_> = FrameDecoder::new().feed(input).collect();
    let mut chunked = FrameDecoder::new();
    let mut got = Vec::new();
    for piece in input.chunks(chunk) {
        got.extend(chunked.feed(piece));
    }
    assert_eq!(got, expected);
    expected.into_iter().flatten().for_each(assert_round_trips);

    // The input as a payload: postcard(Frame) || CRC-32 LE, COBS, 0x00.
    let mut raw = input.to_vec();
    raw.extend_from_slice(&CRC32.checksum(input).to_le_bytes());
    let mut wire = vec![0u8; cobs::max_encoding_length(raw.len()) + 1];
    let n = cobs::encode(&raw, &mut wire);
    wire.truncate(n);
    wire.push(0);
    FrameDecoder::new()
        .feed(&wire)
        .flatten()
        .for_each(assert_round_trips);
});
