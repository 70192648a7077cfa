/*
 * The SQLite store backend (see ds/store.h; schema in schema/v1.sql and the
 * migrations after it).
 *
 * One connection, prepared statements kept for the life of the store, WAL
 * journal so that readers (a "results" command, a report) do not block a
 * running collector.  A busy database is waited for up to 30 seconds.
 * sqlite3_* is used in this file only.
 *
 * The WAL is copied back into the database (checkpointed) by a thread of
 * this backend on a second connection, not by the commit that grew it as
 * SQLite does by default: a checkpoint is mostly waiting for the disk (two
 * fdatasyncs and the copy: 0.25 s after analyze's 48 MB transaction), and
 * the committing thread has work to go on with meanwhile (analyze's
 * report, the collector's next slots).  A checkpoint never blocks a writer
 * (PASSIVE) and an interrupted one is safe; close waits for it.
 */
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zstd.h>

#include "ds/explain.h"
#include "ds/log.h"
#include "ds/store.h"
#include "ds/xmem.h"
#include "schema.h"

#define SCHEMA_VERSION ((int)(sizeof(store_schema) / sizeof(store_schema[0])))
#define BUSY_TIMEOUT_MS 30000
/*
 * Group blobs are zstd frames (schema 7) at its fastest level: they are
 * written on the collector's store thread and once per analyze run, and
 * most of their bytes (exact sets of addresses) do not compress at any
 * level; the group counts do, 3 to 1.
 */
#define BLOB_ZSTD_LEVEL 1
/* a blob that says it holds more than this is damaged (a daily slot of every port: ~60 MB) */
#define BLOB_RAW_MAX ((unsigned long long)1 << 30)
/* a checkpoint once the WAL holds this much: SQLite's default, 1,000 pages of 4 KB */
#define CHECKPOINT_BYTES (4000 * 1024)
/* a WAL that checkpoints did not start again by this length: one on the committing thread */
#define WAL_LONG_BYTES ((int64_t)32 << 20)

enum stmt_id {
    S_ANALYSIS_GET,
    S_ANALYSIS_ADD,
    S_ANALYSIS_JUDGED,
    S_INPUT_GET,
    S_INPUT_ADD,
    S_INPUT_ANY,
    S_INPUT_OVERLAP,
    S_SLOT_GET,
    S_SLOT_PUT,
    S_SUMMARIES,
    S_LAST_WITH_DATA,
    S_TOP_PACKETS,
    S_TOPN_GET,
    S_TOPN_DEL,
    S_TOPN_PUT,
    S_TOPG_DEL,
    S_TOPG_PUT,
    S_RES_TOPN,
    S_RES_TOPG,
    S_SLOT_MARK,
    S_SLOT_COMPL,
    S_OPEN_DEL,
    S_OPEN_PUT,
    S_OPEN_GET,
    S_CLOSED_UPTO_SET,
    S_CLOSED_UPTO_GET,
    S_COLLECTOR_PUT,
    S_COLLECTOR_GET,
    S_MINUTE_ADD,
    S_MINUTE_SUM,
    S_GAP_ADD,
    S_GAPS,
    S_SLOT_COUNTS,
    S_EXPLAIN_PUT,
    S_EXPLAIN_DEL,
    S_EXPLAIN_GET,
    S_MAIL_GET,
    S_MAIL_PUT,
    S_CLUSTER_PUT,
    S_CLUSTER_GET,
    S_N,
};

static const char *const stmt_sql[S_N] = {
    [S_ANALYSIS_GET] = "SELECT id, keys, slot_seconds, timezone, attribution, judged_with, "
                       "lowest_threshold FROM analyses WHERE name = ?1",
    [S_ANALYSIS_ADD] = "INSERT INTO analyses (name, keys, slot_seconds, timezone, attribution, "
                       "judged_with, lowest_threshold, created_at) "
                       "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    [S_ANALYSIS_JUDGED] = "UPDATE analyses SET judged_with = ?2, lowest_threshold = ?3 "
                          "WHERE id = ?1",
    [S_INPUT_GET] = "SELECT name, bytes, records, first_ms, last_ms, analyzed_at FROM inputs "
                    "WHERE analysis_id = ?1 AND digest = ?2",
    [S_INPUT_ADD] = "INSERT OR REPLACE INTO inputs (analysis_id, digest, name, bytes, records, "
                    "first_ms, last_ms, analyzed_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    [S_INPUT_ANY] = "SELECT 1 FROM inputs WHERE analysis_id = ?1 LIMIT 1",
    [S_INPUT_OVERLAP] = "SELECT digest, name, bytes, records, first_ms, last_ms, analyzed_at "
                        "FROM inputs WHERE analysis_id = ?1 AND first_ms < ?3 AND "
                        "last_ms >= ?2 AND records > 0 ORDER BY first_ms, name",
    [S_SLOT_GET] = "SELECT end, packets, flows, late_flows, late_packets, complete, "
                   "group_counts, group_details, folded_packets, folded_flows FROM slots "
                   "WHERE analysis_id = ?1 AND start = ?2",
    [S_SLOT_PUT] = "INSERT OR REPLACE INTO slots (analysis_id, start, end, packets, flows, groups, "
                   "late_flows, late_packets, complete, updated_at, group_counts, group_details, "
                   "folded_packets, folded_flows) "
                   "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
    [S_SUMMARIES] = "SELECT start, end, packets, flows, groups, late_flows, late_packets, "
                    "complete, incomplete, folded_packets, folded_flows FROM slots "
                    "WHERE analysis_id = ?1 AND start >= ?2 AND start < ?3 ORDER BY start",
    /* an incomplete slot is kept out of windows, like one without data */
    [S_LAST_WITH_DATA] = "SELECT start, end, packets, flows, groups, late_flows, late_packets, "
                         "complete, incomplete, folded_packets, folded_flows FROM slots "
                         "WHERE analysis_id = ?1 AND start < ?2 AND packets > 0 "
                         "AND incomplete = 0 ORDER BY start DESC LIMIT ?3",
    [S_TOP_PACKETS] = "SELECT group_counts FROM slots WHERE analysis_id = ?1 AND start = ?2",
    [S_TOPN_GET] = "SELECT topn FROM topn WHERE analysis_id = ?1 AND slot_start = ?2 AND "
                   "threshold = ?3",
    [S_TOPN_DEL] = "DELETE FROM topn WHERE analysis_id = ?1 AND slot_start = ?2",
    [S_TOPN_PUT] = "INSERT INTO topn (analysis_id, slot_start, threshold, ord, topn, status, "
                   "direction, mean, stddev, lower, upper) "
                   "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
    [S_TOPG_DEL] = "DELETE FROM top_groups WHERE analysis_id = ?1 AND slot_start = ?2",
    [S_TOPG_PUT] = "INSERT INTO top_groups (analysis_id, slot_start, rank, key, key_text, "
                   "packets, flows, share, has_detail, partial, src_addrs, src_estimated, "
                   "dst_ports, dst_addrs, dst_estimated, type, first_ms, last_ms) VALUES "
                   "(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, "
                   "?17, ?18)",
    [S_RES_TOPN] = "SELECT threshold, topn, status, direction, mean, stddev, lower, upper "
                   "FROM topn WHERE analysis_id = ?1 AND slot_start = ?2 ORDER BY ord",
    [S_RES_TOPG] = "SELECT key, packets, flows, share, has_detail, partial, src_addrs, "
                   "src_estimated, dst_ports, dst_addrs, dst_estimated, type, first_ms, "
                   "last_ms FROM top_groups WHERE analysis_id = ?1 AND slot_start = ?2 "
                   "ORDER BY rank",
    [S_SLOT_MARK] = "UPDATE slots SET incomplete = ?3, completeness = ?4 "
                    "WHERE analysis_id = ?1 AND start = ?2",
    [S_SLOT_COMPL] = "SELECT completeness, incomplete FROM slots "
                     "WHERE analysis_id = ?1 AND start = ?2",
    [S_OPEN_DEL] = "DELETE FROM open_slots WHERE analysis_id = ?1",
    [S_OPEN_PUT] = "INSERT INTO open_slots (analysis_id, start, end, packets, flows, "
                   "group_counts, group_details, folded_packets, folded_flows) "
                   "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    [S_OPEN_GET] = "SELECT start, end, packets, flows, group_counts, group_details, "
                   "folded_packets, folded_flows FROM open_slots WHERE analysis_id = ?1 "
                   "ORDER BY start",
    [S_CLOSED_UPTO_SET] = "UPDATE analyses SET closed_upto = ?2 WHERE id = ?1",
    [S_CLOSED_UPTO_GET] = "SELECT closed_upto FROM analyses WHERE id = ?1",
    [S_COLLECTOR_PUT] = "INSERT OR REPLACE INTO collector_state (id, saved_at, clean, event_ms, "
                        "state) VALUES (1, ?1, ?2, ?3, ?4)",
    [S_COLLECTOR_GET] = "SELECT saved_at, clean, event_ms, state FROM collector_state "
                        "WHERE id = 1",
    [S_MINUTE_ADD] = "INSERT INTO exporter_minutes (exporter, minute, records, missed, silent_s, "
                     "silence_missed, unknown_sets, rate, rate_changes) "
                     "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) "
                     "ON CONFLICT (minute, exporter) DO UPDATE SET "
                     "records = records + excluded.records, missed = missed + excluded.missed, "
                     "silent_s = silent_s + excluded.silent_s, "
                     "silence_missed = silence_missed + excluded.silence_missed, "
                     "unknown_sets = unknown_sets + excluded.unknown_sets, "
                     "rate = excluded.rate, rate_changes = rate_changes + excluded.rate_changes",
    [S_MINUTE_SUM] = "SELECT exporter, sum(records), sum(missed), sum(silent_s), "
                     "sum(silence_missed), sum(unknown_sets), max(rate), sum(rate_changes) "
                     "FROM exporter_minutes WHERE minute >= ?1 AND minute < ?2 "
                     "GROUP BY exporter ORDER BY exporter",
    [S_GAP_ADD] = "INSERT INTO collector_gaps (from_ms, to_ms, reason) VALUES (?1, ?2, ?3)",
    [S_GAPS] = "SELECT from_ms, to_ms, reason FROM collector_gaps "
               "WHERE from_ms < ?2 AND to_ms > ?1 ORDER BY from_ms",
    [S_SLOT_COUNTS] = "SELECT end, packets, flows, late_flows, late_packets, complete, "
                      "group_counts, NULL, folded_packets, folded_flows FROM slots "
                      "WHERE analysis_id = ?1 AND start = ?2",
    [S_EXPLAIN_PUT] = "INSERT OR REPLACE INTO explains (analysis_id, slot_start, blob, "
                      "updated_at) VALUES (?1, ?2, ?3, ?4)",
    [S_EXPLAIN_DEL] = "DELETE FROM explains WHERE analysis_id = ?1 AND slot_start = ?2",
    [S_EXPLAIN_GET] = "SELECT blob FROM explains WHERE analysis_id = ?1 AND slot_start = ?2",
    [S_CLUSTER_PUT] = "INSERT OR REPLACE INTO cluster_slots (analysis_id, slot_start, judged_ms) "
                      "VALUES (?1, ?2, ?3)",
    [S_CLUSTER_GET] = "SELECT slot_start, judged_ms FROM cluster_slots WHERE analysis_id = ?1 "
                      "ORDER BY slot_start",
    [S_MAIL_GET] = "SELECT message_id, spooled_at, sent_at, attempts, last_error FROM mails "
                   "WHERE day = ?1",
    [S_MAIL_PUT] = "INSERT OR REPLACE INTO mails (day, message_id, spooled_at, sent_at, "
                   "attempts, last_error) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
};

