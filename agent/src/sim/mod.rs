//! `aisle simulate`: a simulated store acting as the store's receivers on a
//! serial port, and the ground truth of what its shoppers did.
//!
//! Following the data: a seeded shopper model ([`shoppers`]) writes a script
//! of physical facts for a store read from `store.toml` ([`store`]); the
//! firmware's own tags turn it into sensor traces and frames ([`tags`],
//! with the entrance's beams drawn by [`door`]);
//! frames cross an optionally faulty link ([`link`]) to the serial port
//! ([`port`]); [`truth`] renders what HQ should report. This module is the
//! real-time shell that drives them.

pub mod clock;
pub mod door;
pub mod link;
pub mod motion;
pub mod port;
pub mod shoppers;
pub mod store;
pub mod tags;
pub mod truth;

use crate::cli::parse_duration;
use crate::funnel::report::FunnelReport;
use crate::funnel::Dimension;
use anyhow::Context;
use link::{FaultInjector, FaultStats, Faults};
use protocol::{encode, Frame, MAX_ENCODED_LEN};
use shoppers::{Params, Script, Timing, SAMPLE_MS};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;
use tags::{TagIds, TagStats, VirtualStore};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::sync::watch;
use truth::Truth;

#[derive(clap::Args)]
pub struct Args {
    /// The store config: the same file the gateway reads.
    #[arg(long)]
    config: PathBuf,
    /// The serial port to act on: the device end of a pty pair, or a UART.
    #[arg(long)]
    port: PathBuf,
    /// Where to write the ground-truth funnel, as `aisle funnel --format
    /// json --by LIST --window W` should print it. Repeat it with
    /// `--truth-by` to write the truth grouped several ways.
    #[arg(long, required = true)]
    truth: Vec<PathBuf>,
    /// How the truth at the same position among the `--truth`s is grouped:
    /// `aisle funnel --by` dimensions, comma separated (sku, store, zone, fixture,
    /// channel). Every truth is by sku when none is given.
    #[arg(long, value_name = "LIST")]
    truth_by: Vec<String>,
    /// Seed of the shopper model: the same seed, store and options give the
    /// same shoppers.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Shopping time; the run then waits for the gateway's last acks.
    #[arg(long, default_value = "40s", value_parser = parse_duration)]
    duration: Duration,
    /// HQ's funnel window W (as `aisle funnel --window`); at least 2m.
    #[arg(long, default_value = "1h", value_parser = parse_duration)]
    window: Duration,
    /// Mean arrival rate of shoppers.
    #[arg(long, default_value_t = 30.0)]
    shoppers_per_min: f64,
    /// How long to wait, after shopping ends, for the gateway to ack every
    /// event before giving up. The default outlasts a tag's longest
    /// retransmission gap (the outbox's 64 s cap plus 25 % jitter), so a tag
    /// whose last attempts were lost gets another before the run fails.
    #[arg(long, default_value = "90s", value_parser = parse_duration)]
    ack_timeout: Duration,
    /// Faults on the link, per frame: e.g.
    /// `flip=0.05,garbage=0.05,duplicate=0.1,drop=0.02,drop-ack=0.2`.
    /// None by default.
    #[arg(long, default_value = "", hide_default_value = true)]
    faults: Faults,
}

/// A simulated day, planned before it runs.
pub struct Plan {
    pub ids: TagIds,
    pub script: Script,
    pub timing: Timing,
    pub shopping_ms: u64,
    /// What HQ should report, to be grouped as asked.
    pub truth: Truth,
}

impl Plan {
    /// When the last event of the day has been produced: a dwell ends once
    /// the gap tolerance has passed, and an entrance reports the counts of
    /// the period of the last passage once that period is over (and the
    /// beams' debounce has let the counter close it, at the next sample).
    fn settled_ms(&self) -> u64 {
        let dwells = self.shopping_ms + self.timing.dwell_gap_ms;
        let settings = tags::entrance_settings();
        let period = u64::from(settings.period_ms);
        let last_passage = self
            .script
            .door
            .iter()
            .flatten()
            .map(|c| c.span().end)
            .max();
        let counted = last_passage.map_or(0, |end| {
            (end / period + 1) * period + u64::from(settings.min_break_ms) + SAMPLE_MS
        });
        dwells.max(counted) + 500
    }
}

