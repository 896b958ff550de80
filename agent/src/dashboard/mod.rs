//! `aisle dashboard`: HQ's read-only web pages over the event store
//! (Overview, SKUs and a SKU's page, Stores, Fleet) and the JSON API behind
//! them (`/api/funnel`, `/api/fleet`), in English and Chinese.
//!
//! Every figure comes from the same funnel report as `aisle funnel`; charts
//! are SVG drawn here, so pages need no JavaScript and fetch nothing. The
//! server binds to loopback unless it is given a token to demand.
//! Reference: docs/dashboard.md.
//!
//! This file is the server: its routes and their responses, kept together
//! so every page's path, parameters and status codes can be read in one
//! place; the token check is in `auth`, what a page shows in the modules
//! below.

mod auth;
mod data;
mod fleet;
mod html;
mod i18n;
mod pages;
mod query;
mod skus;
mod stores;
mod svg;
mod table;

use crate::event_store::{Credentials, DbArgs, StoreError, Target};
use crate::funnel::report::FunnelReport;
use crate::funnel::Catalog;
use crate::funnel::Dimension;
use crate::funnel::StoreDirectory;
use anyhow::Context;
use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use data::Source;
use fleet::TagLimits;
use html::Ctx;
use i18n::{Lang, T};
use protocol::time::UnixMillis;
use query::{BadQuery, Query};
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
    let router = Router::new()
        .route("/", get(overview))
        .route("/skus", get(sku_list))
        .route("/sku", get(sku_page))
        .route("/stores", get(stores_page))
        .route("/fleet", get(fleet_page))
        .route("/api/funnel", get(api_funnel))
        .route("/api/fleet", get(api_fleet))
        .fallback(not_found)
        .layer(axum::middleware::from_fn_with_state(
            app.clone(),
            auth::authorize,
        ))
        .with_state(app);
    println!("aisle dashboard: http://{addr}/ (database {})", database);
    use std::io::Write;
    let _ = std::io::stdout().flush();
    tracing::debug!(%addr, "dashboard listening");
    axum::serve(listener, router)
        .with_graceful_shutdown(shutdown)
        .await
        .context("the dashboard server failed")
}

struct App {
    src: Source,
    limits: TagLimits,
    token: Option<String>,
}

type Shared = Arc<App>;

/// The page language: `lang=` if given, else the browser's.
fn language(query: Option<&Query>, headers: &HeaderMap) -> Lang {
    query.and_then(|q| q.lang).unwrap_or_else(|| {
        Lang::from_accept_language(
            headers
                .get(header::ACCEPT_LANGUAGE)
                .and_then(|v| v.to_str().ok()),
        )
    })
}

/// Headers every page gets: no caching of figures, and a policy that lets
/// the page load nothing but itself and inline styles, so even a string
/// that escaped escaping could not run or fetch anything.
fn html_response(status: StatusCode, body: String) -> Response {
    let mut response = (status, body).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'self'",
        ),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}