struct sq {
    sqlite3 *db;
    char *path;
    sqlite3_stmt *st[S_N];
    bool explain_warned;        /* a damaged drill-down was logged once already */
    /* the checkpointer: a thread with a connection of its own, one at a time */
    pthread_t ckpt_thread;
    bool ckpt_started;          /* ckpt_thread is to be joined */
    _Atomic bool ckpt_busy;     /* it has not finished */
    pid_t ckpt_pid;             /* the process that started it: a fork's child has none */
    int ckpt_frames;            /* the WAL's frames when the last one started */
    int wal_frames;             /* the WAL's frames at the commit before */
    bool ckpt_here_tried;       /* one ran on the committing thread since the WAL started */
    int page_size;
    ZSTD_CCtx *zc;              /* the blobs' (de)compression contexts, kept */
    ZSTD_DCtx *zd;
};

static enum ds_rc
db_error(struct sq *s, struct ds_error *err, const char *what)
{
    return ds_error_set(err, DS_ERR_DB, "store %s: %s: %s", s->path, what, sqlite3_errmsg(s->db));
}

/* ---- group blobs: zstd frames ---- */

/* raw as stored: a zstd frame (owned, *len its size), or NULL and 0 for an empty raw. */
static uint8_t *
blob_pack(struct sq *s, const uint8_t *raw, size_t raw_len, size_t *len)
{
    size_t cap, n;
    uint8_t *out;

    *len = 0;
    if (raw_len == 0)
        return NULL;
    if (s->zc == NULL && (s->zc = ZSTD_createCCtx()) == NULL)
        fatalx("store: out of memory for a zstd context");
    cap = ZSTD_compressBound(raw_len);
    out = xmalloc(cap);
    n = ZSTD_compressCCtx(s->zc, out, cap, raw, raw_len, BLOB_ZSTD_LEVEL);
    /* only a bound too small or no memory fail here, and neither can */
    if (ZSTD_isError(n))
        fatalx("store: zstd: %s", ZSTD_getErrorName(n));
    *len = n;
    return out;
}

/*
 * The stored blob b (len bytes) as raw bytes: *raw owned (NULL and 0 for
 * an empty blob).  -1 if it is not one whole zstd frame of a sane size.
 */
static int
blob_unpack(struct sq *s, const void *b, size_t len, uint8_t **raw, size_t *raw_len)
{
    unsigned long long size;
    size_t n;

    *raw = NULL;
    *raw_len = 0;
    if (b == NULL || len == 0)
        return 0;
    size = ZSTD_getFrameContentSize(b, len);
    if (size == ZSTD_CONTENTSIZE_UNKNOWN || size == ZSTD_CONTENTSIZE_ERROR || size == 0 ||
        size > BLOB_RAW_MAX || ZSTD_findFrameCompressedSize(b, len) != len)
        return -1;
    if (s->zd == NULL && (s->zd = ZSTD_createDCtx()) == NULL)
        fatalx("store: out of memory for a zstd context");
    *raw = xmalloc((size_t)size);
    n = ZSTD_decompressDCtx(s->zd, *raw, (size_t)size, b, len);
    if (ZSTD_isError(n) || n != size) {
        free(*raw);
        *raw = NULL;
        return -1;
    }
    *raw_len = n;
    return 0;
}

/* Binds a packed blob (NULL: empty, not SQL NULL: the columns are NOT NULL), kept by the caller. */
static void
bind_packed(sqlite3_stmt *st, int col, const uint8_t *packed, size_t len)
{
    sqlite3_bind_blob64(st, col, packed != NULL ? (const void *)packed : "", len, SQLITE_STATIC);
}

/* Column col's blob, unpacked (blob_unpack()). */
static int
column_unpack(struct sq *s, sqlite3_stmt *st, int col, uint8_t **raw, size_t *raw_len)
{
    return blob_unpack(s, sqlite3_column_blob(st, col), (size_t)sqlite3_column_bytes(st, col),
                       raw, raw_len);
}

