//! `aisle demo`: the whole system on this machine from one command. An
//! embedded MQTT broker (`broker`), the HQ collector on a temporary
//! SQLite file and the gateway with the demo store run beside a simulated
//! store joined to the gateway by a pseudo-terminal pair; at the end HQ's
//! funnel is printed beside the simulator's ground truth (`table`).
//!
//! The broker, the collector and the gateway are this same binary started
//! as child processes (`aisle demo --serve-broker`, `aisle hq`, `aisle
//! gateway`): the collector and gateway exactly as a store and HQ run them,
//! each with its own log, and no second copy of their start-up code. The
//! simulator lives in this process, so the pty pair is opened here and
//! progress read directly.

mod broker;
mod table;

use crate::cli::parse_duration;
use crate::funnel::report::FunnelReport;
use crate::funnel::Dimension;
use crate::sim::{self, DriveOptions, Progress};
use anyhow::Context;
use std::path::{Path, PathBuf};
use std::process::{ExitCode, Stdio};
use std::time::Duration;
use tokio::process::{Child, Command};
use tokio::sync::watch;

#[derive(clap::Args)]
pub struct Args {
    /// Shopping time of the simulated store.
    #[arg(long, default_value = "45s", value_parser = parse_duration)]
    duration: Duration,
    /// Seed of the shopper model: the same seed gives the same shoppers.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Mean arrival rate of shoppers.
    #[arg(long, default_value_t = 30.0)]
    shoppers_per_min: f64,
    /// Keep the demo's files (store config, spool, HQ database, truth, logs)
    /// in this directory instead of a temporary one removed at the end.
    #[arg(long)]
    keep: Option<PathBuf>,
    /// After the run, keep serving HQ's dashboard over the demo's database
    /// (http://127.0.0.1:8080/, or a free port if 8080 is taken) until Ctrl-C.
    #[arg(long)]
    dashboard: bool,
    /// Internal: run only the demo's broker on these two ports, MQTT 3.1.1
    /// then MQTT 5 (the demo starts itself this way as a child process).
    #[arg(long, hide = true, num_args = 2)]
    serve_broker: Option<Vec<u16>>,
}

/// The demo store, built in so the demo runs from the binary alone.
const STORE_TOML: &str = include_str!("../../../examples/store.toml");
/// The demo store in a store directory (`aisle funnel --stores`): its
/// region, city, brand and time zone.
const STORES_CSV: &str = include_str!("../../../examples/stores.csv");
/// HQ's default funnel window.
const WINDOW: Duration = Duration::from_secs(3_600);
/// From the simulator's last ack to HQ's tables: a batch's linger, publish
/// and the collector's commit take well under a second; this is for a
/// loaded machine.
const DELIVERY_DEADLINE: Duration = Duration::from_secs(30);
/// The collector's first subscription, or the gateway's connection, on a
/// loaded machine.
const START_DEADLINE: Duration = Duration::from_secs(20);
const PROGRESS_EVERY: Duration = Duration::from_secs(3);

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    if let Some(ports) = args.serve_broker {
        broker::serve(ports[0], ports[1])?;
        return Ok(ExitCode::SUCCESS);
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    runtime.block_on(demo(args))
}