fn text_response(status: StatusCode, content_type: &'static str, body: String) -> Response {
    let mut response = (status, body).into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// Why a request could not be answered.
enum Failure {
    Bad(String),
    Db(StoreError),
}

impl From<BadQuery> for Failure {
    fn from(e: BadQuery) -> Self {
        Failure::Bad(e.to_string())
    }
}

impl From<StoreError> for Failure {
    fn from(e: StoreError) -> Self {
        Failure::Db(e)
    }
}

/// The filters every funnel page takes.
const PAGE_KEYS: &[&str] = &[
    "from", "to", "store", "region", "brand", "window", "channel", "lang",
];
const SKU_LIST_KEYS: &[&str] = &[
    "from", "to", "store", "region", "brand", "window", "channel", "lang", "by", "q", "sort",
    "dir", "page",
];
const SKU_KEYS: &[&str] = &[
    "from", "to", "store", "region", "brand", "window", "channel", "lang", "code",
];
const API_FUNNEL_KEYS: &[&str] = &[
    "by", "from", "to", "window", "store", "region", "brand", "sku", "channel",
];

type Render = fn(&App, &Ctx, &Query) -> Result<String, Failure>;

/// Parses the query against `allowed`, renders on a blocking thread (the
/// funnel reads the database), and turns failures into pages that say so.
async fn render_page(
    app: Shared,
    headers: HeaderMap,
    raw: Option<String>,
    allowed: &'static [&'static str],
    render: Render,
) -> Response {
    let parsed = Query::parse(raw.as_deref(), allowed);
    let lang = language(parsed.as_ref().ok(), &headers);
    let pairs: Vec<(String, String)> =
        serde_urlencoded::from_str(raw.as_deref().unwrap_or("")).unwrap_or_default();
    let ctx = Ctx { lang, pairs };
    let query = match parsed {
        Ok(query) => query,
        Err(e) => {
            return html_response(
                StatusCode::BAD_REQUEST,
                html::error_page(&ctx, T::BadRequest, &e.to_string()),
            )
        }
    };
    let rendered = tokio::task::spawn_blocking(move || {
        let mut query = query;
        let result = check(&app, &mut query).and_then(|()| render(&app, &ctx, &query));
        (ctx, result)
    })
    .await;
    match rendered {
        Ok((_, Ok(body))) => html_response(StatusCode::OK, body),
        Ok((ctx, Err(Failure::Bad(message)))) => html_response(
            StatusCode::BAD_REQUEST,
            html::error_page(&ctx, T::BadRequest, &message),
        ),
        Ok((ctx, Err(Failure::Db(e)))) => {
            tracing::warn!(error = %e, "cannot read the event store");
            html_response(
                StatusCode::SERVICE_UNAVAILABLE,
                html::error_page(&ctx, T::DatabaseUnavailable, &e.to_string()),
            )
        }
        Err(join) => {
            tracing::error!(error = %join, "a page failed");
            html_response(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal error: see the dashboard's log\n".to_string(),
            )
        }
    }
}

async fn overview(
    State(app): State<Shared>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    render_page(app, headers, raw, PAGE_KEYS, |app, ctx, q| {
        Ok(pages::overview(&app.src, ctx, q)?)
    })
    .await
}

async fn sku_list(
    State(app): State<Shared>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    render_page(app, headers, raw, SKU_LIST_KEYS, |app, ctx, q| {
        match q.by.as_deref() {
            None | Some([Dimension::Sku]) => {}
            Some([Dimension::Style]) => {}
            Some(_) => return Err(Failure::Bad("`by`: this page shows sku or style".into())),
        }
        if let Some(sort) = q.sort.as_deref() {
            if !matches!(sort, "sku" | "name") && !table::is_field(sort) {
                return Err(Failure::Bad(format!(
                    "`sort`: `{sort}` is not sku, name or a figure such as pickups or view_to_purchase"
                )));
            }
        }
        Ok(skus::list(&app.src, ctx, q)?)
    })
    .await
}

async fn sku_page(
    State(app): State<Shared>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    render_page(app, headers, raw, SKU_KEYS, |app, ctx, q| {
        let code = q.code.as_deref().ok_or_else(|| {
            Failure::Bad("`code`: which SKU? (e.g. /sku?code=TS-RED-M)".to_string())
        })?;
        Ok(skus::one(&app.src, ctx, q, code)?)
    })
    .await
}

async fn stores_page(
    State(app): State<Shared>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    render_page(app, headers, raw, PAGE_KEYS, |app, ctx, q| {
        Ok(stores::page_html(&app.src, ctx, q)?)
    })
    .await
}

async fn fleet_page(
    State(app): State<Shared>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    render_page(app, headers, raw, &["lang"], |app, ctx, _| {
        Ok(fleet::html(&app.src, ctx, app.limits, UnixMillis::now().0)?)
    })
    .await
}

