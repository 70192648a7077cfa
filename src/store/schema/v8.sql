-- darkstab store, schema version 8: exporter_minutes keyed by (minute,
-- exporter) instead of (exporter, minute).  Migrates from 7.
--
-- A slot's completeness sums the minutes of the slot over every exporter
-- (WHERE minute >= ? AND minute < ?).  Keyed by exporter first, that read
-- every row of the table, and the table grows by a row per exporter and
-- minute for as long as the collector runs (100 exporters: 52 million rows
-- a year): the store thread of a collector spent most of its time there
-- and fell behind.  Keyed by minute first it reads the slot's rows only,
-- and the rows a collector adds (the latest minutes) go to the end of the
-- table instead of into every exporter's part of it.
CREATE TABLE exporter_minutes_v8 (
    exporter TEXT NOT NULL,         -- "192.0.2.1 ipfix"
    minute INTEGER NOT NULL,        -- Unix seconds / 60
    records INTEGER NOT NULL,       -- data records received
    missed INTEGER NOT NULL,        -- estimated lost (sequence gaps, unknown templates)
    silent_s INTEGER NOT NULL,      -- seconds of silence beyond collector.silence
    silence_missed INTEGER NOT NULL,-- records estimated for those silences
    unknown_sets INTEGER NOT NULL,  -- data sets of templates not (yet) known
    rate INTEGER NOT NULL,          -- the sampling rate applied last (0: not sampled)
    rate_changes INTEGER NOT NULL,
    PRIMARY KEY (minute, exporter)
) WITHOUT ROWID;
INSERT INTO exporter_minutes_v8 (exporter, minute, records, missed, silent_s, silence_missed,
                                 unknown_sets, rate, rate_changes)
    SELECT exporter, minute, records, missed, silent_s, silence_missed, unknown_sets, rate,
           rate_changes FROM exporter_minutes;
DROP TABLE exporter_minutes;
ALTER TABLE exporter_minutes_v8 RENAME TO exporter_minutes;