async fn demo(args: Args) -> anyhow::Result<ExitCode> {
    let temp;
    let dir = match &args.keep {
        Some(dir) => {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
            dir.clone()
        }
        None => {
            temp = tempfile::Builder::new()
                .prefix("aisle-demo-")
                .tempdir()
                .context("creating a temporary directory")?;
            temp.path().to_path_buf()
        }
    };
    let store_toml = dir.join("store.toml");
    std::fs::write(&store_toml, STORE_TOML)
        .with_context(|| format!("cannot write {}", store_toml.display()))?;
    let stores_csv = dir.join("stores.csv");
    std::fs::write(&stores_csv, STORES_CSV)
        .with_context(|| format!("cannot write {}", stores_csv.display()))?;
    let plan = sim::plan(
        &store_toml,
        args.seed,
        args.duration,
        WINDOW,
        args.shoppers_per_min,
    )?;
    let truth = plan.truth.report(&[Dimension::Sku]);
    sim::write_truth(&dir.join("truth.json"), &truth)?;

    let (port, port_v5) = broker::free_ports()?;
    let broker_log = dir.join("broker.log");
    let mut broker_process = spawn(
        "the broker",
        &[
            "demo",
            "--serve-broker",
            &port.to_string(),
            &port_v5.to_string(),
        ],
        &broker_log,
    )?;
    wait_for("the broker to listen", START_DEADLINE, || {
        broker::is_listening(port) && broker::is_listening(port_v5)
    })
    .await
    .map_err(|e| anyhow::anyhow!("{e}:\n{}", tail(&broker_log)))?;
    // HQ's collector speaks MQTT 3.1.1, the gateway MQTT 5.
    let url = format!("mqtt://127.0.0.1:{port}");
    let url_v5 = format!("mqtt://127.0.0.1:{port_v5}");
    // The receiver: one end for the simulator, the other for the gateway.
    // This process keeps the gateway's end open too, so the simulator's end
    // never sees a hang-up while the gateway starts.
    let (receiver, gateway_end) =
        tokio_serial::SerialStream::pair().context("opening a pseudo-terminal pair")?;
    let gateway_tty =
        tokio_serial::SerialPort::name(&gateway_end).context("the pseudo-terminal has no name")?;

    println!("aisle demo: a simulated store, its gateway and HQ, all on this machine");
    println!("  broker   rumqttd (built in) on {url}");
    println!(
        "  store    {} shoppers over {} s, seed {}, receiver on {gateway_tty}",
        plan.script.shoppers,
        args.duration.as_secs(),
        args.seed
    );
    println!("  files    {}", dir.display());
    println!();

    let hq_db = dir.join("hq.sqlite");
    let hq_log = dir.join("hq.log");
    // A kept directory may hold ready files of an earlier demo; each service
    // removes its own at start, but the wait below must not see a stale one.
    let hq_ready = fresh(dir.join("hq.ready"))?;
    let gateway_ready = fresh(dir.join("gateway.ready"))?;
    let mut hq = spawn(
        "aisle hq",
        &[
            "hq",
            "--broker",
            &url,
            "--client-id",
            "aisle-demo-hq",
            "--db",
            &hq_db.to_string_lossy(),
            "--ready-file",
            &hq_ready.to_string_lossy(),
        ],
        &hq_log,
    )?;
    wait_for("the HQ collector to subscribe", START_DEADLINE, || {
        hq_ready.exists()
    })
    .await
    .map_err(|e| anyhow::anyhow!("{e}:\n{}", tail(&hq_log)))?;
    let gateway_log = dir.join("gateway.log");
    let mut gateway = spawn(
        "aisle gateway",
        &[
            "gateway",
            "--config",
            &store_toml.to_string_lossy(),
            "--broker",
            &url_v5,
            "--receiver",
            &gateway_tty,
            "--spool",
            &dir.join("spool.sqlite").to_string_lossy(),
            "--ready-file",
            &gateway_ready.to_string_lossy(),
        ],
        &gateway_log,
    )?;
    wait_for("the gateway to connect", START_DEADLINE, || {
        gateway_ready.exists()
    })
    .await
    .map_err(|e| anyhow::anyhow!("{e}:\n{}", tail(&gateway_log)))?;

    let (progress_tx, progress_rx) = watch::channel(Progress::default());
    let reporter = tokio::spawn(report_progress(progress_rx, hq_db.clone()));
    let opts = DriveOptions {
        faults: Default::default(),
        seed: args.seed,
        ack_timeout: Duration::from_secs(60),
        log_progress: false,
    };
    let driven = sim::drive(receiver, &plan, opts, progress_tx).await;
    reporter.abort();
    let verdict = match driven {
        Ok(done) => {
            println!(
                "[{:>3}s] shopping over: {} tag events, all {} acked by the gateway; waiting for HQ",
                done.now_ms / 1000,
                done.tags.events,
                done.tags.acked
            );
            settle_and_compare(&plan, &hq_db).await
        }
        Err(e) => Err(e),
    };
    stop(&mut gateway).await;
    stop(&mut hq).await;
    stop(&mut broker_process).await;
    drop(gateway_end);
    if args.dashboard && verdict.is_ok() {
        serve_dashboard(&hq_db).await?;
    }
    match verdict {
        Ok(true) => Ok(ExitCode::SUCCESS),
        Ok(false) => {
            println!("logs: {} and {}", gateway_log.display(), hq_log.display());
            Ok(ExitCode::FAILURE)
        }
        Err(e) => {
            eprintln!("gateway log (tail):\n{}", tail(&gateway_log));
            eprintln!("HQ log (tail):\n{}", tail(&hq_log));
            Err(e)
        }
    }
}

/// Waits until HQ's funnel equals the truth (or the deadline), then prints
/// both and the verdict. `Ok(true)` when they match.
async fn settle_and_compare(plan: &sim::Plan, hq_db: &Path) -> anyhow::Result<bool> {
    let by_sku = plan.truth.report(&[Dimension::Sku]);
    let by_store = plan.truth.report(&[Dimension::Store]);
    let hq_reports = || -> anyhow::Result<_> {
        Ok((
            table::hq_report(hq_db, WINDOW, vec![Dimension::Sku])?,
            table::hq_report(hq_db, WINDOW, vec![Dimension::Store])?,
        ))
    };
    let differences = |(sku, store): &(FunnelReport, FunnelReport)| {
        let mut out = table::differences(&by_sku, sku);
        out.extend(table::differences(&by_store, store));
        out
    };
    let start = tokio::time::Instant::now();
    let mut hq = hq_reports()?;
    while !differences(&hq).is_empty() && start.elapsed() < DELIVERY_DEADLINE {
        tokio::time::sleep(Duration::from_millis(500)).await;
        hq = hq_reports()?;
    }
    let differences = differences(&hq);
    println!();
    print!("{}", table::side_by_side(&by_sku, &hq.0, &skus_by_gtin()));
    println!();
    println!("People through the door (entrance counter), each figure HQ|truth:");
    print!("{}", table::visits_by_store(&by_store, &hq.1));
    println!();
    if differences.is_empty() {
        println!("MATCH: HQ's funnel equals the ground truth (the same `aisle funnel --format json` bytes).");
    } else {
        println!("MISMATCH: HQ's funnel differs from the ground truth:");
        for d in &differences {
            println!("  {d}");
        }
    }
    Ok(differences.is_empty())
}

