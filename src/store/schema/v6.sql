-- darkstab store, schema version 6: the tables of slots become rowid
-- tables with their blobs last.  Migrates from 5.  In a WITHOUT ROWID
-- table the whole row is the b-tree's key, and SQLite compares a row that
-- overflows its page by reading all of it: every lookup of a slot by
-- (analysis, start) read the group blobs of the slots its search passed
-- (a daily slot of 40,000 groups: 270 pages of 4 KB), and a results
-- document of a month read the store six times over.  Here the key is in
-- the primary key's index and the row is found by its rowid; the columns
-- added since version 1 come before the blobs, so a slot's totals are on
-- its first page and its group counts are read without its details.
CREATE TABLE slots_v6 (
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
    -- not judged: the collector's estimated loss above collector.max_loss,
    -- or a stretch it was down (version 2)
    incomplete INTEGER NOT NULL DEFAULT 0,
    completeness TEXT,
    -- flows of groups that could not be created past limits.groups
    -- (version 4): in packets and flows, in no group
    folded_packets INTEGER NOT NULL DEFAULT 0,
    folded_flows INTEGER NOT NULL DEFAULT 0,
    -- The packet count of every group of the slot, one record per group:
    -- the packed key (src/agg/key.c), then packets, flows and flags as
    -- unsigned LEB128 varints.
    group_counts BLOB NOT NULL,
    -- The serialised detail of the groups that keep one (version 1).
    group_details BLOB NOT NULL,
    PRIMARY KEY (analysis_id, start)
);
INSERT INTO slots_v6 (analysis_id, start, end, packets, flows, groups, late_flows,
                      late_packets, complete, updated_at, incomplete, completeness,
                      folded_packets, folded_flows, group_counts, group_details)
    SELECT analysis_id, start, end, packets, flows, groups, late_flows, late_packets,
           complete, updated_at, incomplete, completeness, folded_packets, folded_flows,
           group_counts, group_details
    FROM slots ORDER BY analysis_id, start;
DROP TABLE slots;
ALTER TABLE slots_v6 RENAME TO slots;
-- The collector's open slots at its last checkpoint (version 2), likewise.
CREATE TABLE open_slots_v6 (
    analysis_id INTEGER NOT NULL REFERENCES analyses(id),
    start INTEGER NOT NULL,
    end INTEGER NOT NULL,
    packets INTEGER NOT NULL,
    flows INTEGER NOT NULL,
    folded_packets INTEGER NOT NULL DEFAULT 0,
    folded_flows INTEGER NOT NULL DEFAULT 0,
    group_counts BLOB NOT NULL,
    group_details BLOB NOT NULL,
    PRIMARY KEY (analysis_id, start)
);
INSERT INTO open_slots_v6 (analysis_id, start, end, packets, flows, folded_packets,
                           folded_flows, group_counts, group_details)
    SELECT analysis_id, start, end, packets, flows, folded_packets, folded_flows,
           group_counts, group_details
    FROM open_slots ORDER BY analysis_id, start;
DROP TABLE open_slots;
ALTER TABLE open_slots_v6 RENAME TO open_slots;
