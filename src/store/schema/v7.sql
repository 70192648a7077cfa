-- darkstab store, schema version 7: the group blobs of slots and
-- open_slots (group_counts, group_details) are zstd frames.  Migrates from
-- 6.  No table changes: the migration compresses every row's blobs in C
-- (store_sqlite.c, after this script), so that from version 7 on every
-- non-empty group blob is one zstd frame whatever darkstab wrote it.  The
-- bench's store (30 days, two analyses): 47 MB -> 26 MB.  An empty blob (a
-- slot without groups, or without details) stays empty.
SELECT 1;
