/*
 * Tests of the SQLite store and of the series that merges a run into it:
 * schema and migration, conflicts, slot round trips, and stability judged
 * across runs (window reaching back into stored slots, no-data gaps
 * skipped, later slots judged again, thresholds changed).
 */
#include <dirent.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ds/agg.h"
#include "ds/ch_writer.h"
#include "ds/clickhouse.h"
#include "ds/cluster_live.h"
#include "ds/explain.h"
#include "ds/log.h"
#include "ds/pipeline.h"
#include "ds/proto.h"
#include "ds/store.h"
#include "ds/tz.h"
#include "ds/xmem.h"
#include "testutil.h"

#define DAY 86400
#define D0 1450051200 /* 2015-12-14T00:00:00Z */
#define T0_MS ((int64_t)D0 * 1000)

static struct store *
open_store(const char *path)
{
    struct ds_error err;
    struct store *st = store_open("sqlite", path, &err);

    ck_assert_msg(st != NULL, "%s", err.msg);
    return st;
}

START_TEST(test_schema_created_and_versioned)
{
    const char *path = tu_path("a.db");
    struct store *st = open_store(path);
    sqlite3 *db;
    sqlite3_stmt *q;

    store_close(st);
    ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
    ck_assert_int_eq(sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &q, NULL), SQLITE_OK);
    ck_assert_int_eq(sqlite3_step(q), SQLITE_ROW);
    ck_assert_int_eq(sqlite3_column_int(q, 0), 8);
    sqlite3_finalize(q);
    /* a new store has 8 KB pages: set before WAL and the first table, or not at all */
    ck_assert_int_eq(sqlite3_prepare_v2(db, "PRAGMA page_size", -1, &q, NULL), SQLITE_OK);
    ck_assert_int_eq(sqlite3_step(q), SQLITE_ROW);
    ck_assert_int_eq(sqlite3_column_int(q, 0), 8192);
    sqlite3_finalize(q);
    /*
     * Schema 6: slots found by rowid (a WITHOUT ROWID table has none), the
     * blobs last, so that a lookup or a slot's totals never read its groups
     */
    ck_assert_int_eq(sqlite3_prepare_v2(db, "SELECT rowid FROM slots", -1, &q, NULL), SQLITE_OK);
    sqlite3_finalize(q);
    ck_assert_int_eq(sqlite3_prepare_v2(db, "SELECT rowid FROM open_slots", -1, &q, NULL),
                     SQLITE_OK);
    sqlite3_finalize(q);
    ck_assert_int_eq(sqlite3_prepare_v2(db, "SELECT name FROM pragma_table_info('slots') "
                                            "ORDER BY cid DESC LIMIT 2",
                                        -1, &q, NULL),
                     SQLITE_OK);
    ck_assert_int_eq(sqlite3_step(q), SQLITE_ROW);
    ck_assert_str_eq((const char *)sqlite3_column_text(q, 0), "group_details");
    ck_assert_int_eq(sqlite3_step(q), SQLITE_ROW);
    ck_assert_str_eq((const char *)sqlite3_column_text(q, 0), "group_counts");
    sqlite3_finalize(q);
    /*
     * Schema 8: a slot's exporter minutes are a range of the key, not a
     * read of the whole table (which grows by a row per exporter and minute)
     */
    ck_assert_int_eq(sqlite3_prepare_v2(db, "EXPLAIN QUERY PLAN SELECT exporter, sum(records) "
                                            "FROM exporter_minutes WHERE minute >= 1 AND "
                                            "minute < 2 GROUP BY exporter",
                                        -1, &q, NULL),
                     SQLITE_OK);
    {
        bool search = false, scan = false;

        while (sqlite3_step(q) == SQLITE_ROW) {
            const char *d = (const char *)sqlite3_column_text(q, 3);

            search |= strstr(d, "SEARCH exporter_minutes USING PRIMARY KEY (minute>? AND "
                                "minute<?)") != NULL;
            scan |= strstr(d, "SCAN exporter_minutes") != NULL;
        }
        ck_assert(search);
        ck_assert(!scan);
    }
    sqlite3_finalize(q);
    sqlite3_close(db);
    /* opening again migrates nothing and works */
    st = open_store(path);
    store_close(st);
}
END_TEST

/* A node of a cluster: the version of each slot it holds, replaced, by start. */
START_TEST(test_cluster_marks)
{
    struct store *st = open_store(tu_path("m.db"));
    struct store_analysis_def def = {"ports", "proto,dst_port", 86400, "UTC", "start", "w", "1"};
    struct store_cluster_mark *m = NULL;
    struct ds_error err;
    unsigned changed;
    int64_t aid;
    size_t n;

    ck_assert_int_eq(store_begin(st, &err), DS_OK);
    ck_assert_int_eq(store_analysis(st, &def, &aid, &changed, &err), DS_OK);
    ck_assert_int_eq(store_cluster_mark(st, aid, 172800, 5, &err), DS_OK);
    ck_assert_int_eq(store_cluster_mark(st, aid, 86400, 7, &err), DS_OK);
    ck_assert_int_eq(store_cluster_mark(st, aid, 172800, 9, &err), DS_OK);
    ck_assert_int_eq(store_commit(st, &err), DS_OK);
    ck_assert_int_eq(store_cluster_marks(st, aid, &m, &n, &err), DS_OK);
    ck_assert_uint_eq(n, 2);
    ck_assert_int_eq(m[0].start, 86400);
    ck_assert_int_eq(m[0].judged_ms, 7);
    ck_assert_int_eq(m[1].start, 172800);
    ck_assert_int_eq(m[1].judged_ms, 9);
    free(m);
    ck_assert_int_eq(store_cluster_marks(st, aid + 1, &m, &n, &err), DS_OK);
    ck_assert_uint_eq(n, 0);
    store_close(st);
}
END_TEST

START_TEST(test_schema_1_migrates_to_2)
{
    /* a store written by darkstab before the collector: its slots survive, not incomplete */
    const char *path = tu_path("v1.db");
    FILE *fp = fopen("src/store/schema/v1.sql", "r");
    static char sql[65536];
    size_t n;
    sqlite3 *db;
    sqlite3_stmt *q;
    struct store *st;
    struct store_slot_summary *sums;
    size_t n_sums;
    struct ds_error err;

    ck_assert_ptr_nonnull(fp);
    n = fread(sql, 1, sizeof(sql) - 1, fp);
    fclose(fp);
    sql[n] = '\0';
    ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
    ck_assert_int_eq(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    ck_assert_int_eq(
        sqlite3_exec(db,
                     "PRAGMA user_version = 1;"
                     "INSERT INTO analyses VALUES (1, 'ports', 'proto,dst_port', 86400, 'UTC', "
                     "'start', 'x', '0.5', 0);"
                     "INSERT INTO slots VALUES (1, 86400, 172800, 10, 2, 1, 0, 0, 1, 0, x'', x'');",
                     NULL, NULL, NULL),
        SQLITE_OK);
    sqlite3_close(db);
    st = open_store(path);
    ck_assert_int_eq(store_slot_summaries(st, 1, 0, INT64_MAX, &sums, &n_sums, &err), DS_OK);
    ck_assert_uint_eq(n_sums, 1);
    ck_assert_uint_eq(sums[0].packets, 10);
    ck_assert(!sums[0].incomplete);
    free(sums);
    store_close(st);
    ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
    ck_assert_int_eq(sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &q, NULL), SQLITE_OK);
    ck_assert_int_eq(sqlite3_step(q), SQLITE_ROW);
    ck_assert_int_eq(sqlite3_column_int(q, 0), 8);
    sqlite3_finalize(q);
    /* an older store keeps its page size (changing it would mean a VACUUM) */
    ck_assert_int_eq(sqlite3_prepare_v2(db, "PRAGMA page_size", -1, &q, NULL), SQLITE_OK);
    ck_assert_int_eq(sqlite3_step(q), SQLITE_ROW);
    ck_assert_int_eq(sqlite3_column_int(q, 0), 4096);
    sqlite3_finalize(q);
    sqlite3_close(db);
}
END_TEST

static void
exec_file(sqlite3 *db, const char *path)
{
    FILE *fp = fopen(path, "r");
    static char sql[65536];
    size_t n;

    ck_assert_ptr_nonnull(fp);
    n = fread(sql, 1, sizeof(sql) - 1, fp);
    fclose(fp);
    sql[n] = '\0';
    ck_assert_int_eq(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
}

START_TEST(test_schema_2_migrates_to_3)
{
    /* a store of the live collector, before the drill-down: it gains explains and mails */
    const char *path = tu_path("v2.db");
    struct store_mail m;
    struct store_slot_summary *sums;
    size_t n_sums;
    struct ds_error err;
    struct store *st;
    sqlite3 *db;
    sqlite3_stmt *q;
    bool found = true;

    ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
    exec_file(db, "src/store/schema/v1.sql");
    exec_file(db, "src/store/schema/v2.sql");
    ck_assert_int_eq(
        sqlite3_exec(db,
                     "PRAGMA user_version = 2;"
                     "INSERT INTO analyses VALUES (1, 'ports', 'proto,dst_port', 86400, 'UTC', "
                     "'start', 'x', '0.5', 0, NULL);"
                     "INSERT INTO slots VALUES (1, 86400, 172800, 10, 2, 1, 0, 0, 1, 0, x'', x'', "
                     "1, '{}');",
                     NULL, NULL, NULL),
        SQLITE_OK);
    sqlite3_close(db);
    st = open_store(path);
    ck_assert_int_eq(store_slot_summaries(st, 1, 0, INT64_MAX, &sums, &n_sums, &err), DS_OK);
    ck_assert_uint_eq(n_sums, 1);
    ck_assert(sums[0].incomplete);
    /* version 4: nothing was folded before limits.groups */
    ck_assert_uint_eq(sums[0].folded_packets, 0);
    free(sums);
    /* the new tables are there and empty */
    ck_assert_int_eq(store_mail_find(st, "2016-01-01", &m, &found, &err), DS_OK);
    ck_assert(!found);
    ck_assert_int_eq(store_explain_save(st, 1, 86400, (const uint8_t *)"x", 1, &err), DS_OK);
    store_close(st);
    ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
    ck_assert_int_eq(sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &q, NULL), SQLITE_OK);
    ck_assert_int_eq(sqlite3_step(q), SQLITE_ROW);
    ck_assert_int_eq(sqlite3_column_int(q, 0), 8);
    sqlite3_finalize(q);
    ck_assert_int_eq(sqlite3_prepare_v2(db, "SELECT count(*) FROM explains", -1, &q, NULL),
                     SQLITE_OK);
    ck_assert_int_eq(sqlite3_step(q), SQLITE_ROW);
    ck_assert_int_eq(sqlite3_column_int(q, 0), 1);
    sqlite3_finalize(q);
    sqlite3_close(db);
}
END_TEST

