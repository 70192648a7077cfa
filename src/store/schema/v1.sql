-- darkstab store, schema version 1.  Applied in one transaction by
-- store_sqlite.c when PRAGMA user_version is 0; later versions add
-- vN.sql files that migrate from N-1.
CREATE TABLE analyses (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    keys TEXT NOT NULL,             -- "proto,dst_port"
    slot_seconds INTEGER NOT NULL,
    timezone TEXT NOT NULL,
    attribution TEXT NOT NULL,
    -- How slots were judged (window, k, thresholds, ...): when it changes,
    -- every stored slot is judged again from its stored group counts.
    judged_with TEXT NOT NULL,
    lowest_threshold TEXT NOT NULL,
    created_at INTEGER NOT NULL     -- Unix seconds
);
-- Inputs already counted, by content digest, so a second run skips them.
CREATE TABLE inputs (
    analysis_id INTEGER NOT NULL REFERENCES analyses(id),
    digest TEXT NOT NULL,           -- XXH3-128 of the file's bytes
    name TEXT NOT NULL,
    bytes INTEGER NOT NULL,
    records INTEGER NOT NULL,
    first_ms INTEGER NOT NULL,      -- earliest flow start counted (Unix ms)
    last_ms INTEGER NOT NULL,
    analyzed_at INTEGER NOT NULL,
    PRIMARY KEY (analysis_id, digest)
) WITHOUT ROWID;
CREATE TABLE slots (
    analysis_id INTEGER NOT NULL REFERENCES analyses(id),
    start INTEGER NOT NULL,         -- Unix seconds, inclusive
    end INTEGER NOT NULL,           -- exclusive
    packets INTEGER NOT NULL,       -- S
    flows INTEGER NOT NULL,
    groups INTEGER NOT NULL,
    late_flows INTEGER NOT NULL,
    late_packets INTEGER NOT NULL,
    complete INTEGER NOT NULL,      -- 0: the input ended inside the slot
    updated_at INTEGER NOT NULL,
    -- The packet count of every group of the slot, one record per group:
    -- the packed key (src/agg/key.c), then packets, flows and flags as
    -- unsigned LEB128 varints.  One blob per slot keeps a month of hourly
    -- slots with 40,000 groups each to one row per slot.
    group_counts BLOB NOT NULL,
    -- The serialised detail (distinct counters, types, first and last
    -- seen) of the groups that keep one: those that can be shown, and every
    -- group of a slot the input ended inside, so that a later run merges
    -- exactly.  One record per group: the packed key, the detail's length
    -- as a varint, the detail (src/agg/detail.c).
    group_details BLOB NOT NULL,
    PRIMARY KEY (analysis_id, start)
) WITHOUT ROWID;
CREATE TABLE topn (
    analysis_id INTEGER NOT NULL,
    slot_start INTEGER NOT NULL,
    threshold TEXT NOT NULL,        -- "0.75"
    ord INTEGER NOT NULL,           -- position in the configuration
    topn INTEGER NOT NULL,
    status TEXT NOT NULL,           -- stable, unstable, warmup, no-data
    direction TEXT,                 -- increase, decrease (unstable only)
    mean REAL,
    stddev REAL,
    lower REAL,
    upper REAL,
    PRIMARY KEY (analysis_id, slot_start, threshold)
) WITHOUT ROWID;
-- The TopN groups of the lowest threshold, with their detail.
CREATE TABLE top_groups (
    analysis_id INTEGER NOT NULL,
    slot_start INTEGER NOT NULL,
    rank INTEGER NOT NULL,
    key BLOB NOT NULL,
    key_text TEXT NOT NULL,
    packets INTEGER NOT NULL,
    flows INTEGER NOT NULL,
    share REAL NOT NULL,
    has_detail INTEGER NOT NULL,
    partial INTEGER NOT NULL,
    src_addrs INTEGER,
    src_estimated INTEGER,
    dst_ports INTEGER,
    dst_addrs INTEGER,
    dst_estimated INTEGER,
    type INTEGER,
    first_ms INTEGER,
    last_ms INTEGER,
    PRIMARY KEY (analysis_id, slot_start, rank)
) WITHOUT ROWID;