/// Plans a day in the store of `config_path`.
pub fn plan(
    config_path: &Path,
    seed: u64,
    shopping: Duration,
    window: Duration,
    shoppers_per_min: f64,
) -> anyhow::Result<Plan> {
    let (shopping_ms, window_ms) = (clock::sim_ms(shopping), clock::sim_ms(window));
    if window_ms < shoppers::MIN_WINDOW_MS {
        anyhow::bail!(
            "--window {}: the simulator needs a window of at least 2m, so every journey it makes fits in half of it",
            crate::cli::format_window(window)
        );
    }
    if !(shoppers_per_min.is_finite() && shoppers_per_min >= 0.0) {
        anyhow::bail!("--shoppers-per-min {shoppers_per_min}: give a rate of 0 or more");
    }
    let cfg = crate::config::load(config_path).map_err(|e| anyhow::anyhow!("{e}"))?;
    let (layout, ids, names) = store::from_config(&cfg)
        .with_context(|| format!("simulating {}", config_path.display()))?;
    let timing = Timing::from(&tags::settings());
    let params = Params {
        seed,
        shopping_ms,
        window_ms,
        shoppers_per_min,
    };
    let script = shoppers::generate(&layout, &timing, &params);
    let truth = truth::truth(&layout, &names, &script, &timing, window_ms);
    Ok(Plan {
        ids,
        script,
        timing,
        shopping_ms,
        truth,
    })
}

/// How a planned day is driven.
#[derive(Debug, Clone, Copy)]
pub struct DriveOptions {
    pub faults: Faults,
    /// Seeds sensor noise and faults.
    pub seed: u64,
    /// How long after shopping the gateway may take to ack every event.
    pub ack_timeout: Duration,
    /// Log progress every few seconds (off when the caller shows it).
    pub log_progress: bool,
}

/// What the tags and the link did, for progress and the final summary.
#[derive(Debug, Clone, Copy, Default)]
pub struct Progress {
    pub now_ms: u64,
    pub tags: TagStats,
    pub unacked: usize,
    pub faults: FaultStats,
}

/// A write that cannot finish in this time means nobody reads the other end;
/// the bytes are given up as lost on the air, and the tags retransmit.
const WRITE_TIMEOUT: Duration = Duration::from_secs(1);

/// Runs the planned day in real time on `port`: samples the sensors every
/// [`SAMPLE_MS`], sends what the tags send, applies the gateway's acks.
/// Returns once shopping is over and every event is acked; fails after
/// `ack_timeout` more without that.
pub async fn drive<P>(
    port: P,
    plan: &Plan,
    opts: DriveOptions,
    progress: watch::Sender<Progress>,
) -> anyhow::Result<Progress>
where
    P: AsyncRead + AsyncWrite + Send + 'static,
{
    // A fresh boot number per run, as a real tag's persisted counter, so a
    // second run never reuses the event ids of the first.
    let boot = clock::fresh_boot(protocol::time::UnixMillis::now());
    let mut store = VirtualStore::boot(&plan.ids, plan.script.clone(), boot, opts.seed);
    let mut link = FaultInjector::new(opts.faults, opts.seed);
    let (mut writer, mut downlinks, _reader) = port::split(port);
    let settled_ms = plan.settled_ms();
    let give_up_ms = settled_ms + clock::sim_ms(opts.ack_timeout);
    let clock = clock::SimClock::start();
    let now_ms = || clock.now_ms();
    let mut tick = tokio::time::interval(Duration::from_millis(SAMPLE_MS));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut next_log = 0;
    let mut frame = [0u8; MAX_ENCODED_LEN];
    let mut wire = Vec::new();
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            downlink = downlinks.recv() => {
                let downlink = downlink.context("the serial port closed: the receiver end hung up")?;
                if link.downlink(&downlink) {
                    store.handle_downlink(now_ms(), &downlink);
                }
                continue;
            }
        }
        let now = now_ms();
        store.advance(now);
        wire.clear();
        for uplink in store.poll_transmit(now) {
            // An uplink built from protocol's types always fits.
            let n = encode(&Frame::uplink(uplink), &mut frame).context("encoding an uplink")?;
            link.uplink(&frame[..n], &mut wire);
        }
        if !wire.is_empty() {
            match tokio::time::timeout(WRITE_TIMEOUT, writer.write_all(&wire)).await {
                Ok(result) => result.context("writing to the serial port")?,
                Err(_) => tracing::warn!(
                    bytes = wire.len(),
                    "serial port not draining; frames lost, tags will retransmit"
                ),
            }
        }
        let state = Progress {
            now_ms: now,
            tags: store.stats(),
            unacked: store.unacked(),
            faults: link.stats(),
        };
        progress.send_replace(state);
        if opts.log_progress && now >= next_log {
            next_log = now + 5_000;
            tracing::info!(
                t_s = now / 1000,
                events = state.tags.events,
                funnel_events = state.tags.funnel_events,
                frames = state.tags.frames,
                acked = state.tags.acked,
                unacked = state.unacked,
                "simulating"
            );
        }
        if store.dropped() > 0 {
            anyhow::bail!(
                "tags dropped {} events from full outboxes before the gateway acked them: HQ cannot match the truth (is the gateway reading the other end of the port?)",
                store.dropped()
            );
        }
        if now >= settled_ms && state.unacked == 0 {
            return Ok(state);
        }
        if now >= give_up_ms {
            anyhow::bail!(
                "{} events still unacked {} s after shopping ended: is `aisle gateway` running with this port's other end as its receiver, and its spool writable?",
                state.unacked,
                (now - plan.shopping_ms) / 1000
            );
        }
    }
}

