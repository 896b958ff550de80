//! `aisle tag`: the technicians' tag tools. `aisle tag config` writes the
//! config page image a tag boots from (its id, role, thresholds and, on a
//! garment tag, the garment's EPC); `aisle tag show` reads one back; `aisle
//! tag replay` runs a tag's detector over a recorded trace ([`replay`]);
//! `aisle tag identify|configure` command a tag through the gateway
//! ([`command`]). The
//! page format is the firmware's own (`firmware::Config`), so what the tool
//! writes is exactly what the tag parses.

pub mod command;
pub mod replay;

use crate::epc::{garment_from_hex, to_hex, GarmentEpcError};
use anyhow::{bail, Context};
use firmware::{Config, EntranceSettings, PickupTuning, Role, CONFIG_IMAGE_LEN};
use protocol::{EpcBytes, Settings};
use std::path::PathBuf;
use std::process::ExitCode;

/// Widest K-of-M window the pickup detector keeps.
const MAX_PICKUP_M: u8 = firmware::pickup::MAX_WINDOW;

#[derive(clap::Subcommand)]
pub enum Command {
    /// Write a tag's config page image, to flash with probe-rs.
    #[command(after_help = "Example (a garment tag, default thresholds):\n  \
        aisle tag config --id 0x00A15E01 --role motion \\\n    \
        --epc 3074257BF7194E4000001A85 -o tag.page\n  \
        aisle tag show tag.page\n\n\
        Example (a door counter, counts every 5 minutes):\n  \
        aisle tag config --id 0x0E170001 --role entrance --period-ms 300000 -o door.page")]
    Config(ConfigArgs),
    /// Print what a config page image holds.
    Show {
        /// The page image, as written by `aisle tag config`.
        page: PathBuf,
    },
    /// Run a tag's detector (the firmware's own code) over a recorded
    /// sensor trace and print the events the tag would send.
    #[command(
        after_help = "Trace files are CSV with a header, one sample a row:\n  \
        motion:   t_ms,x_mg,y_mg,z_mg\n  \
        presence: t_ms,present   (0 or 1)\n\n\
        Example:\n  \
        aisle tag replay --role motion garment.csv\n  \
        aisle tag replay --role motion --page tag.page garment.csv --json"
    )]
    Replay(ReplayArgs),
    /// Make a tag blink its LED so a technician can find it, through the
    /// gateway on this box.
    Identify(command::IdentifyArgs),
    /// Change some of a tag's thresholds over the air, through the gateway
    /// on this box; the tag keeps its other settings.
    Configure(command::ConfigureArgs),
}

#[derive(clap::Args)]
pub struct ReplayArgs {
    /// Which detector to run: motion (pickups) or presence (dwells).
    #[arg(long, value_parser = replay::ReplayRole::ALL.map(|r| r.name()))]
    role: String,
    /// Take the thresholds from this config page image (as written by
    /// `aisle tag config`) instead of the defaults.
    #[arg(long)]
    page: Option<PathBuf>,
    /// One JSON object a line: {"event":"picked_up","t_ms":1240}.
    #[arg(long)]
    json: bool,
    /// The recorded trace (CSV).
    trace: PathBuf,
}

#[derive(clap::Args)]
pub struct ConfigArgs {
    /// The tag's 32-bit id, decimal or 0x-prefixed hex (printed on its label).
    #[arg(long, value_parser = parse_tag_id)]
    id: u32,
    /// What the tag does: motion (on a garment), presence (PIR on a fixture),
    /// reader (fitting room or checkout UHF reader) or entrance (two
    /// break-beams across the store's door, counting people in and out).
    #[arg(long, value_parser = ["motion", "presence", "reader", "entrance"])]
    role: String,
    /// The garment's EPC as hex (SGTIN-96 or SGTIN-198); motion tags only.
    #[arg(long)]
    epc: Option<String>,
    /// Pickup: |a - rest| above this many milli-g counts as moving.
    #[arg(long, default_value_t = Settings::default().pickup_threshold_mg)]
    pickup_threshold_mg: u16,
    /// Pickup: K moving samples ...
    #[arg(long, default_value_t = Settings::default().pickup_k)]
    pickup_k: u8,
    /// ... out of the last M (at most 32).
    #[arg(long, default_value_t = Settings::default().pickup_m)]
    pickup_m: u8,
    /// Pickup: the swing-averaged orientation must differ from rest by more
    /// than this many milli-g ...
    #[arg(long, default_value_t = PickupTuning::default().tilt_mg)]
    pickup_tilt_mg: u16,
    /// ... for long enough: the excess, integrated over time, in milli-g ×
    /// seconds (so a brush or a push along the rail is not a pickup).
    #[arg(long, default_value_t = PickupTuning::default().tilt_mg_s)]
    pickup_tilt_mg_s: u16,
    /// Put-down: still for this many milliseconds.
    #[arg(long, default_value_t = Settings::default().still_ms)]
    still_ms: u32,
    /// Dwell: presence must last this many milliseconds.
    #[arg(long, default_value_t = Settings::default().dwell_min_ms)]
    dwell_min_ms: u32,
    /// Dwell: gaps shorter than this do not split a visit.
    #[arg(long, default_value_t = Settings::default().dwell_gap_ms)]
    dwell_gap_ms: u32,
    /// Reader: report a garment again after not seeing it this long.
    #[arg(long, default_value_t = Settings::default().reader_visit_ms)]
    reader_visit_ms: u32,
    /// Entrance: a beam must stay broken (or clear) this many milliseconds
    /// to count; shorter blips are flicker.
    #[arg(long, default_value_t = EntranceSettings::default().min_break_ms)]
    min_break_ms: u16,
    /// Entrance: a beam broken this many milliseconds is blocked (a propped
    /// door, a pram): nothing is counted until it clears, and the heartbeat
    /// says so.
    #[arg(long, default_value_t = EntranceSettings::default().blocked_ms)]
    blocked_ms: u32,
    /// Entrance: people counts are sent once per period of this many
    /// milliseconds (only for periods in which someone came or went).
    #[arg(long, default_value_t = EntranceSettings::default().period_ms)]
    period_ms: u32,
    /// Heartbeat period in seconds.
    #[arg(long, default_value_t = Settings::default().heartbeat_s)]
    heartbeat_s: u32,
    /// Where to write the page image.
    #[arg(short = 'o', long)]
    output: PathBuf,
}

