-- darkstab store, schema version 2: the live collector.  Migrates from 1.
-- A slot the collector found incomplete (estimated loss above
-- collector.max_loss, or a stretch the collector was down) is not judged and
-- stays out of later windows, like a slot without data.
ALTER TABLE slots ADD COLUMN incomplete INTEGER NOT NULL DEFAULT 0;
-- The slot's completeness as a JSON object (exporters, records, estimated
-- loss, reasons); NULL for slots counted from files.
ALTER TABLE slots ADD COLUMN completeness TEXT;
-- How far each analysis has closed its slots live (Unix seconds).
ALTER TABLE analyses ADD COLUMN closed_upto INTEGER;
-- The collector's open slots at its last checkpoint: the blobs of slots.
CREATE TABLE open_slots (
    analysis_id INTEGER NOT NULL REFERENCES analyses(id),
    start INTEGER NOT NULL,
    end INTEGER NOT NULL,
    packets INTEGER NOT NULL,
    flows INTEGER NOT NULL,
    group_counts BLOB NOT NULL,
    group_details BLOB NOT NULL,
    PRIMARY KEY (analysis_id, start)
) WITHOUT ROWID;
-- The collector's own state at its last checkpoint: exporter sessions
-- (templates, sequence numbers), sampling announced, event clocks.
CREATE TABLE collector_state (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    saved_at INTEGER NOT NULL,      -- Unix seconds
    clean INTEGER NOT NULL,         -- 1: saved by an orderly stop
    event_ms INTEGER NOT NULL,      -- latest flow start counted
    state BLOB NOT NULL
);
-- What each exporter sent, minute by minute of its records' own time, for
-- the completeness of the slots.
CREATE TABLE exporter_minutes (
    exporter TEXT NOT NULL,         -- "192.0.2.1 ipfix"
    minute INTEGER NOT NULL,        -- Unix seconds / 60
    records INTEGER NOT NULL,       -- data records received
    missed INTEGER NOT NULL,        -- estimated lost (sequence gaps, unknown templates)
    silent_s INTEGER NOT NULL,      -- seconds of silence beyond collector.silence
    silence_missed INTEGER NOT NULL,-- records estimated for those silences
    unknown_sets INTEGER NOT NULL,  -- data sets of templates not (yet) known
    rate INTEGER NOT NULL,          -- the sampling rate applied last (0: not sampled)
    rate_changes INTEGER NOT NULL,
    PRIMARY KEY (exporter, minute)
) WITHOUT ROWID;
-- Stretches of record time the collector may have missed whole: between
-- the checkpoint before an unclean stop and the first records after it.
CREATE TABLE collector_gaps (
    from_ms INTEGER NOT NULL,
    to_ms INTEGER NOT NULL,
    reason TEXT NOT NULL
);
