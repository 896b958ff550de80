//! `aisle export`: the stores' events in the retailer's own analytics
//! formats (Youshu behaviours, GA4's BigQuery rows), so the funnel the
//! retailer already runs on its mini-program runs on store data too.
//!
//! A dwell at a fixture is an exposure of each SKU on display, a pickup a
//! product view, a fitting-room read an add-to-cart, a checkout read a paid
//! order. The user of a garment's steps is the garment itself, under a
//! stable pseudonym per (store, GTIN, serial), so the tool's per-user funnel
//! follows the garment exactly as aisle's does; the store travels in
//! `chan_shop_id` / `location_id`.

use super::Format;
use crate::event_store::online::{ExposureRow, ItemEventRow};
use crate::event_store::{DbArgs, EventFilter, EventStore, StoreError};
use crate::funnel::Catalog;
use anyhow::Context;
use protocol::time::UnixMillis;
use sha2::{Digest, Sha256};
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args)]
#[command(after_help = "Examples:\n  \
    aisle export --db hq.db --format youshu -o stores.ndjson\n  \
    aisle export --db hq.db --format ga4 --catalog catalog.csv --store S1 \\\n      \
    --from 2026-11-20T00:00:00Z --to 2026-11-21T00:00:00Z | gzip > s1.ndjson.gz\n\n\
    Reference: docs/online.md")]
pub struct Args {
    #[command(flatten)]
    db: DbArgs,
    /// youshu: Tencent Youshu behaviours; ga4: GA4 BigQuery export rows.
    #[arg(long, value_enum)]
    format: Format,
    /// Catalog CSV (gtin,sku,style,name,colour,size): SKU codes, names and
    /// styles (as SPUs) instead of bare GTINs.
    #[arg(long)]
    catalog: Option<PathBuf>,
    /// Only this store.
    #[arg(long)]
    store: Option<String>,
    /// Only events at or after this time (RFC 3339).
    #[arg(long)]
    from: Option<UnixMillis>,
    /// Only events before this time (RFC 3339).
    #[arg(long)]
    to: Option<UnixMillis>,
    /// Write here instead of stdout.
    #[arg(short = 'o', long = "output")]
    output: Option<PathBuf>,
    /// youshu: the `wx_user.app_id` to write (the mini-program the store
    /// data is reported beside).
    #[arg(long, default_value = "aisle-stores")]
    app_id: String,
}

/// A store event as the analytics formats see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreStep {
    Exposure,
    View,
    AddToCart,
    Purchase,
}

/// A product named in an exported behaviour.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Product {
    pub gtin: String,
    /// The catalog's SKU code, else the GTIN.
    pub sku: String,
    /// The catalog's name, else the SKU code.
    pub name: String,
    /// The catalog's style (Youshu's SPU), else the SKU code.
    pub spu: String,
    pub spu_name: String,
}

impl Product {
    fn new(catalog: &Catalog, gtin: &str) -> Product {
        let sku = catalog.sku(gtin).to_string();
        let item = catalog.get(gtin);
        let name = item.map_or_else(|| sku.clone(), |i| i.name.clone());
        let spu = catalog
            .style(gtin)
            .map_or_else(|| sku.clone(), str::to_string);
        Product {
            gtin: gtin.to_string(),
            sku,
            name,
            spu_name: spu.clone(),
            spu,
        }
    }
}

/// One store event, ready to be written in either format.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreBehaviour {
    pub step: StoreStep,
    pub ts_ms: i64,
    pub store: String,
    /// The pseudonymous user: the garment, or for an exposure the dwell.
    pub user: String,
    /// The store event's id (a purchase's order id).
    pub event_id: String,
    pub products: Vec<Product>,
}

/// A stable pseudonym for `parts`: the first 16 bytes of the SHA-256 of the
/// parts, NUL-separated, in hex. The same garment gets the same user in
/// every export; the id does not show the serial.
pub fn pseudonym(parts: &[&str]) -> String {
    let mut hash = Sha256::new();
    for part in parts {
        hash.update(part.as_bytes());
        hash.update([0]);
    }
    hash.finalize()[..16]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let catalog = crate::cli::load_catalog(args.catalog.as_deref())?;
    let (target, credentials) = args.db.resolve()?;
    let db = EventStore::open_read_only(&target, &credentials)?;
    let sink: Box<dyn Write> = match &args.output {
        Some(path) => Box::new(
            std::fs::File::create(path)
                .with_context(|| format!("cannot create {}", path.display()))?,
        ),
        None => Box::new(std::io::stdout().lock()),
    };
    let mut out = std::io::BufWriter::new(sink);
    let mut lines = 0u64;
    let mut write_error: Option<std::io::Error> = None;
    let mut emit = |b: StoreBehaviour| {
        if write_error.is_some() {
            return;
        }
        let docs = match args.format {
            Format::Youshu => {
                let mut docs = Vec::new();
                super::youshu::write(&b, &args.app_id, &mut docs);
                docs
            }
            Format::Ga4 => vec![super::ga4::row(&b)],
        };
        for doc in docs {
            let written = serde_json::to_writer(&mut out, &doc)
                .map_err(std::io::Error::from)
                .and_then(|()| out.write_all(b"\n"));
            if let Err(e) = written {
                write_error = Some(e);
                return;
            }
            lines += 1;
        }
    };
    let filter = EventFilter {
        store: args.store.clone(),
        from: args.from,
        to: args.to,
        ..EventFilter::default()
    };
    let read = read_store_events(&db, &filter, &catalog, &mut emit)
        .with_context(|| format!("reading {target}"));
    read?;
    if let Some(e) = write_error {
        return Err(e).context("writing the export");
    }
    out.flush().context("writing the export")?;
    eprintln!("aisle export: {lines} lines written");
    Ok(ExitCode::SUCCESS)
}

/// Streams every exposure (one behaviour per dwell, listing its SKUs) and
/// every item event that passes `filter` to `emit`.
fn read_store_events(
    db: &EventStore,
    filter: &EventFilter,
    catalog: &Catalog,
    emit: &mut impl FnMut(StoreBehaviour),
) -> Result<(), StoreError> {
    // A dwell's GTINs arrive together: one behaviour lists them all.
    let mut pending: Option<StoreBehaviour> = None;
    db.exposure_rows(filter, &mut |row: ExposureRow| {
        if let Some(dwell) = pending.as_mut() {
            if dwell.store == row.store && dwell.event_id == row.event_id {
                dwell.products.push(Product::new(catalog, &row.gtin));
                return;
            }
        }
        if let Some(done) = pending.take() {
            emit(done);
        }
        pending = Some(StoreBehaviour {
            step: StoreStep::Exposure,
            ts_ms: row.ts_ms,
            user: pseudonym(&[&row.store, "dwell", &row.event_id]),
            products: vec![Product::new(catalog, &row.gtin)],
            store: row.store,
            event_id: row.event_id,
        });
    })?;
    if let Some(done) = pending {
        emit(done);
    }

    db.item_event_rows(filter, &mut |row: ItemEventRow| {
        let step = match row.event.as_str() {
            "item_pickup" => StoreStep::View,
            "item_try_on" => StoreStep::AddToCart,
            "item_purchase" => StoreStep::Purchase,
            _ => return,
        };
        emit(StoreBehaviour {
            step,
            ts_ms: row.ts_ms,
            user: pseudonym(&[&row.store, &row.gtin, &row.serial]),
            products: vec![Product::new(catalog, &row.gtin)],
            store: row.store,
            event_id: row.id,
        });
    })
}
