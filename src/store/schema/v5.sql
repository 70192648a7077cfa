-- darkstab store, schema version 5: a node of a ClickHouse cluster (issue
-- 9).  Migrates from 4.  Which judgement of the cluster (its judged_ms, in
-- the cluster's slots table) each slot of this store holds, so that a node
-- fetches only the slots judged again since (docs/CLICKHOUSE.md 5).
CREATE TABLE cluster_slots (
    analysis_id INTEGER NOT NULL REFERENCES analyses(id),
    slot_start INTEGER NOT NULL,    -- Unix seconds
    judged_ms INTEGER NOT NULL,     -- the cluster row's version
    PRIMARY KEY (analysis_id, slot_start)
) WITHOUT ROWID;
