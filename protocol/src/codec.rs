//! Link framing: `COBS(postcard(Frame) ‖ CRC-32 LE) 0x00`.
//!
//! COBS removes every zero byte from the packet so `0x00` can delimit frames;
//! a receiver that starts mid-stream or sees line noise loses at most the
//! frame it is in and resynchronises at the next delimiter. The CRC-32 (ISO
//! HDLC, as in Ethernet and zlib) catches corruption that COBS alone would
//! pass on as a plausible frame.

use crate::frame::{Downlink, Frame, PROTOCOL_VERSION};
use crate::postcard_reader::PostcardReader;

/// Largest postcard encoding of any [`Frame`]: a `PutDown` with a 32-byte EPC
/// and every varint at its widest (see `max_payload_len_is_tight` in the tests).
pub const MAX_PAYLOAD_LEN: usize = 59;

/// Payload plus CRC, before COBS.
const MAX_RAW_LEN: usize = MAX_PAYLOAD_LEN + CRC_LEN;

/// Largest frame on the wire, delimiter included: COBS adds one byte per 254
/// (rounded up) to the raw packet, then the trailing `0x00`.
pub const MAX_ENCODED_LEN: usize = MAX_RAW_LEN + MAX_RAW_LEN.div_ceil(254) + 1;

const CRC_LEN: usize = 4;

// The host decodes millions of frames a second and can afford a 16 KiB
// slice-by-16 table; a Cortex-M0+ tag with 16 KiB of flash cannot, and only
// checksums a few dozen bytes per event, so it computes bit by bit.
#[cfg(feature = "std")]
type CrcTable = crc::Table<16>;
#[cfg(not(feature = "std"))]
type CrcTable = crc::NoTable;

static CRC32: crc::Crc<u32, CrcTable> = crc::Crc::<u32, CrcTable>::new(&crc::CRC_32_ISO_HDLC);

fn checksum(bytes: &[u8]) -> u32 {
    CRC32.checksum(bytes)
}

/// Why a frame could not be encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    /// The output buffer is shorter than the frame; [`MAX_ENCODED_LEN`] always fits.
    #[error("output buffer too small for the frame")]
    BufferTooSmall,
    /// The frame cannot be serialized (an over-long field); never happens for
    /// frames built through this crate's types.
    #[error("frame could not be serialized")]
    Serialize,
}

/// Encodes `frame` into `out`, delimiter included, and returns the number of
/// bytes written. Never allocates.
pub fn encode(frame: &Frame, out: &mut [u8]) -> Result<usize, EncodeError> {
    let mut raw = [0u8; MAX_RAW_LEN];
    let payload_len = postcard::to_slice(frame, &mut raw[..MAX_PAYLOAD_LEN])
        .map_err(|_| EncodeError::Serialize)?
        .len();
    let crc = checksum(&raw[..payload_len]);
    raw[payload_len..payload_len + CRC_LEN].copy_from_slice(&crc.to_le_bytes());
    let raw = &raw[..payload_len + CRC_LEN];

    let body = cobs::try_encode(raw, out).map_err(|_| EncodeError::BufferTooSmall)?;
    *out.get_mut(body).ok_or(EncodeError::BufferTooSmall)? = 0;
    Ok(body + 1)
}

/// Why bytes between two delimiters were not a valid frame. Each kind is
/// counted separately by the gateway, so a noisy line (CRC) is told apart
/// from a firmware/gateway version mismatch (version).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// More bytes than any valid frame before a delimiter.
    #[error("frame longer than {MAX_ENCODED_LEN} bytes")]
    TooLong,
    /// Not valid COBS, or too short to hold a payload and its CRC.
    #[error("malformed framing (COBS or length)")]
    Framing,
    /// The CRC-32 does not match: the frame was corrupted on the way.
    #[error("CRC mismatch")]
    Crc,
    /// Intact frame of a protocol version this build does not speak.
    #[error("unknown protocol version {0}")]
    UnknownVersion(u8),
    /// Intact frame of the right version whose contents do not parse.
    #[error("frame contents do not deserialize")]
    Deserialize,
}

impl DecodeError {
    /// Every kind, in [`DecodeError::index`] order (`UnknownVersion` stands
    /// for all versions), so counters can be an array walked in this order.
    pub const ALL: [DecodeError; 5] = [
        DecodeError::TooLong,
        DecodeError::Framing,
        DecodeError::Crc,
        DecodeError::UnknownVersion(0),
        DecodeError::Deserialize,
    ];