async fn not_found(headers: HeaderMap) -> Response {
    let ctx = Ctx {
        lang: language(None, &headers),
        pairs: Vec::new(),
    };
    html_response(
        StatusCode::NOT_FOUND,
        html::error_page(
            &ctx,
            T::NotFound,
            "/ · /skus · /sku?code=… · /stores · /fleet · /api/funnel · /api/fleet",
        ),
    )
}

/// Refuses what the query asks of data the dashboard was not given: a
/// style without a catalog, a region, city or brand without a store
/// directory (as `aisle funnel` does), a channel the event store lacks;
/// then resolves its region, brand and SKUs into stores and GTINs.
fn check(app: &App, q: &mut Query) -> Result<(), Failure> {
    for (key, value) in [("region", &q.region), ("brand", &q.brand)] {
        if value.is_some() && app.src.stores.is_empty() {
            return Err(Failure::Bad(format!(
                "`{key}` needs a store directory (start the dashboard with --stores FILE, a CSV: store,name,region,city,brand,timezone)"
            )));
        }
    }
    q.resolve(&app.src.stores, &app.src.catalog)?;
    for dim in q.by.iter().flatten() {
        if *dim == Dimension::Style && !app.src.has_catalog() {
            return Err(Failure::Bad(
                "`by`: style needs a catalog (start the dashboard with --catalog FILE)".into(),
            ));
        }
        if dim.needs_directory() && app.src.stores.is_empty() {
            return Err(Failure::Bad(format!(
                "`by`: {dim} needs a store directory (start the dashboard with --stores FILE, a CSV: store,name,region,city,brand,timezone)"
            )));
        }
    }
    if let Some(channel) = &q.channel {
        let known = data::channels(&app.src.open()?)?;
        if !known.contains(channel) {
            return Err(Failure::Bad(format!(
                "`channel`: unknown channel `{channel}` (this event store has {})",
                known.join(", ")
            )));
        }
    }
    Ok(())
}

/// Runs an API call on a blocking thread; failures are one line of text.
async fn api(
    app: Shared,
    raw: Option<String>,
    allowed: &'static [&'static str],
    answer: fn(&App, &Query) -> Result<String, Failure>,
) -> Response {
    let query = match Query::parse(raw.as_deref(), allowed) {
        Ok(query) => query,
        Err(e) => {
            return text_response(
                StatusCode::BAD_REQUEST,
                "text/plain; charset=utf-8",
                format!("{e}\n"),
            )
        }
    };
    match tokio::task::spawn_blocking(move || {
        let mut query = query;
        check(&app, &mut query).and_then(|()| answer(&app, &query))
    })
    .await
    {
        Ok(Ok(json)) => text_response(StatusCode::OK, "application/json", json),
        Ok(Err(Failure::Bad(message))) => text_response(
            StatusCode::BAD_REQUEST,
            "text/plain; charset=utf-8",
            format!("{message}\n"),
        ),
        Ok(Err(Failure::Db(e))) => text_response(
            StatusCode::SERVICE_UNAVAILABLE,
            "text/plain; charset=utf-8",
            format!("{e}\n"),
        ),
        Err(join) => {
            tracing::error!(error = %join, "an API call failed");
            text_response(
                StatusCode::INTERNAL_SERVER_ERROR,
                "text/plain; charset=utf-8",
                "internal error: see the dashboard's log\n".to_string(),
            )
        }
    }
}

/// `/api/funnel`: exactly `aisle funnel --format json` for the same
/// parameters.
async fn api_funnel(State(app): State<Shared>, RawQuery(raw): RawQuery) -> Response {
    api(app, raw, API_FUNNEL_KEYS, |app, q| {
        let by = q.by.clone().unwrap_or_else(|| vec![Dimension::Sku]);
        let store = app.src.open()?;
        let rows = app.src.rows(&store, q, by.clone())?;
        Ok(FunnelReport::new(q.window(), by, rows).to_json())
    })
    .await
}

async fn api_fleet(State(app): State<Shared>, RawQuery(raw): RawQuery) -> Response {
    api(app, raw, &[], |app, _| {
        Ok(fleet::json(&app.src, app.limits, UnixMillis::now().0)?)
    })
    .await
}
