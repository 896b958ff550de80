//! `aisle check-config FILE`: validate a store config the way the gateway
//! does at start-up, and point at each bad line.
//!
//! Exit status: 0 when the config is valid, 1 when it is not (every problem
//! is printed to stderr as `file:line:column: message` plus a help line).

use crate::config;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    /// The store config file (TOML).
    pub file: PathBuf,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    match config::load(&args.file) {
        Ok(c) => {
            println!(
                "{}: OK (store {}, {} receivers, {} fixtures, {} readers, {} entrances, {} SKUs, {} garments)",
                args.file.display(),
                c.store,
                c.receivers.len(),
                c.fixtures.len(),
                c.readers.len(),
                c.entrances.len(),
                c.skus.len(),
                c.garments.len()
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(errors) => {
            eprintln!("{errors}");
            eprintln!("{}: {} error(s)", args.file.display(), errors.0.len());
            Ok(ExitCode::FAILURE)
        }
    }
}
