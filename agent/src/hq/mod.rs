//! `aisle hq`: the HQ collector. It takes every store's batches from the
//! broker, validates them and stores their events idempotently in SQLite,
//! acking each batch to the broker only once it is committed.

pub mod db;
pub mod validate;

use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {}

pub fn run(_args: Args) -> anyhow::Result<ExitCode> {
    anyhow::bail!("not built yet")
}
