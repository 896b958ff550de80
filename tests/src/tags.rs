//! A fake receiver: writes tag frames onto the device end of a serial link
//! and reads the gateway's acks back, the way a tag's outbox would.
//!
//! The set of acked `(tag, boot, seq)` is the ground truth of every gateway
//! test: the durability contract says each of them must reach HQ.

use nix::fcntl::OFlag;
use protocol::{
    encode, Downlink, EpcBytes, Frame, FrameDecoder, Message, TagEvent, Uplink, MAX_ENCODED_LEN,
};
use std::collections::{HashMap, HashSet};
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

/// `(tag, boot, seq)`: names one event forever.
pub type EventKey = (u32, u32, u16);

/// How long a tag waits for an ack before sending an event again. The real
/// firmware backs off further; tests want quick recovery after a fault.
const RETRANSMIT_AFTER: Duration = Duration::from_millis(250);

/// The GS1 TDS example SGTIN-96 (GTIN 80614141123458, serial 6789); the low
/// 38 bits are the serial.
const SGTIN96_EXAMPLE: u128 = 0x3074_257B_F719_4E40_0000_1A85;
const SGTIN96_SERIAL_BITS: u32 = 38;

/// The GTIN every [`sgtin96`] EPC carries.
pub const TEST_GTIN: &str = "80614141123458";

/// An SGTIN-96 EPC for GTIN [`TEST_GTIN`] with `serial` (< 2^38).
pub fn sgtin96(serial: u64) -> EpcBytes {
    assert!(
        serial < 1 << SGTIN96_SERIAL_BITS,
        "SGTIN-96 serials have 38 bits"
    );
    let value = (SGTIN96_EXAMPLE & !((1u128 << SGTIN96_SERIAL_BITS) - 1)) | u128::from(serial);
    EpcBytes::new(&value.to_be_bytes()[4..]).expect("12 bytes is a valid EPC length")
}

/// Upper-case hex of [`sgtin96`], as written in store.toml.
pub fn sgtin96_hex(serial: u64) -> String {
    sgtin96(serial)
        .as_bytes()
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect()
}

/// A garment tag's pickup event; the garment's serial is its tag id.
pub fn pickup(tag: u32, boot: u32, seq: u16) -> Uplink {
    Uplink {
        tag,
        boot,
        seq,
        age_ms: 0,
        event: TagEvent::PickedUp {
            epc: sgtin96(u64::from(tag)),
        },
    }
}

/// Pickups by each garment tag in `tags`, for every seq in `seqs` (so
/// `tags.len() * seqs.len()` events), in send order: seq-major.
pub fn pickups(
    tags: impl Iterator<Item = u32> + Clone,
    boot: u32,
    seqs: std::ops::Range<u16>,
) -> Vec<Uplink> {
    seqs.flat_map(|seq| tags.clone().map(move |tag| pickup(tag, boot, seq)))
        .collect()
}

/// A presence tag's end of a dwell.
pub fn dwell_end(tag: u32, boot: u32, seq: u16, dwell_ms: u32) -> Uplink {
    Uplink {
        tag,
        boot,
        seq,
        age_ms: 0,
        event: TagEvent::DwellEnd { dwell_ms },
    }
}

/// A zone reader's read of the garment whose serial is `garment`.
pub fn epc_seen(reader: u32, boot: u32, seq: u16, garment: u32) -> Uplink {
    Uplink {
        tag: reader,
        boot,
        seq,
        age_ms: 0,
        event: TagEvent::EpcSeen {
            epc: sgtin96(u64::from(garment)),
            rssi: -52,
        },
    }
}

/// `frame` as bytes on the wire, delimiter included.
pub fn frame_bytes(uplink: &Uplink) -> Vec<u8> {
    let mut buf = [0u8; MAX_ENCODED_LEN];
    let n = encode(&Frame::uplink(uplink.clone()), &mut buf).expect("test frames encode");
    buf[..n].to_vec()
}

pub fn key_of(uplink: &Uplink) -> EventKey {
    (uplink.tag, uplink.boot, uplink.seq)
}

#[derive(Default)]
struct Downlinks {
    /// How many acks each event received (a duplicate frame is acked again).
    acks: HashMap<EventKey, usize>,
    /// Other downlinks, in arrival order.
    other: Vec<Downlink>,
    /// Bytes from the gateway that did not decode (should stay 0).
    bad_frames: usize,
}

/// The device end of a [`crate::SerialLink`], acting as every tag at once.
pub struct TagWriter {
    path: PathBuf,
    port: Mutex<Option<File>>,
    downlinks: Arc<Mutex<Downlinks>>,
    /// Every uplink sent, for retransmission and for "sent but never acked".
    sent: Mutex<HashMap<EventKey, Uplink>>,
}

impl TagWriter {
    /// Opens the device end at `path` and starts reading downlinks.
    pub fn open(path: &Path) -> TagWriter {
        let writer = TagWriter {
            path: path.to_path_buf(),
            port: Mutex::new(None),
            downlinks: Arc::default(),
            sent: Mutex::default(),
        };
        writer.reopen();
        writer
    }

