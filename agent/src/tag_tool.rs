//! Placeholder while this command is being built.

use std::process::ExitCode;

#[derive(clap::Subcommand)]
pub enum Command {
    /// Placeholder.
    Todo,
}

pub fn run(_cmd: Command) -> anyhow::Result<ExitCode> {
    anyhow::bail!("not built yet")
}
