//! Gateway benchmark: pty → gateway → spool → Mosquitto (PUBACK) → observer.
//!
//! Not part of the test suite. Measures, per run:
//! - sustained throughput: N events written to the pty as fast as the pty
//!   takes them, counted as distinct event ids delivered to an MQTT observer;
//! - the gateway's cost in that phase: its own CPU time (user + system, from
//!   `/proc/PID/stat`, not the bench's) per 100,000 events;
//! - latency at a fixed rate: frame written → event delivered to the
//!   observer, p50 / p99;
//! - the gateway's peak RSS (VmHWM) after both phases.
//!
//! Prints one line per run and the medians as a Markdown table.
//!
//! ```text
//! cargo build --release -p aisle-agent --bin aisle
//! AISLE_BIN=target/release/aisle cargo run --release -p aisle-system-tests \
//!     --bin gateway_bench -- [--runs 3] [--events 200000] [--rate 2000] [--seconds 10]
//! ```

use aisle_agent::config::defaults::{
    BATCH_LINGER_MS, BATCH_MAX_BYTES, BATCH_MAX_EVENTS, BAUD as RECEIVER_BAUD,
};
use aisle_system_tests::tags::frame_bytes;
use aisle_system_tests::{
    pickups, unknown_flag, BenchArgs, GatewayRig, Mosquitto, MosquittoOptions,
};
use protocol::batch::event_id;
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// Garment tags the events are spread over (ids and seqs stay realistic).
const TAGS: u32 = 200;
/// Frames per pty write in the throughput phase: big writes, as a USB CDC
/// receiver delivers them.
const WRITE_CHUNK: usize = 256;

struct Options {
    runs: usize,
    events: usize,
    rate: u32,
    seconds: u32,
}

fn parse_options() -> Options {
    let mut opts = Options {
        runs: 3,
        events: 200_000,
        rate: 2_000,
        seconds: 10,
    };
    let mut args = BenchArgs::from_env();
    while let Some(flag) = args.next_flag() {
        match flag.as_str() {
            "--runs" => opts.runs = args.value(&flag),
            "--events" => opts.events = args.value(&flag),
            "--rate" => opts.rate = args.value(&flag),
            "--seconds" => opts.seconds = args.value(&flag),
            other => unknown_flag(other),
        }
    }
    opts
}

struct RunResult {
    events_per_s: f64,
    cpu_s_per_100k: f64,
    p50_ms: f64,
    p99_ms: f64,
    peak_rss_kib: u64,
}

fn main() {
    let opts = parse_options();
    let mut results = Vec::new();
    for run in 1..=opts.runs {
        let r = bench_run(&opts);
        println!(
            "run {run}: {:.0} events/s, {:.3} CPU-s per 100k events, latency p50 {:.1} ms p99 {:.1} ms at {}/s, peak RSS {:.1} MiB",
            r.events_per_s,
            r.cpu_s_per_100k,
            r.p50_ms,
            r.p99_ms,
            opts.rate,
            r.peak_rss_kib as f64 / 1024.0
        );
        results.push(r);
    }
    let med = |f: fn(&RunResult) -> f64| median(results.iter().map(f).collect());
    println!();
    println!("| metric | median of {} runs | target |", opts.runs);
    println!("| --- | --- | --- |");
    println!(
        "| sustained throughput ({} events) | {:.0} events/s | ≥ 50,000 events/s |",
        opts.events,
        med(|r| r.events_per_s)
    );
    println!(
        "| gateway CPU (user + system) per 100k events, same phase | {:.3} CPU-s | ≤ 0.50 CPU-s |",
        med(|r| r.cpu_s_per_100k)
    );
    println!(
        "| latency p50 at {} events/s | {:.1} ms | — |",
        opts.rate,
        med(|r| r.p50_ms)
    );
    println!(
        "| latency p99 at {} events/s | {:.1} ms | ≤ linger + 50 = {} ms |",
        opts.rate,
        med(|r| r.p99_ms),
        BATCH_LINGER_MS + 50
    );
    println!(
        "| gateway peak RSS (VmHWM) | {:.1} MiB | ≤ 32 MiB |",
        med(|r| r.peak_rss_kib as f64) / 1024.0
    );
    let frame = frame_bytes(&pickups(std::iter::once(3001), 1, 0..1)[0]).len();
    let line_bytes_per_s = RECEIVER_BAUD / 10;
    println!(
        "\nPhysical limit: a pickup frame is {frame} bytes on the wire; one receiver at {RECEIVER_BAUD} baud \
         (8N1, 10 bits a byte) carries {line_bytes_per_s} B/s = {} frames/s.",
        line_bytes_per_s / frame as u32
    );
}

