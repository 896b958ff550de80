//! `aisle funnel`: the conversion report HQ analysts read, computed from the
//! collector's event store with the journey rules of docs/design.md ("The
//! funnel"). The engine is pure; `store` feeds it from the event store
//! (`sqlite` and `clickhouse` read each backend) and this module wires it to
//! the command line.

pub mod catalog;
pub mod clickhouse;
pub mod dimension;
pub mod engine;
pub mod report;
pub mod sqlite;
pub mod store;

#[cfg(test)]
mod tests;

pub use catalog::Catalog;
pub use dimension::Dimension;
pub use engine::FunnelOptions;

use crate::event_store::{DbArgs, EventFilter, EventStore};
use anyhow::Context;
use protocol::time::UnixMillis;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args)]
#[command(after_help = "Examples:\n  \
    aisle funnel --db hq.db                          # per SKU, as a table\n  \
    aisle funnel --db hq.db --by sku,store --window 2h --format csv\n  \
    aisle funnel --db hq.db --by style --catalog catalog.csv --format json\n  \
    aisle funnel --db hq.db --by sku,channel --catalog catalog.csv   # stores beside online\n  \
    aisle funnel --db clickhouse://ch.hq.example:8123/aisle --db-user analyst \\\n    \
    --db-password-file /etc/aisle/ch.password --by sku,store\n\n\
    Reference: docs/hq.md, docs/online.md")]
pub struct Args {
    #[command(flatten)]
    db: DbArgs,
    /// Row keys, comma separated, in sort order: sku, store, style, fixture,
    /// channel (adds the imported online channels beside `store`).
    #[arg(long, default_value = "sku")]
    by: String,
    /// Only this store.
    #[arg(long)]
    store: Option<String>,
    /// Only events at or after this time (RFC 3339, e.g. 2026-11-20T00:00:00Z).
    #[arg(long)]
    from: Option<UnixMillis>,
    /// Only events before this time (RFC 3339).
    #[arg(long)]
    to: Option<UnixMillis>,
    /// Journey window: 30s, 10m, 1h, 1d, 500ms.
    #[arg(long, default_value = "1h", value_parser = crate::cli::parse_duration_ms)]
    window: i64,
    /// Catalog CSV (gtin,sku,style,name,colour,size) for SKU codes and styles.
    #[arg(long)]
    catalog: Option<PathBuf>,
    /// table for people, csv for spreadsheets, json for programs.
    #[arg(long, default_value = "table", value_parser = ["table", "csv", "json"])]
    format: String,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let by = dimension::parse_by(&args.by).context("--by")?;
    if by.contains(&Dimension::Style) && args.catalog.is_none() {
        anyhow::bail!("--by style needs --catalog FILE (a CSV: gtin,sku,style,name,colour,size)");
    }
    let catalog = crate::cli::load_catalog(args.catalog.as_deref())?;
    let opts = FunnelOptions {
        window_ms: args.window,
        by,
        catalog,
    };
    let (target, credentials) = args.db.resolve()?;
    let db = EventStore::open_read_only(&target, &credentials)?;
    let filter = EventFilter {
        store: args.store,
        from_ms: args.from.map(|t| t.0),
        to_ms: args.to.map(|t| t.0),
    };
    let report = store::report(&db, &filter, &opts).with_context(|| format!("reading {target}"))?;
    let text = match args.format.as_str() {
        "json" => report.to_json(),
        "csv" => report.render_csv(),
        _ => report.render_table(),
    };
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(text.as_bytes())
        .context("writing the report to stdout")?;
    Ok(ExitCode::SUCCESS)
}