static enum ds_rc
exec(struct sq *s, const char *sql, struct ds_error *err)
{
    char *msg = NULL;

    if (sqlite3_exec(s->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        ds_error_set(err, DS_ERR_DB, "store %s: %s", s->path, msg ? msg : "error");
        sqlite3_free(msg);
        return DS_ERR_DB;
    }
    return DS_OK;
}

/* A reset, bound statement; the caller steps it. */
static sqlite3_stmt *
stmt(struct sq *s, enum stmt_id id)
{
    sqlite3_reset(s->st[id]);
    sqlite3_clear_bindings(s->st[id]);
    return s->st[id];
}

static enum ds_rc
step_done(struct sq *s, sqlite3_stmt *st, struct ds_error *err, const char *what)
{
    int rc = sqlite3_step(st);

    sqlite3_reset(st);
    if (rc != SQLITE_DONE)
        return db_error(s, err, what);
    return DS_OK;
}

/*
 * Schema 7: the group blobs of every row of table, raw until then, as
 * zstd frames.  Row by row in rowid order, so that a store of years needs
 * the memory of one slot.
 */
static enum ds_rc
pack_rows(struct sq *s, const char *table, struct ds_error *err)
{
    sqlite3_stmt *get = NULL, *put = NULL;
    char *sql_get = xasprintf("SELECT rowid, group_counts, group_details FROM %s "
                              "WHERE rowid > ?1 ORDER BY rowid LIMIT 1",
                              table);
    char *sql_put =
        xasprintf("UPDATE %s SET group_counts = ?1, group_details = ?2 WHERE rowid = ?3", table);
    enum ds_rc rc = DS_OK;
    int64_t last = INT64_MIN;

    if (sqlite3_prepare_v2(s->db, sql_get, -1, &get, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(s->db, sql_put, -1, &put, NULL) != SQLITE_OK)
        rc = db_error(s, err, "compressing the group blobs");
    while (rc == DS_OK) {
        size_t pc_len, pd_len;
        uint8_t *pc, *pd;
        int step;

        sqlite3_bind_int64(get, 1, last);
        step = sqlite3_step(get);
        if (step != SQLITE_ROW) {
            if (step != SQLITE_DONE)
                rc = db_error(s, err, "compressing the group blobs");
            break;
        }
        last = sqlite3_column_int64(get, 0);
        pc = blob_pack(s, sqlite3_column_blob(get, 1), (size_t)sqlite3_column_bytes(get, 1),
                       &pc_len);
        pd = blob_pack(s, sqlite3_column_blob(get, 2), (size_t)sqlite3_column_bytes(get, 2),
                       &pd_len);
        sqlite3_reset(get);
        bind_packed(put, 1, pc, pc_len);
        bind_packed(put, 2, pd, pd_len);
        sqlite3_bind_int64(put, 3, last);
        rc = step_done(s, put, err, "compressing the group blobs");
        free(pc);
        free(pd);
    }
    sqlite3_finalize(get);
    sqlite3_finalize(put);
    free(sql_get);
    free(sql_put);
    return rc;
}

static enum ds_rc
migrate(struct sq *s, struct ds_error *err)
{
    sqlite3_stmt *st;
    int version = 0, tables = 0;
    enum ds_rc rc;

    if (sqlite3_prepare_v2(s->db, "PRAGMA user_version", -1, &st, NULL) != SQLITE_OK)
        return db_error(s, err, "reading the schema version");
    if (sqlite3_step(st) == SQLITE_ROW)
        version = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    if (version > SCHEMA_VERSION)
        return ds_error_set(err, DS_ERR_DB,
                            "store %s: schema version %d is newer than this darkstab knows (%d); "
                            "use a newer darkstab",
                            s->path, version, SCHEMA_VERSION);
    if (version == SCHEMA_VERSION)
        return DS_OK;
    if (version == 0) {
        if (sqlite3_prepare_v2(s->db, "SELECT count(*) FROM sqlite_master", -1, &st, NULL) !=
            SQLITE_OK)
            return db_error(s, err, "reading the schema");
        if (sqlite3_step(st) == SQLITE_ROW)
            tables = sqlite3_column_int(st, 0);
        sqlite3_finalize(st);
        if (tables > 0)
            return ds_error_set(err, DS_ERR_DB,
                                "store %s: an SQLite database that is not a darkstab store",
                                s->path);
    }
    rc = exec(s, "BEGIN IMMEDIATE", err);
    if (rc != DS_OK)
        return rc;
    for (int v = version; v < SCHEMA_VERSION; v++) {
        char sql[64];

        rc = exec(s, store_schema[v], err);
        if (rc == DS_OK && v + 1 == 7) {
            rc = pack_rows(s, "slots", err);
            if (rc == DS_OK)
                rc = pack_rows(s, "open_slots", err);
        }
        if (rc != DS_OK)
            goto fail;
        snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", v + 1);
        rc = exec(s, sql, err);
        if (rc != DS_OK)
            goto fail;
    }
    return exec(s, "COMMIT", err);
fail:
    exec(s, "ROLLBACK", NULL);
    return rc;
}

/* ---- checkpoints ---- */

static void *
checkpoint_main(void *arg)
{
    struct sq *s = arg;
    sqlite3 *db = NULL;
    int rc;

    rc = sqlite3_open_v2(s->path, &db, SQLITE_OPEN_READWRITE, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_busy_timeout(db, BUSY_TIMEOUT_MS);
        /* a connection finds the WAL on its first read, not at open */
        rc = sqlite3_exec(db, "PRAGMA schema_version", NULL, NULL, NULL);
    }
    if (rc == SQLITE_OK) {
        rc = sqlite3_wal_checkpoint_v2(db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
    }
    /* not fatal: the frames stay in the WAL, and the next one copies them */
    if (rc != SQLITE_OK && rc != SQLITE_BUSY)
        log_warnx("store %s: checkpoint: %s", s->path, db ? sqlite3_errmsg(db) : "out of memory");
    sqlite3_close(db);
    atomic_store(&s->ckpt_busy, false);
    return NULL;
}

static void
checkpoint_join_if_forked(struct sq *s)
{
    if (s->ckpt_started && s->ckpt_pid != getpid()) {
        s->ckpt_started = false;
        atomic_store(&s->ckpt_busy, false);
    }
}

static void
checkpoint_join(struct sq *s)
{
    /*
     * After a fork (the collector opens its store, then becomes a daemon)
     * the thread is the parent's: the child has nothing to wait for.
     */
    checkpoint_join_if_forked(s);
    if (s->ckpt_started) {
        pthread_join(s->ckpt_thread, NULL);
        s->ckpt_started = false;
    }
}

/* A checkpoint on the committing thread; not fatal, as in checkpoint_main(). */
static void
checkpoint_here(struct sq *s, sqlite3 *db, const char *name)
{
    int rc = sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);

    if (rc != SQLITE_OK && rc != SQLITE_BUSY)
        log_warnx("store %s: checkpoint: %s", s->path, sqlite3_errmsg(db));
}

/*
 * Called by SQLite after each commit in WAL mode with the WAL's length in
 * frames (pages).  Runs on the committing thread with the database's mutex held:
 * starts the checkpointer and returns.
 *
 * A checkpoint starts once CHECKPOINT_BYTES were written to the WAL since
 * the last one started, not after every commit of a WAL longer than that:
 * the WAL starts again from its beginning only when a checkpoint has
 * copied every frame before a writer comes, and a collector that commits
 * every few milliseconds (the benchmark's slots) did not let it.  Its WAL
 * stayed long, and each commit started a checkpoint: a thousand of them,
 * two fdatasyncs each, for ten million records.  If checkpoints have run
 * and the WAL is still WAL_LONG_BYTES long, the checkpoint runs here, where
 * no commit comes in between: it copies every frame, and the next write
 * starts the WAL again.  One long transaction (analyze's) is not that case;
 * nor is a WAL that one such checkpoint did not start again (a reader on
 * another connection holds its frames): the next ones go back to the thread
 * rather than hold the writer for each.
 */
static int
wal_hook(void *arg, sqlite3 *db, const char *name, int frames)
{
    struct sq *s = arg;

    /* the WAL started again: it is shorter than at the commit before */
    if (frames < s->wal_frames) {
        s->ckpt_frames = 0;
        s->ckpt_here_tried = false;
    }
    s->wal_frames = frames;
    if ((int64_t)(frames - s->ckpt_frames) * s->page_size < CHECKPOINT_BYTES)
        return SQLITE_OK;
    checkpoint_join_if_forked(s);
    if (atomic_load(&s->ckpt_busy))
        return SQLITE_OK;
    checkpoint_join(s);
    if (s->ckpt_frames > 0 && !s->ckpt_here_tried &&
        (int64_t)frames * s->page_size >= WAL_LONG_BYTES) {
        s->ckpt_frames = frames;
        s->ckpt_here_tried = true;
        checkpoint_here(s, db, name);
        return SQLITE_OK;
    }
    s->ckpt_frames = frames;
    atomic_store(&s->ckpt_busy, true);
    if (pthread_create(&s->ckpt_thread, NULL, checkpoint_main, s) == 0) {
        s->ckpt_started = true;
        s->ckpt_pid = getpid();
        return SQLITE_OK;
    }
    atomic_store(&s->ckpt_busy, false);
    /* no thread: here, as SQLite would have */
    checkpoint_here(s, db, name);
    return SQLITE_OK;
}

static enum ds_rc
page_size(struct sq *s, int *out, struct ds_error *err)
{
    sqlite3_stmt *st;
    int rc;

    if (sqlite3_prepare_v2(s->db, "PRAGMA page_size", -1, &st, NULL) != SQLITE_OK)
        return db_error(s, err, "reading the page size");
    rc = sqlite3_step(st);
    *out = rc == SQLITE_ROW ? sqlite3_column_int(st, 0) : 0;
    sqlite3_finalize(st);
    if (*out <= 0)
        return db_error(s, err, "reading the page size");
    return DS_OK;
}

static void
sq_close(void *state)
{
    struct sq *s = state;

    if (s == NULL)
        return;
    checkpoint_join(s);
    for (int i = 0; i < S_N; i++)
        sqlite3_finalize(s->st[i]);
    sqlite3_close(s->db);
    ZSTD_freeCCtx(s->zc);
    ZSTD_freeDCtx(s->zd);
    free(s->path);
    free(s);
}

static enum ds_rc
sq_open(const char *path, void **state, struct ds_error *err)
{
    struct sq *s = xcalloc(1, sizeof(*s));
    enum ds_rc rc;

    s->path = xstrdup(path);
    if (sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) !=
        SQLITE_OK) {
        rc = ds_error_set(err, DS_ERR_DB, "store %s: cannot open: %s", path,
                          s->db ? sqlite3_errmsg(s->db) : "out of memory");
        goto fail;
    }
    sqlite3_busy_timeout(s->db, BUSY_TIMEOUT_MS);
    /* A file that is not SQLite fails here, on its first read. */
    if (strcmp(path, ":memory:") != 0) {
        /*
         * A new store's pages are 8 KB (a store of before keeps its 4 KB):
         * its rows are mostly blobs of tens of KB, and half the pages is
         * half the WAL frames and write calls of each commit and
         * checkpoint.  16 KB pages halve them again, but the last page of
         * each blob is half empty on average: the bench's compressed
         * store is 28.2 MB in 4 KB pages, 28.7 in 8 KB, 32.6 in 16 KB.
         * Only a database without tables takes it, and only before WAL.
         */
        rc = exec(s, "PRAGMA page_size = 8192", err);
        if (rc != DS_OK)
            goto fail;
        rc = exec(s, "PRAGMA journal_mode = WAL", err);
        if (rc != DS_OK)
            goto fail;
        rc = page_size(s, &s->page_size, err);
        if (rc != DS_OK)
            goto fail;
        /* replaces SQLite's checkpoints after a commit (wal_autocheckpoint) */
        sqlite3_wal_hook(s->db, wal_hook, s);
    }
    rc = exec(s, "PRAGMA synchronous = NORMAL", err);
    if (rc != DS_OK)
        goto fail;
    rc = migrate(s, err);
    if (rc != DS_OK)
        goto fail;
    for (int i = 0; i < S_N; i++) {
        if (sqlite3_prepare_v3(s->db, stmt_sql[i], -1, SQLITE_PREPARE_PERSISTENT, &s->st[i],
                               NULL) != SQLITE_OK) {
            rc = db_error(s, err, "preparing statements");
            goto fail;
        }
    }
    *state = s;
    return DS_OK;
fail:
    sq_close(s);
    return rc;
}

static enum ds_rc
sq_begin(void *state, struct ds_error *err)
{
    return exec(state, "BEGIN IMMEDIATE", err);
}

static enum ds_rc
sq_commit(void *state, struct ds_error *err)
{
    return exec(state, "COMMIT", err);
}

static void
sq_rollback(void *state)
{
    exec(state, "ROLLBACK", NULL);
}

static bool
sq_in_transaction(void *state)
{
    struct sq *s = state;

    return sqlite3_get_autocommit(s->db) == 0;
}

static enum ds_rc
sq_verify(void *state, struct ds_error *err)
{
    struct sq *s = state;
    sqlite3_stmt *st;
    char first[256] = "";
    int rc, problems = 0;

    if (sqlite3_prepare_v2(s->db, "PRAGMA quick_check(10)", -1, &st, NULL) != SQLITE_OK)
        return db_error(s, err, "checking the file");
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *line = (const char *)sqlite3_column_text(st, 0);

        if (line == NULL || strcmp(line, "ok") == 0)
            continue;
        if (problems++ == 0) {
            /* SQLite may put several findings in one row, a line each */
            snprintf(first, sizeof(first), "%s", line);
            first[strcspn(first, "\n")] = '\0';
        }
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return db_error(s, err, "checking the file");
    if (problems > 0)
        return ds_error_set(err, DS_ERR_DB,
                            "store %s is damaged (%d problem%s, the first: %s); restore it "
                            "from a backup, or move it away to start a new one",
                            s->path, problems, problems == 1 ? "" : "s", first);
    return DS_OK;
}

static enum ds_rc
sq_analysis(void *state, const struct store_analysis_def *def, int64_t *id, unsigned *changed,
            struct ds_error *err)
{
    struct sq *s = state;
    sqlite3_stmt *st = stmt(s, S_ANALYSIS_GET);
    int rc;

    sqlite3_bind_text(st, 1, def->name, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        const char *keys = (const char *)sqlite3_column_text(st, 1);
        int64_t slot_s = sqlite3_column_int64(st, 2);
        const char *tz = (const char *)sqlite3_column_text(st, 3);
        const char *attr = (const char *)sqlite3_column_text(st, 4);
        char was[256] = "", now[256] = "";

        *id = sqlite3_column_int64(st, 0);
        *changed = 0;
        if (strcmp((const char *)sqlite3_column_text(st, 5), def->judged_with) != 0)
            *changed |= STORE_CHANGED_JUDGEMENT;
        if (strcmp((const char *)sqlite3_column_text(st, 6), def->lowest) != 0)
            *changed |= STORE_CHANGED_LOWEST;
        if (strcmp(keys, def->keys) != 0) {
            snprintf(was, sizeof(was), "keys [%s]", keys);
            snprintf(now, sizeof(now), "keys [%s]", def->keys);
        } else if (slot_s != def->slot_s) {
            snprintf(was, sizeof(was), "slot %llds", (long long)slot_s);
            snprintf(now, sizeof(now), "slot %llds", (long long)def->slot_s);
        } else if (strcmp(tz, def->timezone) != 0) {
            snprintf(was, sizeof(was), "timezone %s", tz);
            snprintf(now, sizeof(now), "timezone %s", def->timezone);
        } else if (strcmp(attr, def->attribution) != 0) {
            snprintf(was, sizeof(was), "attribution %s", attr);
            snprintf(now, sizeof(now), "attribution %s", def->attribution);
        }
        sqlite3_reset(st);
        if (*was)
            return ds_error_set(err, DS_ERR_CONFLICT,
                                "store %s: analysis '%s' was stored with %s, the configuration "
                                "now has %s; give the analysis a new name or use another store",
                                s->path, def->name, was, now);
        if (*changed == 0)
            return DS_OK;
        st = stmt(s, S_ANALYSIS_JUDGED);
        sqlite3_bind_int64(st, 1, *id);
        sqlite3_bind_text(st, 2, def->judged_with, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, def->lowest, -1, SQLITE_STATIC);
        return step_done(s, st, err, "updating an analysis");
    }
    sqlite3_reset(st);
    if (rc != SQLITE_DONE)
        return db_error(s, err, "reading analyses");
    st = stmt(s, S_ANALYSIS_ADD);
    sqlite3_bind_text(st, 1, def->name, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, def->keys, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, def->slot_s);
    sqlite3_bind_text(st, 4, def->timezone, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, def->attribution, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 6, def->judged_with, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 7, def->lowest, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 8, (int64_t)time(NULL));
    *changed = 0;
    if (step_done(s, st, err, "adding an analysis") != DS_OK)
        return DS_ERR_DB;
    *id = sqlite3_last_insert_rowid(s->db);
    return DS_OK;
}

/* An inputs row from column col on: name, bytes, records, first_ms, last_ms, analyzed_at. */
static void
input_from_row(sqlite3_stmt *st, int col, struct store_input *in)
{
    snprintf(in->name, sizeof(in->name), "%s", (const char *)sqlite3_column_text(st, col));
    in->bytes = (uint64_t)sqlite3_column_int64(st, col + 1);
    in->records = (uint64_t)sqlite3_column_int64(st, col + 2);
    in->first_ms = sqlite3_column_int64(st, col + 3);
    in->last_ms = sqlite3_column_int64(st, col + 4);
    in->analyzed_at = sqlite3_column_int64(st, col + 5);
}

static enum ds_rc
sq_input_find(void *state, int64_t aid, const char *digest, struct store_input *in, bool *found,
              struct ds_error *err)
{
    struct sq *s = state;
    sqlite3_stmt *st = stmt(s, S_INPUT_GET);
    int rc;

    sqlite3_bind_int64(st, 1, aid);
    sqlite3_bind_text(st, 2, digest, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    *found = rc == SQLITE_ROW;
    if (*found) {
        memset(in, 0, sizeof(*in));
        snprintf(in->digest, sizeof(in->digest), "%s", digest);
        input_from_row(st, 0, in);
    }
    sqlite3_reset(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return db_error(s, err, "reading inputs");
    return DS_OK;
}

static enum ds_rc
sq_input_add(void *state, int64_t aid, const struct store_input *in, struct ds_error *err)
{
    struct sq *s = state;
    sqlite3_stmt *st = stmt(s, S_INPUT_ADD);

    sqlite3_bind_int64(st, 1, aid);
    sqlite3_bind_text(st, 2, in->digest, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, in->name, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, (int64_t)in->bytes);
    sqlite3_bind_int64(st, 5, (int64_t)in->records);
    sqlite3_bind_int64(st, 6, in->first_ms);
    sqlite3_bind_int64(st, 7, in->last_ms);
    sqlite3_bind_int64(st, 8, in->analyzed_at);
    return step_done(s, st, err, "recording an input");
}

static enum ds_rc
sq_input_any(void *state, int64_t aid, bool *any, struct ds_error *err)
{
    struct sq *s = state;
    sqlite3_stmt *st = stmt(s, S_INPUT_ANY);
    int rc;

    sqlite3_bind_int64(st, 1, aid);
    rc = sqlite3_step(st);
    *any = rc == SQLITE_ROW;
    sqlite3_reset(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return db_error(s, err, "reading inputs");
    return DS_OK;
}

static enum ds_rc
sq_inputs_overlap(void *state, int64_t aid, int64_t from_ms, int64_t to_ms,
                  struct store_input **out, size_t *n, struct ds_error *err)
{
    struct sq *s = state;
    sqlite3_stmt *st = stmt(s, S_INPUT_OVERLAP);
    size_t cap = 0;
    int rc;

    *out = NULL;
    *n = 0;
    sqlite3_bind_int64(st, 1, aid);
    sqlite3_bind_int64(st, 2, from_ms);
    sqlite3_bind_int64(st, 3, to_ms);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct store_input *in;

        if (*n == cap) {
            cap = cap ? 2 * cap : 8;
            *out = xreallocarray(*out, cap, sizeof(**out));
        }
        in = &(*out)[(*n)++];
        memset(in, 0, sizeof(*in));
        snprintf(in->digest, sizeof(in->digest), "%s", (const char *)sqlite3_column_text(st, 0));
        input_from_row(st, 1, in);
    }
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) {
        free(*out);
        *out = NULL;
        *n = 0;
        return db_error(s, err, "reading inputs");
    }
    return DS_OK;
}

/* The stored slot as its row: S_SLOT_GET (counts and details) or S_SLOT_COUNTS. */
static enum ds_rc
sq_slot_row(void *state, int64_t aid, int64_t start, bool details, struct store_slot_row *row,
            bool *found, struct ds_error *err)
{
    struct sq *s = state;
    sqlite3_stmt *st = stmt(s, details ? S_SLOT_GET : S_SLOT_COUNTS);
    int rc;

    memset(row, 0, sizeof(*row));
    *found = false;
    sqlite3_bind_int64(st, 1, aid);
    sqlite3_bind_int64(st, 2, start);
    rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) {
        sqlite3_reset(st);
        return rc == SQLITE_DONE ? DS_OK : db_error(s, err, "reading a slot");
    }
    row->start = start;
    row->end = sqlite3_column_int64(st, 0);
    row->packets = (uint64_t)sqlite3_column_int64(st, 1);
    row->flows = (uint64_t)sqlite3_column_int64(st, 2);
    row->late_flows = (uint64_t)sqlite3_column_int64(st, 3);
    row->late_packets = (uint64_t)sqlite3_column_int64(st, 4);
    row->complete = sqlite3_column_int(st, 5) != 0;
    if (column_unpack(s, st, 6, &row->counts, &row->counts_len) != 0 ||
        (details && column_unpack(s, st, 7, &row->details, &row->details_len) != 0)) {
        sqlite3_reset(st);
        store_slot_row_fini(row);
        return ds_error_set(err, DS_ERR_DB, "store %s: slot %lld: its groups are damaged",
                            s->path, (long long)start);
    }
    row->folded_packets = (uint64_t)sqlite3_column_int64(st, 8);
    row->folded_flows = (uint64_t)sqlite3_column_int64(st, 9);
    sqlite3_reset(st);
    *found = true;
    return DS_OK;
}

static enum ds_rc
sq_slot_save(void *state, int64_t aid, const struct agg_slot *slot, struct ds_error *err)
{
    struct sq *s = state;
    size_t counts_len, details_len, pc_len, pd_len;
    uint8_t *blob = store_slot_encode(slot, &counts_len, &details_len);
    uint8_t *pc = blob_pack(s, blob, counts_len, &pc_len);
    uint8_t *pd = blob_pack(s, blob + counts_len, details_len, &pd_len);
    sqlite3_stmt *st;
    enum ds_rc rc;

    free(blob);
    st = stmt(s, S_SLOT_PUT);
    sqlite3_bind_int64(st, 1, aid);
    sqlite3_bind_int64(st, 2, slot->start);
    sqlite3_bind_int64(st, 3, slot->end);
    sqlite3_bind_int64(st, 4, (int64_t)slot->packets);
    sqlite3_bind_int64(st, 5, (int64_t)slot->flows);
    sqlite3_bind_int64(st, 6, slot->n_groups);
    sqlite3_bind_int64(st, 7, (int64_t)slot->late_flows);
    sqlite3_bind_int64(st, 8, (int64_t)slot->late_packets);
    sqlite3_bind_int(st, 9, slot->complete);
    sqlite3_bind_int64(st, 10, (int64_t)time(NULL));
    bind_packed(st, 11, pc, pc_len);
    bind_packed(st, 12, pd, pd_len);
    sqlite3_bind_int64(st, 13, (int64_t)slot->folded_packets);
    sqlite3_bind_int64(st, 14, (int64_t)slot->folded_flows);
    rc = step_done(s, st, err, "saving a slot");
    free(pc);
    free(pd);
    return rc;
}

static void
read_summary(sqlite3_stmt *st, struct store_slot_summary *sum)
{
    sum->start = sqlite3_column_int64(st, 0);
    sum->end = sqlite3_column_int64(st, 1);
    sum->packets = (uint64_t)sqlite3_column_int64(st, 2);
    sum->flows = (uint64_t)sqlite3_column_int64(st, 3);
    sum->groups = (uint64_t)sqlite3_column_int64(st, 4);
    sum->late_flows = (uint64_t)sqlite3_column_int64(st, 5);
    sum->late_packets = (uint64_t)sqlite3_column_int64(st, 6);
    sum->complete = sqlite3_column_int(st, 7) != 0;
    sum->incomplete = sqlite3_column_int(st, 8) != 0;
    sum->folded_packets = (uint64_t)sqlite3_column_int64(st, 9);
    sum->folded_flows = (uint64_t)sqlite3_column_int64(st, 10);
}

static enum ds_rc
collect_summaries(struct sq *s, sqlite3_stmt *st, struct store_slot_summary **out, size_t *n,
                  struct ds_error *err)
{
    size_t cap = 0;
    int rc;

    *out = NULL;
    *n = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (*n == cap) {
            cap = cap ? cap * 2 : 64;
            *out = xreallocarray(*out, cap, sizeof(**out));
        }
        read_summary(st, &(*out)[(*n)++]);
    }
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) {
        free(*out);
        *out = NULL;
        *n = 0;
        return db_error(s, err, "reading slots");
    }
    return DS_OK;
}

