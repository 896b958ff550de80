//! The online channels beside the stores: `aisle online import` brings the
//! mini-program's or web shop's own tracking (Tencent Youshu behaviours,
//! GA4's BigQuery export) into the event store as funnel steps, and
//! `aisle export` hands the stores' events to those tools in their formats.
//! The funnel engine reads both with one definition of a journey
//! (agent/src/funnel/engine.rs); docs/online.md has the mapping.

pub mod event;
pub mod export;
pub mod ga4;
pub mod import;
pub mod store;
pub mod youshu;

#[cfg(test)]
mod tests;

use std::process::ExitCode;

/// The tracking formats aisle reads and writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Tencent Youshu (腾讯有数) behaviours, one JSON object per line.
    Youshu,
    /// GA4 BigQuery export rows, one JSON object per line.
    Ga4,
}

/// `aisle online …`.
#[derive(clap::Subcommand)]
pub enum Command {
    /// Import an online channel's behaviours (Youshu or GA4 NDJSON, gzipped or not).
    Import(import::ImportArgs),
}

pub fn run(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Import(args) => import::run(args),
    }
}
