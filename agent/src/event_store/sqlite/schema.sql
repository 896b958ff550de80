-- The HQ event store (SQLite). PRAGMA user_version = 6 (version 2 added
-- online_events; version 3 added events.count, zone to the garment index and
-- the dwells-and-visits index; version 4 replaced the garment index with
-- garment_steps; version 5 added exposure_totals; version 6 replaced the
-- exposures table, one row per (dwell, GTIN), with events.gtins and added
-- exposure_fold; older files are upgraded in place on open).
-- Documented in docs/hq.md; agent/src/event_store/sqlite.rs applies it.
CREATE TABLE IF NOT EXISTS events (
    id          TEXT PRIMARY KEY,
    store       TEXT NOT NULL,
    ts_ms       INTEGER NOT NULL,
    event       TEXT NOT NULL,
    stage       TEXT NOT NULL,
    tag         INTEGER NOT NULL,
    epc         TEXT,
    gtin        TEXT,
    serial      TEXT,
    fixture     TEXT,
    zone        TEXT,
    duration_ms INTEGER,
    -- People through the entrance during the period, on store_visits.
    count       INTEGER,
    -- The GTINs a fixture_dwell showed, each once, sorted, as a JSON array
    -- of strings: its exposures.
    gtins       TEXT,
    gateway     TEXT NOT NULL,
    batch_id    TEXT NOT NULL,
    received_ms INTEGER NOT NULL
);
-- Every item event once more, for the funnel: keyed by garment and time so
-- each garment's journey is read off sequential pages, in a compact form (a
-- GTIN-14 and a canonical decimal serial as INTEGER, anything else as the
-- TEXT sent: agent/src/event_store/sqlite/garments.rs; hence no declared
-- type, which would convert). `step`: 1 pickup, 2 try-on, 3 purchase.
-- `event` is the event's rowid in `events`, which makes the key unique.
CREATE TABLE IF NOT EXISTS garment_steps (
    store   TEXT NOT NULL,
    gtin    NOT NULL,
    serial  NOT NULL,
    ts_ms   INTEGER NOT NULL,
    step    INTEGER NOT NULL,
    event   INTEGER NOT NULL,
    fixture TEXT,
    zone    TEXT,
    PRIMARY KEY (store, gtin, serial, ts_ms, step, event)
) WITHOUT ROWID;
-- Dwells (with the GTINs they showed) and entrance counts, read by store
-- and time for the report's dwell, visit and exposure figures; covering,
-- as above. Each store's rows arrive in about time order, so an insert
-- lands on one of a few pages per store.
CREATE INDEX IF NOT EXISTS events_dwells_and_visits
    ON events (event, store, ts_ms, fixture, zone, duration_ms, count, gtins)
    WHERE event IN ('fixture_dwell', 'store_visits');
-- Exposures per (store, GTIN) of the dwells up to exposure_fold.upto (an
-- events rowid): what a report with no time bounds and no fixture, zone or
-- time key counts, one row per pair, plus the GTINs of the few dwells
-- stored since. The collector folds those in every million exposures or
-- so (agent/src/event_store/sqlite/exposures.rs): adding them commit by
-- commit rewrote most of this table's pages with every commit.
CREATE TABLE IF NOT EXISTS exposure_totals (
    store TEXT NOT NULL,
    gtin  TEXT NOT NULL,
    n     INTEGER NOT NULL,
    PRIMARY KEY (store, gtin)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS exposure_fold (
    upto INTEGER NOT NULL
);
INSERT INTO exposure_fold (upto) SELECT 0 WHERE NOT EXISTS (SELECT 1 FROM exposure_fold);
CREATE TABLE IF NOT EXISTS quarantine (
    seq         INTEGER PRIMARY KEY,
    received_ms INTEGER NOT NULL,
    topic       TEXT NOT NULL,
    store       TEXT,
    batch_id    TEXT,
    event_index INTEGER,
    reason      TEXT NOT NULL,
    payload     BLOB NOT NULL
);
-- Online behaviours imported by `aisle online import` (Youshu, GA4), one row
-- per funnel step. `id` is a hash of the step's content (16 bytes,
-- agent/src/online/event.rs), so importing a file twice stores each
-- behaviour once. `sku` is the merchant's
-- SKU code as sent; `store` is the store a behaviour is attributed to.
CREATE TABLE IF NOT EXISTS online_events (
    id       BLOB PRIMARY KEY,
    channel  TEXT NOT NULL,
    stage    TEXT NOT NULL,
    user     TEXT NOT NULL,
    sku      TEXT NOT NULL,
    ts_ms    INTEGER NOT NULL,
    store    TEXT,
    order_id TEXT,
    behaviour TEXT NOT NULL
);
-- The funnel reads each (channel, user, SKU) journey in time order off this
-- index, as it reads garments off garment_steps.
CREATE INDEX IF NOT EXISTS online_by_journey
    ON online_events (channel, user, sku, ts_ms, stage, store)
    WHERE stage <> 'exposure';
CREATE INDEX IF NOT EXISTS online_exposures
    ON online_events (channel, sku, store)
    WHERE stage = 'exposure';
