//! The dashboard's routes and their responses, kept together so every
//! page's path, parameters and status codes can be read in one place:
//! which query keys each page takes, what it refuses and with which
//! status, and how a failure reads in HTML and in the JSON API.

use super::i18n::{Lang, T};
use super::query::{BadQuery, Query};
use super::{auth, fleet, html, pages, skus, stores, table, App, Shared};
use crate::event_store::StoreError;
use crate::funnel::report::FunnelReport;
use crate::funnel::Dimension;
use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use html::Ctx;
use protocol::time::UnixMillis;

/// Every path the dashboard answers, behind the token check.
pub(super) fn router(app: Shared) -> Router {
    Router::new()
        .route("/", get(overview))
        .route("/skus", get(sku_list))
        .route("/sku", get(sku_page))
        .route("/stores", get(stores_page))
        .route("/fleet", get(fleet_page))
        .route("/api/funnel", get(api_funnel))
        .route("/api/fleet", get(api_fleet))
        .route("/api/status", get(api_status))
        .fallback(not_found)
        .layer(axum::middleware::from_fn_with_state(
            app.clone(),
            auth::authorize,
        ))
        .with_state(app)
}

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

/// A page's answer: its status (200, or 404 for a page of a list past its
/// end) and its HTML.
type Rendered = (StatusCode, String);
type Render = fn(&App, &Ctx, &Query) -> Result<Rendered, Failure>;

/// A page found.
fn found(body: String) -> Result<Rendered, Failure> {
    Ok((StatusCode::OK, body))
}

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
        Ok((_, Ok((status, body)))) => html_response(status, body),
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
        found(pages::overview(&app.src, ctx, q)?)
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
        Ok(match skus::list(&app.src, ctx, q)? {
            skus::Listing::Page(body) => (StatusCode::OK, body),
            skus::Listing::PastEnd(body) => (StatusCode::NOT_FOUND, body),
        })
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
        found(skus::one(&app.src, ctx, q, code)?)
    })
    .await
}

async fn stores_page(
    State(app): State<Shared>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    render_page(app, headers, raw, PAGE_KEYS, |app, ctx, q| {
        found(stores::page_html(&app.src, ctx, q)?)
    })
    .await
}

async fn fleet_page(
    State(app): State<Shared>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    render_page(app, headers, raw, &["lang"], |app, ctx, _| {
        found(fleet::html(&app.src, ctx, app.limits, UnixMillis::now().0)?)
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
            "/ · /skus · /sku?code=… · /stores · /fleet · /api/funnel · /api/fleet · /api/status",
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
        let known = app.src.channels(&app.src.open()?)?;
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

/// `/api/status`: the prewarm of the default views (`{"state": "done",
/// "runs", "marker", "seconds", "error"}`) and how many reports were
/// computed rather than served from the cache.
async fn api_status(State(app): State<Shared>, RawQuery(raw): RawQuery) -> Response {
    api(app, raw, &[], |app, _| {
        Ok(serde_json::json!({
            "prewarm": app.src.prewarm.to_json(),
            "reports_computed": app.src.cache.computed(),
        })
        .to_string())
    })
    .await
}