static enum ds_rc
sq_slot_summaries(void *state, int64_t aid, int64_t from, int64_t to,
                  struct store_slot_summary **out, size_t *n, struct ds_error *err)
{
    struct sq *s = state;
    sqlite3_stmt *st = stmt(s, S_SUMMARIES);

    sqlite3_bind_int64(st, 1, aid);
    sqlite3_bind_int64(st, 2, from);
    sqlite3_bind_int64(st, 3, to);
    return collect_summaries(s, st, out, n, err);
}

static enum ds_rc
sq_slot_last_with_data(void *state, int64_t aid, int64_t before, size_t limit,
                       struct store_slot_summary **out, size_t *n, struct ds_error *err)
{
    struct sq *s = state;
    sqlite3_stmt *st = stmt(s, S_LAST_WITH_DATA);
    enum ds_rc rc;

    sqlite3_bind_int64(st, 1, aid);
    sqlite3_bind_int64(st, 2, before);
    sqlite3_bind_int64(st, 3, (int64_t)limit);
    rc = collect_summaries(s, st, out, n, err);
    if (rc != DS_OK)
        return rc;
    /* Newest first from SQL; oldest first for the caller. */
    for (size_t i = 0; i < *n / 2; i++) {
        struct store_slot_summary t = (*out)[i];

        (*out)[i] = (*out)[*n - 1 - i];
        (*out)[*n - 1 - i] = t;
    }
    return DS_OK;
}

