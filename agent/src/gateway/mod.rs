//! `aisle gateway`: the store gateway, a pipeline named after its stages.
//!
//! ```text
//! receivers ─ingest─> spool writer (dedup · enrich · group commit) ─> spool
//!     ^                      │ acks after commit                       │
//!     └──────────────────────┘                       uplink (MQTT QoS 1, PUBACK → delete)
//! ```
//!
//! One task per receiver (`ingest`), one thread owning the SQLite spool
//! (`spool::writer`, using `enrich`), one task for MQTT (`uplink`),
//! counters in `status`, and one shutdown path (`shutdown`). These stages
//! are private to the crate: [`serve`] runs them all.

pub(crate) mod commands;
pub(crate) mod enrich;
pub(crate) mod ingest;
pub(crate) mod messages;
pub(crate) mod metrics;
pub(crate) mod shutdown;
pub(crate) mod spool;
pub(crate) mod status;
pub(crate) mod uplink;

use crate::config::{self, defaults, StoreConfig};
use crate::mqtt::mqtt5_options;
use crate::ready::ReadyFile;
use anyhow::Context;
use protocol::time::UnixMillis;
use protocol::topics::{Topic, TopicKind};
use rumqttc::v5::mqttbytes::v5::LastWill;
use rumqttc::v5::mqttbytes::QoS;
use spool::writer::Writer;
use spool::{Spool, SpoolReader};
use std::future::Future;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot, watch};

/// Exit status when the config is invalid (runtime failures exit 1).
const EXIT_BAD_CONFIG: u8 = 2;

/// Uplinks the receivers may queue for the writer (in read chunks): a
/// second of a full receiver, so a slow commit pushes back on the serial
/// reads instead of growing memory.
const SPOOL_QUEUE: usize = 128;

/// Ack messages queued per receiver.
const ACK_QUEUE: usize = 1024;

#[derive(clap::Args)]
#[command(after_help = "Example:\n  \
    aisle check-config /etc/aisle/store.toml\n  \
    aisle gateway --config /etc/aisle/store.toml --log-format json\n\n\
    Reference: docs/gateway.md")]
pub struct Args {
    /// The store config (TOML); see docs/gateway.md.
    #[arg(long)]
    pub config: PathBuf,
    /// Write this file (holding the process id) once connected to the
    /// broker with every receiver open; a file left by an earlier run is
    /// removed at start.
    #[arg(long, value_name = "PATH")]
    pub ready_file: Option<PathBuf>,
    /// Broker URL, replacing `[broker] url` (e.g. mqtt://127.0.0.1:1883).
    #[arg(long, value_name = "URL")]
    pub broker: Option<String>,
    /// Serial receiver path; repeat for several. Replaces `[[receivers]]`.
    #[arg(long = "receiver", value_name = "PATH")]
    pub receivers: Vec<PathBuf>,
    /// Spool file, replacing `[spool] path`.
    #[arg(long, value_name = "PATH")]
    pub spool: Option<PathBuf>,
    #[arg(
        long,
        value_name = "SECONDS",
        help = format!(
            "Seconds a SIGTERM/SIGINT may take to commit and publish, replacing \
             `shutdown_grace_s` (default {}, at most {})",
            defaults::SHUTDOWN_GRACE_S,
            defaults::MAX_SHUTDOWN_GRACE_S
        )
    )]
    pub shutdown_grace_s: Option<f64>,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let file = args.config;
    let overrides = config::Overrides {
        broker_url: args.broker,
        receivers: args.receivers,
        spool: args.spool,
        shutdown_grace_s: args.shutdown_grace_s,
    };
    let cfg = match config::load_with(&file, &overrides) {
        Ok(cfg) => cfg,
        Err(errors) => {
            eprintln!("{errors}");
            if errors.0.iter().all(|e| e.flag.is_none()) {
                eprintln!(
                    "aisle: the config is invalid; fix it (check with `aisle check-config {}`)",
                    file.display()
                );
            } else {
                eprintln!("aisle: not started: fix the values above");
            }
            return Ok(ExitCode::from(EXIT_BAD_CONFIG));
        }
    };
    if cfg.receivers.is_empty() {
        eprintln!(
            "aisle: no receivers: add a [[receivers]] table to {} or pass --receiver PATH",
            file.display()
        );
        return Ok(ExitCode::from(EXIT_BAD_CONFIG));
    }
    let ready_file =
        ReadyFile::prepare(args.ready_file).context("cannot remove the old --ready-file")?;
    let runtime = crate::cli::service_runtime()?;
    runtime.block_on(async {
        // Installed before any task starts, so an early signal is not lost.
        let signals = shutdown::Signals::install().context("cannot install signal handlers")?;
        let (ready_tx, ready_rx) = oneshot::channel();
        tokio::spawn(ready_file.write_when(ready_rx));
        serve(cfg, &file, signals.wait(), ready_tx).await
    })?;
    Ok(ExitCode::SUCCESS)
}

