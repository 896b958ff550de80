//! Writes the labelled pickup trace corpus: one CSV per trace (the format
//! `aisle tag replay --role motion` reads) and `labels.csv` naming each
//! trace's split, kind, seed, sampling period, lift times and drawn
//! parameters. Deterministic: the models and seeds of
//! `aisle_agent::sim::motion::corpus` give the same files every run.
//!
//! `cargo run --release -p aisle-agent --example pickup_corpus -- firmware/corpus`

use aisle_agent::sim::motion::corpus;
use anyhow::Context;
use std::fmt::Write as _;
use std::path::PathBuf;

fn main() -> anyhow::Result<()> {
    let dir: PathBuf = std::env::args_os()
        .nth(1)
        .context("usage: pickup_corpus DIR (e.g. firmware/corpus)")?
        .into();
    let traces_dir = dir.join("traces");
    if traces_dir.exists() {
        std::fs::remove_dir_all(&traces_dir)
            .with_context(|| format!("cannot clear {}", traces_dir.display()))?;
    }
    std::fs::create_dir_all(&traces_dir)
        .with_context(|| format!("cannot create {}", traces_dir.display()))?;
    let mut labels = String::from("file,split,kind,seed,period_ms,lift_ms,back_ms,notes\n");
    let traces = corpus::corpus();
    for trace in &traces {
        let name = trace.file_name();
        std::fs::write(traces_dir.join(&name), trace.to_csv())
            .with_context(|| format!("cannot write {name}"))?;
        let (lift, back) = match trace.lift {
            Some((lift, back)) => (
                lift.to_string(),
                back.map_or(String::new(), |b| b.to_string()),
            ),
            None => (String::new(), String::new()),
        };
        writeln!(
            labels,
            "traces/{name},{},{},{},{},{lift},{back},\"{}\"",
            trace.split.name(),
            trace.kind.name(),
            trace.seed,
            trace.period_ms,
            trace.notes.trim_start_matches("; ").replace('"', "'")
        )?;
    }
    std::fs::write(dir.join("labels.csv"), labels).context("cannot write labels.csv")?;
    println!(
        "wrote {} traces and labels.csv to {}",
        traces.len(),
        dir.display()
    );
    Ok(())
}
