//! Streaming frame decode throughput, as the gateway sees it: a realistic
//! mix of 20–40-byte frames arriving in serial-read-sized chunks.
//!
//! Run: `cargo bench -p aisle-protocol --bench decode`. The figure that
//! matters is the `thrpt` line in elements (frames) per second.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use protocol::frame::{Downlink, EpcBytes, FwVersion, TagEvent, Uplink};
use protocol::{encode, Frame, FrameDecoder, MAX_ENCODED_LEN};
use std::hint::black_box;

const FRAMES: usize = 10_000;

/// A store's traffic: mostly pickups, put-downs and reader sightings of
/// SGTIN-96 garments, some dwells, heartbeats and acks. Tag ids, boot
/// counters, sequence numbers and ages vary so varints have their real widths.
fn traffic() -> Vec<Frame> {
    let epc = |i: u32| {
        let mut b = [0x30, 0x74, 0x25, 0x7B, 0xF7, 0x19, 0x4E, 0x40, 0, 0, 0, 0];
        b[8..].copy_from_slice(&(i.wrapping_mul(2_654_435_761)).to_be_bytes());
        EpcBytes::new(&b).expect("12 bytes fit")
    };
    (0..FRAMES as u32)
        .map(|i| {
            let tag = 0x0100_0000 + i % 5_000 * 7919;
            let up = |event| {
                Frame::uplink(Uplink {
                    tag,
                    boot: 3 + i % 40,
                    seq: (i % 65_536) as u16,
                    age_ms: i % 20_000,
                    event,
                })
            };
            match i % 10 {
                0..=2 => up(TagEvent::PickedUp { epc: epc(i) }),
                3..=4 => up(TagEvent::PutDown {
                    epc: epc(i),
                    held_ms: 4_000 + i % 90_000,
                }),
                5 => up(TagEvent::EpcSeen {
                    epc: epc(i),
                    rssi: -40 - (i % 40) as i8,
                }),
                6 => up(TagEvent::DwellStart),
                7 => up(TagEvent::DwellEnd {
                    dwell_ms: 8_000 + i % 120_000,
                }),
                8 => up(TagEvent::Heartbeat {
                    battery_mv: 2_900 + (i % 300) as u16,
                    fw: FwVersion {
                        major: 1,
                        minor: 0,
                        patch: 4,
                    },
                    dropped: i % 3,
                }),
                _ => Frame::downlink(Downlink::Ack {
                    tag,
                    boot: 3 + i % 40,
                    seq: (i % 65_536) as u16,
                }),
            }
        })
        .collect()
}

fn wire(frames: &[Frame]) -> Vec<u8> {
    let mut out = Vec::with_capacity(frames.len() * MAX_ENCODED_LEN);
    let mut buf = [0u8; MAX_ENCODED_LEN];
    for f in frames {
        let n = encode(f, &mut buf).expect("frame fits");
        out.extend_from_slice(&buf[..n]);
    }
    out
}

fn decode_stream(stream: &[u8], chunk: usize) -> usize {
    let mut decoder = FrameDecoder::new();
    let mut ok = 0;
    for piece in stream.chunks(chunk) {
        for frame in decoder.feed(piece).flatten() {
            black_box(&frame);
            ok += 1;
        }
    }
    ok
}

fn bench_decode(c: &mut Criterion) {
    let stream = wire(&traffic());
    let mut group = c.benchmark_group("frame_decode");
    group.throughput(Throughput::Elements(FRAMES as u64));
    // 64 bytes: one USB CDC / FTDI packet; 4096: a loaded port's read.
    for chunk in [64, 4096] {
        group.bench_function(format!("mix_{}B_chunks", chunk), |b| {
            b.iter(|| assert_eq!(decode_stream(black_box(&stream), chunk), FRAMES))
        });
    }
    group.finish();
    println!(
        "stream: {FRAMES} frames, {} bytes, {:.1} bytes/frame on the wire",
        stream.len(),
        stream.len() as f64 / FRAMES as f64
    );
    cpu_time_figure(&stream);
}

/// Criterion measures wall time, which on a shared machine includes time
/// other processes held the core. This also reports frames per second of
/// this process's own CPU time (Linux `/proc/self/stat`, 10 ms ticks, so it
/// runs long enough for 1% resolution).
fn cpu_time_figure(stream: &[u8]) {
    let Some(start) = cpu_ticks() else { return };
    let wall = std::time::Instant::now();
    let mut rounds = 0u64;
    while wall.elapsed().as_secs() < 3 {
        assert_eq!(decode_stream(black_box(stream), 64), FRAMES);
        rounds += 1;
    }
    let Some(end) = cpu_ticks() else { return };
    // USER_HZ is 100 on every Linux the gateway runs on.
    let cpu_s = (end - start) as f64 / 100.0;
    let frames = (rounds * FRAMES as u64) as f64;
    println!(
        "frame_decode/mix_64B_chunks: {:.2} M frames per CPU-second ({:.2} M per wall-second, {:.0} ns/frame CPU)",
        frames / cpu_s / 1e6,
        frames / wall.elapsed().as_secs_f64() / 1e6,
        cpu_s * 1e9 / frames
    );
}

/// User + system CPU ticks of this process.
fn cpu_ticks() -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the parenthesised command name; utime and stime are the
    // 14th and 15th fields overall.
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    Some(fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?)
}

criterion_group!(benches, bench_decode);
criterion_main!(benches);