/// Runs the gateway until `shutdown` completes, then drains within the
/// config's grace period. `ready` fires once the gateway is connected to
/// the broker with every receiver open. `config_file` names the config in
/// messages.
pub async fn serve(
    cfg: StoreConfig,
    config_file: &std::path::Path,
    shutdown: impl Future<Output = ()>,
    ready: oneshot::Sender<()>,
) -> anyhow::Result<()> {
    let started = UnixMillis::now();
    let gateway = cfg.gateway_id();
    let paths: Vec<String> = cfg
        .receivers
        .iter()
        .map(|r| r.path.display().to_string())
        .collect();
    let stats = Arc::new(status::Stats::new(&paths));
    let tags = Arc::new(Mutex::new(status::TagHealthBook::default()));
    if let Some(m) = &cfg.metrics {
        serve_metrics(m, &cfg, &gateway, started, stats.clone()).await?;
    }

    let (spool, report) = Spool::open(&cfg.spool.path, cfg.spool.max_bytes, started.0)
        .with_context(|| format!("cannot open the spool {}", cfg.spool.path.display()))?;
    if let Some(aside) = &report.moved_aside {
        stats.spool_resets.fetch_add(1, Relaxed);
        tracing::error!(
            moved_to = %aside.display(),
            reason = report.reason.as_deref().unwrap_or(""),
            "spool file was unreadable; moved it aside and started a fresh spool"
        );
    }
    tracing::info!(path = %cfg.spool.path.display(), depth = spool.depth(), bytes = spool.bytes(), "spool open");
    let dead_letters = spool.dead_letters().context("cannot read the spool")?;
    stats.dead_letters.store(dead_letters, Relaxed);
    if dead_letters > 0 {
        tracing::warn!(
            events = dead_letters,
            "the spool's dead_letter table holds events the broker refused as too large; see docs/gateway.md"
        );
    }
    if let Some(free) = report.short_of_space {
        tracing::warn!(
            free_bytes = free,
            max_bytes = cfg.spool.max_bytes,
            "[spool] max_bytes is more than the free space on the spool's disk; the disk, not the cap, will limit the spool"
        );
    }

    let reader = SpoolReader::open(&cfg.spool.path).context("cannot open the spool for reading")?;
    let mut opts = mqtt5_options(&cfg.broker, &cfg.default_client_id())?;
    opts.set_last_will(LastWill::new(
        Topic::new(&cfg.store, TopicKind::Status).to_string(),
        status::last_will(&cfg.store, &gateway),
        QoS::AtLeastOnce,
        true,
        None,
    ));
    // rumqttc's own window sits above ours so status and tag publishes
    // never wait behind batches (a broker's Receive Maximum may lower it).
    opts.set_outgoing_inflight_upper_limit((uplink::MAX_INFLIGHT_BATCHES + 8) as u16);
    let mqtt = rumqttc::v5::AsyncClient::new(opts, 64);

    let (spool_tx, spool_rx) = mpsc::channel(SPOOL_QUEUE);
    let (head_tx, head_rx) = watch::channel(0i64);
    let mut port_rxs = Vec::new();
    let mut port_txs = Vec::new();
    for _ in &cfg.receivers {
        let (tx, rx) = mpsc::channel(ACK_QUEUE);
        port_txs.push(tx);
        port_rxs.push(rx);
    }
    // Events already spooled count as seen: their acks may not have
    // reached the tags before the gateway stopped.
    let mut dedup = enrich::Dedup::new(enrich::DEDUP_CAPACITY);
    for key in spool
        .recent_keys(enrich::DEDUP_CAPACITY)
        .context("cannot read the spool's recent events")?
    {
        dedup.remember(key);
    }
    let (updates, _) = tokio::sync::broadcast::channel(commands::UPDATES_BUFFER);
    let queue = restore_commands(&spool)?;
    let control_path = cfg.control_socket();
    let control = commands::control::bind(&control_path)?;
    tracing::info!(path = %control_path.display(), waiting = queue.len(), "control socket open");
    let desk = commands::control::Desk {
        spool: spool_tx.clone(),
        updates: updates.clone(),
        directory: Arc::new(commands::request::TagDirectory::new(&cfg, config_file)),
        stats: stats.clone(),
    };
    let writer = Writer {
        commands: queue,
        updates: updates.clone(),
        spool,
        map: enrich::StoreMap::new(&cfg),
        dedup,
        stats: stats.clone(),
        tags: tags.clone(),
        ports: port_txs,
        head: head_tx,
    };
    // Dropped when the writer thread ends, normally or not.
    let (writer_alive, writer_gone) = oneshot::channel::<()>();
    let writer_thread = std::thread::Builder::new()
        .name("spool-writer".into())
        .spawn(move || {
            let _alive = writer_alive;
            writer.run(spool_rx);
        })
        .context("cannot start the spool writer thread")?;

    let grace = Duration::from_secs_f64(cfg.shutdown_grace_s);
    let (trigger, shutdown_rx) = shutdown::channel(grace);
    let readiness = tokio::spawn({
        let stats = stats.clone();
        async move {
            stats.ready().await;
            tracing::info!("gateway ready: connected, every receiver open");
            let _ = ready.send(());
        }
    });

    tracing::info!(store = %cfg.store, gateway = %gateway, broker = %cfg.broker.url, receivers = ?paths, "gateway started");
    let control = tokio::spawn(commands::control::serve(
        control,
        control_path,
        desk.clone(),
        shutdown_rx.clone(),
    ));
    let expiry = tokio::spawn(expire_commands(spool_tx.clone(), shutdown_rx.clone()));
    let mut receivers = Vec::new();
    for ((index, r), acks) in cfg.receivers.iter().enumerate().zip(port_rxs) {
        let rx = ingest::Receiver {
            index,
            path: r.path.clone(),
            baud: r.baud,
        };
        receivers.push(tokio::spawn(ingest::run(
            rx,
            spool_tx.clone(),
            acks,
            stats.clone(),
            shutdown_rx.clone(),
        )));
    }
    let (ingest_done_tx, ingest_done_rx) = watch::channel(false);
    let up = uplink::Uplink {
        store: cfg.store.clone(),
        gateway: gateway.clone(),
        batch: cfg.batch.clone(),
        status_interval: Duration::from_secs(cfg.status_interval_s),
        spool_max_bytes: cfg.spool.max_bytes,
        started,
        stats: stats.clone(),
        tags,
        desk,
    };
    let mut uplink = tokio::spawn(uplink::run(
        up,
        mqtt,
        reader,
        spool_tx,
        head_rx,
        ingest_done_rx,
        shutdown_rx.clone(),
    ));

    tokio::pin!(shutdown);
    tokio::select! {
        () = &mut shutdown => trigger.fire(),
        _ = &mut uplink => anyhow::bail!("the uplink stopped unexpectedly"),
        _ = writer_gone => {
            // Without the writer nothing can be acked: exit so the service
            // manager restarts the gateway. Everything acked is on disk.
            anyhow::bail!("the spool writer stopped unexpectedly");
        }
    }
    readiness.abort();
    let deadline = shutdown_rx.deadline();
    // Both end at the shutdown signal; their channels to the writer close.
    let _ = tokio::join!(control, expiry);
    for handle in receivers {
        let abort = handle.abort_handle();
        if tokio::time::timeout_at(deadline, handle).await.is_err() {
            abort.abort();
        }
    }
    let _ = ingest_done_tx.send(true);
    // The uplink says goodbye to the broker after the deadline at worst.
    let abort = uplink.abort_handle();
    if tokio::time::timeout_at(deadline + Duration::from_secs(2), uplink)
        .await
        .is_err()
    {
        abort.abort();
    }
    // Every sender is gone now, so the writer finishes its last group.
    tokio::task::spawn_blocking(move || writer_thread.join())
        .await
        .context("spool writer join")?
        .map_err(|_| anyhow::anyhow!("the spool writer panicked"))?;
    tracing::info!(
        received = stats.received.load(Relaxed),
        spooled = stats.spooled.load(Relaxed),
        delivered = stats.delivered.load(Relaxed),
        depth = stats.spool_depth.load(Relaxed),
        "shutdown complete"
    );
    Ok(())
}

