//! A bad serial line: the receiver unplugged and replugged, line noise,
//! corrupted and repeated frames. None of it may lose or double an event.

use aisle_system_tests::tags::{frame_bytes, key_of};
use aisle_system_tests::{assert_delivered, pickups, wait_until, Faults, GatewayRig, STEP};
use serde_json::Value;
use std::time::{Duration, Instant};

/// CPU time (user + system, in clock ticks) the process has used.
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("read /proc/PID/stat");
    // Fields after the parenthesised command name; utime and stime are the
    // 14th and 15th fields of the whole line.
    let after = &stat[stat.rfind(')').expect("comm") + 2..];
    let fields: Vec<&str> = after.split(' ').collect();
    fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap()
}

fn receiver_state(status: &Value) -> Option<&str> {
    status["receivers"].as_array()?.first()?["state"].as_str()
}

#[test]
fn reopens_an_unplugged_receiver_without_spinning_and_keeps_every_event() {
    let mut rig = GatewayRig::new(|store| store.status_interval_s = Some(1));
    rig.start_gateway();
    rig.tags
        .deliver(&pickups(rig.store.garment_tags(), 1, 0..5), STEP);

    rig.link.unplug();
    rig.sub
        .wait_status("the receiver reported gone", STEP, |s| {
            receiver_state(s) == Some("gone")
        });
    // While the receiver is away the gateway must wait, not spin on EOF.
    let pid = rig.gateway().pid();
    let (ticks, start) = (cpu_ticks(pid), Instant::now());
    std::thread::sleep(Duration::from_secs(1));
    let used = cpu_ticks(pid) - ticks;
    let ticks_per_s = 100; // USER_HZ on Linux
    let elapsed = start.elapsed().as_secs_f64();
    assert!(
        (used as f64) < 0.3 * elapsed * ticks_per_s as f64,
        "gateway used {used} ticks of CPU in {elapsed:.2}s with the receiver unplugged"
    );

    rig.link.replug();
    rig.tags.reopen();
    rig.tags
        .deliver(&pickups(rig.store.garment_tags(), 1, 5..10), STEP);
    rig.sub.wait_status("the receiver open again", STEP, |s| {
        receiver_state(s) == Some("open")
    });
    assert_delivered(rig.store_id(), &rig.tags, &rig.sub, Faults::None, STEP);
}

/// A small deterministic generator, so a failure replays the same noise.
struct XorShift(u64);

impl XorShift {
    fn next_byte(&mut self) -> u8 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 24) as u8
    }
}