/// Writes the truth where asked, atomically (a reader never sees half).
pub fn write_truth(path: &Path, truth: &FunnelReport) -> anyhow::Result<()> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, truth.to_json())
        .with_context(|| format!("cannot write the truth to {}", tmp.display()))?;
    std::fs::rename(&tmp, path)
        .with_context(|| format!("cannot write the truth to {}", path.display()))
}

/// Each `--truth` with its grouping.
fn truths(args: &Args) -> anyhow::Result<Vec<(PathBuf, Vec<Dimension>)>> {
    if !args.truth_by.is_empty() && args.truth_by.len() != args.truth.len() {
        anyhow::bail!(
            "{} --truth-by for {} --truth: give one grouping per truth file, or none for all by sku",
            args.truth_by.len(),
            args.truth.len()
        );
    }
    args.truth
        .iter()
        .enumerate()
        .map(|(i, path)| {
            let list = args.truth_by.get(i).map_or("sku", String::as_str);
            let by = crate::funnel::dimension::parse_by(list)
                .with_context(|| format!("--truth-by {list}"))?;
            if let Some(d) = by.iter().find(|d| !truth::DIMENSIONS.contains(d)) {
                anyhow::bail!(
                    "--truth-by {list}: the simulator's truth cannot be grouped by {d} (it has no catalog, store directory nor local clock); use sku, store, zone, fixture or channel"
                );
            }
            Ok((path.clone(), by))
        })
        .collect()
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let truths = truths(&args)?;
    let plan = plan(
        &args.config,
        args.seed,
        args.duration,
        args.window,
        args.shoppers_per_min,
    )?;
    for (path, by) in &truths {
        write_truth(path, &plan.truth.report(by))?;
    }
    tracing::info!(
        shoppers = plan.script.shoppers,
        visits = plan.script.visits.iter().map(|v| v.people).sum::<u64>(),
        journeys = plan.script.journeys.len(),
        dwells = plan.script.dwells.len(),
        truth = %truths[0].0.display(),
        "store planned"
    );
    let opts = DriveOptions {
        faults: args.faults,
        seed: args.seed,
        ack_timeout: args.ack_timeout,
        log_progress: true,
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    let done = runtime.block_on(async {
        let port = port::open(&args.port)?;
        let (progress, _) = watch::channel(Progress::default());
        drive(port, &plan, opts, progress).await
    })?;
    tracing::info!(
        elapsed_s = done.now_ms / 1000,
        events = done.tags.events,
        frames = done.tags.frames,
        acked = done.tags.acked,
        faults = ?done.faults,
        "every event acked; shopping done"
    );
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests;