/// The command queue as the spool left it: commands accepted and not
/// finished, and the HQ ids already taken.
pub(crate) fn restore_commands(spool: &Spool) -> anyhow::Result<commands::queue::CommandQueue> {
    let stored = spool
        .stored_commands()
        .context("cannot read the spool's commands")?;
    let mut queue = commands::queue::CommandQueue::default();
    for id in stored.hq_ids {
        queue.remember_hq_id(id);
    }
    for pending in stored.open {
        queue.insert(pending);
    }
    Ok(queue)
}

/// How often commands are checked for expiry: a technician waiting at the
/// rack hears `expired` within a second.
const EXPIRY_CHECK: Duration = Duration::from_secs(1);

/// Asks the writer to end expired commands, until shutdown.
async fn expire_commands(
    spool: mpsc::Sender<messages::SpoolMsg>,
    mut shutdown: shutdown::Shutdown,
) {
    let mut tick = tokio::time::interval(EXPIRY_CHECK);
    loop {
        tokio::select! {
            _ = shutdown.requested() => return,
            _ = tick.tick() => {
                if spool.send(messages::SpoolMsg::ExpireCommands).await.is_err() {
                    return;
                }
            }
        }
    }
}

/// Starts the Prometheus endpoint of `[metrics] listen`; fails when the
/// address cannot be bound, so a taken port is noticed at start.
async fn serve_metrics(
    m: &config::MetricsConfig,
    cfg: &StoreConfig,
    gateway: &str,
    started: UnixMillis,
    stats: Arc<status::Stats>,
) -> anyhow::Result<()> {
    let addr = m.listen_addr().context("[metrics] listen")?;
    let listener = crate::metrics::bind(addr).await?;
    let id = metrics::Identity {
        store: cfg.store.clone(),
        gateway: gateway.to_owned(),
        started,
        spool_max_bytes: cfg.spool.max_bytes,
    };
    tokio::spawn(crate::metrics::serve(
        listener,
        Arc::new(move || metrics::render(&stats, &id, UnixMillis::now())),
    ));
    Ok(())
}