fn bench_run(opts: &Options) -> RunResult {
    // No broker persistence: the bench measures the gateway, not Mosquitto's disk.
    let broker = Mosquitto::start_with(MosquittoOptions {
        persistence: false,
        ..MosquittoOptions::default()
    });
    let mut rig = GatewayRig::with_broker(broker, |store| {
        store.garments = TAGS;
        // The gateway as store IT runs it: the config's default batching.
        store.batch_max_events = BATCH_MAX_EVENTS;
        store.batch_max_bytes = BATCH_MAX_BYTES;
        store.linger_ms = BATCH_LINGER_MS;
    });
    rig.args.env = vec![("RUST_LOG".into(), "warn".into())];
    rig.start_gateway();
    rig.sub
        .wait_status("the gateway online", Duration::from_secs(30), |s| {
            s["state"] == "online"
        });
    let pid = rig.gateway().pid();
    let cpu_before = cpu_seconds(pid);
    let events_per_s = throughput(&rig, opts.events);
    let cpu_s_per_100k = (cpu_seconds(pid) - cpu_before) * 100_000.0 / opts.events as f64;
    let (p50_ms, p99_ms) = latency(&rig, opts.rate, opts.seconds, opts.events);
    let peak_rss_kib = peak_rss_kib(rig.gateway().pid());
    RunResult {
        events_per_s,
        cpu_s_per_100k,
        p50_ms,
        p99_ms,
        peak_rss_kib,
    }
}

/// Writes `n` pickups as fast as the pty accepts them; returns distinct
/// events delivered per second, from the first write to the last delivery.
fn throughput(rig: &GatewayRig, n: usize) -> f64 {
    let seqs = n.div_ceil(TAGS as usize) as u16;
    let mut events = pickups(rig.store.garment_tags(), 1, 0..seqs);
    events.truncate(n);
    let wire: Vec<Vec<u8>> = events.iter().map(frame_bytes).collect();
    let start = Instant::now();
    std::thread::scope(|s| {
        s.spawn(|| {
            for chunk in wire.chunks(WRITE_CHUNK) {
                rig.tags
                    .send_raw(&chunk.concat())
                    .expect("write to the pty");
            }
        });
        wait_delivered(rig, n, Duration::from_secs(300));
    });
    n as f64 / start.elapsed().as_secs_f64()
}

fn wait_delivered(rig: &GatewayRig, n: usize, deadline: Duration) {
    aisle_system_tests::wait_until(&format!("{n} events delivered"), deadline, || {
        (rig.sub.distinct_delivered() >= n).then_some(())
    });
}

/// Sends `rate` events/s for `seconds`, in 10 ms ticks, and returns the
/// p50 and p99 of frame written → first delivery, in milliseconds.
fn latency(rig: &GatewayRig, rate: u32, seconds: u32, already: usize) -> (f64, f64) {
    const TICK: Duration = Duration::from_millis(10);
    let per_tick = (rate as usize * TICK.as_millis() as usize) / 1000;
    let ticks = seconds as usize * 1000 / TICK.as_millis() as usize;
    // A fresh boot number keeps these ids apart from the throughput phase.
    let seqs = (per_tick * ticks).div_ceil(TAGS as usize) as u16;
    let events = pickups(rig.store.garment_tags(), 2, 0..seqs);
    let mut sent_at: HashMap<String, Instant> = HashMap::new();
    let start = Instant::now();
    for (tick, chunk) in events.chunks(per_tick.max(1)).take(ticks).enumerate() {
        let due = start + TICK * tick as u32;
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
        let bytes: Vec<u8> = chunk.iter().flat_map(frame_bytes).collect();
        let now = Instant::now();
        rig.tags.send_raw(&bytes).expect("write to the pty");
        for e in chunk {
            sent_at.insert(event_id(rig.store_id(), e.tag, e.boot, e.seq), now);
        }
    }
    wait_delivered(rig, already + sent_at.len(), Duration::from_secs(60));
    let arrivals = rig.sub.first_arrivals();
    let mut ms: Vec<f64> = sent_at
        .iter()
        .map(|(id, sent)| arrivals[id].duration_since(*sent).as_secs_f64() * 1000.0)
        .collect();
    ms.sort_by(f64::total_cmp);
    (percentile(&ms, 0.50), percentile(&ms, 0.99))
}

fn percentile(sorted: &[f64], q: f64) -> f64 {
    sorted[((sorted.len() - 1) as f64 * q).round() as usize]
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// VmHWM of `pid` in KiB: the peak resident set since it started.
fn peak_rss_kib(pid: u32) -> u64 {
    let status =
        std::fs::read_to_string(format!("/proc/{pid}/status")).expect("read /proc/PID/status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM in /proc/PID/status")
}

/// User + system CPU time of `pid` so far, in seconds.
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("read /proc/PID/stat");
    // utime and stime are the 14th and 15th fields; the command name before
    // them is parenthesised and may hold spaces.
    let rest = stat.rsplit_once(')').expect("/proc/PID/stat format").1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| -> u64 { fields[i].parse().expect("utime/stime in /proc/PID/stat") };
    // USER_HZ is 100 on every Linux the gateway runs on: 10 ms resolution,
    // about 1 % of the CPU time of a 200,000-event phase.
    (ticks(11) + ticks(12)) as f64 / 100.0
}