/// Where the demo's dashboard listens when it can.
const DASHBOARD_ADDR: &str = "127.0.0.1:8080";

/// Serves HQ's dashboard over the demo's database until Ctrl-C, with the
/// demo store's SKU names as its catalog.
async fn serve_dashboard(hq_db: &Path) -> anyhow::Result<()> {
    let listener = match tokio::net::TcpListener::bind(DASHBOARD_ADDR).await {
        Ok(listener) => listener,
        Err(_) => tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .context("cannot listen for the dashboard")?,
    };
    let mut config = crate::dashboard::Config::local(hq_db.to_path_buf());
    config.catalog = demo_catalog()?;
    config.stores = crate::funnel::StoreDirectory::parse(STORES_CSV)
        .context("the demo store's directory (examples/stores.csv)")?;
    println!();
    println!("HQ's dashboard over this run's database (Ctrl-C to stop):");
    let shutdown = crate::hq::shutdown_signal()?;
    crate::dashboard::serve(listener, config, shutdown).await
}

/// The demo store's SKUs as a catalog: the GTIN is the SKU code, the
/// store config's name the product name.
fn demo_catalog() -> anyhow::Result<crate::funnel::Catalog> {
    let quote = |field: &str| format!("\"{}\"", field.replace('"', "\"\""));
    let mut csv = String::from("gtin,sku,style,name,colour,size\n");
    for (gtin, name) in skus_by_gtin() {
        csv.push_str(&format!("{gtin},{gtin},,{},,\n", quote(&name)));
    }
    crate::funnel::Catalog::parse(&csv).context("the demo store's SKUs as a catalog")
}

/// SKU names from the demo store's `[[skus]]`, for the table.
fn skus_by_gtin() -> std::collections::BTreeMap<String, String> {
    let Ok(cfg) = crate::config::parse(Path::new("store.toml"), STORE_TOML) else {
        return Default::default();
    };
    cfg.skus
        .into_iter()
        .filter_map(|s| s.name.map(|n| (s.gtin, n)))
        .collect()
}

async fn report_progress(mut progress: watch::Receiver<Progress>, hq_db: PathBuf) {
    let mut tick = tokio::time::interval(PROGRESS_EVERY);
    loop {
        tick.tick().await;
        let p = *progress.borrow_and_update();
        println!(
            "[{:>3}s] tags: {:>4} events ({} funnel), {:>4} spooled (acked by the gateway) | HQ: {:>3} funnel events delivered",
            p.now_ms / 1000,
            p.tags.events,
            p.tags.funnel_events,
            p.tags.acked,
            table::hq_event_count(&hq_db)
        );
    }
}

/// Starts this binary with `args`, output to `log`.
fn spawn(what: &str, args: &[&str], log: &Path) -> anyhow::Result<Child> {
    let exe = std::env::current_exe().context("finding the aisle binary")?;
    let out =
        std::fs::File::create(log).with_context(|| format!("cannot create {}", log.display()))?;
    let err = out.try_clone().context("duplicating the log handle")?;
    Command::new(exe)
        .args(args)
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("starting {what}"))
}

/// Asks a child to stop (SIGTERM: the gateway and HQ flush and close
/// cleanly) and waits for it; kills it if it takes too long.
async fn stop(child: &mut Child) {
    if let Some(pid) = child.id() {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid as i32),
            nix::sys::signal::Signal::SIGTERM,
        );
    }
    if tokio::time::timeout(Duration::from_secs(10), child.wait())
        .await
        .is_err()
    {
        let _ = child.kill().await;
    }
}

/// Polls `ready` until it holds, for conditions that offer no signal.
async fn wait_for(
    what: &str,
    deadline: Duration,
    mut ready: impl FnMut() -> bool,
) -> anyhow::Result<()> {
    let start = tokio::time::Instant::now();
    while start.elapsed() < deadline {
        if ready() {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    anyhow::bail!(
        "timed out after {} s waiting for {what}",
        deadline.as_secs()
    )
}

/// `path`, with any ready file an earlier run left there removed.
fn fresh(path: PathBuf) -> anyhow::Result<PathBuf> {
    crate::ready::clear(&path).with_context(|| format!("cannot remove {}", path.display()))?;
    Ok(path)
}

fn tail(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(15)..].join("\n")
}