#[test]
fn survives_garbage_bit_flips_and_duplicates_and_counts_each_once() {
    let mut rig = GatewayRig::new(|store| store.status_interval_s = Some(1));
    rig.start_gateway();
    // Input written before the gateway opens the port is discarded as
    // stale; this test counts every copy, so it writes once the port is open.
    rig.sub.wait_status("the receiver open", STEP, |s| {
        receiver_state(s) == Some("open")
    });
    let events = pickups(rig.store.garment_tags(), 1, 0..12);
    let mut rng = XorShift(0x5eed_1234_abcd_0001);
    let (mut flipped, mut noisy) = (0u64, 0u64);
    for (i, event) in events.iter().enumerate() {
        let good = frame_bytes(event);
        match i % 4 {
            // Line noise (no delimiters), ended by a delimiter so it does not
            // swallow the next frame.
            0 => {
                // Every other burst is longer than any frame (a `too_long`).
                let len = if i % 8 == 0 {
                    40
                } else {
                    3 * protocol::MAX_ENCODED_LEN
                };
                let noise: Vec<u8> = (0..len).map(|_| rng.next_byte() | 1).chain([0]).collect();
                rig.tags.send_raw(&noise).unwrap();
                noisy += 1;
            }
            // A copy with one bit flipped in its body (never the delimiter).
            1 => {
                let mut bad = good.clone();
                let at = 1 + usize::from(rng.next_byte()) % (bad.len() - 2);
                bad[at] ^= 1 << (rng.next_byte() % 8);
                if bad[at] == 0 {
                    bad[at] = 0x55;
                }
                rig.tags.send_raw(&bad).unwrap();
                flipped += 1;
            }
            _ => {}
        }
        rig.tags.send(event).unwrap();
        // Every third event arrives three times (a tag that missed the acks).
        if i % 3 == 0 {
            rig.tags.send_raw(&good).unwrap();
            rig.tags.send_raw(&good).unwrap();
        }
    }
    rig.tags
        .retransmit_until_acked(events.iter().map(key_of).collect(), STEP);
    for (i, event) in events.iter().enumerate().filter(|(i, _)| i % 3 == 0) {
        wait_until(&format!("event {i} acked once per copy"), STEP, || {
            (rig.tags.ack_count(key_of(event)) >= 3).then_some(())
        });
    }

    assert_delivered(rig.store_id(), &rig.tags, &rig.sub, Faults::None, STEP);
    let duplicates = 2 * events.len().div_ceil(3) as u64;
    let status = rig
        .sub
        .wait_status("status counting the bad and repeated frames", STEP, |s| {
            let bad: u64 = s["bad_frames"]
                .as_object()
                .map(|m| m.values().filter_map(Value::as_u64).sum())
                .unwrap_or(0);
            bad >= flipped + noisy && s["duplicates"].as_u64().unwrap_or(0) >= duplicates
        });
    assert!(
        status["bad_frames"]["crc"].as_u64().unwrap_or(0) >= 1,
        "no CRC errors counted: {status}"
    );
}

#[test]
fn opens_a_receiver_plugged_in_after_the_gateway_started() {
    let mut rig = GatewayRig::new(|store| store.status_interval_s = Some(1));
    rig.link.unplug();
    rig.start_gateway();
    rig.sub
        .wait_status("the missing receiver reported", STEP, |s| {
            receiver_state(s) == Some("gone")
        });
    assert!(
        rig.gateway().is_running(),
        "a missing receiver must not stop the gateway"
    );

    rig.link.replug();
    rig.tags.reopen();
    rig.tags
        .deliver(&pickups(rig.store.garment_tags(), 1, 0..5), STEP);
    assert_delivered(rig.store_id(), &rig.tags, &rig.sub, Faults::None, STEP);
}

/// Unix time in milliseconds, as the gateway stamps events.
fn now_ms() -> i64 {
    let since = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    since.as_millis() as i64
}

#[test]
fn discards_frames_buffered_while_the_gateway_was_down_and_stamps_resends_by_their_age() {
    let mut rig = GatewayRig::new(|_| {});
    let mut event = pickups(rig.store.garment_tags(), 1, 0..1).remove(0);
    event.age_ms = 0;
    let happened = now_ms();
    rig.tags.send(&event).unwrap();
    // The gateway is down this long; the frame waits in the receiver's
    // buffer, and read now it would be stamped this much too late.
    let downtime = Duration::from_secs(3);
    std::thread::sleep(downtime);
    rig.start_gateway();

    // The tag resends with its age as of each send, as its outbox does,
    // until the gateway (once it has the port open) acks.
    let key = key_of(&event);
    let start = Instant::now();
    while rig.tags.ack_count(key) == 0 {
        assert!(start.elapsed() < STEP, "the event was never acked");
        event.age_ms = (now_ms() - happened) as u32;
        rig.tags.send(&event).unwrap();
        let sent = Instant::now();
        while rig.tags.ack_count(key) == 0 && sent.elapsed() < Duration::from_millis(300) {
            std::thread::sleep(Duration::from_millis(5));
        }
    }
    assert_delivered(rig.store_id(), &rig.tags, &rig.sub, Faults::None, STEP);
    let ts = rig.sub.batches()[0].batch.events[0].ts.0;
    assert!(
        (happened - 100..happened + 1_000).contains(&ts),
        "the event happened at {happened} but was stamped {ts}, {} ms late",
        ts - happened
    );
}