struct packets_ctx {
    uint64_t *v;
    size_t n, cap;
};

static void
collect_packets(void *ctx, const uint8_t *key, uint64_t packets, uint64_t flows, uint64_t flags)
{
    struct packets_ctx *c = ctx;

    (void)key;
    (void)flows;
    (void)flags;
    if (c->n == c->cap) {
        c->cap = c->cap ? c->cap * 2 : 1024;
        c->v = xreallocarray(c->v, c->cap, sizeof(*c->v));
    }
    c->v[c->n++] = packets;
}

static int
cmp_desc(const void *x, const void *y)
{
    uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;

    return a > b ? -1 : a < b;
}

static enum ds_rc
sq_top_packets(void *state, int64_t aid, const struct key_layout *layout, int64_t start,
               size_t limit, uint64_t **packets, size_t *n, struct ds_error *err)
{
    struct sq *s = state;
    sqlite3_stmt *st = stmt(s, S_TOP_PACKETS);
    struct packets_ctx c = {NULL, 0, 0};
    int rc;

    *packets = NULL;
    *n = 0;
    sqlite3_bind_int64(st, 1, aid);
    sqlite3_bind_int64(st, 2, start);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        uint8_t *counts;
        size_t len;
        int bad = column_unpack(s, st, 0, &counts, &len);

        bad = bad || store_walk_groups(counts, len, layout, collect_packets, &c) != 0;
        free(counts);
        if (bad) {
            sqlite3_reset(st);
            free(c.v);
            return ds_error_set(err, DS_ERR_DB, "store %s: slot %lld: group counts are damaged",
                                s->path, (long long)start);
        }
    }
    sqlite3_reset(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        free(c.v);
        return db_error(s, err, "reading group counts");
    }
    qsort(c.v, c.n, sizeof(*c.v), cmp_desc);
    *packets = c.v;
    *n = c.n < limit ? c.n : limit;
    return DS_OK;
}

static enum ds_rc
sq_topn_get(void *state, int64_t aid, int64_t start, const char *th, uint32_t *topn, bool *found,
            struct ds_error *err)
{
    struct sq *s = state;
    sqlite3_stmt *st = stmt(s, S_TOPN_GET);
    int rc;