    /// Opens the port again, e.g. after [`crate::SerialLink::replug`]; the
    /// ack log and the sent events are kept.
    pub fn reopen(&self) {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            // Never become the test process's controlling terminal.
            .custom_flags(OFlag::O_NOCTTY.bits())
            .open(&self.path)
            .unwrap_or_else(|e| panic!("cannot open {}: {e}", self.path.display()));
        let reader = file.try_clone().expect("clone pty handle");
        let downlinks = Arc::clone(&self.downlinks);
        thread::Builder::new()
            .name("tag-downlinks".into())
            .spawn(move || read_downlinks(reader, &downlinks))
            .expect("spawn downlink reader");
        *self.port.lock().unwrap_or_else(PoisonError::into_inner) = Some(file);
    }

    /// Sends one event frame (and remembers it for retransmission).
    pub fn send(&self, uplink: &Uplink) -> io::Result<()> {
        self.sent
            .lock()
            .unwrap()
            .insert(key_of(uplink), uplink.clone());
        self.send_raw(&frame_bytes(uplink))
    }

    /// Writes arbitrary bytes: garbage, corrupted frames, raw duplicates.
    pub fn send_raw(&self, bytes: &[u8]) -> io::Result<()> {
        let mut port = self.port.lock().unwrap_or_else(PoisonError::into_inner);
        let port = port
            .as_mut()
            .ok_or_else(|| io::Error::other("port is closed"))?;
        port.write_all(bytes)?;
        port.flush()
    }

    /// Sends each event in `uplinks` and retransmits the unacked ones, as a
    /// tag's outbox does, until all are acked. Panics after `deadline`.
    pub fn deliver(&self, uplinks: &[Uplink], deadline: Duration) {
        for uplink in uplinks {
            self.send(uplink)
                .unwrap_or_else(|e| panic!("writing to {}: {e}", self.path.display()));
        }
        self.retransmit_until_acked(uplinks.iter().map(key_of).collect(), deadline);
    }

    /// Retransmits the events of `keys` that are still unacked every
    /// `RETRANSMIT_AFTER` until all are acked; panics after `deadline`.
    pub fn retransmit_until_acked(&self, keys: HashSet<EventKey>, deadline: Duration) {
        let start = Instant::now();
        let mut last_send = Instant::now();
        loop {
            let missing: Vec<EventKey> = {
                let downlinks = self
                    .downlinks
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner);
                keys.iter()
                    .filter(|k| !downlinks.acks.contains_key(k))
                    .copied()
                    .collect()
            };
            if missing.is_empty() {
                return;
            }
            if start.elapsed() > deadline {
                panic!(
                    "{} of {} events not acked after {deadline:?}",
                    missing.len(),
                    keys.len()
                );
            }
            if last_send.elapsed() >= RETRANSMIT_AFTER {
                let sent = self
                    .sent
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .clone();
                for key in missing {
                    // A write can fail while the link is unplugged; the next
                    // round tries again, as a tag would.
                    let _ = self.send_raw(&frame_bytes(&sent[&key]));
                }
                last_send = Instant::now();
            }
            thread::sleep(Duration::from_millis(5));
        }
    }

    /// Waits (without retransmitting) until every event in `keys` is acked.
    pub fn wait_acked(&self, keys: &HashSet<EventKey>, deadline: Duration) {
        crate::wait_until(&format!("{} acks", keys.len()), deadline, || {
            let downlinks = self
                .downlinks
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            keys.iter()
                .all(|k| downlinks.acks.contains_key(k))
                .then_some(())
        });
    }

    /// Every event acked at least once.
    pub fn acked(&self) -> HashSet<EventKey> {
        self.downlinks
            .lock()
            .unwrap()
            .acks
            .keys()
            .copied()
            .collect()
    }

    /// How many times `key` was acked.
    pub fn ack_count(&self, key: EventKey) -> usize {
        self.downlinks
            .lock()
            .unwrap()
            .acks
            .get(&key)
            .copied()
            .unwrap_or(0)
    }

    /// Every event sent (acked or not).
    pub fn sent(&self) -> HashSet<EventKey> {
        self.sent
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .keys()
            .copied()
            .collect()
    }

    /// Downlinks other than acks, in arrival order.
    pub fn other_downlinks(&self) -> Vec<Downlink> {
        self.downlinks
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .other
            .clone()
    }

    /// Frames from the gateway that failed to decode.
    pub fn bad_downlink_frames(&self) -> usize {
        self.downlinks
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .bad_frames
    }
}

/// Reads until the port hangs up (EOF or EIO when the link is unplugged).
fn read_downlinks(mut port: File, downlinks: &Mutex<Downlinks>) {
    let mut decoder = FrameDecoder::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = match port.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        let mut log = downlinks.lock().unwrap_or_else(PoisonError::into_inner);
        for frame in decoder.feed(&buf[..n]) {
            match frame {
                Ok(Frame {
                    message: Message::Downlink(Downlink::Ack { tag, boot, seq }),
                    ..
                }) => {
                    *log.acks.entry((tag, boot, seq)).or_default() += 1;
                }
                Ok(Frame {
                    message: Message::Downlink(other),
                    ..
                }) => log.other.push(other),
                // Uplinks never come from the gateway; count them as bad.
                Ok(_) | Err(_) => log.bad_frames += 1,
            }
        }
    }
}