pub fn run(cmd: Command) -> anyhow::Result<ExitCode> {
    match cmd {
        Command::Config(args) => write_page(args),
        Command::Show { page } => show_page(&page),
        Command::Replay(args) => replay_trace(&args),
        Command::Identify(args) => command::identify(args),
        Command::Configure(args) => command::configure(args),
    }
}

/// Bad rows listed before giving up: enough to see a pattern.
const MAX_BAD_ROWS_SHOWN: usize = 20;

fn replay_trace(args: &ReplayArgs) -> anyhow::Result<ExitCode> {
    // clap only lets the listed role names through.
    let role = replay::ReplayRole::parse(&args.role).context("unknown --role")?;
    let (settings, tuning) = match &args.page {
        Some(page) => {
            let config = read_page(page)?;
            (config.settings, config.pickup)
        }
        None => (Settings::default(), PickupTuning::default()),
    };
    let path = &args.trace;
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the trace {}", path.display()))?;
    let trace = match replay::parse(role, &text) {
        Ok(trace) => trace,
        Err(bad) => {
            for row in bad.iter().take(MAX_BAD_ROWS_SHOWN) {
                eprintln!("{}:{}: {}", path.display(), row.line, row.reason);
            }
            if bad.len() > MAX_BAD_ROWS_SHOWN {
                eprintln!("… and {} more bad rows", bad.len() - MAX_BAD_ROWS_SHOWN);
            }
            bail!(
                "{}: {} bad rows; nothing replayed. Fix them and run again",
                path.display(),
                bad.len()
            );
        }
    };
    let events = replay::replay(&trace, &settings, &tuning);
    for event in &events {
        if args.json {
            println!("{}", event.to_json());
        } else {
            println!("{event}");
        }
    }
    if !args.json {
        let span_s = trace
            .samples
            .last()
            .map_or(0.0, |(t, _)| *t as f64 / 1_000.0);
        println!(
            "{} event{} from {} samples over {span_s:.3} s ({} thresholds)",
            events.len(),
            if events.len() == 1 { "" } else { "s" },
            trace.samples.len(),
            match &args.page {
                Some(page) => format!("{}'s", page.display()),
                None => "default".to_string(),
            }
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// A config page image, or why it cannot be used.
fn read_page(path: &PathBuf) -> anyhow::Result<Config> {
    let image = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    Config::from_image(&image).map_err(|status| {
        anyhow::anyhow!(
            "{} is not a usable config page ({status:?}); write a new one with `aisle tag config`",
            path.display()
        )
    })
}

fn write_page(args: ConfigArgs) -> anyhow::Result<ExitCode> {
    let role = match args.role.as_str() {
        "motion" => Role::Motion,
        "presence" => Role::Presence,
        "entrance" => Role::Entrance,
        _ => Role::Reader,
    };
    let epc = match (&args.epc, role) {
        (Some(hex), Role::Motion) => Some(parse_epc(hex)?),
        (None, Role::Motion) => {
            bail!("--role motion needs --epc: the garment's EPC travels with every pickup")
        }
        (Some(_), _) => bail!(
            "--epc is for motion tags only; a {} tag has no garment",
            args.role
        ),
        (None, _) => None,
    };
    let settings = settings(&args)?;
    let config = Config {
        tag: args.id,
        role,
        settings,
        epc,
        pickup: PickupTuning {
            tilt_mg: args.pickup_tilt_mg,
            tilt_mg_s: args.pickup_tilt_mg_s,
        },
        entrance: entrance_settings(&args)?,
    };
    let image = config.to_image().context("cannot build the config page")?;
    std::fs::write(&args.output, image)
        .with_context(|| format!("cannot write the config page to {}", args.output.display()))?;
    println!(
        "wrote the config page of tag {:#010x} ({}) to {} ({CONFIG_IMAGE_LEN} bytes)",
        config.tag,
        args.role,
        args.output.display()
    );
    println!(
        "flash it with: probe-rs download --binary-format bin --base-address <page> {} \
         (page 0x7F000 on nRF52832, 0x3FC00 on nRF51822)",
        args.output.display()
    );
    Ok(ExitCode::SUCCESS)
}

fn show_page(path: &PathBuf) -> anyhow::Result<ExitCode> {
    let config = read_page(path)?;
    let role = match config.role {
        Role::Motion => "motion",
        Role::Presence => "presence",
        Role::Reader => "reader",
        Role::Entrance => "entrance",
    };
    let s = config.settings;
    println!("tag: {:#010x}", config.tag);
    println!("role: {role}");
    if let Some(epc) = config.epc {
        println!("epc: {}", to_hex(epc.as_bytes()));
    }
    println!(
        "pickup: {} mg, {} of {} samples, tilt {} mg for {} mg·s, still {} ms",
        s.pickup_threshold_mg,
        s.pickup_k,
        s.pickup_m,
        config.pickup.tilt_mg,
        config.pickup.tilt_mg_s,
        s.still_ms
    );
    println!(
        "dwell: min {} ms, gap {} ms",
        s.dwell_min_ms, s.dwell_gap_ms
    );
    println!("reader visit: {} ms", s.reader_visit_ms);
    let e = config.entrance;
    println!(
        "entrance: break {} ms, blocked after {} ms, counts every {} ms",
        e.min_break_ms, e.blocked_ms, e.period_ms
    );
    println!("heartbeat: {} s", s.heartbeat_s);
    Ok(ExitCode::SUCCESS)
}

/// The entrance counter's thresholds, refusing ones the counter cannot work
/// with.
fn entrance_settings(args: &ConfigArgs) -> anyhow::Result<EntranceSettings> {
    if args.period_ms == 0 {
        bail!("--period-ms must be at least 1: counts are sent once per period");
    }
    if u64::from(args.min_break_ms) >= u64::from(args.blocked_ms) {
        bail!(
            "--blocked-ms ({}) must be longer than --min-break-ms ({}): \
             a beam is only blocked after it counts as broken",
            args.blocked_ms,
            args.min_break_ms
        );
    }
    Ok(EntranceSettings {
        min_break_ms: args.min_break_ms,
        blocked_ms: args.blocked_ms,
        period_ms: args.period_ms,
    })
}

fn parse_tag_id(text: &str) -> Result<u32, String> {
    let parsed = match text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        Some(hex) => u32::from_str_radix(hex, 16),
        None => text.parse(),
    };
    parsed.map_err(|_| format!("{text:?} is not a 32-bit tag id (decimal or 0x-prefixed hex)"))
}

/// The garment's EPC, which must be an SGTIN: HQ's funnel is per GTIN.
fn parse_epc(hex: &str) -> anyhow::Result<EpcBytes> {
    match garment_from_hex(hex) {
        Ok(garment) => Ok(garment.bytes),
        Err(GarmentEpcError::NotHex(_)) => anyhow::bail!("--epc {:?} is not hex", hex.trim()),
        Err(GarmentEpcError::NotSgtin(reason)) => anyhow::bail!(
            "--epc {:?} is not a valid SGTIN ({reason}); check it with `aisle epc decode`",
            hex.trim()
        ),
        Err(GarmentEpcError::TooLong(_)) => {
            anyhow::bail!("--epc is longer than any EPC a tag can carry")
        }
    }
}

/// The thresholds from the flags (each defaults to `Settings::default()`),
/// checked so a tag never boots with a detector that cannot fire.
fn settings(args: &ConfigArgs) -> anyhow::Result<Settings> {
    let s = Settings {
        pickup_threshold_mg: args.pickup_threshold_mg,
        pickup_k: args.pickup_k,
        pickup_m: args.pickup_m,
        still_ms: args.still_ms,
        dwell_min_ms: args.dwell_min_ms,
        dwell_gap_ms: args.dwell_gap_ms,
        reader_visit_ms: args.reader_visit_ms,
        heartbeat_s: args.heartbeat_s,
    };
    if s.pickup_threshold_mg == 0 {
        bail!("--pickup-threshold-mg must be above 0, or every sample counts as motion");
    }
    if s.pickup_m == 0 || s.pickup_m > MAX_PICKUP_M {
        bail!("--pickup-m must be 1 to {MAX_PICKUP_M}, got {}", s.pickup_m);
    }
    if s.pickup_k == 0 || s.pickup_k > s.pickup_m {
        bail!(
            "--pickup-k must be 1 to --pickup-m ({}), got {}",
            s.pickup_m,
            s.pickup_k
        );
    }
    if s.heartbeat_s == 0 {
        bail!("--heartbeat-s must be at least 1");
    }
    Ok(s)
}