START_TEST(test_mail_records)
{
    const char *path = tu_path("mail.db");
    struct store *st = open_store(path);
    struct store_mail m, back;
    struct ds_error err;
    bool found = true;

    ck_assert_int_eq(store_mail_find(st, "2016-01-01", &back, &found, &err), DS_OK);
    ck_assert(!found);
    memset(&m, 0, sizeof(m));
    snprintf(m.day, sizeof(m.day), "2016-01-01");
    snprintf(m.message_id, sizeof(m.message_id), "<20160102063000.1@darkstab.example>");
    m.spooled_at = 1451683800;
    m.attempts = 1;
    snprintf(m.last_error, sizeof(m.last_error), "smtp://127.0.0.1:2525: connection refused");
    ck_assert_int_eq(store_mail_save(st, &m, &err), DS_OK);
    /* a restart keeps it */
    store_close(st);
    st = open_store(path);
    ck_assert_int_eq(store_mail_find(st, "2016-01-01", &back, &found, &err), DS_OK);
    ck_assert(found);
    ck_assert_str_eq(back.day, "2016-01-01");
    ck_assert_str_eq(back.message_id, m.message_id);
    ck_assert_int_eq(back.spooled_at, 1451683800);
    ck_assert_int_eq(back.sent_at, 0);
    ck_assert_uint_eq(back.attempts, 1);
    ck_assert_str_eq(back.last_error, m.last_error);
    /* sent on the second attempt: the record of the day is replaced, not added */
    m.attempts = 2;
    m.sent_at = 1451684100;
    m.last_error[0] = '\0';
    ck_assert_int_eq(store_mail_save(st, &m, &err), DS_OK);
    ck_assert_int_eq(store_mail_find(st, "2016-01-01", &back, &found, &err), DS_OK);
    ck_assert(found);
    ck_assert_uint_eq(back.attempts, 2);
    ck_assert_int_eq(back.sent_at, 1451684100);
    ck_assert_str_eq(back.last_error, "");
    /* another day is another record */
    ck_assert_int_eq(store_mail_find(st, "2016-01-02", &back, &found, &err), DS_OK);
    ck_assert(!found);
    store_close(st);
}
END_TEST