    sqlite3_bind_int64(st, 1, aid);
    sqlite3_bind_int64(st, 2, start);
    sqlite3_bind_text(st, 3, th, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    *found = rc == SQLITE_ROW;
    if (*found)
        *topn = (uint32_t)sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return db_error(s, err, "reading topn");
    return DS_OK;
}

static void
bind_double_or_null(sqlite3_stmt *st, int i, double v)
{
    if (v == v)
        sqlite3_bind_double(st, i, v);
    else
        sqlite3_bind_null(st, i);
}

static enum ds_rc
sq_result_save(void *state, int64_t aid, const struct key_layout *layout,
               const struct slot_result *r, bool with_top, struct ds_error *err)
{
    struct sq *s = state;
    sqlite3_stmt *st = stmt(s, S_TOPN_DEL);
    enum ds_rc rc;

    sqlite3_bind_int64(st, 1, aid);
    sqlite3_bind_int64(st, 2, r->start);
    rc = step_done(s, st, err, "replacing topn");
    if (rc != DS_OK)
        return rc;
    for (size_t i = 0; i < r->n_th; i++) {
        const struct th_result *t = &r->th[i];

        st = stmt(s, S_TOPN_PUT);
        sqlite3_bind_int64(st, 1, aid);
        sqlite3_bind_int64(st, 2, r->start);
        sqlite3_bind_text(st, 3, t->th.text, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 4, (int64_t)i);
        sqlite3_bind_int64(st, 5, t->topn);
        sqlite3_bind_text(st, 6, stab_status_name(t->r.status), -1, SQLITE_STATIC);
        if (t->r.status == STAB_UNSTABLE)
            sqlite3_bind_text(st, 7, stab_dir_name(t->r.dir), -1, SQLITE_STATIC);
        else
            sqlite3_bind_null(st, 7);
        bind_double_or_null(st, 8, t->r.mean);
        bind_double_or_null(st, 9, t->r.stddev);
        bind_double_or_null(st, 10, t->r.lower);
        bind_double_or_null(st, 11, t->r.upper);
        rc = step_done(s, st, err, "saving topn");
        if (rc != DS_OK)
            return rc;
    }
    if (r->completeness != NULL) {
        st = stmt(s, S_SLOT_MARK);
        sqlite3_bind_int64(st, 1, aid);
        sqlite3_bind_int64(st, 2, r->start);
        sqlite3_bind_int(st, 3, r->incomplete);
        sqlite3_bind_text(st, 4, r->completeness, -1, SQLITE_STATIC);
        rc = step_done(s, st, err, "saving a slot's completeness");
        if (rc != DS_OK)
            return rc;
    }
    if (!with_top)
        return DS_OK;
    st = stmt(s, S_TOPG_DEL);
    sqlite3_bind_int64(st, 1, aid);
    sqlite3_bind_int64(st, 2, r->start);
    rc = step_done(s, st, err, "replacing top groups");
    if (rc != DS_OK)
        return rc;
    for (size_t i = 0; i < r->n_top; i++) {
        const struct top_group *g = &r->top[i];
        char text[256];

        st = stmt(s, S_TOPG_PUT);
        sqlite3_bind_int64(st, 1, aid);
        sqlite3_bind_int64(st, 2, r->start);
        sqlite3_bind_int64(st, 3, (int64_t)i);
        sqlite3_bind_blob(st, 4, g->key, (int)layout->stored, SQLITE_STATIC);
        sqlite3_bind_text(st, 5, key_format_line(layout, g->key, text, sizeof(text)), -1,
                          SQLITE_TRANSIENT);
        sqlite3_bind_int64(st, 6, (int64_t)g->packets);
        sqlite3_bind_int64(st, 7, (int64_t)g->flows);
        sqlite3_bind_double(st, 8, g->share);
        sqlite3_bind_int(st, 9, g->has_detail);
        sqlite3_bind_int(st, 10, g->partial);
        if (g->has_detail) {
            sqlite3_bind_int64(st, 11, (int64_t)g->src_addrs);
            sqlite3_bind_int(st, 12, g->src_estimated);
            sqlite3_bind_int64(st, 13, (int64_t)g->dst_ports);
            sqlite3_bind_int64(st, 14, (int64_t)g->dst_addrs);
            sqlite3_bind_int(st, 15, g->dst_estimated);
            sqlite3_bind_int(st, 16, g->type);
            sqlite3_bind_int64(st, 17, g->first_ms);
            sqlite3_bind_int64(st, 18, g->last_ms);
        }
        rc = step_done(s, st, err, "saving top groups");
        if (rc != DS_OK)
            return rc;
    }
    return DS_OK;
}

static double
column_double_or_nan(sqlite3_stmt *st, int i)
{
    return sqlite3_column_type(st, i) == SQLITE_NULL ? NAN : sqlite3_column_double(st, i);
}

static enum stab_status
status_from_name(const char *s)
{
    if (strcmp(s, "stable") == 0)
        return STAB_STABLE;
    if (strcmp(s, "unstable") == 0)
        return STAB_UNSTABLE;
    if (strcmp(s, "warmup") == 0)
        return STAB_WARMUP;
    if (strcmp(s, "incomplete") == 0)
        return STAB_INCOMPLETE;
    return STAB_NO_DATA;
}

/*
 * r->explain from the stored drill-down, if any.  A damaged one is left
 * out (r->explain NULL) and logged once per store: the report goes on
 * without it rather than fail.  Returns SQLITE_DONE or the step's error.
 */
static int
load_explain(struct sq *s, int64_t aid, int64_t start, struct slot_result *r)
{
    sqlite3_stmt *st = stmt(s, S_EXPLAIN_GET);
    int rc;

    sqlite3_bind_int64(st, 1, aid);
    sqlite3_bind_int64(st, 2, start);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        const void *blob = sqlite3_column_blob(st, 0);
        size_t len = (size_t)sqlite3_column_bytes(st, 0);

        r->explain = blob != NULL ? explain_decode(blob, len) : NULL;
        if (r->explain == NULL && !s->explain_warned) {
            s->explain_warned = true;
            log_warnx("store %s: the drill-down of slot %lld is damaged; reported without it "
                      "(further damaged ones are not logged)",
                      s->path, (long long)start);
        }
        rc = SQLITE_DONE;
    }
    sqlite3_reset(st);
    return rc;
}

static enum ds_rc
load_result(struct sq *s, int64_t aid, const struct key_layout *layout,
            const struct store_slot_summary *sum, struct slot_result *r, struct ds_error *err)
{
    sqlite3_stmt *st;
    size_t cap = 0;
    int rc;

    memset(r, 0, sizeof(*r));
    r->start = sum->start;
    r->end = sum->end;
    r->packets = sum->packets;
    r->flows = sum->flows;
    r->groups = sum->groups;
    r->late_flows = sum->late_flows;
    r->late_packets = sum->late_packets;
    r->complete = sum->complete;
    r->incomplete = sum->incomplete;
    r->folded_packets = sum->folded_packets;
    r->folded_flows = sum->folded_flows;

    st = stmt(s, S_SLOT_COMPL);
    sqlite3_bind_int64(st, 1, aid);
    sqlite3_bind_int64(st, 2, sum->start);
    if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL)
        r->completeness = xstrdup((const char *)sqlite3_column_text(st, 0));
    sqlite3_reset(st);

    st = stmt(s, S_RES_TOPN);
    sqlite3_bind_int64(st, 1, aid);
    sqlite3_bind_int64(st, 2, sum->start);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW && r->n_th < CFG_THRESHOLDS_MAX) {
        struct th_result *t = &r->th[r->n_th++];
        char why[64];

        parse_decimal((const char *)sqlite3_column_text(st, 0), 6, &t->th, why, sizeof(why));
        t->topn = (uint32_t)sqlite3_column_int64(st, 1);
        t->r.status = status_from_name((const char *)sqlite3_column_text(st, 2));
        t->r.dir = STAB_DIR_NONE;
        if (sqlite3_column_type(st, 3) != SQLITE_NULL) {
            const char *d = (const char *)sqlite3_column_text(st, 3);

            t->r.dir = strcmp(d, "increase") == 0   ? STAB_DIR_INCREASE
                       : strcmp(d, "decrease") == 0 ? STAB_DIR_DECREASE
                                                    : STAB_DIR_NONE;
        }
        t->r.mean = column_double_or_nan(st, 4);
        t->r.stddev = column_double_or_nan(st, 5);
        t->r.lower = column_double_or_nan(st, 6);
        t->r.upper = column_double_or_nan(st, 7);
    }
    sqlite3_reset(st);
    if (rc != SQLITE_DONE && rc != SQLITE_ROW)
        return db_error(s, err, "reading topn");

    st = stmt(s, S_RES_TOPG);
    sqlite3_bind_int64(st, 1, aid);
    sqlite3_bind_int64(st, 2, sum->start);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct top_group *g;

        if (r->n_top == cap) {
            cap = cap ? cap * 2 : 16;
            r->top = xreallocarray(r->top, cap, sizeof(*r->top));
        }
        g = &r->top[r->n_top++];
        memset(g, 0, sizeof(*g));
        if ((size_t)sqlite3_column_bytes(st, 0) == layout->stored)
            memcpy(g->key, sqlite3_column_blob(st, 0), layout->stored);
        g->packets = (uint64_t)sqlite3_column_int64(st, 1);
        g->flows = (uint64_t)sqlite3_column_int64(st, 2);
        g->share = sqlite3_column_double(st, 3);
        g->has_detail = sqlite3_column_int(st, 4) != 0;
        g->partial = sqlite3_column_int(st, 5) != 0;
        g->src_addrs = (uint64_t)sqlite3_column_int64(st, 6);
        g->src_estimated = sqlite3_column_int(st, 7) != 0;
        g->dst_ports = (uint64_t)sqlite3_column_int64(st, 8);
        g->dst_addrs = (uint64_t)sqlite3_column_int64(st, 9);
        g->dst_estimated = sqlite3_column_int(st, 10) != 0;
        g->type = (uint16_t)sqlite3_column_int(st, 11);
        g->first_ms = sqlite3_column_int64(st, 12);
        g->last_ms = sqlite3_column_int64(st, 13);
    }
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) {
        slot_result_fini(r);
        return db_error(s, err, "reading top groups");
    }
    rc = load_explain(s, aid, sum->start, r);
    if (rc != SQLITE_DONE) {
        slot_result_fini(r);
        return db_error(s, err, "reading a drill-down");
    }
    r->late_flows = sum->late_flows;
    r->late_packets = sum->late_packets;
    r->complete = sum->complete;
    return DS_OK;
}

