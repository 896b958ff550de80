//! `aisle dashboard`: HQ's read-only web pages over the event store
//! (Overview, SKUs and a SKU's page, Stores, Fleet) and the JSON API behind
//! them (`/api/funnel`, `/api/fleet`, `/api/status`), in English and Chinese.
//!
//! Every figure comes from the same funnel report as `aisle funnel`; charts
//! are SVG drawn here, so pages need no JavaScript and fetch nothing. The
//! server binds to loopback unless it is given a token to demand. The
//! default views are computed in the background (`prewarm`), so the first
//! view of the morning is served from the cache.
//! Reference: docs/dashboard.md.
//!
//! This file is the command and the server's start: its flags, its
//! configuration and the listener. Every route and its responses are in
//! `routes`, the token check is in `auth`, what a page shows in the
//! modules below.

mod auth;
mod cache;
mod data;
mod fleet;
mod html;
mod i18n;
mod pages;
mod prewarm;
mod query;
mod routes;
mod skus;
mod stores;
mod svg;
mod table;

use crate::event_store::{Credentials, DbArgs, Target};
use crate::funnel::Catalog;
use crate::funnel::StoreDirectory;
use anyhow::Context;
use data::Source;
use fleet::TagLimits;
use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

/// A battery reading below this is low: a CR2032 under a radio burst sags
/// well below its 3 V rest voltage only near the end of its life.
const LOW_BATTERY_MV: u16 = 2400;
/// The shortest token accepted: a guessable token on a network port is no
/// protection.
const MIN_TOKEN_LEN: usize = 16;

#[derive(clap::Args)]
#[command(after_help = "Examples:\n  \
    aisle dashboard --db /var/lib/aisle/hq.db                 # http://127.0.0.1:8080/\n  \
    aisle dashboard --db hq.db --catalog catalog.csv --stores stores.csv \\\n    \
    --listen 0.0.0.0:8080 --auth-token-file /etc/aisle/dashboard.token\n  \
    aisle dashboard --db clickhouse://ch1:8123/aisle --db-user aisle \\\n    \
    --db-password-file /etc/aisle/ch.password\n\n\
    Reference: docs/dashboard.md")]
pub struct Args {
    #[command(flatten)]
    db: DbArgs,
    /// Catalog CSV (gtin,sku,style,name,colour,size) for SKU codes, names and styles.
    #[arg(long)]
    catalog: Option<PathBuf>,
    /// Store directory CSV (store,name,region,city,brand,timezone) for
    /// regions, cities, brands and each store's local days and hours, as
    /// `aisle funnel --stores` reads it.
    #[arg(long, value_name = "FILE")]
    stores: Option<PathBuf>,
    /// Address to listen on. Anything but loopback needs --auth-token-file.
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// File holding the token every request must carry (as `Authorization:
    /// Bearer TOKEN`, or as the password of basic auth). Trailing newline ignored.
    #[arg(long, value_name = "FILE")]
    auth_token_file: Option<PathBuf>,
    /// The tags' heartbeat period: a tag not heard for two of them is silent.
    #[arg(long, default_value_t = protocol::frame::Settings::default().heartbeat_s)]
    tag_heartbeat_s: u32,
    /// A battery reading below this (millivolts) is low.
    #[arg(long, default_value_t = LOW_BATTERY_MV)]
    low_battery_mv: u16,
    /// Do not compute the default Overview and SKU list in the background
    /// (at the start and whenever events are added); each is then computed
    /// when first asked for.
    #[arg(long)]
    no_prewarm: bool,
}

/// What the server needs: where the data is, and who may read it.
pub struct Config {
    pub db: Target,
    pub credentials: Credentials,
    pub catalog: Catalog,
    pub stores: StoreDirectory,
    pub token: Option<String>,
    pub tag_heartbeat_s: u32,
    pub low_battery_mv: u16,
    /// Keep the default views computed in the background (`prewarm`).
    pub prewarm: bool,
}

impl Config {
    /// Defaults for a database on this machine (the demo's).
    pub fn local(db: PathBuf) -> Config {
        Config {
            db: Target::Sqlite(db),
            credentials: Credentials::default(),
            catalog: Catalog::default(),
            stores: StoreDirectory::default(),
            token: None,
            tag_heartbeat_s: protocol::frame::Settings::default().heartbeat_s,
            low_battery_mv: LOW_BATTERY_MV,
            prewarm: true,
        }
    }
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let token = match &args.auth_token_file {
        Some(path) => Some(auth::read_token(path)?),
        None if !args.listen.ip().is_loopback() => anyhow::bail!(
            "--listen {} is reachable from other machines: give --auth-token-file FILE \
             (a token of at least {MIN_TOKEN_LEN} characters), or listen on 127.0.0.1",
            args.listen
        ),
        None => None,
    };
    let catalog = crate::cli::load_catalog(args.catalog.as_deref())?;
    let stores = crate::funnel::load_stores(args.stores.as_deref())?;
    let (db, credentials) = args.db.resolve()?;
    let config = Config {
        db,
        credentials,
        catalog,
        stores,
        token,
        tag_heartbeat_s: args.tag_heartbeat_s,
        low_battery_mv: args.low_battery_mv,
        prewarm: !args.no_prewarm,
    };
    let runtime = crate::cli::service_runtime()?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(args.listen)
            .await
            .with_context(|| format!("cannot listen on {}", args.listen))?;
        let shutdown = crate::hq::shutdown_signal()?;
        serve(listener, config, shutdown).await
    })?;
    Ok(ExitCode::SUCCESS)
}

/// Serves the dashboard on `listener` until `shutdown` completes. Prints
/// the address on stdout once listening (the line people and scripts wait
/// for).
pub async fn serve(
    listener: tokio::net::TcpListener,
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let addr = listener
        .local_addr()
        .context("the listener has no address")?;
    let database = config.db.to_string();
    let app = Arc::new(App {
        src: Source::new(config.db, config.credentials, config.catalog, config.stores),
        limits: TagLimits {
            heartbeat_ms: i64::from(config.tag_heartbeat_s) * 1000,
            low_battery_mv: config.low_battery_mv,
        },
        token: config.token,
    });
    let prewarm = if config.prewarm {
        Some(tokio::spawn(prewarm::run(app.clone())))
    } else {
        app.src.prewarm.turn_off();
        None
    };
    let router = routes::router(app);
    println!("aisle dashboard: http://{addr}/ (database {})", database);
    use std::io::Write;
    let _ = std::io::stdout().flush();
    tracing::debug!(%addr, "dashboard listening");
    let served = axum::serve(listener, router)
        .with_graceful_shutdown(shutdown)
        .await
        .context("the dashboard server failed");
    if let Some(prewarm) = prewarm {
        prewarm.abort();
    }
    served
}

struct App {
    src: Source,
    limits: TagLimits,
    token: Option<String>,
}

type Shared = Arc<App>;