    /// This kind's position in [`DecodeError::ALL`]; stable across releases
    /// (new kinds are appended), whatever version `UnknownVersion` carries.
    pub fn index(&self) -> usize {
        match self {
            DecodeError::TooLong => 0,
            DecodeError::Framing => 1,
            DecodeError::Crc => 2,
            DecodeError::UnknownVersion(_) => 3,
            DecodeError::Deserialize => 4,
        }
    }

    /// A stable, short name for metrics and status reports.
    pub fn kind(&self) -> &'static str {
        match self {
            DecodeError::TooLong => "too_long",
            DecodeError::Framing => "framing",
            DecodeError::Crc => "crc",
            DecodeError::UnknownVersion(_) => "unknown_version",
            DecodeError::Deserialize => "deserialize",
        }
    }
}

/// Decodes one frame from its COBS bytes (without the delimiter), in place.
pub fn decode_packet(cobs_bytes: &mut [u8]) -> Result<Frame, DecodeError> {
    match postcard::take_from_bytes::<Frame>(checked_payload(cobs_bytes)?) {
        Ok((frame, [])) => Ok(frame),
        _ => Err(DecodeError::Deserialize),
    }
}

/// What a tag decodes of a frame: the downlink it carries, or `None` for
/// an uplink (another tag's chatter), whose contents are left unparsed.
/// Same checks as [`decode_packet`] otherwise. Read by
/// [`PostcardReader`] rather than serde: a tag never needs the code that
/// deserializes every uplink event, nor serde's visitors for downlinks,
/// together about 2 KiB of a Cortex-M0's 16 KiB of flash.
pub fn decode_downlink_packet(cobs_bytes: &mut [u8]) -> Result<Option<Downlink>, DecodeError> {
    let mut reader = PostcardReader::new(checked_payload(cobs_bytes)?);
    // The version byte, already checked.
    reader.byte();
    // The `Message` variant: 0 an uplink, 1 a downlink.
    match reader.u32() {
        Some(0) => Ok(None),
        Some(1) => match reader.downlink() {
            Some(downlink) if reader.rest().is_empty() => Ok(Some(downlink)),
            _ => Err(DecodeError::Deserialize),
        },
        _ => Err(DecodeError::Deserialize),
    }
}

/// Undoes COBS in place and checks the length, CRC and version; the
/// postcard payload.
fn checked_payload(cobs_bytes: &mut [u8]) -> Result<&[u8], DecodeError> {
    let raw_len = cobs_decode_in_place(cobs_bytes).ok_or(DecodeError::Framing)?;
    // A frame holds at least a version byte, a message tag and the CRC.
    if !(2 + CRC_LEN..=MAX_RAW_LEN).contains(&raw_len) {
        return Err(DecodeError::Framing);
    }
    let (payload, crc) = cobs_bytes[..raw_len].split_at(raw_len - CRC_LEN);
    let crc = u32::from_le_bytes([crc[0], crc[1], crc[2], crc[3]]);
    if checksum(payload) != crc {
        return Err(DecodeError::Crc);
    }
    // postcard writes a u8 as the raw byte, so the version is byte 0 whatever
    // a later version puts after it.
    if payload[0] != PROTOCOL_VERSION {
        return Err(DecodeError::UnknownVersion(payload[0]));
    }
    Ok(payload)
}

/// Undoes COBS in place and returns the decoded length, or `None` if a
/// block runs past the end (or a zero appears where a code byte belongs).
///
/// Same result as `cobs::decode_in_place`, but block by block with
/// `copy_within` instead of byte by byte: COBS was a third of the gateway's
/// decode time.
fn cobs_decode_in_place(buf: &mut [u8]) -> Option<usize> {
    let (mut read, mut write) = (0, 0);
    while read < buf.len() {
        let code = usize::from(buf[read]);
        let end = read + code;
        if code == 0 || end > buf.len() {
            return None;
        }
        move_block(buf, read + 1..end, write);
        write += code - 1;
        read = end;
        // Each block but a full (0xFF) one stands for data followed by a
        // zero; the last block's zero is the delimiter itself.
        if code != 0xFF && read < buf.len() {
            buf[write] = 0;
            write += 1;
        }
    }
    Some(write)
}