static enum ds_rc
sq_results(void *state, int64_t aid, const struct key_layout *layout, const struct cfg_analysis *a,
           int64_t from, int64_t to, store_result_fn fn, void *ctx, struct ds_error *err)
{
    struct sq *s = state;
    struct store_slot_summary *sums;
    size_t n;
    enum ds_rc rc;

    (void)a;
    rc = sq_slot_summaries(s, aid, from, to, &sums, &n, err);
    if (rc != DS_OK)
        return rc;
    for (size_t i = 0; i < n && rc == DS_OK; i++) {
        struct slot_result r;

        rc = load_result(s, aid, layout, &sums[i], &r, err);
        if (rc != DS_OK)
            break;
        rc = fn(ctx, &r);
        slot_result_fini(&r);
    }
    free(sums);
    return rc;
}

static enum ds_rc
sq_analysis_find(void *state, const char *name, int64_t *id, bool *found, struct ds_error *err)
{
    struct sq *s = state;
    sqlite3_stmt *st = stmt(s, S_ANALYSIS_GET);
    int rc;

    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    *found = rc == SQLITE_ROW;
    if (*found)
        *id = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return db_error(s, err, "reading analyses");
    return DS_OK;
}

/* ---- live collection ---- */

static enum ds_rc
sq_open_slots_replace(void *state, int64_t aid, int64_t closed_upto,
                      const struct store_open_slot *slots, size_t n, struct ds_error *err)
{
    struct sq *s = state;
    sqlite3_stmt *st = stmt(s, S_OPEN_DEL);
    enum ds_rc rc;

    sqlite3_bind_int64(st, 1, aid);
    rc = step_done(s, st, err, "replacing open slots");
    for (size_t i = 0; i < n && rc == DS_OK; i++) {
        const struct store_open_slot *o = &slots[i];

        size_t pc_len, pd_len;
        uint8_t *pc = blob_pack(s, o->blob, o->counts_len, &pc_len);
        uint8_t *pd = blob_pack(s, o->blob + o->counts_len, o->details_len, &pd_len);

        st = stmt(s, S_OPEN_PUT);
        sqlite3_bind_int64(st, 1, aid);
        sqlite3_bind_int64(st, 2, o->start);
        sqlite3_bind_int64(st, 3, o->end);
        sqlite3_bind_int64(st, 4, (int64_t)o->packets);
        sqlite3_bind_int64(st, 5, (int64_t)o->flows);
        bind_packed(st, 6, pc, pc_len);
        bind_packed(st, 7, pd, pd_len);
        sqlite3_bind_int64(st, 8, (int64_t)o->folded_packets);
        sqlite3_bind_int64(st, 9, (int64_t)o->folded_flows);
        rc = step_done(s, st, err, "saving an open slot");
        free(pc);
        free(pd);
    }
    if (rc != DS_OK)
        return rc;
    st = stmt(s, S_CLOSED_UPTO_SET);
    sqlite3_bind_int64(st, 1, aid);
    sqlite3_bind_int64(st, 2, closed_upto);
    return step_done(s, st, err, "saving how far slots are closed");
}

static enum ds_rc
sq_open_slots_load(void *state, int64_t aid, const struct key_layout *layout,
                   int64_t *closed_upto, struct agg_slot ***slots, size_t *n,
                   struct ds_error *err)
{
    struct sq *s = state;
    sqlite3_stmt *st = stmt(s, S_CLOSED_UPTO_GET);
    size_t cap = 0;
    int rc;

    *slots = NULL;
    *n = 0;
    *closed_upto = INT64_MIN;
    sqlite3_bind_int64(st, 1, aid);
    if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL)
        *closed_upto = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    st = stmt(s, S_OPEN_GET);
    sqlite3_bind_int64(st, 1, aid);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct agg_slot *slot = agg_slot_new(layout, sqlite3_column_int64(st, 0),
                                             sqlite3_column_int64(st, 1));
        uint8_t *counts = NULL, *details = NULL;
        size_t counts_len = 0, details_len = 0;
        int bad;

        slot->packets = (uint64_t)sqlite3_column_int64(st, 2);
        slot->flows = (uint64_t)sqlite3_column_int64(st, 3);
        slot->folded_packets = (uint64_t)sqlite3_column_int64(st, 6);
        slot->folded_flows = (uint64_t)sqlite3_column_int64(st, 7);
        bad = column_unpack(s, st, 4, &counts, &counts_len) != 0 ||
              column_unpack(s, st, 5, &details, &details_len) != 0 ||
              store_slot_decode(slot, counts, counts_len, details, details_len) != 0;
        free(counts);
        free(details);
        if (bad) {
            int64_t start = slot->start;

            agg_slot_free(slot);
            sqlite3_reset(st);
            for (size_t i = 0; i < *n; i++)
                agg_slot_free((*slots)[i]);
            free(*slots);
            *slots = NULL;
            *n = 0;
            return ds_error_set(err, DS_ERR_DB, "store %s: open slot %lld is damaged", s->path,
                                (long long)start);
        }
        if (*n == cap) {
            cap = cap ? cap * 2 : 8;
            *slots = xreallocarray(*slots, cap, sizeof(**slots));
        }
        (*slots)[(*n)++] = slot;
    }
    sqlite3_reset(st);
    if (rc != SQLITE_DONE)
        return db_error(s, err, "reading open slots");
    return DS_OK;
}

static enum ds_rc
sq_collector_save(void *state, const struct store_collector *c, struct ds_error *err)
{
    struct sq *s = state;
    sqlite3_stmt *st = stmt(s, S_COLLECTOR_PUT);

    sqlite3_bind_int64(st, 1, c->saved_at);
    sqlite3_bind_int(st, 2, c->clean);
    sqlite3_bind_int64(st, 3, c->event_ms);
    sqlite3_bind_blob64(st, 4, c->state ? (const void *)c->state : (const void *)"", c->state_len,
                        SQLITE_STATIC);
    return step_done(s, st, err, "saving the collector's state");
}

static enum ds_rc
sq_collector_load(void *state, struct store_collector *c, bool *found, struct ds_error *err)
{
    struct sq *s = state;
    sqlite3_stmt *st = stmt(s, S_COLLECTOR_GET);
    int rc;

    memset(c, 0, sizeof(*c));
    *found = false;
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        size_t len = (size_t)sqlite3_column_bytes(st, 3);

        *found = true;
        c->saved_at = sqlite3_column_int64(st, 0);
        c->clean = sqlite3_column_int(st, 1) != 0;
        c->event_ms = sqlite3_column_int64(st, 2);
        c->state = xmalloc(len + 1);
        if (len > 0)
            memcpy(c->state, sqlite3_column_blob(st, 3), len);
        c->state_len = len;
    }
    sqlite3_reset(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return db_error(s, err, "reading the collector's state");
    return DS_OK;
}

static enum ds_rc
sq_minutes_add(void *state, const struct store_minute *m, size_t n, struct ds_error *err)
{
    struct sq *s = state;
    enum ds_rc rc = DS_OK;

    for (size_t i = 0; i < n && rc == DS_OK; i++) {
        sqlite3_stmt *st = stmt(s, S_MINUTE_ADD);

        sqlite3_bind_text(st, 1, m[i].exporter, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, m[i].minute);
        sqlite3_bind_int64(st, 3, (int64_t)m[i].records);
        sqlite3_bind_int64(st, 4, (int64_t)m[i].missed);
        sqlite3_bind_int64(st, 5, (int64_t)m[i].silent_s);
        sqlite3_bind_int64(st, 6, (int64_t)m[i].silence_missed);
        sqlite3_bind_int64(st, 7, (int64_t)m[i].unknown_sets);
        sqlite3_bind_int64(st, 8, (int64_t)m[i].rate);
        sqlite3_bind_int64(st, 9, (int64_t)m[i].rate_changes);
        rc = step_done(s, st, err, "saving exporter minutes");
    }
    return rc;
}

