//! `aisle simulate`: a simulated store on a serial port.
//!
//! A seeded shopper model ([`shoppers`]) decides what happens in the store;
//! [`truth`] turns the model's bookkeeping into the ground-truth funnel.

use std::process::ExitCode;

pub mod shoppers;
pub mod store;
pub mod tags;
pub mod truth;

#[derive(clap::Args)]
pub struct Args {}

pub fn run(_args: Args) -> anyhow::Result<ExitCode> {
    anyhow::bail!("not built yet")
}