START_TEST(test_schema_newer_or_foreign_refused)
{
    const char *path = tu_path("b.db");
    struct ds_error err;
    sqlite3 *db;

    store_close(open_store(path));
    ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
    ck_assert_int_eq(sqlite3_exec(db, "PRAGMA user_version = 99", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    ck_assert_ptr_null(store_open("sqlite", path, &err));
    ck_assert_ptr_nonnull(strstr(err.msg, "schema version 99 is newer"));

    path = tu_path("c.db");
    ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
    ck_assert_int_eq(sqlite3_exec(db, "CREATE TABLE x (y)", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    ck_assert_ptr_null(store_open("sqlite", path, &err));
    ck_assert_ptr_nonnull(strstr(err.msg, "not a darkstab store"));

    path = tu_path("d.db");
    tu_write_file(path, "this is a text file, not a database, and long enough to be read", 64);
    ck_assert_ptr_null(store_open("sqlite", path, &err));
    ck_assert_ptr_nonnull(strstr(err.msg, path));

    ck_assert_ptr_null(store_open("nosuch", ":memory:", &err));
    ck_assert_str_eq(err.msg, "store: unknown backend 'nosuch'");
}
END_TEST

START_TEST(test_analysis_conflict)
{
    struct store *st = open_store(":memory:");
    struct store_analysis_def def = {"ports", "proto,dst_port", DAY, "UTC", "start", "j", "1"};
    struct ds_error err;
    int64_t id1, id2;

    ck_assert_int_eq(store_analysis(st, &def, &id1, NULL, &err), DS_OK);
    ck_assert_int_eq(store_analysis(st, &def, &id2, NULL, &err), DS_OK);
    ck_assert_int_eq(id1, id2);
    def.keys = "dst_port";
    ck_assert_int_eq(store_analysis(st, &def, &id2, NULL, &err), DS_ERR_CONFLICT);
    ck_assert_ptr_nonnull(strstr(err.msg, "analysis 'ports' was stored with keys [proto,dst_port], "
                                          "the configuration now has keys [dst_port]"));
    def.keys = "proto,dst_port";
    def.slot_s = 3600;
    ck_assert_int_eq(store_analysis(st, &def, &id2, NULL, &err), DS_ERR_CONFLICT);
    def.slot_s = DAY;
    def.timezone = "Asia/Tokyo";
    ck_assert_int_eq(store_analysis(st, &def, &id2, NULL, &err), DS_ERR_CONFLICT);
    store_close(st);
}
END_TEST

/* A layout and a slot of groups by destination port. */
static struct key_layout layout;

static void
init_layout(void)
{
    struct key_spec k[2] = {{KEY_PROTO, 0, 0}, {KEY_DST_PORT, 0, 0}};

    key_layout_init(&layout, k, 2);
}

/* n groups (ports 1..n) of 10 packets each, from src_hosts sources each. */
static struct agg_slot *
make_slot(int64_t start, int n, int src_hosts)
{
    struct agg_slot *s = agg_slot_new(&layout, start, start + DAY);

    for (int g = 0; g < n; g++) {
        for (int i = 0; i < 10; i++) {
            char src[32];
            struct flow f;

            snprintf(src, sizeof(src), "192.0.2.%d", 1 + i % src_hosts);
            f = tu_flow((start + 60 * i) * 1000, 1, src, "198.18.0.1", PROTO_UDP, 999,
                        (uint16_t)(1 + g));
            agg_slot_add(s, &f, 1);
        }
    }
    return s;
}

START_TEST(test_slot_round_trip)
{
    struct store *st = open_store(":memory:");
    struct store_analysis_def def = {"ports", "proto,dst_port", DAY, "UTC", "start", "j", "1"};
    struct agg_slot *s, *back = NULL;
    struct ds_error err;
    int64_t id;

    init_layout();
    ck_assert_int_eq(store_analysis(st, &def, &id, NULL, &err), DS_OK);
    s = make_slot(D0, 40, 3);
    s->late_flows = 2;
    s->complete = true;
    agg_slot_group(s, 5)->flags |= AGG_GROUP_PARTIAL;
    detail_free(agg_slot_group(s, 6)->detail);
    agg_slot_group(s, 6)->detail = NULL;
    agg_slot_fold(s, 3, 7);     /* limits.groups */
    ck_assert_int_eq(store_slot_save(st, id, s, &err), DS_OK);
    ck_assert_int_eq(store_slot_load(st, id, &layout, D0, &back, &err), DS_OK);
    ck_assert_ptr_nonnull(back);
    ck_assert_uint_eq(back->packets, 407);
    ck_assert_uint_eq(back->flows, 403);
    ck_assert_uint_eq(back->folded_packets, 7);
    ck_assert_uint_eq(back->folded_flows, 3);
    ck_assert_uint_eq(back->n_groups, 40);
    ck_assert_uint_eq(back->late_flows, 2);
    ck_assert(back->complete);
    for (uint32_t i = 0; i < s->n_groups; i++) {
        struct agg_group *a = agg_slot_group(s, i), *b = agg_slot_group_find(back, a->key);

        ck_assert_ptr_nonnull(b);
        ck_assert_uint_eq(a->packets, b->packets);
        ck_assert_uint_eq(a->flags, b->flags);
        ck_assert_int_eq(a->detail == NULL, b->detail == NULL);
        if (a->detail)
            ck_assert_uint_eq(distinct_count(&b->detail->src), 3);
    }
    agg_slot_free(back);
    ck_assert_int_eq(store_slot_load(st, id, &layout, D0 + DAY, &back, &err), DS_OK);
    ck_assert_ptr_null(back);
    agg_slot_free(s);
    store_close(st);
}
END_TEST

/*
 * A commit of more than 4 MB is checkpointed by the backend's own
 * thread (SQLite's, after each commit, is turned off): the WAL goes back
 * into the database while the store is open and nothing else is written,
 * and at close the WAL is gone and every slot is in the database.  A
 * checkpointer that did nothing would leave the file as it was until close.
 */
/*
 * n groups (ports 1..n) of 10 packets each from 10 sources drawn at
 * random: blobs that do not compress much, as a darknet's sources.
 */
static struct agg_slot *
make_noisy_slot(int64_t start, int n)
{
    struct agg_slot *s = agg_slot_new(&layout, start, start + DAY);
    uint32_t x = (uint32_t)start;

    for (int g = 0; g < n; g++) {
        for (int i = 0; i < 10; i++) {
            char src[32];
            struct flow f;

            x = x * 1664525u + 1013904223u;
            snprintf(src, sizeof(src), "%u.%u.%u.%u", 1 + (x >> 25), (x >> 16) & 255,
                     (x >> 8) & 255, x & 255);
            f = tu_flow((start + 60 * i) * 1000, 1, src, "198.18.0.1", PROTO_UDP, 999,
                        (uint16_t)(1 + g));
            agg_slot_add(s, &f, 1);
        }
    }
    return s;
}

START_TEST(test_checkpoint_in_background)
{
    char path[4096], wal[4200];
    struct store *st;
    struct store_analysis_def def = {"ports", "proto,dst_port", DAY, "UTC", "start", "j", "1"};
    struct agg_slot *back = NULL;
    struct ds_error err;
    struct stat sb;
    off_t before;
    int64_t id;
    int waited_ms = 0;

    snprintf(path, sizeof(path), "%s", tu_path("ckpt.db"));
    snprintf(wal, sizeof(wal), "%s-wal", path);
    st = open_store(path);
    init_layout();
    ck_assert_int_eq(store_begin(st, &err), DS_OK);
    ck_assert_int_eq(store_analysis(st, &def, &id, NULL, &err), DS_OK);
    for (int d = 0; d < 8; d++) {
        struct agg_slot *s = make_noisy_slot(D0 + d * DAY, 9000);

        ck_assert_int_eq(store_slot_save(st, id, s, &err), DS_OK);
        agg_slot_free(s);
    }
    ck_assert_int_eq(stat(path, &sb), 0);
    before = sb.st_size;
    ck_assert_int_eq(store_commit(st, &err), DS_OK);
    /* 4 MB and more went to the WAL; the database file follows them */
    for (;;) {
        ck_assert_int_eq(stat(path, &sb), 0);
        if (sb.st_size >= before + 4000 * 1024 || waited_ms >= 3000)
            break;
        usleep(10000);
        waited_ms += 10;
    }
    ck_assert_msg(sb.st_size >= before + 4000 * 1024, "database %lld bytes after %d ms",
                  (long long)sb.st_size, waited_ms);
    ck_assert_int_eq(store_slot_load(st, id, &layout, D0 + 7 * DAY, &back, &err), DS_OK);
    ck_assert_ptr_nonnull(back);
    ck_assert_uint_eq(back->n_groups, 9000);
    agg_slot_free(back);
    store_close(st);
    /* closed: the WAL is gone, the slots are in the database */
    ck_assert_int_ne(access(wal, F_OK), 0);
    st = open_store(path);
    ck_assert_int_eq(store_analysis(st, &def, &id, NULL, &err), DS_OK);
    ck_assert_int_eq(store_slot_load(st, id, &layout, D0, &back, &err), DS_OK);
    ck_assert_ptr_nonnull(back);
    ck_assert_uint_eq(back->packets, 90000);
    agg_slot_free(back);
    store_close(st);
}
END_TEST

/*
 * A collector commits a slot every few milliseconds on the benchmark: the
 * checkpoints in the background never copy every frame before the next
 * commit, so the WAL would never start again (158 MB for the bench's 28 MB
 * store).  Past 32 MB a checkpoint runs on the committing thread and it
 * does: the WAL file stays within that and a commit's worth, over 60 MB of
 * commits.
 */
START_TEST(test_wal_starts_again_under_commits)
{
    char path[4096], wal[4200];
    struct store *st;
    struct store_analysis_def def = {"ports", "proto,dst_port", DAY, "UTC", "start", "j", "1"};
    struct agg_slot *s, *back = NULL;
    struct ds_error err;
    struct stat sb;
    off_t longest = 0;
    int64_t id;

    snprintf(path, sizeof(path), "%s", tu_path("walcap.db"));
    snprintf(wal, sizeof(wal), "%s-wal", path);
    st = open_store(path);
    init_layout();
    ck_assert_int_eq(store_begin(st, &err), DS_OK);
    ck_assert_int_eq(store_analysis(st, &def, &id, NULL, &err), DS_OK);
    ck_assert_int_eq(store_commit(st, &err), DS_OK);
    s = make_noisy_slot(D0, 4500);
    for (int d = 0; d < 240; d++) {
        s->start = D0 + d * DAY;
        s->end = s->start + DAY;
        ck_assert_int_eq(store_begin(st, &err), DS_OK);
        ck_assert_int_eq(store_slot_save(st, id, s, &err), DS_OK);
        ck_assert_int_eq(store_commit(st, &err), DS_OK);
        ck_assert_int_eq(stat(wal, &sb), 0);
        if (sb.st_size > longest)
            longest = sb.st_size;
    }
    agg_slot_free(s);
    ck_assert_int_eq(stat(path, &sb), 0);
    /* what was committed is well past the bound: 240 slots of over 250 KB */
    ck_assert_int_gt(sb.st_size, (off_t)60 << 20);
    ck_assert_msg(longest <= (off_t)36 << 20, "WAL %lld bytes", (long long)longest);
    ck_assert_int_eq(store_slot_load(st, id, &layout, D0 + 239 * DAY, &back, &err), DS_OK);
    ck_assert_ptr_nonnull(back);
    ck_assert_uint_eq(back->n_groups, 4500);
    agg_slot_free(back);
    store_close(st);
}
END_TEST

/*
 * Schema 7: a store of version 6 (raw group blobs, as darkstab wrote them
 * until then) gets every slot's and open slot's blobs compressed by the
 * migration, and they read back the same; a blob that is not a whole zstd
 * frame is an error that names the slot, never groups made up from it.
 */
START_TEST(test_schema_6_migrates_to_7)
{
    const char *path = tu_path("v6.db");
    struct store_analysis_def def = {"ports", "proto,dst_port", DAY, "UTC", "start", "j", "1"};
    struct agg_slot *s, *back = NULL, **open = NULL;
    size_t counts_len, details_len, n_open = 0;
    uint8_t *blob;
    struct ds_error err;
    struct store *st;
    sqlite3 *db;
    sqlite3_stmt *q;
    int64_t id, upto;
    const char *v[] = {"v1", "v2", "v3", "v4", "v5", "v6"};

    init_layout();
    s = make_noisy_slot(D0, 50);
    blob = store_slot_encode(s, &counts_len, &details_len);
    ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
    for (size_t i = 0; i < 6; i++) {
        char f[64];

        snprintf(f, sizeof(f), "src/store/schema/%s.sql", v[i]);
        exec_file(db, f);
    }
    ck_assert_int_eq(
        sqlite3_exec(db,
                     "PRAGMA user_version = 6;"
                     "INSERT INTO analyses VALUES (1, 'ports', 'proto,dst_port', 86400, 'UTC', "
                     "'start', 'j', '1', 0, NULL);",
                     NULL, NULL, NULL),
        SQLITE_OK);
    ck_assert_int_eq(sqlite3_prepare_v2(db,
                                        "INSERT INTO slots (analysis_id, start, end, packets, "
                                        "flows, groups, late_flows, late_packets, complete, "
                                        "updated_at, group_counts, group_details) "
                                        "VALUES (1, ?1, ?2, 500, 500, 50, 0, 0, 1, 0, ?3, ?4)",
                                        -1, &q, NULL),
                     SQLITE_OK);
    sqlite3_bind_int64(q, 1, D0);
    sqlite3_bind_int64(q, 2, D0 + DAY);
    sqlite3_bind_blob(q, 3, blob, (int)counts_len, SQLITE_STATIC);
    sqlite3_bind_blob(q, 4, blob + counts_len, (int)details_len, SQLITE_STATIC);
    ck_assert_int_eq(sqlite3_step(q), SQLITE_DONE);
    sqlite3_finalize(q);
    ck_assert_int_eq(sqlite3_prepare_v2(db,
                                        "INSERT INTO open_slots (analysis_id, start, end, "
                                        "packets, flows, group_counts, group_details) "
                                        "VALUES (1, ?1, ?2, 500, 500, ?3, ?4)",
                                        -1, &q, NULL),
                     SQLITE_OK);
    sqlite3_bind_int64(q, 1, D0 + DAY);
    sqlite3_bind_int64(q, 2, D0 + 2 * DAY);
    sqlite3_bind_blob(q, 3, blob, (int)counts_len, SQLITE_STATIC);
    sqlite3_bind_blob(q, 4, blob + counts_len, (int)details_len, SQLITE_STATIC);
    ck_assert_int_eq(sqlite3_step(q), SQLITE_DONE);
    sqlite3_finalize(q);
    sqlite3_close(db);

    st = open_store(path);
    ck_assert_int_eq(store_analysis(st, &def, &id, NULL, &err), DS_OK);
    ck_assert_int_eq(store_slot_load(st, id, &layout, D0, &back, &err), DS_OK);
    ck_assert_ptr_nonnull(back);
    ck_assert_uint_eq(back->n_groups, 50);
    for (uint32_t i = 0; i < s->n_groups; i++) {
        struct agg_group *a = agg_slot_group(s, i), *b = agg_slot_group_find(back, a->key);

        ck_assert_ptr_nonnull(b);
        ck_assert_uint_eq(a->packets, b->packets);
        ck_assert_ptr_nonnull(b->detail);
        ck_assert_uint_eq(distinct_count(&b->detail->src), distinct_count(&a->detail->src));
    }
    agg_slot_free(back);
    ck_assert_int_eq(store_open_slots_load(st, id, &layout, &upto, &open, &n_open, &err), DS_OK);
    ck_assert_uint_eq(n_open, 1);
    ck_assert_uint_eq(open[0]->n_groups, 50);
    agg_slot_free(open[0]);
    free(open);
    store_close(st);

    /* in the file: zstd frames (magic 28 b5 2f fd), smaller than the raw counts */
    ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
    ck_assert_int_eq(sqlite3_prepare_v2(db,
                                        "SELECT hex(substr(group_counts, 1, 4)), "
                                        "length(group_counts), hex(substr(group_details, 1, 4)) "
                                        "FROM slots UNION ALL "
                                        "SELECT hex(substr(group_counts, 1, 4)), "
                                        "length(group_counts), hex(substr(group_details, 1, 4)) "
                                        "FROM open_slots",
                                        -1, &q, NULL),
                     SQLITE_OK);
    for (int r = 0; r < 2; r++) {
        ck_assert_int_eq(sqlite3_step(q), SQLITE_ROW);
        ck_assert_str_eq((const char *)sqlite3_column_text(q, 0), "28B52FFD");
        ck_assert_int_lt(sqlite3_column_int(q, 1), (int)counts_len);
        ck_assert_str_eq((const char *)sqlite3_column_text(q, 2), "28B52FFD");
    }
    ck_assert_int_eq(sqlite3_step(q), SQLITE_DONE);
    sqlite3_finalize(q);
    /* damaged: a frame cut short, and raw bytes where a frame should be */
    ck_assert_int_eq(sqlite3_exec(db,
                                  "UPDATE slots SET group_counts = substr(group_counts, 1, 20);"
                                  "UPDATE open_slots SET group_details = x'0102030405';",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(db);
    st = open_store(path);
    ck_assert_int_eq(store_slot_load(st, id, &layout, D0, &back, &err), DS_ERR_DB);
    ck_assert_ptr_null(back);
    ck_assert_ptr_nonnull(strstr(err.msg, "slot 1450051200"));
    ck_assert_ptr_nonnull(strstr(err.msg, "damaged"));
    ck_assert_int_eq(store_open_slots_load(st, id, &layout, &upto, &open, &n_open, &err),
                     DS_ERR_DB);
    ck_assert_uint_eq(n_open, 0);
    ck_assert_ptr_nonnull(strstr(err.msg, "open slot 1450137600 is damaged"));
    store_close(st);
    free(blob);
    agg_slot_free(s);
}
END_TEST

/*
 * A slot's row: its totals and counts, details only when asked; decoded
 * with a set of keys, only those groups (the drill-down's window slots).
 */
START_TEST(test_slot_row_and_some_groups)
{
    struct store *st = open_store(":memory:");
    struct store_analysis_def def = {"ports", "proto,dst_port", DAY, "UTC", "start", "j", "1"};
    struct store_slot_row row;
    struct agg_slot *s, *keys, *back = NULL;
    struct ds_error err;
    bool found;
    int64_t id;

    init_layout();
    ck_assert_int_eq(store_analysis(st, &def, &id, NULL, &err), DS_OK);
    s = make_slot(D0, 12, 3);
    s->complete = true;
    ck_assert_int_eq(store_slot_save(st, id, s, &err), DS_OK);
    ck_assert_int_eq(store_slot_row(st, id, D0, false, &row, &found, &err), DS_OK);
    ck_assert(found);
    ck_assert_int_eq(row.end, s->end);
    ck_assert_uint_eq(row.packets, s->packets);
    ck_assert(row.complete);
    ck_assert_ptr_nonnull(row.counts);
    ck_assert_ptr_null(row.details);
    /* every group, without details: a window slot does without */
    ck_assert_int_eq(store_slot_row_decode(&row, &layout, NULL, &back), 0);
    ck_assert_uint_eq(back->n_groups, 12);
    ck_assert_uint_eq(back->packets, s->packets);
    for (uint32_t i = 0; i < s->n_groups; i++) {
        struct agg_group *a = agg_slot_group(s, i), *b = agg_slot_group_find(back, a->key);

        ck_assert_ptr_nonnull(b);
        ck_assert_uint_eq(a->packets, b->packets);
        ck_assert_ptr_nonnull(a->detail);
        ck_assert_ptr_null(b->detail);
    }
    agg_slot_free(back);
    store_slot_row_fini(&row);
    /* two groups of twelve, with their details; the totals stay the slot's */
    keys = agg_slot_new(&layout, 0, 0);
    agg_slot_group_get(keys, agg_slot_group(s, 3)->key, false);
    agg_slot_group_get(keys, agg_slot_group(s, 7)->key, false);
    ck_assert_int_eq(store_slot_row(st, id, D0, true, &row, &found, &err), DS_OK);
    ck_assert_ptr_nonnull(row.details);
    ck_assert_int_eq(store_slot_row_decode(&row, &layout, keys, &back), 0);
    ck_assert_uint_eq(back->n_groups, 2);
    ck_assert_uint_eq(back->packets, s->packets);
    for (uint32_t i = 0; i < s->n_groups; i++) {
        struct agg_group *a = agg_slot_group(s, i), *b = agg_slot_group_find(back, a->key);

        if (i != 3 && i != 7) {
            ck_assert_ptr_null(b);
            continue;
        }
        ck_assert_ptr_nonnull(b);
        ck_assert_uint_eq(a->packets, b->packets);
        ck_assert_ptr_nonnull(b->detail);
        /* to be shown: its exact sets read for their counts, not built again */
        ck_assert_uint_gt(distinct_count(&a->detail->src), 1);
        ck_assert_uint_eq(a->detail->src.mode, DISTINCT_EXACT);
        ck_assert_uint_eq(b->detail->src.mode, DISTINCT_COUNTED);
        ck_assert_uint_eq(distinct_count(&b->detail->src), distinct_count(&a->detail->src));
        ck_assert_uint_eq(distinct_count(&b->detail->dst), distinct_count(&a->detail->dst));
        ck_assert_uint_eq(distinct_count(&b->detail->dport), distinct_count(&a->detail->dport));
    }
    agg_slot_free(back);
    /* damaged counts: no slot */
    row.counts_len--;
    ck_assert_int_eq(store_slot_row_decode(&row, &layout, NULL, &back), -1);
    ck_assert_ptr_null(back);
    store_slot_row_fini(&row);
    agg_slot_free(keys);
    ck_assert_int_eq(store_slot_row(st, id, D0 + DAY, false, &row, &found, &err), DS_OK);
    ck_assert(!found);
    agg_slot_free(s);
    store_close(st);
}
END_TEST

START_TEST(test_inputs_recorded)
{
    struct store *st = open_store(":memory:");
    struct store_analysis_def def = {"ports", "proto,dst_port", DAY, "UTC", "start", "j", "1"};
    struct store_input in, out;
    struct ds_error err;
    bool found;
    int64_t id;

    ck_assert_int_eq(store_analysis(st, &def, &id, NULL, &err), DS_OK);
    memset(&in, 0, sizeof(in));
    snprintf(in.digest, sizeof(in.digest), "00112233445566778899aabbccddeeff");
    snprintf(in.name, sizeof(in.name), "day1.ipfix");
    in.records = 5;
    in.first_ms = 1000;
    in.last_ms = 2000;
    ck_assert_int_eq(store_input_find(st, id, in.digest, &out, &found, &err), DS_OK);
    ck_assert(!found);
    ck_assert_int_eq(store_input_add(st, id, &in, &err), DS_OK);
    ck_assert_int_eq(store_input_find(st, id, in.digest, &out, &found, &err), DS_OK);
    ck_assert(found);
    ck_assert_str_eq(out.name, "day1.ipfix");
    ck_assert_int_eq(out.last_ms, 2000);
    store_close(st);
}
END_TEST

/* ---- series: stability across runs ---- */

struct collected {
    struct slot_result r[64];
    size_t n;
};

static enum ds_rc
collect(void *ctx, const struct slot_result *r)
{
    struct collected *c = ctx;

    ck_assert_uint_lt(c->n, 64);
    c->r[c->n] = *r;
    c->r[c->n].top = NULL;
    c->r[c->n].n_top = r->n_top;
    c->n++;
    return DS_OK;
}

static const char *yaml_w3 = "analyses:\n  - name: ports\n    window: 3\n    thresholds: [1.0]\n";

/* Runs one "run": the slots (start day, groups) through a series, committed. */
static void
run_days(struct store *st, const struct ds_cfg *cfg, int64_t id, const int *days,
         const int *groups, size_t n)
{
    const struct cfg_analysis *a = &cfg->analyses[0];
    struct series *s;
    struct store_analysis_def def = {"ports", "proto,dst_port", DAY, "UTC", "start", "", ""};
    char judged[256];
    unsigned changed;
    struct ds_error err0;
    int64_t id2;

    /* as the pipeline does: the judgement parameters, to judge again on change */
    snprintf(judged, sizeof(judged), "window=%lld k=%s th=%s", (long long)a->window,
             a->k_sigma.text, a->thresholds[0].text);
    def.judged_with = judged;
    def.lowest = cfg_lowest_threshold(a)->text;
    ck_assert_int_eq(store_analysis(st, &def, &id2, &changed, &err0), DS_OK);
    ck_assert_int_eq(id, id2);
    s = series_new(a, &cfg->causes, &layout, id, st, changed);
    struct ds_error err;

    ck_assert_int_eq(store_begin(st, &err), DS_OK);
    for (size_t i = 0; i < n; i++) {
        struct agg_slot *slot = make_slot(D0 + (int64_t)days[i] * DAY, groups[i], 2);

        slot->complete = true;
        series_add_slot(s, slot);
        agg_slot_free(slot);
    }
    ck_assert_msg(series_commit(s, &err) == DS_OK, "%s", err.msg);
    ck_assert_int_eq(store_commit(st, &err), DS_OK);
    series_free(s);
}

static int64_t
analysis_id(struct store *st, const struct ds_cfg *cfg)
{
    struct store_analysis_def def = {"ports", "proto,dst_port", DAY, "UTC", "start", "", ""};
    struct ds_error err;
    char judged[256];
    int64_t id;

    snprintf(judged, sizeof(judged), "window=%lld k=%s th=%s",
             (long long)cfg->analyses[0].window, cfg->analyses[0].k_sigma.text,
             cfg->analyses[0].thresholds[0].text);
    def.judged_with = judged;
    def.lowest = cfg_lowest_threshold(&cfg->analyses[0])->text;
    ck_assert_int_eq(store_analysis(st, &def, &id, NULL, &err), DS_OK);
    return id;
}

START_TEST(test_series_warmup_gap_and_window_across_runs)
{
    struct ds_cfg *cfg = tu_cfg(yaml_w3);
    struct store *st = open_store(":memory:");
    struct collected c = {.n = 0};
    struct ds_error err;
    int64_t id;
    /* run 1: days 0, 1, 2 (TopN 10, 12, 10); day 3 has no data; day 4: TopN 13 */
    static const int d1[] = {0, 1, 2, 4}, g1[] = {10, 12, 10, 13};
    /* run 2: days 5 and 6 */
    static const int d2[] = {5, 6}, g2[] = {3, 12};

    init_layout();
    id = analysis_id(st, cfg);
    run_days(st, cfg, id, d1, g1, 4);
    run_days(st, cfg, id, d2, g2, 2);
    ck_assert_int_eq(
        store_results(st, id, &layout, &cfg->analyses[0], D0, D0 + 7 * DAY, collect, &c, &err),
        DS_OK);
    /* the store has no row for day 3 */
    ck_assert_uint_eq(c.n, 6);
    ck_assert_int_eq(c.r[0].th[0].r.status, STAB_WARMUP);
    ck_assert_int_eq(c.r[2].th[0].r.status, STAB_WARMUP);
    /* day 4: window 10, 12, 10 (day 3 skipped): mu 10.67, sigma 0.94, band (8.78, 12.55) */
    ck_assert_int_eq(c.r[3].start, D0 + 4 * DAY);
    ck_assert_uint_eq(c.r[3].th[0].topn, 13);
    ck_assert_int_eq(c.r[3].th[0].r.status, STAB_UNSTABLE);
    ck_assert_int_eq(c.r[3].th[0].r.dir, STAB_DIR_INCREASE);
    ck_assert_double_eq_tol(c.r[3].th[0].r.mean, 32.0 / 3, 1e-9);
    /* day 5, from the second run: window 12, 10, 13 reaches back into the store */
    ck_assert_uint_eq(c.r[4].th[0].topn, 3);
    ck_assert_double_eq_tol(c.r[4].th[0].r.mean, 35.0 / 3, 1e-9);
    ck_assert_int_eq(c.r[4].th[0].r.status, STAB_UNSTABLE);
    ck_assert_int_eq(c.r[4].th[0].r.dir, STAB_DIR_DECREASE);
    /* day 6: the unstable day 5 stays in the window (10, 13, 3) */
    ck_assert_double_eq_tol(c.r[5].th[0].r.mean, 26.0 / 3, 1e-9);
    ck_assert_int_eq(c.r[5].th[0].r.status, STAB_STABLE);
    store_close(st);
    cfg_free(cfg);
}
END_TEST

START_TEST(test_series_merge_into_stored_slot_and_rejudge_later)
{
    struct ds_cfg *cfg = tu_cfg(yaml_w3);
    struct store *st = open_store(":memory:");
    struct collected c = {.n = 0};
    struct agg_slot *back = NULL;
    struct ds_error err;
    int64_t id;
    static const int d1[] = {0, 1, 2, 3}, g1[] = {10, 10, 10, 10};
    /* a second file for day 1 adds 90 more groups: day 1 TopN 100 -> 0 at 1% */
    static const int d2[] = {1}, g2[] = {90};

    init_layout();
    id = analysis_id(st, cfg);
    run_days(st, cfg, id, d1, g1, 4);
    ck_assert_int_eq(store_results(st, id, &layout, &cfg->analyses[0], D0, D0 + 4 * DAY, collect,
                                   &c, &err),
                     DS_OK);
    ck_assert_int_eq(c.r[3].th[0].r.status, STAB_STABLE); /* sigma 0, 10 == 10 */
    run_days(st, cfg, id, d2, g2, 1);
    ck_assert_int_eq(store_slot_load(st, id, &layout, D0 + DAY, &back, &err), DS_OK);
    /* groups 1..10 met groups 1..90: 90 groups, 100 + 900 packets */
    ck_assert_uint_eq(back->n_groups, 90);
    ck_assert_uint_eq(back->packets, 1000);
    ck_assert_uint_eq(agg_slot_group(back, 0)->packets, 20);
    agg_slot_free(back);
    c.n = 0;
    ck_assert_int_eq(store_results(st, id, &layout, &cfg->analyses[0], D0, D0 + 4 * DAY, collect,
                                   &c, &err),
                     DS_OK);
    /* 10 groups of 2% and 80 of 1%: TopN 10 at 1% (1% itself does not count) */
    ck_assert_uint_eq(c.r[1].th[0].topn, 10);
    ck_assert_uint_eq(c.r[1].packets, 1000);
    /* day 3 was judged again with the merged day 1 in its window: still 10 */
    ck_assert_int_eq(c.r[3].th[0].r.status, STAB_STABLE);
    store_close(st);
    cfg_free(cfg);
}
END_TEST

START_TEST(test_series_thresholds_changed_later)
{
    struct ds_cfg *cfg = tu_cfg(yaml_w3);
    struct ds_cfg *cfg2 =
        tu_cfg("analyses:\n  - name: ports\n    window: 3\n    thresholds: [5, 1]\n");
    struct store *st = open_store(":memory:");
    struct collected c = {.n = 0};
    struct ds_error err;
    int64_t id;
    static const int d1[] = {0, 1, 2}, g1[] = {10, 30, 10};
    static const int d2[] = {3}, g2[] = {10};

    init_layout();
    id = analysis_id(st, cfg);
    run_days(st, cfg, id, d1, g1, 3);
    /* the next run asks for 5% as well: the stored days get it from their groups */
    run_days(st, cfg2, id, d2, g2, 1);
    ck_assert_int_eq(store_results(st, id, &layout, &cfg2->analyses[0], D0, D0 + 4 * DAY, collect,
                                   &c, &err),
                     DS_OK);
    ck_assert_uint_eq(c.n, 4);
    /* day 3: TopN at 5% is 10 (10% each); window at 5%: 10, 0 (30 groups of 3.3%), 10 */
    ck_assert_uint_eq(c.r[3].n_th, 2);
    ck_assert_uint_eq(c.r[3].th[0].topn, 10);
    ck_assert_double_eq_tol(c.r[3].th[0].r.mean, 20.0 / 3, 1e-9);
    ck_assert_uint_eq(c.r[1].th[0].topn, 0);
    ck_assert_uint_eq(c.r[1].th[1].topn, 30);
    store_close(st);
    cfg_free(cfg);
    cfg_free(cfg2);
}
END_TEST

/* What a slot's stored drill-down said, copied out of store_results(). */
struct explained {
    size_t n;
    int64_t start[64];
    bool has[64];
    uint32_t window_slots[64];
    size_t n_entered[64];
    int cause[64];
};

static enum ds_rc
collect_explain(void *ctx, const struct slot_result *r)
{
    struct explained *c = ctx;

    ck_assert_uint_lt(c->n, 64);
    c->start[c->n] = r->start;
    c->has[c->n] = r->explain != NULL;
    if (r->explain != NULL) {
        c->window_slots[c->n] = r->explain->window_slots;
        c->n_entered[c->n] = r->explain->n_entered;
        c->cause[c->n] = r->explain->cause;
    }
    c->n++;
    return DS_OK;
}

START_TEST(test_series_explains_unstable_slots_only)
{
    struct ds_cfg *cfg = tu_cfg(yaml_w3);
    /* a window of 4: day 3 falls back into warmup, no longer unstable */
    struct ds_cfg *cfg4 =
        tu_cfg("analyses:\n  - name: ports\n    window: 4\n    thresholds: [1.0]\n");
    struct store *st = open_store(":memory:");
    struct explained c = {.n = 0};
    struct ds_error err;
    int64_t id;
    /* TopN 10, 10, 10, then 13: three groups entered (sigma 0: unstable) */
    static const int d1[] = {0, 1, 2, 3}, g1[] = {10, 10, 10, 13};
    static const int d2[] = {4}, g2[] = {10};

    init_layout();
    id = analysis_id(st, cfg);
    run_days(st, cfg, id, d1, g1, 4);
    ck_assert_int_eq(store_results(st, id, &layout, &cfg->analyses[0], D0, D0 + 4 * DAY,
                                   collect_explain, &c, &err),
                     DS_OK);
    ck_assert_uint_eq(c.n, 4);
    for (size_t i = 0; i < 3; i++)
        ck_assert_msg(!c.has[i], "day %zu is not unstable but has a drill-down", i);
    ck_assert(c.has[3]);
    /* against the window of the judgement: the three days before */
    ck_assert_uint_eq(c.window_slots[3], 3);
    ck_assert_uint_eq(c.n_entered[3], 3);

    /* judged again with a longer window: day 3 is in warmup and loses its drill-down */
    run_days(st, cfg4, id, d2, g2, 1);
    c.n = 0;
    ck_assert_int_eq(store_results(st, id, &layout, &cfg4->analyses[0], D0, D0 + 5 * DAY,
                                   collect_explain, &c, &err),
                     DS_OK);
    ck_assert_uint_eq(c.n, 5);
    for (size_t i = 0; i < 5; i++)
        ck_assert_msg(!c.has[i], "day %zu kept a drill-down", i);
    store_close(st);
    cfg_free(cfg);
    cfg_free(cfg4);
}
END_TEST

START_TEST(test_series_explain_revised_by_late_flows)
{
    struct ds_cfg *cfg = tu_cfg(yaml_w3);
    struct store *st = open_store(":memory:");
    struct explained c = {.n = 0};
    struct series *s;
    struct ds_error err;
    struct flow f;
    int64_t id;
    static const int d1[] = {0, 1, 2, 3}, g1[] = {10, 10, 10, 13};

    init_layout();
    id = analysis_id(st, cfg);
    run_days(st, cfg, id, d1, g1, 4);
    /* a late flow for day 3, on a port of its own: a fourth group enters */
    s = series_new(&cfg->analyses[0], &cfg->causes, &layout, id, st, 0);
    ck_assert_int_eq(store_begin(st, &err), DS_OK);
    f = tu_flow((int64_t)(D0 + 3 * DAY + 7200) * 1000, 10, "192.0.2.9", "198.18.0.1", PROTO_UDP,
                999, 14);
    series_add_late(s, D0 + 3 * DAY, D0 + 4 * DAY, &f, 10);
    ck_assert_msg(series_commit(s, &err) == DS_OK, "%s", err.msg);
    ck_assert_int_eq(store_commit(st, &err), DS_OK);
    series_free(s);
    ck_assert_int_eq(store_results(st, id, &layout, &cfg->analyses[0], D0 + 3 * DAY,
                                   D0 + 4 * DAY, collect_explain, &c, &err),
                     DS_OK);
    ck_assert_uint_eq(c.n, 1);
    ck_assert(c.has[0]);
    ck_assert_uint_eq(c.n_entered[0], 4);
    store_close(st);
    cfg_free(cfg);
}
END_TEST

/*
 * A full disk in the collector: the transaction that held a closed slot and
 * a late flow is rolled back, the series reset, and the same work done
 * again gives what doing it once gives: the slot once, the late flow once.
 */
START_TEST(test_series_rolled_back_and_done_again)
{
    struct ds_cfg *cfg = tu_cfg(yaml_w3);
    struct store *st = open_store(":memory:");
    struct collected c = {.n = 0};
    struct agg_slot *day3;
    struct series *s;
    struct ds_error err;
    struct flow f;
    int64_t id;
    static const int d1[] = {0, 1, 2}, g1[] = {10, 10, 10};

    init_layout();
    id = analysis_id(st, cfg);
    run_days(st, cfg, id, d1, g1, 3);
    s = series_new(&cfg->analyses[0], &cfg->causes, &layout, id, st, 0);
    day3 = make_slot(D0 + 3 * DAY, 13, 2);
    day3->complete = true;
    f = tu_flow((int64_t)(D0 + DAY + 7200) * 1000, 10, "192.0.2.9", "198.18.0.1", PROTO_UDP, 999,
                1);
    for (int attempt = 0; attempt < 2; attempt++) {
        ck_assert_int_eq(store_begin(st, &err), DS_OK);
        series_add_slot(s, day3);
        series_add_late(s, D0 + DAY, D0 + 2 * DAY, &f, 10);
        ck_assert_msg(series_commit(s, &err) == DS_OK, "%s", err.msg);
        if (attempt == 0) {
            /* the commit failed: nothing of it stays, in the store or the series */
            store_rollback(st);
            series_reset(s);
            ck_assert_int_eq(store_results(st, id, &layout, &cfg->analyses[0], D0, D0 + 4 * DAY,
                                           collect, &c, &err),
                             DS_OK);
            ck_assert_uint_eq(c.n, 3);
            ck_assert_uint_eq(c.r[1].packets, 100);
            c.n = 0;
        } else {
            ck_assert_int_eq(store_commit(st, &err), DS_OK);
            series_committed(s);
        }
    }
    agg_slot_free(day3);
    series_free(s);
    ck_assert_int_eq(
        store_results(st, id, &layout, &cfg->analyses[0], D0, D0 + 4 * DAY, collect, &c, &err),
        DS_OK);
    ck_assert_uint_eq(c.n, 4);
    ck_assert_uint_eq(c.r[1].packets, 110);
    ck_assert_uint_eq(c.r[3].packets, 130);
    ck_assert_uint_eq(c.r[3].th[0].topn, 13);
    ck_assert_int_eq(c.r[3].th[0].r.status, STAB_UNSTABLE);
    store_close(st);
    cfg_free(cfg);
}
END_TEST

START_TEST(test_damaged_explain_is_left_out)
{
    const char *path = tu_path("damaged.db");
    struct ds_cfg *cfg = tu_cfg(yaml_w3);
    struct store *st = open_store(path);
    struct explained c = {.n = 0};
    struct ds_error err;
    sqlite3 *db;
    uint64_t warnings;
    int64_t id;
    /* two unstable days: 3 (13 groups) and 4 (3 groups) */
    static const int d1[] = {0, 1, 2, 3, 4}, g1[] = {10, 10, 10, 13, 3};

    init_layout();
    id = analysis_id(st, cfg);
    run_days(st, cfg, id, d1, g1, 5);
    store_close(st);
    ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
    ck_assert_int_eq(sqlite3_exec(db, "UPDATE explains SET blob = x'00ff00ff'", NULL, NULL, NULL),
                     SQLITE_OK);
    ck_assert_int_eq(sqlite3_changes(db), 2);
    sqlite3_close(db);
    st = open_store(path);
    warnings = log_warning_count();
    ck_assert_int_eq(store_results(st, id, &layout, &cfg->analyses[0], D0, D0 + 5 * DAY,
                                   collect_explain, &c, &err),
                     DS_OK);
    /* the results are all there, without the damaged drill-downs, and one warning */
    ck_assert_uint_eq(c.n, 5);
    ck_assert(!c.has[3]);
    ck_assert(!c.has[4]);
    ck_assert_uint_eq(log_warning_count(), warnings + 1);
    c.n = 0;
    ck_assert_int_eq(store_results(st, id, &layout, &cfg->analyses[0], D0, D0 + 5 * DAY,
                                   collect_explain, &c, &err),
                     DS_OK);
    ck_assert_uint_eq(log_warning_count(), warnings + 1);
    store_close(st);
    cfg_free(cfg);
}
END_TEST

START_TEST(test_live_collection_tables)
{
    struct store *st = open_store(":memory:");
    struct store_analysis_def def = {"ports", "proto,dst_port", DAY, "UTC", "start", "j", "1"};
    struct store_open_slot open[2];
    struct agg_slot *a = NULL, **back = NULL;
    struct store_collector c = {1000, true, 123456, (uint8_t *)"state!", 6}, c2;
    struct store_minute m[3], *sums;
    struct store_gap g = {(int64_t)D0 * 1000 + 5000, (int64_t)D0 * 1000 + 9000, "unclean stop"};
    struct store_gap *gaps;
    struct store_slot_summary *sum;
    struct slot_result r;
    struct ds_error err;
    size_t n;
    int64_t id, upto;
    bool found;

    init_layout();
    ck_assert_int_eq(store_analysis(st, &def, &id, NULL, &err), DS_OK);
    /* open slots: encoded by their owner, replaced whole at each checkpoint */
    for (int i = 0; i < 2; i++) {
        a = make_slot(D0 + i * DAY, 5 + i, 2);
        open[i].start = a->start;
        open[i].end = a->end;
        open[i].packets = a->packets;
        open[i].flows = a->flows;
        open[i].folded_packets = 9 + (uint64_t)i;
        open[i].folded_flows = 4;
        open[i].blob = store_slot_encode(a, &open[i].counts_len, &open[i].details_len);
        agg_slot_free(a);
    }
    ck_assert_int_eq(store_open_slots_replace(st, id, D0, open, 2, &err), DS_OK);
    ck_assert_int_eq(store_open_slots_replace(st, id, D0 + DAY, open + 1, 1, &err), DS_OK);
    ck_assert_int_eq(store_open_slots_load(st, id, &layout, &upto, &back, &n, &err), DS_OK);
    ck_assert_uint_eq(n, 1);
    ck_assert_int_eq(upto, D0 + DAY);
    ck_assert_int_eq(back[0]->start, D0 + DAY);
    ck_assert_uint_eq(back[0]->n_groups, 6);
    ck_assert_uint_eq(back[0]->packets, 60);
    ck_assert_uint_eq(back[0]->folded_packets, 10);
    ck_assert_uint_eq(back[0]->folded_flows, 4);
    ck_assert_ptr_nonnull(agg_slot_group(back[0], 0)->detail);
    ck_assert_uint_eq(distinct_count(&agg_slot_group(back[0], 0)->detail->src), 2);
    agg_slot_free(back[0]);
    free(back);
    free(open[0].blob);
    free(open[1].blob);

    /* the collector's own state */
    ck_assert_int_eq(store_collector_load(st, &c2, &found, &err), DS_OK);
    ck_assert(!found);
    ck_assert_int_eq(store_collector_save(st, &c, &err), DS_OK);
    ck_assert_int_eq(store_collector_load(st, &c2, &found, &err), DS_OK);
    ck_assert(found && c2.clean && c2.event_ms == 123456 && c2.state_len == 6);
    ck_assert_int_eq(memcmp(c2.state, "state!", 6), 0);
    free(c2.state);

    /* exporter minutes add up; sums over a range per exporter */
    memset(m, 0, sizeof(m));
    snprintf(m[0].exporter, sizeof(m[0].exporter), "192.0.2.1 ipfix");
    m[0].minute = D0 / 60;
    m[0].records = 100;
    m[0].missed = 5;
    m[0].rate = 10;
    m[1] = m[0];
    m[1].records = 50;
    m[1].rate_changes = 1;
    m[1].rate = 20;
    m[2] = m[0];
    snprintf(m[2].exporter, sizeof(m[2].exporter), "192.0.2.2 netflow9");
    m[2].minute = D0 / 60 + 200;
    ck_assert_int_eq(store_minutes_add(st, m, 3, &err), DS_OK);
    ck_assert_int_eq(store_minutes_sum(st, D0, D0 + DAY, &sums, &n, &err), DS_OK);
    ck_assert_uint_eq(n, 2);
    ck_assert_str_eq(sums[0].exporter, "192.0.2.1 ipfix");
    ck_assert_uint_eq(sums[0].records, 150);
    ck_assert_uint_eq(sums[0].missed, 10);
    ck_assert_uint_eq(sums[0].rate, 20);
    ck_assert_uint_eq(sums[0].rate_changes, 1);
    free(sums);
    ck_assert_int_eq(store_minutes_sum(st, D0, D0 + 60, &sums, &n, &err), DS_OK);
    ck_assert_uint_eq(n, 1);
    free(sums);

    /* gaps overlapping a range */
    ck_assert_int_eq(store_gap_add(st, &g, &err), DS_OK);
    ck_assert_int_eq(store_gaps(st, T0_MS, T0_MS + 6000, &gaps, &n, &err), DS_OK);
    ck_assert_uint_eq(n, 1);
    ck_assert_str_eq(gaps[0].reason, "unclean stop");
    free(gaps);
    ck_assert_int_eq(store_gaps(st, T0_MS + 9000, T0_MS + 20000, &gaps, &n, &err), DS_OK);
    ck_assert_uint_eq(n, 0);
    free(gaps);

    /* an incomplete slot: its completeness comes back, and windows skip it */
    a = make_slot(D0, 3, 1);
    ck_assert_int_eq(store_slot_save(st, id, a, &err), DS_OK);
    memset(&r, 0, sizeof(r));
    r.start = a->start;
    r.end = a->end;
    r.packets = a->packets;
    r.incomplete = true;
    r.completeness = strdup("{\"loss_percent\": 12.5}");
    r.n_th = 1;
    r.th[0].r.status = STAB_INCOMPLETE;
    parse_decimal("1", 3, &r.th[0].th, (char[64]){0}, 64);
    ck_assert_int_eq(store_result_save(st, id, &layout, &r, false, &err), DS_OK);
    slot_result_fini(&r);
    ck_assert_int_eq(store_slot_summaries(st, id, 0, INT64_MAX, &sum, &n, &err), DS_OK);
    ck_assert_uint_eq(n, 1);
    ck_assert(sum[0].incomplete);
    free(sum);
    ck_assert_int_eq(store_slot_last_with_data(st, id, D0 + 10 * DAY, 7, &sum, &n, &err), DS_OK);
    ck_assert_uint_eq(n, 0);
    free(sum);
    agg_slot_free(a);
    store_close(st);
}
END_TEST

/*
 * The ClickHouse schema (docs/CLICKHOUSE.md): one database, a local and a
 * Distributed table for each, every name qualified with the configured
 * database and the Distributed tables over the configured cluster.
 */
START_TEST(test_clickhouse_schema)
{
    struct ds_cfg *c = tu_cfg("timezone: UTC\nstore:\n  clickhouse:\n    database: dk_db\n"
                              "    cluster: two_shards\n");
    struct strbuf sb = STRBUF_INIT;
    const char *const *names;
    size_t n = ch_schema(&c->clickhouse, &sb), nt = ch_schema_tables(&names);
    const char *p = strbuf_str(&sb);
    size_t stmts = 0;

    ck_assert_uint_eq(nt, 14);
    ck_assert_uint_eq(n, 1 + nt);
    for (const char *q = p; (q = strstr(q, ";\n")) != NULL; q += 2)
        stmts++;
    ck_assert_uint_eq(stmts, n);
    ck_assert(strncmp(p, "CREATE DATABASE IF NOT EXISTS dk_db;\n", 37) == 0);
    for (size_t i = 0; i < nt; i++) {
        char want[128];

        snprintf(want, sizeof(want), "CREATE TABLE IF NOT EXISTS dk_db.%s ", names[i]);
        ck_assert_msg(strstr(p, want) != NULL, "no %s", want);
        if (strstr(names[i], "_local") == NULL) {
            snprintf(want, sizeof(want), "ENGINE = Distributed(two_shards, dk_db, %s_local, ",
                     names[i]);
            ck_assert_msg(strstr(p, want) != NULL, "no %s", want);
        }
    }
    /* nothing of the defaults leaks in */
    ck_assert_ptr_null(strstr(p, "darkstab."));
    strbuf_fini(&sb);
    cfg_free(c);
}
END_TEST

/* A client whose password file is gone: an error naming the key and the file. */
START_TEST(test_clickhouse_client_password_file)
{
    struct ds_cfg *c = tu_cfg("timezone: UTC\n");
    struct ch_client *cl = (struct ch_client *)1;
    struct ds_error err;

    free(c->clickhouse.password_file);
    c->clickhouse.password_file = xstrdup("/nonexistent/ch.pass");
    ck_assert_int_eq(ch_client_new(&c->clickhouse, "http://127.0.0.1:1/", &cl, &err), DS_ERR_IO);
    ck_assert_ptr_null(cl);
    ck_assert_str_eq(err.msg, "store.clickhouse.password_file /nonexistent/ch.pass: cannot open: "
                              "No such file or directory");
    /* no URL at all */
    ck_assert_int_eq(ch_client_new(&c->clickhouse, NULL, &cl, &err), DS_ERR_CONFIG);
    cfg_free(c);
}
END_TEST

/* A configuration whose cluster cannot be reached (nothing listens), spooling to spool. */
static struct ds_cfg *
unreachable_cluster(const char *spool)
{
    struct ds_cfg *c = tu_cfg("timezone: UTC\n");

    free(c->clickhouse.url);
    c->clickhouse.url = xstrdup("http://127.0.0.1:1/");   /* refused */
    free(c->clickhouse.node);
    c->clickhouse.node = xstrdup("n1");
    free(c->clickhouse.spool_dir);
    c->clickhouse.spool_dir = xstrdup(spool);
    c->clickhouse.batch_rows = 1000;
    return c;
}

/*
 * The watermark a node writes means "its records are in up to here": it is
 * held below the earliest record still on its way, in the batch being
 * filled or in the spool, and released once they are sent.
 */
START_TEST(test_clickhouse_pending_holds_watermark)
{
    struct ds_cfg *c;
    struct ch_writer *w;
    struct ds_error err;
    char spool[512];
    DIR *d;
    struct dirent *e;
    const int64_t t0 = 1362528000000;

    snprintf(spool, sizeof(spool), "%s", tu_path("spool-wm"));
    c = unreachable_cluster(spool);
    ck_assert_int_eq(ch_writer_open(&c->clickhouse, &w, &err), DS_OK);
    ck_assert_int_eq(ch_writer_pending_first(w), INT64_MAX);
    /* the batch being filled: its earliest record, not its first */
    for (int i = 0; i < 10; i++) {
        struct flow f = tu_flow(t0 + 60000 - i * 1000, 1, "10.0.0.1", "198.18.0.1", 6, 1, 23);

        ck_assert_int_eq(ch_writer_add(w, &f, &err), DS_OK);
    }
    ck_assert_int_eq(ch_writer_pending_first(w), t0 + 51000);
    /* sealed into the spool (the cluster is away): still on its way */
    ck_assert_int_eq(ch_writer_seal(w, &err), DS_OK);
    ck_assert_int_eq(ch_writer_pending_first(w), t0 + 51000);
    /* a later batch does not move it; an earlier record does */
    {
        struct flow late = tu_flow(t0 + 120000, 1, "10.0.0.1", "198.18.0.1", 6, 1, 23);
        struct flow early = tu_flow(t0 + 5000, 1, "10.0.0.1", "198.18.0.1", 6, 1, 23);

        ck_assert_int_eq(ch_writer_add(w, &late, &err), DS_OK);
        ck_assert_int_eq(ch_writer_pending_first(w), t0 + 51000);
        ck_assert_int_eq(ch_writer_add(w, &early, &err), DS_OK);
        ck_assert_int_eq(ch_writer_pending_first(w), t0 + 5000);
        ck_assert_int_eq(ch_writer_seal(w, &err), DS_OK);
        ck_assert_int_eq(ch_writer_pending_first(w), t0 + 5000);
    }
    /* sent (the files gone, as after a successful insert): nothing holds it */
    d = opendir(spool);
    ck_assert_ptr_nonnull(d);
    while ((e = readdir(d)) != NULL) {
        char path[1024];

        if (strstr(e->d_name, ".batch") == NULL)
            continue;
        snprintf(path, sizeof(path), "%s/%s", spool, e->d_name);
        ck_assert_int_eq(unlink(path), 0);
    }
    closedir(d);
    ck_assert_int_eq(ch_writer_pending_first(w), INT64_MAX);
    ch_writer_free(w);
    cfg_free(c);
}
END_TEST

/*
 * Records for the cluster when it cannot be reached: every batch is in the
 * spool, whole, in order; a new writer (a restart) finds them waiting.
 */
START_TEST(test_clickhouse_spool_keeps_batches)
{
    struct ds_cfg *c;
    struct ch_writer *w;
    struct ch_writer_stats st;
    struct ds_error err;
    uint64_t pending = 0;
    char spool[512];
    DIR *d;
    struct dirent *e;
    size_t files = 0;

    snprintf(spool, sizeof(spool), "%s", tu_path("spool"));
    c = unreachable_cluster(spool);
    ck_assert_int_eq(ch_writer_open(&c->clickhouse, &w, &err), DS_OK);
    ck_assert_int_eq(ch_writer_source(w, "0123456789abcdef0123456789abcdef", &err), DS_OK);
    for (int i = 0; i < 2500; i++) {
        struct flow f = tu_flow(1362528000000 + i * 1000, 1, "10.0.0.1", "198.18.0.1", 6, 1,
                                (uint16_t)(i % 50));

        ck_assert_int_eq(ch_writer_add(w, &f, &err), DS_OK);
    }
    ck_assert_int_eq(ch_writer_flush(w, &pending, &err), DS_OK);
    ck_assert_uint_eq(pending, 3);
    ch_writer_stats(w, &st);
    ck_assert_uint_eq(st.rows, 2500);
    ck_assert_uint_eq(st.batches_sent, 0);
    ck_assert_uint_ge(st.send_failures, 1);
    {
        char why[1024];

        ch_writer_last_failure(w, why, sizeof(why));
        ck_assert_ptr_nonnull(strstr(why, "127.0.0.1"));
    }
    ch_writer_free(w);
    d = opendir(spool);
    ck_assert_ptr_nonnull(d);
    while ((e = readdir(d)) != NULL)
        files += strstr(e->d_name, ".batch") != NULL && strstr(e->d_name, ".tmp") == NULL;
    closedir(d);
    ck_assert_uint_eq(files, 3);
    /* a restart finds them */
    ck_assert_int_eq(ch_writer_open(&c->clickhouse, &w, &err), DS_OK);
    ch_writer_stats(w, &st);
    ck_assert_uint_eq(st.batches_spooled, 3);
    /* a second process on the same spool is refused: it would send the same batches */
    {
        struct ch_writer *w2 = (struct ch_writer *)1;

        ck_assert_int_eq(ch_writer_open(&c->clickhouse, &w2, &err), DS_ERR_IO);
        ck_assert_ptr_null(w2);
        ck_assert_ptr_nonnull(strstr(err.msg, "in use by another darkstab"));
    }
    ck_assert_uint_gt(st.spool_bytes, 2500 * 60);
    ck_assert_int_eq(ch_writer_flush(w, &pending, &err), DS_OK);
    ck_assert_uint_eq(pending, 3);
    ch_writer_free(w);
    /* spool_max: the spool stops growing at it, and says so */
    c->clickhouse.spool_max = 1 << 20;
    ck_assert_int_eq(ch_writer_open(&c->clickhouse, &w, &err), DS_OK);
    {
        enum ds_rc rc = DS_OK;
        int i;

        for (i = 0; i < 100000 && rc == DS_OK; i++) {
            struct flow f = tu_flow(1362528000000 + i * 1000, 1, "10.0.0.1", "198.18.0.1", 6,
                                    1, 23);

            rc = ch_writer_add(w, &f, &err);
        }
        ck_assert_int_eq(rc, DS_ERR_LIMIT);
        ck_assert_ptr_nonnull(strstr(err.msg, "is full (spool_max 1048576 bytes)"));
        ch_writer_stats(w, &st);
        ck_assert_uint_le(st.spool_bytes, 1 << 20);
        ck_assert_uint_gt(st.spool_bytes, (1 << 20) - 200000);
    }
    ch_writer_free(w);
    cfg_free(c);
}
END_TEST

/*
 * Who judges a cluster live, and up to where (docs/CLICKHOUSE.md 6): the
 * alive nodes that are not idle hold slots back to the earliest of their
 * watermarks, a node whose row stopped is missing and holds nothing, the
 * first alive node in name order that may judge does.
 */
START_TEST(test_cluster_live_plan)
{
    const int64_t now = 1700000000000, idle_close = 10000;
    struct ch_node nodes[3] = {
        {"a", 1000, now - 1000, false, true},
        {"b", 500, now - 2000, false, true},
        {"c", 100, now - 20000, false, true},   /* its row stopped 20 s ago */
    };
    struct cluster_plan p;

    cluster_live_plan(nodes, 3, "b", CFG_ANALYZER_AUTO, now, idle_close, &p);
    ck_assert(!p.judge);
    ck_assert_str_eq(p.judge_node, "a");
    ck_assert_int_eq(p.watermark_ms, 500);
    ck_assert(!p.all_idle);
    ck_assert_uint_eq(p.alive, 2);
    ck_assert_uint_eq(p.missing, 1);
    ck_assert_str_eq(p.missing_names, "c");
    cluster_live_plan(nodes, 3, "a", CFG_ANALYZER_AUTO, now, idle_close, &p);
    ck_assert(p.judge);
    /* b says "true", a "false": b judges, a does not */
    cluster_live_plan(nodes, 3, "b", CFG_ANALYZER_TRUE, now, idle_close, &p);
    ck_assert(p.judge);
    cluster_live_plan(nodes, 3, "a", CFG_ANALYZER_FALSE, now, idle_close, &p);
    ck_assert(!p.judge);
    nodes[0].analyzer = false;
    cluster_live_plan(nodes, 3, "b", CFG_ANALYZER_AUTO, now, idle_close, &p);
    ck_assert(p.judge);
    ck_assert_str_eq(p.judge_node, "b");
    /* a just started, no exporter yet: it holds everything back */
    nodes[0].watermark_ms = INT64_MIN;
    cluster_live_plan(nodes, 3, "b", CFG_ANALYZER_AUTO, now, idle_close, &p);
    ck_assert_int_eq(p.watermark_ms, INT64_MIN);
    ck_assert(!p.all_idle);
    /* both idle: every record is in, up to the latest of them */
    nodes[0].watermark_ms = 700;
    nodes[0].idle = nodes[1].idle = true;
    nodes[1].watermark_ms = 900;
    cluster_live_plan(nodes, 3, "b", CFG_ANALYZER_AUTO, now, idle_close, &p);
    ck_assert(p.all_idle);
    ck_assert_int_eq(p.watermark_ms, 900);
    ck_assert_uint_eq(p.idle, 2);
    /* a node whose first row is not written yet: alive, holds nothing back, first by name */
    cluster_live_plan(nodes, 3, "0new", CFG_ANALYZER_AUTO, now, idle_close, &p);
    ck_assert(p.judge);
    ck_assert_uint_eq(p.alive, 3);
    ck_assert_int_eq(p.watermark_ms, 900);
    /* the stopped node is not missing for long: back within idle_close, it holds again */
    nodes[2].updated_ms = now;
    cluster_live_plan(nodes, 3, "b", CFG_ANALYZER_AUTO, now, idle_close, &p);
    ck_assert_uint_eq(p.missing, 0);
    ck_assert_int_eq(p.watermark_ms, 100);
    ck_assert(!p.all_idle);
}
END_TEST

static Suite *
store_suite(void)
{
    Suite *s = suite_create("store");
    TCase *tc = tcase_create("sqlite");

    tcase_add_test(tc, test_schema_created_and_versioned);
    tcase_add_test(tc, test_cluster_marks);
    tcase_add_test(tc, test_schema_1_migrates_to_2);
    tcase_add_test(tc, test_schema_2_migrates_to_3);
    tcase_add_test(tc, test_schema_6_migrates_to_7);
    tcase_add_test(tc, test_mail_records);
    tcase_add_test(tc, test_slot_row_and_some_groups);
    tcase_add_test(tc, test_live_collection_tables);
    tcase_add_test(tc, test_schema_newer_or_foreign_refused);
    tcase_add_test(tc, test_analysis_conflict);
    tcase_add_test(tc, test_slot_round_trip);
    tcase_add_test(tc, test_inputs_recorded);
    suite_add_tcase(s, tc);

    /* 720,000 flows into slots: longer than the default 4 s under the sanitizers */
    tc = tcase_create("checkpoint");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_checkpoint_in_background);
    tcase_add_test(tc, test_wal_starts_again_under_commits);
    suite_add_tcase(s, tc);

    tc = tcase_create("series");
    tcase_add_test(tc, test_series_warmup_gap_and_window_across_runs);
    tcase_add_test(tc, test_series_merge_into_stored_slot_and_rejudge_later);
    tcase_add_test(tc, test_series_thresholds_changed_later);
    tcase_add_test(tc, test_series_explains_unstable_slots_only);
    tcase_add_test(tc, test_series_explain_revised_by_late_flows);
    tcase_add_test(tc, test_series_rolled_back_and_done_again);
    tcase_add_test(tc, test_damaged_explain_is_left_out);
    tcase_add_test(tc, test_clickhouse_schema);
    tcase_add_test(tc, test_clickhouse_client_password_file);
    tcase_add_test(tc, test_clickhouse_spool_keeps_batches);
    tcase_add_test(tc, test_clickhouse_pending_holds_watermark);
    tcase_add_test(tc, test_cluster_live_plan);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    tz_apply("UTC");
    return tu_run(store_suite()) == 0 ? 0 : 1;
}
