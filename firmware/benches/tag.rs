//! Host-side cost of the tag logic, as the store simulator pays it: one
//! virtual tag per garment, fixture and reader, each fed 25 Hz samples.
//!
//! Run: `cargo bench -p aisle-firmware --bench tag`. The `thrpt` lines give
//! samples (or events) per second on one core.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use firmware::{BootInfo, Config, EntranceSettings, PickupTuning, Role, Tag};
use protocol::{ConfigStatus, Downlink, EpcBytes, ResetReason, Settings};
use std::hint::black_box;

const SAMPLES: u64 = 25 * 60;

fn boot() -> BootInfo {
    BootInfo {
        boot: 1,
        reset_reason: ResetReason::PowerOn,
        config_status: ConfigStatus::Loaded,
    }
}

fn epc() -> EpcBytes {
    EpcBytes::new(&[
        0x30, 0x74, 0x25, 0x7B, 0xF7, 0x19, 0x4E, 0x40, 0, 0, 0x1A, 0x85,
    ])
    .unwrap()
}

/// Garment tag 7 with the default thresholds.
fn motion_config() -> Config {
    Config {
        tag: 7,
        role: Role::Motion,
        settings: Settings::default(),
        epc: Some(epc()),
        pickup: PickupTuning::default(),
        entrance: EntranceSettings::default(),
    }
}

/// A minute of a garment's life at 25 Hz: hanging, handled for 10 s, hung back.
fn accel(i: u64) -> [i16; 3] {
    let noise = ((i * 7_919) % 17) as i16 - 8;
    match i {
        250..500 => [400 + noise * 20, -300 + noise * 10, 700 + noise],
        _ => [40 + noise, -985 + noise, 160 + noise],
    }
}

fn motion_tag_minute(c: &mut Criterion) {
    let config = motion_config();
    let mut group = c.benchmark_group("motion_tag");
    group.throughput(Throughput::Elements(SAMPLES));
    group.bench_function("minute_at_25hz_with_acks", |b| {
        b.iter(|| {
            let mut tag = Tag::<16>::new(0, config, boot());
            for i in 0..SAMPLES {
                let now = i * 40;
                tag.accel_sample(now, black_box(accel(i)));
                while let Some(uplink) = tag.poll_transmit(now) {
                    let ack = Downlink::Ack {
                        tag: 7,
                        boot: 1,
                        seq: uplink.seq,
                    };
                    tag.handle_downlink(now, &ack);
                }
            }
            tag
        })
    });
    group.finish();
}

fn config_page(c: &mut Criterion) {
    let config = motion_config();
    let image = config.to_image().unwrap();
    c.bench_function("config_page_parse", |b| {
        b.iter(|| Config::from_image(black_box(&image)))
    });
}

criterion_group!(benches, motion_tag_minute, config_page);
criterion_main!(benches);
