-- darkstab store, schema version 3: the drill-down of unstable slots and
-- the report mails (issue 7).  Migrates from 2.
-- The drill-down of a slot (src/explain, explain_encode()'s bytes: changes
-- against the window, the groups shown with their top lists and minutes,
-- the probable cause), kept for every unstable slot so that "analyze",
-- "results", "show" and the reports print the same thing.  Removed when
-- the slot is judged stable again.  A rowid table: the blobs are kilobytes.
CREATE TABLE explains (
    analysis_id INTEGER NOT NULL REFERENCES analyses(id),
    slot_start INTEGER NOT NULL,    -- Unix seconds
    blob BLOB NOT NULL,
    updated_at INTEGER NOT NULL,    -- Unix seconds
    PRIMARY KEY (analysis_id, slot_start)
);
-- The report mail of each day, so that a day is never mailed twice and a
-- spooled mail survives a restart.
CREATE TABLE mails (
    day TEXT PRIMARY KEY,           -- "2016-01-01", in the configured time zone
    message_id TEXT NOT NULL,
    spooled_at INTEGER NOT NULL,    -- Unix seconds; 0: not yet spooled
    sent_at INTEGER NOT NULL,       -- Unix seconds; 0: not sent yet
    attempts INTEGER NOT NULL,
    last_error TEXT NOT NULL        -- "" when none
) WITHOUT ROWID;
