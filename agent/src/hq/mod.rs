//! `aisle hq`: the HQ collector. It takes every store's batches from the
//! broker, validates them and stores their events idempotently in the event
//! store (SQLite or ClickHouse), acking each batch to the broker only once
//! the store has accepted it.
//!
//! `validate` judges payloads (pure), `crate::event_store` stores them,
//! `fleet` keeps each store's latest gateway status and tag health,
//! `collector` drives the MQTT session and the writer; connection options
//! come from the shared `mqtt` module, as for the gateway.

pub(crate) mod collector;
pub mod fleet;
pub(crate) mod metrics;
pub mod validate;

use crate::event_store::{DbArgs, EventStore, Target};
use crate::ready::ReadyFile;
use anyhow::Context;
use protocol::time::UnixMillis;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

#[derive(clap::Args)]
#[command(after_help = "Example:\n  \
    aisle hq --broker mqtts://broker.hq.example:8883 --db /var/lib/aisle/hq.db \\\n    \
    --ca-file /etc/aisle/ca.pem --username hq --password-file /etc/aisle/hq.password\n  \
    aisle hq --broker mqtts://broker.hq.example:8883 --share hq --client-id hq-1 \\\n    \
    --db clickhouse://ch.hq.example:8123/aisle --db-user aisle \\\n    \
    --db-password-file /etc/aisle/ch.password\n\n\
    Reference: docs/hq.md")]
pub struct Args {
    /// Broker URL: mqtt://host:port or mqtts://host:port.
    #[arg(long, value_name = "URL")]
    broker: String,
    /// MQTT user name.
    #[arg(long)]
    username: Option<String>,
    /// File holding the MQTT password (trailing newline ignored).
    #[arg(long, value_name = "FILE", requires = "username")]
    password_file: Option<PathBuf>,
    /// PEM CA bundle that signs the broker's certificate (mqtts://; default:
    /// the system bundle).
    #[arg(long, value_name = "FILE")]
    ca_file: Option<PathBuf>,
    /// PEM client certificate, for brokers that require one (mqtts://).
    #[arg(long, value_name = "FILE", requires = "key_file")]
    cert_file: Option<PathBuf>,
    /// PEM private key of the client certificate.
    #[arg(long, value_name = "FILE", requires = "cert_file")]
    key_file: Option<PathBuf>,
    /// The event store, created if missing: a SQLite file, or
    /// clickhouse://HOST:PORT/DATABASE (clickhouses:// for TLS).
    #[command(flatten)]
    db: DbArgs,
    /// MQTT client id. Keep it stable: the broker queues batches for this id
    /// while the collector is down.
    #[arg(long, default_value = "aisle-hq")]
    client_id: String,
    /// Join shared-subscription group GROUP ($share/GROUP/…), so that several
    /// collectors (each with its own --client-id) split the stores' batches.
    /// Needs a ClickHouse --db that the whole group writes to.
    #[arg(long, value_name = "GROUP")]
    share: Option<String>,
    /// Serve Prometheus metrics on http://ADDR/metrics (e.g. 127.0.0.1:9465).
    #[arg(long, value_name = "ADDR")]
    metrics: Option<SocketAddr>,
    /// Write this file (holding the process id) once subscribed; a file
    /// left by an earlier run is removed at start.
    #[arg(long, value_name = "PATH")]
    ready_file: Option<PathBuf>,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    if let Some(group) = &args.share {
        if group.is_empty() || group.contains(['/', '+', '#']) {
            anyhow::bail!("--share `{group}`: a group name cannot be empty or contain / + #");
        }
    }
    let broker = crate::mqtt::BrokerConfig {
        client_id: Some(args.client_id.clone()),
        username: args.username.clone(),
        password_file: args.password_file.clone(),
        ca_file: args.ca_file.clone(),
        cert_file: args.cert_file.clone(),
        key_file: args.key_file.clone(),
        ..crate::mqtt::BrokerConfig::from_url(&args.broker)
    };
    let opts = crate::mqtt::mqtt_options(&broker, &args.client_id).context("--broker")?;
    let (target, credentials) = args.db.resolve()?;
    if args.share.is_some() && matches!(target, Target::Sqlite(_)) {
        // Each collector of a group gets some of every store's batches; with
        // a file each, every file would hold part of each garment's journeys.
        anyhow::bail!(
            "--share needs an event store the whole group writes to: with a SQLite file each \
             collector would keep only part of every store's events. Use --db \
             clickhouse://HOST:PORT/DATABASE, or run one collector without --share"
        );
    }
    let store = EventStore::open(&target, &credentials)?;
    tracing::info!(
        db = %target,
        event_rows = store.stored_rows()?,
        quarantined = store.quarantine_count()?,
        "event store open"
    );
    let filters = collector::filters(args.share.as_deref());
    let ready_file = ReadyFile::prepare(args.ready_file.clone())
        .context("cannot remove the old --ready-file")?;
    let runtime = crate::cli::service_runtime()?;
    let started = UnixMillis::now();
    let stats = Arc::new(metrics::CollectorStats::default());
    runtime.block_on(async {
        if let Some(addr) = args.metrics {
            let listener = crate::metrics::bind(addr).await?;
            let stats = stats.clone();
            tokio::spawn(crate::metrics::serve(
                listener,
                Arc::new(move || metrics::render(&stats, started)),
            ));
        }
        let shutdown = shutdown_signal()?;
        let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
        tokio::spawn(ready_file.write_when(ready_rx));
        collector::run(opts, filters, store, stats, shutdown, ready_tx).await
    })?;
    Ok(ExitCode::SUCCESS)
}

/// Completes on SIGINT or SIGTERM.
pub(crate) fn shutdown_signal() -> anyhow::Result<impl std::future::Future<Output = ()>> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).context("cannot listen for SIGTERM")?;
    let mut int = signal(SignalKind::interrupt()).context("cannot listen for SIGINT")?;
    Ok(async move {
        tokio::select! {
            _ = term.recv() => tracing::info!("SIGTERM received"),
            _ = int.recv() => tracing::info!("SIGINT received"),
        }
    })
}
