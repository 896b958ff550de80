//! Pickup detection quality on the labelled trace corpus (`firmware/corpus/`):
//! the firmware's detector, through the same replay `aisle tag replay` uses,
//! over every trace. Prints, per split (tuning, held-out), recall (lifts
//! reported before the garment was back on its rail), false pickups per kind
//! of touch, and the latency from the start of a lift to `PickedUp`.
//! A quality bench, not a timing one: BENCHMARKS.md keeps its figures.
//!
//! `cargo bench -p aisle-agent --bench pickup -- [--tilt-mg N] [--tilt-mg-s N]
//!  [--threshold-mg N] [--k N] [--m N] [--show-misses]`
//!
//! The flags try other thresholds than the defaults (on the tuning split
//! only, when tuning: the held-out split is for the final figures).

use aisle_agent::sim::motion::corpus::{Kind, Split};
use aisle_agent::tag_tool::replay::{self, ReplayEvent, ReplayRole};
use anyhow::{bail, Context};
use firmware::{MotionEvent, PickupTuning};
use protocol::Settings;
use std::collections::BTreeMap;
use std::path::Path;

/// One row of labels.csv.
struct Label {
    file: String,
    split: Split,
    kind: Kind,
    lift: Option<(u64, Option<u64>)>,
    notes: String,
}

fn labels(dir: &Path) -> anyhow::Result<Vec<Label>> {
    let path = dir.join("labels.csv");
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read {}", path.display()))?;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate().skip(1) {
        let f: Vec<&str> = line.splitn(8, ',').collect();
        if f.len() != 8 {
            bail!("labels.csv:{}: expected 8 fields", i + 1);
        }
        let (Some(split), Some(kind)) = (Split::parse(f[1]), Kind::parse(f[2])) else {
            bail!("labels.csv:{}: unknown split or kind", i + 1);
        };
        let lift = match f[5] {
            "" => None,
            lift => Some((lift.parse()?, f[6].parse().ok())),
        };
        out.push(Label {
            file: f[0].to_string(),
            split,
            kind,
            lift,
            notes: f[7].trim_matches('"').to_string(),
        });
    }
    Ok(out)
}

#[derive(Default)]
struct Tally {
    traces: u64,
    /// Pickup traces whose lift was reported in time.
    found: u64,
    /// PickedUp reports that were not a lift (or a second one for one lift).
    false_pickups: u64,
    traces_with_false: u64,
    latencies_ms: Vec<u64>,
}

fn percentile(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i] as f64 / 1_000.0
}

fn main() -> anyhow::Result<()> {
    let mut settings = Settings::default();
    let mut tuning = PickupTuning::default();
    let mut show_misses = false;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || -> anyhow::Result<u32> {
            args.next()
                .with_context(|| format!("{arg} needs a value"))?
                .parse()
                .with_context(|| format!("{arg} needs a whole number"))
        };
        match arg.as_str() {
            "--tilt-mg" => tuning.tilt_mg = value()? as u16,
            "--tilt-mg-s" => tuning.tilt_mg_s = value()? as u16,
            "--threshold-mg" => settings.pickup_threshold_mg = value()? as u16,
            "--k" => settings.pickup_k = value()? as u8,
            "--m" => settings.pickup_m = value()? as u8,
            "--show-misses" => show_misses = true,
            // cargo bench passes --bench to every bench program.
            "--bench" => {}
            other => bail!("unknown argument {other}"),
        }
    }
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../firmware/corpus");
    let labels = labels(&dir)?;
    let mut tallies: BTreeMap<(Split, Kind), Tally> = BTreeMap::new();
    for label in &labels {
        let path = dir.join(&label.file);
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        let trace = replay::parse(ReplayRole::Motion, &text).map_err(|bad| {
            anyhow::anyhow!("{}:{}: {}", path.display(), bad[0].line, bad[0].reason)
        })?;
        let pickups: Vec<u64> = replay::replay(&trace, &settings, &tuning)
            .into_iter()
            .filter(|e| e.event == ReplayEvent::Motion(MotionEvent::PickedUp))
            .map(|e| e.t_ms)
            .collect();
        let tally = tallies.entry((label.split, label.kind)).or_default();
        tally.traces += 1;
        let mut spurious = pickups.len() as u64;
        if let Some((lift, back)) = label.lift {
            let in_time = pickups
                .iter()
                .find(|&&t| t >= lift && back.is_none_or(|b| t <= b));
            match in_time {
                Some(&t) => {
                    tally.found += 1;
                    tally.latencies_ms.push(t - lift);
                    spurious -= 1;
                }
                None if show_misses => println!("missed: {} ({})", label.file, label.notes),
                None => {}
            }
        }
        if spurious > 0 && show_misses {
            println!(
                "false pickup: {} at {pickups:?} ({})",
                label.file, label.notes
            );
        }
        tally.false_pickups += spurious;
        tally.traces_with_false += u64::from(spurious > 0);
    }
    println!(
        "pickup detection on {} ({} traces); thresholds: {} mg, K {} of M {}, tilt {} mg for {} mg·s",
        dir.display(),
        labels.len(),
        settings.pickup_threshold_mg,
        settings.pickup_k,
        settings.pickup_m,
        tuning.tilt_mg,
        tuning.tilt_mg_s
    );
    for split in Split::ALL {
        println!("\n{} split", split.name());
        for kind in Kind::ALL {
            let Some(t) = tallies.get_mut(&(split, kind)) else {
                continue;
            };
            if kind == Kind::Pickup {
                t.latencies_ms.sort_unstable();
                println!(
                    "  recall: {}/{} lifts = {:.1} %; latency from lift to PickedUp: median {:.2} s, p90 {:.2} s, max {:.2} s; extra pickups {}",
                    t.found,
                    t.traces,
                    100.0 * t.found as f64 / t.traces as f64,
                    percentile(&t.latencies_ms, 0.5),
                    percentile(&t.latencies_ms, 0.9),
                    percentile(&t.latencies_ms, 1.0),
                    t.false_pickups
                );
            } else {
                println!(
                    "  false pickups, {:<6}: {}/{} traces = {:.1} %",
                    kind.name(),
                    t.traces_with_false,
                    t.traces,
                    100.0 * t.traces_with_false as f64 / t.traces as f64
                );
            }
        }
    }
    Ok(())
}