static enum ds_rc
sq_minutes_sum(void *state, int64_t from_s, int64_t to_s, struct store_minute **out, size_t *n,
               struct ds_error *err)
{
    struct sq *s = state;
    sqlite3_stmt *st = stmt(s, S_MINUTE_SUM);
    size_t cap = 0;
    int rc;

    *out = NULL;
    *n = 0;
    sqlite3_bind_int64(st, 1, from_s / 60);
    sqlite3_bind_int64(st, 2, to_s / 60);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct store_minute *m;

        if (*n == cap) {
            cap = cap ? cap * 2 : 16;
            *out = xreallocarray(*out, cap, sizeof(**out));
        }
        m = &(*out)[(*n)++];
        memset(m, 0, sizeof(*m));
        snprintf(m->exporter, sizeof(m->exporter), "%s", (const char *)sqlite3_column_text(st, 0));
        m->minute = from_s / 60;
        m->records = (uint64_t)sqlite3_column_int64(st, 1);
        m->missed = (uint64_t)sqlite3_column_int64(st, 2);
        m->silent_s = (uint64_t)sqlite3_column_int64(st, 3);
        m->silence_missed = (uint64_t)sqlite3_column_int64(st, 4);
        m->unknown_sets = (uint64_t)sqlite3_column_int64(st, 5);
        m->rate = (uint64_t)sqlite3_column_int64(st, 6);
        m->rate_changes = (uint64_t)sqlite3_column_int64(st, 7);
    }
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) {
        free(*out);
        *out = NULL;
        *n = 0;
        return db_error(s, err, "reading exporter minutes");
    }
    return DS_OK;
}

static enum ds_rc
sq_gap_add(void *state, const struct store_gap *g, struct ds_error *err)
{
    struct sq *s = state;
    sqlite3_stmt *st = stmt(s, S_GAP_ADD);

    sqlite3_bind_int64(st, 1, g->from_ms);
    sqlite3_bind_int64(st, 2, g->to_ms);
    sqlite3_bind_text(st, 3, g->reason, -1, SQLITE_STATIC);
    return step_done(s, st, err, "saving a collector gap");
}

static enum ds_rc
sq_gaps(void *state, int64_t from_ms, int64_t to_ms, struct store_gap **out, size_t *n,
        struct ds_error *err)
{
    struct sq *s = state;
    sqlite3_stmt *st = stmt(s, S_GAPS);
    size_t cap = 0;
    int rc;

    *out = NULL;
    *n = 0;
    sqlite3_bind_int64(st, 1, from_ms);
    sqlite3_bind_int64(st, 2, to_ms);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct store_gap *g;

        if (*n == cap) {
            cap = cap ? cap * 2 : 4;
            *out = xreallocarray(*out, cap, sizeof(**out));
        }
        g = &(*out)[(*n)++];
        g->from_ms = sqlite3_column_int64(st, 0);
        g->to_ms = sqlite3_column_int64(st, 1);
        snprintf(g->reason, sizeof(g->reason), "%s", (const char *)sqlite3_column_text(st, 2));
    }
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) {
        free(*out);
        *out = NULL;
        *n = 0;
        return db_error(s, err, "reading collector gaps");
    }
    return DS_OK;
}

/* ---- drill-down and report mail ---- */

static enum ds_rc
sq_explain_save(void *state, int64_t aid, int64_t start, const uint8_t *blob, size_t len,
                struct ds_error *err)
{
    struct sq *s = state;
    sqlite3_stmt *st;

    if (len == 0) {
        st = stmt(s, S_EXPLAIN_DEL);
        sqlite3_bind_int64(st, 1, aid);
        sqlite3_bind_int64(st, 2, start);
        return step_done(s, st, err, "removing a drill-down");
    }
    st = stmt(s, S_EXPLAIN_PUT);
    sqlite3_bind_int64(st, 1, aid);
    sqlite3_bind_int64(st, 2, start);
    sqlite3_bind_blob64(st, 3, blob, len, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, (int64_t)time(NULL));
    return step_done(s, st, err, "saving a drill-down");
}

static void
column_text_copy(sqlite3_stmt *st, int i, char *buf, size_t size)
{
    const unsigned char *t = sqlite3_column_text(st, i);

    snprintf(buf, size, "%s", t != NULL ? (const char *)t : "");
}

static enum ds_rc
sq_mail_find(void *state, const char *day, struct store_mail *m, bool *found,
             struct ds_error *err)
{
    struct sq *s = state;
    sqlite3_stmt *st = stmt(s, S_MAIL_GET);
    int rc;

    memset(m, 0, sizeof(*m));
    sqlite3_bind_text(st, 1, day, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    *found = rc == SQLITE_ROW;
    if (*found) {
        snprintf(m->day, sizeof(m->day), "%s", day);
        column_text_copy(st, 0, m->message_id, sizeof(m->message_id));
        m->spooled_at = sqlite3_column_int64(st, 1);
        m->sent_at = sqlite3_column_int64(st, 2);
        m->attempts = (uint32_t)sqlite3_column_int64(st, 3);
        column_text_copy(st, 4, m->last_error, sizeof(m->last_error));
    }
    sqlite3_reset(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return db_error(s, err, "reading mails");
    return DS_OK;
}

static enum ds_rc
sq_mail_save(void *state, const struct store_mail *m, struct ds_error *err)
{
    struct sq *s = state;
    sqlite3_stmt *st = stmt(s, S_MAIL_PUT);

    sqlite3_bind_text(st, 1, m->day, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, m->message_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, m->spooled_at);
    sqlite3_bind_int64(st, 4, m->sent_at);
    sqlite3_bind_int64(st, 5, m->attempts);
    sqlite3_bind_text(st, 6, m->last_error, -1, SQLITE_STATIC);
    return step_done(s, st, err, "saving a mail record");
}

/* ---- a node of a ClickHouse cluster ---- */

static enum ds_rc
sq_cluster_mark(void *state, int64_t aid, int64_t start, int64_t judged_ms,
                struct ds_error *err)
{
    struct sq *s = state;
    sqlite3_stmt *st = stmt(s, S_CLUSTER_PUT);

    sqlite3_bind_int64(st, 1, aid);
    sqlite3_bind_int64(st, 2, start);
    sqlite3_bind_int64(st, 3, judged_ms);
    return step_done(s, st, err, "saving a slot's cluster version");
}

static enum ds_rc
sq_cluster_marks(void *state, int64_t aid, struct store_cluster_mark **out, size_t *n,
                 struct ds_error *err)
{
    struct sq *s = state;
    sqlite3_stmt *st = stmt(s, S_CLUSTER_GET);
    size_t cap = 0;
    int rc;

    *out = NULL;
    *n = 0;
    sqlite3_bind_int64(st, 1, aid);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (*n == cap) {
            cap = cap ? 2 * cap : 64;
            *out = xreallocarray(*out, cap, sizeof(**out));
        }
        (*out)[*n].start = sqlite3_column_int64(st, 0);
        (*out)[*n].judged_ms = sqlite3_column_int64(st, 1);
        (*n)++;
    }
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) {
        free(*out);
        *out = NULL;
        *n = 0;
        return db_error(s, err, "reading the slots' cluster versions");
    }
    return DS_OK;
}

const struct store_backend store_sqlite_backend = {
    .name = "sqlite",
    .open = sq_open,
    .close = sq_close,
    .begin = sq_begin,
    .commit = sq_commit,
    .rollback = sq_rollback,
    .verify = sq_verify,
    .in_transaction = sq_in_transaction,
    .analysis = sq_analysis,
    .input_find = sq_input_find,
    .input_add = sq_input_add,
    .input_any = sq_input_any,
    .inputs_overlap = sq_inputs_overlap,
    .slot_save = sq_slot_save,
    .slot_summaries = sq_slot_summaries,
    .slot_last_with_data = sq_slot_last_with_data,
    .top_packets = sq_top_packets,
    .topn_get = sq_topn_get,
    .result_save = sq_result_save,
    .results = sq_results,
    .analysis_find = sq_analysis_find,
    .open_slots_replace = sq_open_slots_replace,
    .open_slots_load = sq_open_slots_load,
    .collector_save = sq_collector_save,
    .collector_load = sq_collector_load,
    .minutes_add = sq_minutes_add,
    .minutes_sum = sq_minutes_sum,
    .gap_add = sq_gap_add,
    .gaps = sq_gaps,
    .slot_row = sq_slot_row,
    .explain_save = sq_explain_save,
    .cluster_mark = sq_cluster_mark,
    .cluster_marks = sq_cluster_marks,
    .mail_find = sq_mail_find,
    .mail_save = sq_mail_save,
};
