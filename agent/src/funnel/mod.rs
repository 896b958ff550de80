//! `aisle funnel`: the conversion report HQ analysts read, computed from the
//! collector's event store with the journey rules of docs/design.md ("The
//! funnel"). The engine is pure; `store` feeds it from the event store
//! (`sqlite` and `clickhouse` read each backend) and this module wires it to
//! the command line.

pub mod calendar;
pub mod catalog;
pub mod clickhouse;
mod csv;
pub mod dimension;
pub mod directory;
pub mod engine;
#[cfg(test)]
mod reference;
pub mod report;
mod rows;
pub mod seconds;
pub mod sqlite;
pub mod store;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_stores;

pub use catalog::Catalog;
pub use dimension::Dimension;
pub use directory::StoreDirectory;
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
    aisle funnel --db hq.db --by region,day --stores stores.csv       # visits, local days\n  \
    aisle funnel --db hq.db --by zone,hour --stores stores.csv        # dwell by zone\n  \
    aisle funnel --db clickhouse://ch.hq.example:8123/aisle --db-user analyst \\\n    \
    --db-password-file /etc/aisle/ch.password --by sku,store\n\n\
    Reference: docs/hq.md, docs/online.md")]
pub struct Args {
    #[command(flatten)]
    db: DbArgs,
    /// Row keys, comma separated, in sort order: sku, store, style, fixture,
    /// channel (adds the imported online channels beside `store`), zone,
    /// region, city, brand (from --stores), day, week, hour (the store's
    /// local time from --stores, else UTC; a journey is in its pickup's).
    #[arg(long, default_value = "sku")]
    by: String,
    /// Only this store.
    #[arg(long)]
    store: Option<String>,
    /// Only events at or after this time (RFC 3339, e.g. 2026-11-20T00:00:00Z).
    #[arg(long)]
    from: Option<UnixMillis>,
    /// Only events before this time (RFC 3339); a journey opened before it
    /// keeps its steps up to the window's end.
    #[arg(long)]
    to: Option<UnixMillis>,
    /// Journey window: 30s, 10m, 1h, 1d, 500ms.
    #[arg(long, default_value = "1h", value_parser = crate::cli::parse_duration)]
    window: std::time::Duration,
    /// Catalog CSV (gtin,sku,style,name,colour,size) for SKU codes and styles.
    #[arg(long)]
    catalog: Option<PathBuf>,
    /// Store directory CSV (store,name,region,city,brand,timezone) for
    /// regions, cities, brands and each store's local days and hours.
    #[arg(long, value_name = "FILE")]
    stores: Option<PathBuf>,
    /// table for people, csv for spreadsheets, json for programs.
    #[arg(long, default_value = "table", value_parser = ["table", "csv", "json"])]
    format: String,
}

/// The directory named by `--stores`, or an empty one without the flag
/// (`aisle funnel` and `aisle dashboard` read it alike).
pub fn load_stores(path: Option<&std::path::Path>) -> anyhow::Result<StoreDirectory> {
    let Some(path) = path else {
        return Ok(StoreDirectory::default());
    };
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read store directory {}", path.display()))?;
    StoreDirectory::parse(&text)
        .map_err(|err| anyhow::anyhow!("{}:{}: {err}", path.display(), err.line()))
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let by = dimension::parse_by(&args.by).context("--by")?;
    if by.contains(&Dimension::Style) && args.catalog.is_none() {
        anyhow::bail!("--by style needs --catalog FILE (a CSV: gtin,sku,style,name,colour,size)");
    }
    if let Some(dim) = by.iter().find(|d| d.needs_directory()) {
        if args.stores.is_none() {
            anyhow::bail!(
                "--by {dim} needs --stores FILE (a CSV: store,name,region,city,brand,timezone)"
            );
        }
    }
    if let (Some(from), Some(to)) = (args.from, args.to) {
        if to <= from {
            anyhow::bail!(
                "--to {to} must be after --from {from} (the range is from inclusive, to exclusive)"
            );
        }
    }
    let catalog = crate::cli::load_catalog(args.catalog.as_deref())?;
    let stores = load_stores(args.stores.as_deref())?;
    let opts = FunnelOptions {
        window: args.window,
        by,
        catalog,
        stores,
    };
    let (target, credentials) = args.db.resolve()?;
    let db = EventStore::open_read_only(&target, &credentials)?;
    let filter = EventFilter {
        store: args.store,
        from: args.from,
        to: args.to,
    };
    let report = store::report(&db, &filter, &opts).with_context(|| format!("reading {target}"))?;
    if let Some(path) = &args.stores {
        let directory_keyed = opts.by.iter().any(|d| {
            d.needs_directory() || matches!(d, Dimension::Day | Dimension::Week | Dimension::Hour)
        });
        if directory_keyed {
            let missing: Vec<(String, u64)> = store::events_per_store(&db, &filter)
                .with_context(|| format!("reading {target}"))?
                .into_iter()
                .filter(|(shop, _)| !opts.stores.contains(shop))
                .collect();
            if !missing.is_empty() {
                let events: u64 = missing.iter().map(|(_, n)| n).sum();
                let names: Vec<&str> = missing.iter().map(|(s, _)| s.as_str()).collect();
                eprintln!(
                    "warning: {} does not list store {}: {events} events report null region, city and brand, and UTC days and hours (add the stores to the directory)",
                    path.display(),
                    names.join(", ")
                );
            }
        }
    }
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
