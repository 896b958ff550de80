-- HQ's view of the fleet: each store's latest gateway status and each tag's
-- latest health. Kept apart from the event tables: these rows are replaced,
-- never accumulated. Documented in docs/hq.md; agent/src/hq/fleet.rs
-- applies it.
CREATE TABLE IF NOT EXISTS fleet_gateways (
    store       TEXT PRIMARY KEY,
    gateway     TEXT,
    state       TEXT NOT NULL,
    -- When HQ first saw the current state (unix ms).
    since_ms    INTEGER NOT NULL,
    -- The status document's own time (`at`), or its arrival for a last will.
    status_ms   INTEGER NOT NULL,
    received_ms INTEGER NOT NULL,
    status      TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS fleet_tags (
    store        TEXT NOT NULL,
    tag          INTEGER NOT NULL,
    gateway      TEXT,
    last_seen_ms INTEGER NOT NULL,
    boot         INTEGER NOT NULL,
    battery_mv   INTEGER,
    dropped      INTEGER,
    fw           TEXT,
    reset_reason TEXT,
    received_ms  INTEGER NOT NULL,
    PRIMARY KEY (store, tag)
) WITHOUT ROWID;
