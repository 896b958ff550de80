//! `aisle`: the store gateway, the HQ collector, the funnel report, the store
//! simulator and the technicians' tools, in one binary. This file only parses
//! the command line; everything else is the `aisle_agent` library.

use clap::{Parser, Subcommand};
use std::process::ExitCode;

#[cfg(feature = "dashboard")]
use aisle_agent::dashboard;
#[cfg(feature = "demo")]
use aisle_agent::demo;
use aisle_agent::{check_config, epc_tool, funnel, gateway, hq, logging, online, sim, tag_tool};

/// aisle makes in-store browsing measurable with the online funnel's logic:
/// tags report pickups, dwells, try-ons and purchases; the gateway ships them
/// durably to HQ; HQ reports conversion per SKU.
#[derive(Parser)]
#[command(name = "aisle", version, propagate_version = true)]
struct Cli {
    /// Log format: `text` for people, `json` for log shippers.
    #[arg(long, global = true, default_value = "text", value_parser = ["text", "json"])]
    log_format: String,

    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the store gateway: read tag receivers, spool events, ship them to HQ.
    Gateway(gateway::Args),
    /// Validate a store config file and point at the bad line.
    CheckConfig(check_config::Args),
    /// Run the HQ collector: subscribe to all stores' events and store them.
    Hq(hq::Args),
    /// Print the conversion funnel per SKU (or store, style, fixture, zone, region, day, hour, channel), with visits and dwells.
    Funnel(funnel::Args),
    /// Serve HQ's dashboard: funnels, stores and the fleet, in a browser.
    #[cfg(feature = "dashboard")]
    Dashboard(dashboard::Args),
    /// Bring an online channel's tracking (Youshu, GA4) in beside the stores.
    #[command(subcommand)]
    Online(online::Command),
    /// Write the stores' events as Youshu behaviours or GA4 export rows.
    Export(online::export::Args),
    /// Act as a store's tag receivers on a serial port, with simulated shoppers.
    Simulate(sim::Args),
    /// Run the whole system on this machine: broker, HQ, gateway and a simulated store.
    #[cfg(feature = "demo")]
    Demo(demo::Args),
    /// Decode or encode a garment's EPC (SGTIN-96 / SGTIN-198).
    #[command(subcommand)]
    Epc(epc_tool::Command),
    /// Technicians' tag tools: find a tag (identify) or change its thresholds (configure) through the gateway, write or show a config page image, replay a trace.
    #[command(subcommand)]
    Tag(tag_tool::Command),
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        // --help and --version: printed to stdout in full.
        Err(e) if !e.use_stderr() => e.exit(),
        Err(e) => {
            eprintln!("aisle: {}", one_line(&e));
            return ExitCode::from(e.exit_code().clamp(1, 255) as u8);
        }
    };
    logging::init(&cli.log_format);
    let result = match cli.command {
        Command::Gateway(args) => gateway::run(args),
        Command::CheckConfig(args) => check_config::run(args),
        Command::Hq(args) => hq::run(args),
        Command::Funnel(args) => funnel::run(args),
        #[cfg(feature = "dashboard")]
        Command::Dashboard(args) => dashboard::run(args),
        Command::Online(cmd) => online::run(cmd),
        Command::Export(args) => online::export::run(args),
        Command::Simulate(args) => sim::run(args),
        #[cfg(feature = "demo")]
        Command::Demo(args) => demo::run(args),
        Command::Epc(cmd) => epc_tool::run(cmd),
        Command::Tag(cmd) => tag_tool::run(cmd),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            // One clear line for people and scripts: the error and its causes.
            eprintln!("aisle: {err:#}");
            ExitCode::FAILURE
        }
    }
}

/// A command-line error as one line, like every other error: clap's message
/// without its `error:` label, the usage block and the tips after it.
fn one_line(e: &clap::Error) -> String {
    let text = e.render().to_string();
    let message: Vec<&str> = text
        .lines()
        .take_while(|l| !l.trim().is_empty())
        .map(str::trim)
        .collect();
    let message = message.join(" ");
    let message = message.strip_prefix("error: ").unwrap_or(&message);
    format!("{message} (see --help)")
}