/// `buf.copy_within(src, dest)` on the host. A tag decodes a few dozen bytes
/// per downlink and cannot spare the 1.3 KiB that a speed-tuned `memmove`
/// costs an ARMv6-M image, so without `std` the block moves a byte at a time
/// (`dest` is never after `src`, so a forward copy is safe).
#[cfg(feature = "std")]
fn move_block(buf: &mut [u8], src: core::ops::Range<usize>, dest: usize) {
    buf.copy_within(src, dest);
}

#[cfg(not(feature = "std"))]
fn move_block(buf: &mut [u8], src: core::ops::Range<usize>, dest: usize) {
    for (i, from) in src.enumerate() {
        buf[dest + i] = buf[from];
    }
}

/// Streaming decoder: feed it whatever a serial read returned, get frames out.
///
/// It holds at most one partial frame ([`MAX_ENCODED_LEN`] bytes) and never
/// allocates or panics, whatever the input.
pub struct FrameDecoder {
    buf: [u8; MAX_ENCODED_LEN],
    len: usize,
    /// The current frame ran past the buffer; drop bytes until the delimiter.
    overflowed: bool,
}

impl Default for FrameDecoder {
    fn default() -> Self {
        Self::new()
    }
}

impl FrameDecoder {
    /// A decoder waiting for the start of a frame.
    pub const fn new() -> Self {
        FrameDecoder {
            buf: [0; MAX_ENCODED_LEN],
            len: 0,
            overflowed: false,
        }
    }

    /// Returns an iterator over the frames (and errors) completed by `data`.
    /// Bytes after the last delimiter are kept for the next call. Drain the
    /// iterator: bytes not yet consumed when it is dropped are discarded.
    pub fn feed<'d, 'a>(&'d mut self, data: &'a [u8]) -> Feed<'d, 'a> {
        Feed {
            decoder: self,
            data,
            decode: decode_packet,
        }
    }

    /// As [`FrameDecoder::feed`], for a tag: yields the downlinks, and
    /// `None` for each uplink, left unparsed (see
    /// [`decode_downlink_packet`]).
    pub fn feed_downlinks<'d, 'a>(&'d mut self, data: &'a [u8]) -> Feed<'d, 'a, Option<Downlink>> {
        Feed {
            decoder: self,
            data,
            decode: decode_downlink_packet,
        }
    }

    /// Forgets a partial frame, e.g. after the serial port was reopened.
    pub fn reset(&mut self) {
        self.len = 0;
        self.overflowed = false;
    }

    /// Appends bytes of the current frame (no delimiter among them).
    fn extend(&mut self, bytes: &[u8]) {
        if self.overflowed {
            return;
        }
        // The buffer holds the COBS bytes without the delimiter, so one byte
        // fewer than the largest frame on the wire.
        let room = MAX_ENCODED_LEN - 1 - self.len;
        if bytes.len() > room {
            self.overflowed = true;
            self.len = 0;
        } else {
            self.buf[self.len..self.len + bytes.len()].copy_from_slice(bytes);
            self.len += bytes.len();
        }
    }

    /// A delimiter arrived: decode what was buffered. Empty packets (runs of
    /// delimiters, used by senders to flush line noise) yield nothing.
    fn finish<T>(&mut self, decode: Decode<T>) -> Option<Result<T, DecodeError>> {
        let result = if self.overflowed {
            Some(Err(DecodeError::TooLong))
        } else if self.len == 0 {
            None
        } else {
            Some(decode(&mut self.buf[..self.len]))
        };
        self.reset();
        result
    }
}

/// How a packet between two delimiters becomes a `T`.
type Decode<T> = fn(&mut [u8]) -> Result<T, DecodeError>;

/// Iterator returned by [`FrameDecoder::feed`] (frames) and
/// [`FrameDecoder::feed_downlinks`].
pub struct Feed<'d, 'a, T = Frame> {
    decoder: &'d mut FrameDecoder,
    data: &'a [u8],
    decode: Decode<T>,
}

impl<T> Iterator for Feed<'_, '_, T> {
    type Item = Result<T, DecodeError>;

    fn next(&mut self) -> Option<Self::Item> {
        while !self.data.is_empty() {
            match self.data.iter().position(|&b| b == 0) {
                Some(end) => {
                    self.decoder.extend(&self.data[..end]);
                    self.data = &self.data[end + 1..];
                    if let Some(result) = self.decoder.finish(self.decode) {
                        return Some(result);
                    }
                }
                None => {
                    self.decoder.extend(self.data);
                    self.data = &[];
                }
            }
        }
        None
    }
}

#[cfg(test)]
pub(crate) mod tests;
