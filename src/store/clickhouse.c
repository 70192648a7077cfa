/*
 * ClickHouse over HTTP (see ds/clickhouse.h and docs/CLICKHOUSE.md).
 *
 * One statement is one POST of its text to the server's base URL, as
 * ClickHouse's HTTP interface takes it; an answer other than 200 carries
 * ClickHouse's message ("Code: 60, e.displayText() = DB::Exception: ..."),
 * whose first line goes into the error.  Every statement names its tables
 * with their database, so no request depends on a default database (the
 * first one creates it).
 */
#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ds/clickhouse.h"
#include "ds/rowbinary.h"
#include "ds/xmem.h"

#define PASSWORD_MAX 1024
#define ANSWER_MAX (64u << 20)  /* a larger answer is an error, not memory without end */
#define MESSAGE_MAX 300         /* of ClickHouse's message, in an error */

struct ch_client {
    CURL *h;
    char *url;                  /* the base URL, ending in '/' */
    char *password;             /* owned, wiped on free; NULL: none */
    char *user;
    long timeout_s;
    long query_timeout_s;       /* streamed SELECTs: a slot's counts and details */
    const atomic_bool *abort;   /* borrowed; set: a request in flight gives up */
};

/* libcurl's progress callback: a request gives up once its client's abort flag is set. */
static int
abort_cb(void *p, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow)
{
    const atomic_bool *abort = p;

    (void)dltotal;
    (void)dlnow;
    (void)ultotal;
    (void)ulnow;
    return atomic_load(abort) ? 1 : 0;
}

void
ch_client_abort_on(struct ch_client *c, const atomic_bool *flag)
{
    c->abort = flag;
}

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc;

static void
curl_init(void)
{
    curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* The first line of the password file (an empty file: an empty password). */
static enum ds_rc
read_password(const char *path, char **out, struct ds_error *err)
{
    char buf[PASSWORD_MAX];
    FILE *fp = fopen(path, "r");

    if (fp == NULL)
        return ds_error_set(err, DS_ERR_IO, "store.clickhouse.password_file %s: cannot open: %s",
                            path, strerror(errno));
    if (fgets(buf, sizeof(buf), fp) == NULL)
        buf[0] = '\0';
    fclose(fp);
    buf[strcspn(buf, "\r\n")] = '\0';
    *out = xstrdup(buf);
    explicit_bzero(buf, sizeof(buf));
    return DS_OK;
}

enum ds_rc
ch_client_new(const struct cfg_clickhouse *ch, const char *url, struct ch_client **out,
              struct ds_error *err)
{
    struct ch_client *c;
    enum ds_rc rc;
    size_t n;

    *out = NULL;
    if (url == NULL)
        url = ch->url;
    if (url == NULL || *url == '\0')
        return ds_error_set(err, DS_ERR_CONFIG, "no ClickHouse server: set store.clickhouse.url");
    pthread_once(&curl_once, curl_init);
    if (curl_init_rc != CURLE_OK)
        return ds_error_set(err, DS_ERR_IO, "libcurl: %s", curl_easy_strerror(curl_init_rc));
    c = xcalloc(1, sizeof(*c));
    n = strlen(url);
    c->url = xasprintf("%s%s", url, n > 0 && url[n - 1] == '/' ? "" : "/");
    c->user = xstrdup(ch->user);
    c->timeout_s = (long)ch->timeout_s;
    c->query_timeout_s = (long)(ch->query_timeout_s > 0 ? ch->query_timeout_s : ch->timeout_s);
    if (*ch->password_file != '\0' &&
        (rc = read_password(ch->password_file, &c->password, err)) != DS_OK) {
        ch_client_free(c);
        return rc;
    }
    c->h = curl_easy_init();
    if (c->h == NULL) {
        ch_client_free(c);
        return ds_error_set(err, DS_ERR_NOMEM, "libcurl: cannot make a handle");
    }
    *out = c;
    return DS_OK;
}

void
ch_client_free(struct ch_client *c)
{
    if (c == NULL)
        return;
    if (c->h != NULL)
        curl_easy_cleanup(c->h);
    if (c->password != NULL) {
        explicit_bzero(c->password, strlen(c->password));
        free(c->password);
    }
    free(c->user);
    free(c->url);
    free(c);
}

const char *
ch_client_server(const struct ch_client *c)
{
    return c->url;
}

struct answer {
    struct strbuf *sb;
    size_t n;
    bool too_large;
    ch_rows_fn fn;              /* not NULL: a 200 answer goes to fn, not to sb */
    void *ctx;
    long status;                /* 0 until the first byte of the body */
    CURL *h;
    bool stopped;               /* fn returned non-zero */
};

static size_t
write_cb(char *p, size_t size, size_t nmemb, void *arg)
{
    struct answer *a = arg;
    size_t n = size * nmemb;

    if (a->fn != NULL) {
        if (a->status == 0)
            curl_easy_getinfo(a->h, CURLINFO_RESPONSE_CODE, &a->status);
        /* an error's message is kept for the error; a 200 answer streams without bound */
        if (a->status == 200) {
            if (a->fn(a->ctx, (const uint8_t *)p, n) != 0) {
                a->stopped = true;
                return 0;
            }
            return n;
        }
    }
    if (a->n + n > ANSWER_MAX) {
        a->too_large = true;
        return 0;
    }
    a->n += n;
    strbuf_appendn(a->sb, p, n);
    return n;
}

/* ClickHouse's message: its first line, at most MESSAGE_MAX bytes, without the password. */
static void
message_of(const char *body, const char *password, char *buf, size_t len)
{
    size_t n = strcspn(body, "\r\n");
    char *p;

    if (n > MESSAGE_MAX)
        n = MESSAGE_MAX;
    snprintf(buf, len, "%.*s", (int)n, body);
    if (password != NULL && *password != '\0')
        while ((p = strstr(buf, password)) != NULL)
            memset(p, '*', strlen(password));
}

/* curl failed before anything reached the server: a refusal, not an unknown outcome */
static bool
not_sent(CURLcode cc)
{
    return cc == CURLE_COULDNT_CONNECT || cc == CURLE_COULDNT_RESOLVE_HOST ||
           cc == CURLE_COULDNT_RESOLVE_PROXY || cc == CURLE_UNSUPPORTED_PROTOCOL ||
           cc == CURLE_URL_MALFORMAT || cc == CURLE_SSL_CONNECT_ERROR;
}

/* The body of a request read from a file as libcurl asks for it. */
static size_t
read_file_cb(char *buf, size_t size, size_t nitems, void *arg)
{
    FILE *fp = arg;
    size_t n = fread(buf, 1, size * nitems, fp);

    return n == 0 && ferror(fp) ? CURL_READFUNC_ABORT : n;
}

/*
 * One request: body in memory, or (fp not NULL) len bytes read from fp; the
 * answer into out, or (fn not NULL) to fn.
 */
static enum ds_rc
post(struct ch_client *c, const char *query, const void *body, FILE *fp, size_t len,
     struct strbuf *out, ch_rows_fn fn, void *ctx, const char *settings, bool long_query,
     bool *unknown, struct ds_error *err)
{
    struct strbuf answer = STRBUF_INIT;
    struct answer a = {out != NULL ? out : &answer, 0, false, fn, ctx, 0, c->h, false};
    struct curl_slist *hdr = NULL;
    char curl_err[CURL_ERROR_SIZE] = "", msg[MESSAGE_MAX + 8];
    char *url = NULL;
    long status = 0;
    enum ds_rc rc = DS_OK;
    size_t before = a.sb->len;
    CURLcode cc;

    if (unknown != NULL)
        *unknown = false;
    /*
     * insert_distributed_sync=1 for every request: an INSERT through a
     * Distributed table (records, repeats, slots) is answered once the
     * shard that holds it has it, so that what follows reads it.
     */
    if (query != NULL) {
        char *q = curl_easy_escape(c->h, query, 0);

        url = xasprintf("%s?query=%s&insert_distributed_sync=1", c->url, q);
        curl_free(q);
    } else {
        /*
         * A streamed answer is sent whole or not at all (the server buffers
         * it): an error met half way through would otherwise come as text
         * after rows under status 200.  Its query may name many groups (an
         * IN list): past the default 256 KB of max_query_size.
         */
        url = xasprintf("%s?insert_distributed_sync=1%s%s%s", c->url,
                        fn != NULL ? "&wait_end_of_query=1&max_query_size=67108864" : "",
                        settings != NULL ? "&" : "", settings != NULL ? settings : "");
    }
    curl_easy_reset(c->h);
    hdr = curl_slist_append(hdr, query != NULL ? "Content-Type: application/octet-stream"
                                               : "Content-Type: text/plain; charset=utf-8");
    /* no "Expect: 100-continue" round trip before a batch */
    hdr = curl_slist_append(hdr, "Expect:");
    curl_easy_setopt(c->h, CURLOPT_URL, url);
    curl_easy_setopt(c->h, CURLOPT_POST, 1L);
    if (fp != NULL) {
        curl_easy_setopt(c->h, CURLOPT_READFUNCTION, read_file_cb);
        curl_easy_setopt(c->h, CURLOPT_READDATA, fp);
    } else {
        curl_easy_setopt(c->h, CURLOPT_POSTFIELDS, body);
    }
    curl_easy_setopt(c->h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    curl_easy_setopt(c->h, CURLOPT_HTTPHEADER, hdr);
    curl_easy_setopt(c->h, CURLOPT_WRITEFUNCTION, write_cb);
    curl_easy_setopt(c->h, CURLOPT_WRITEDATA, &a);
    curl_easy_setopt(c->h, CURLOPT_ERRORBUFFER, curl_err);
    curl_easy_setopt(c->h, CURLOPT_NOSIGNAL, 1L);
    if (c->abort != NULL) {
        /* called about once a second while waiting: a stop need not outwait query_timeout */
        curl_easy_setopt(c->h, CURLOPT_XFERINFOFUNCTION, abort_cb);
        curl_easy_setopt(c->h, CURLOPT_XFERINFODATA, (void *)(uintptr_t)c->abort);
        curl_easy_setopt(c->h, CURLOPT_NOPROGRESS, 0L);
    }
    /*
     * A streamed answer comes whole at the end (wait_end_of_query), and
     * 18.16 sends no progress before it: a judging query of a busy day
     * takes minutes with nothing on the wire, so it has a timeout of its own.
     */
    curl_easy_setopt(c->h, CURLOPT_TIMEOUT, long_query ? c->query_timeout_s : c->timeout_s);
    curl_easy_setopt(c->h, CURLOPT_CONNECTTIMEOUT, c->timeout_s < 10 ? c->timeout_s : 10L);
    curl_easy_setopt(c->h, CURLOPT_PROTOCOLS_STR, "http,https");
    /* the default user without a password needs no credentials: ClickHouse's own default */
    if (c->password != NULL || strcmp(c->user, "default") != 0) {
        curl_easy_setopt(c->h, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
        curl_easy_setopt(c->h, CURLOPT_USERNAME, c->user);
        curl_easy_setopt(c->h, CURLOPT_PASSWORD, c->password != NULL ? c->password : "");
    }
    cc = curl_easy_perform(c->h);
    curl_easy_getinfo(c->h, CURLINFO_RESPONSE_CODE, &status);
    if (a.stopped) {
        rc = ds_error_set(err, DS_ERR_DB, "ClickHouse at %s: an answer that cannot be read",
                          c->url);
    } else if (a.too_large) {
        rc = ds_error_set(err, DS_ERR_IO, "ClickHouse at %s: an answer larger than %u MB",
                          c->url, ANSWER_MAX >> 20);
    } else if (cc != CURLE_OK) {
        message_of(curl_err[0] ? curl_err : curl_easy_strerror(cc), c->password, msg,
                   sizeof(msg));
        rc = ds_error_set(err, DS_ERR_NET, "ClickHouse at %s: %s", c->url, msg);
        /* sent, and no answer: the server may have done it */
        if (unknown != NULL)
            *unknown = !not_sent(cc);
    } else if (status != 200) {
        message_of(strbuf_str(a.sb) + before, c->password, msg, sizeof(msg));
        rc = ds_error_set(err, DS_ERR_DB, "ClickHouse at %s: HTTP %ld: %s", c->url, status,
                          *msg ? msg : "(no message)");
    }
    curl_easy_setopt(c->h, CURLOPT_PASSWORD, "");
    curl_slist_free_all(hdr);
    strbuf_fini(&answer);
    free(url);
    return rc;
}

enum ds_rc
ch_post(struct ch_client *c, const char *query, const void *body, size_t len,
        struct strbuf *out, bool *unknown, struct ds_error *err)
{
    return post(c, query, body, NULL, len, out, NULL, NULL, NULL, false, unknown, err);
}

enum ds_rc
ch_post_file(struct ch_client *c, const char *query, FILE *fp, size_t len, bool *unknown,
             struct ds_error *err)
{
    return post(c, query, NULL, fp, len, NULL, NULL, NULL, NULL, false, unknown, err);
}

enum ds_rc
ch_query_value(struct ch_client *c, const char *sql, int64_t *v, int64_t *count,
               struct ds_error *err)
{
    struct strbuf sb = STRBUF_INIT;
    enum ds_rc rc = ch_exec(c, sql, &sb, err);
    long long x, n;

    *count = 0;
    if (rc == DS_OK && sscanf(strbuf_str(&sb), "%lld\t%lld", &x, &n) == 2 && n > 0) {
        *v = x;
        *count = n;
    }
    strbuf_fini(&sb);
    return rc;
}

enum ds_rc
ch_exec(struct ch_client *c, const char *sql, struct strbuf *out, struct ds_error *err)
{
    return post(c, NULL, sql, NULL, strlen(sql), out, NULL, NULL, NULL, false, NULL, err);
}

enum ds_rc
ch_select(struct ch_client *c, const char *sql, const char *settings, bool long_query,
          ch_rows_fn fn, void *ctx, struct ds_error *err)
{
    return post(c, NULL, sql, NULL, strlen(sql), NULL, fn, ctx, settings, long_query, NULL, err);
}

/* ---- the schema (docs/CLICKHOUSE.md, section 3) ------------------------------- */

static const char *const table_names[] = {
    "records_local", "analyses_local", "slots_local", "watermarks_local", "repeats_local",
    "revisions_local", "mails_local",
    "records",       "analyses",       "slots",       "watermarks",       "repeats",
    "revisions",       "mails",
};

size_t
ch_schema_tables(const char *const **names)
{
    *names = table_names;
    return sizeof(table_names) / sizeof(table_names[0]);
}

/* A local table: its columns and engine, with %s for the database. */
static const struct local_table {
    const char *name;
    const char *body;           /* columns and engine; "DB" is the database */
    const char *shard_by;       /* the Distributed table's sharding key */
} local_tables[] = {
    {"records",
     "    start_ms Int64,\n"
     "    end_ms Int64,\n"
     "    src_hi UInt64,\n"
     "    src_lo UInt64,\n"
     "    dst_hi UInt64,\n"
     "    dst_lo UInt64,\n"
     "    sport UInt16,\n"
     "    dport UInt16,\n"
     "    proto UInt8,\n"
     "    tcp_flags UInt8,\n"
     "    icmp_type UInt8,\n"
     "    icmp_code UInt8,\n"
     "    packets UInt64,\n"
     "    bytes UInt64,\n"
     "    sampling UInt32,\n"
     "    exporter String,\n"
     "    node String,\n"
     "    batch UInt64,\n"
     "    seq UInt32\n"
     ") ENGINE = ReplacingMergeTree\n"
     "PARTITION BY toDate(toDateTime(intDiv(start_ms, 1000)))\n"
     "ORDER BY (start_ms, node, batch, seq)",
     "cityHash64(node, batch)"},
    {"analyses",
     "    name String,\n"
     "    keys String,\n"
     "    slot_s Int64,\n"
     "    timezone String,\n"
     "    attribution String,\n"
     "    judged_with String,\n"
     "    updated_ms Int64\n"
     ") ENGINE = ReplacingMergeTree(updated_ms)\n"
     "ORDER BY name",
     "cityHash64(name)"},
    {"slots",
     "    analysis String,\n"
     "    start Int64,\n"
     "    end Int64,\n"
     "    judged_ms Int64,\n"
     "    judged_by String,\n"
     "    packets UInt64,\n"
     "    flows UInt64,\n"
     "    groups UInt64,\n"
     "    folded_packets UInt64,\n"
     "    folded_flows UInt64,\n"
     "    late_flows UInt64,\n"
     "    late_packets UInt64,\n"
     "    complete UInt8,\n"
     "    incomplete UInt8,\n"
     "    completeness String,\n"
     "    thresholds Array(String),\n"
     "    topn Array(UInt32),\n"
     "    status Array(String),\n"
     "    direction Array(String),\n"
     "    mean Array(Float64),\n"
     "    stddev Array(Float64),\n"
     "    group_counts String,\n"
     "    group_details String,\n"
     "    explain String\n"
     ") ENGINE = ReplacingMergeTree(judged_ms)\n"
     "PARTITION BY toYYYYMM(toDateTime(start))\n"
     "ORDER BY (analysis, start)",
     "cityHash64(analysis, start)"},
    {"watermarks",
     "    node String,\n"
     "    updated_ms Int64,\n"
     "    watermark_ms Int64,\n"
     "    idle UInt8,\n"
     "    analyzer UInt8\n"
     ") ENGINE = ReplacingMergeTree(updated_ms)\n"
     "ORDER BY node",
     "cityHash64(node)"},
    {"repeats",
     "    node String,\n"
     "    batch UInt64,\n"
     "    first_ms Int64,\n"
     "    last_ms Int64\n"
     ") ENGINE = ReplacingMergeTree\n"
     "ORDER BY (node, batch)",
     "cityHash64(node, batch)"},
    /* live: a batch holding records that start before the watermark its node had written */
    {"revisions",
     "    node String,\n"
     "    batch UInt64,\n"
     "    rows UInt64,\n"
     "    first_ms Int64,\n"
     "    last_ms Int64\n"
     ") ENGINE = ReplacingMergeTree\n"
     "ORDER BY (node, batch)",
     "cityHash64(node, batch)"},
    /* the nightly mail: the day's report was sent, by one of the nodes that judge in turn */
    {"mails",
     "    day String,\n"
     "    node String,\n"
     "    message_id String,\n"
     "    sent_ms Int64\n"
     ") ENGINE = ReplacingMergeTree(sent_ms)\n"
     "ORDER BY day",
     "cityHash64(day)"},
};

#define N_LOCAL (sizeof(local_tables) / sizeof(local_tables[0]))

_Static_assert(2 * N_LOCAL == sizeof(table_names) / sizeof(table_names[0]),
               "table_names lists each local table and its Distributed table");

/* Statement i of the schema (0: the database, then the local tables, then the Distributed). */
static char *
statement(const struct cfg_clickhouse *ch, size_t i)
{
    const char *db = ch->database;

    if (i == 0)
        return xasprintf("CREATE DATABASE IF NOT EXISTS %s", db);
    i--;
    if (i < N_LOCAL)
        return xasprintf("CREATE TABLE IF NOT EXISTS %s.%s_local (\n%s", db,
                         local_tables[i].name, local_tables[i].body);
    i -= N_LOCAL;
    return xasprintf("CREATE TABLE IF NOT EXISTS %s.%s AS %s.%s_local\n"
                     "ENGINE = Distributed(%s, %s, %s_local, %s)",
                     db, local_tables[i].name, db, local_tables[i].name, ch->cluster, db,
                     local_tables[i].name, local_tables[i].shard_by);
}

size_t
ch_schema(const struct cfg_clickhouse *ch, struct strbuf *out)
{
    size_t n = 1 + 2 * N_LOCAL;

    for (size_t i = 0; i < n; i++) {
        char *s = statement(ch, i);

        strbuf_append(out, s);
        strbuf_append(out, ";\n");
        free(s);
    }
    return n;
}

enum ds_rc
ch_schema_apply(struct ch_client *c, const struct cfg_clickhouse *ch, size_t *done,
                struct ds_error *err)
{
    size_t n = 1 + 2 * N_LOCAL;
    enum ds_rc rc = DS_OK;

    *done = 0;
    for (size_t i = 0; i < n && rc == DS_OK; i++) {
        char *s = statement(ch, i);

        rc = ch_exec(c, s, NULL, err);
        free(s);
        if (rc == DS_OK)
            (*done)++;
    }
    return rc;
}

/* The answer of a one-value query, without its newline. */
static enum ds_rc
one_value(struct ch_client *c, const char *sql, char *buf, size_t len, struct ds_error *err)
{
    struct strbuf sb = STRBUF_INIT;
    enum ds_rc rc = ch_exec(c, sql, &sb, err);

    if (rc == DS_OK)
        snprintf(buf, len, "%.*s", (int)strcspn(strbuf_str(&sb), "\r\n"), strbuf_str(&sb));
    strbuf_fini(&sb);
    return rc;
}

enum ds_rc
ch_check(struct ch_client *c, const struct cfg_clickhouse *ch, char *version, size_t len,
         unsigned *shards, struct ds_error *err)
{
    struct strbuf missing = STRBUF_INIT, have = STRBUF_INIT;
    char buf[64], *sql;
    enum ds_rc rc;
    unsigned long n;

    *shards = 0;
    rc = one_value(c, "SELECT version()", version, len, err);
    if (rc != DS_OK)
        return rc;
    /* names were checked by check-config: letters, digits and '_', no quote to escape */
    sql = xasprintf("SELECT count() FROM system.clusters WHERE cluster = '%s'", ch->cluster);
    rc = one_value(c, sql, buf, sizeof(buf), err);
    free(sql);
    if (rc != DS_OK)
        return rc;
    n = strtoul(buf, NULL, 10);
    if (n == 0)
        return ds_error_set(err, DS_ERR_CONFIG,
                            "ClickHouse at %s: no cluster '%s' in its <remote_servers> "
                            "(store.clickhouse.cluster)", c->url, ch->cluster);
    *shards = (unsigned)n;
    sql = xasprintf("SELECT name FROM system.tables WHERE database = '%s' ORDER BY name",
                    ch->database);
    rc = ch_exec(c, sql, &have, err);
    free(sql);
    if (rc != DS_OK) {
        strbuf_fini(&have);
        return rc;
    }
    for (size_t i = 0; i < sizeof(table_names) / sizeof(table_names[0]); i++) {
        const char *p = strbuf_str(&have);
        size_t tl = strlen(table_names[i]);
        bool found = false;

        while (*p != '\0' && !found) {
            size_t l = strcspn(p, "\n");

            found = l == tl && strncmp(p, table_names[i], tl) == 0;
            p += l + (p[l] == '\n');
        }
        if (!found)
            strbuf_printf(&missing, "%s%s.%s", missing.len ? ", " : "", ch->database,
                          table_names[i]);
    }
    strbuf_fini(&have);
    if (missing.len > 0)
        rc = ds_error_set(err, DS_ERR_CONFIG,
                          "ClickHouse at %s: missing %s; run \"darkstab clickhouse-schema -c "
                          "CONFIG --apply URL\" for each shard", c->url, strbuf_str(&missing));
    strbuf_fini(&missing);
    return rc;
}

enum ds_rc
ch_nodes(struct ch_client *c, const struct cfg_clickhouse *ch, struct ch_node **out, size_t *n,
         struct ds_error *err)
{
    struct strbuf sb = STRBUF_INIT;
    const char *p;
    enum ds_rc rc;
    char *sql;

    *out = NULL;
    *n = 0;
    sql = xasprintf("SELECT node, argMax(watermark_ms, updated_ms), max(updated_ms), "
                    "argMax(idle, updated_ms), argMax(analyzer, updated_ms) FROM %s.watermarks "
                    "GROUP BY node ORDER BY node FORMAT TabSeparated",
                    ch->database);
    rc = ch_exec(c, sql, &sb, err);
    free(sql);
    for (p = strbuf_str(&sb); rc == DS_OK && *p != '\0';) {
        size_t l = strcspn(p, "\n");
        struct ch_node nd;
        long long wm, up;
        int idle, analyzer;
        char name[64];

        memset(&nd, 0, sizeof(nd));
        if (sscanf(p, "%63[^\t]\t%lld\t%lld\t%d\t%d", name, &wm, &up, &idle, &analyzer) == 5) {
            snprintf(nd.node, sizeof(nd.node), "%s", name);
            nd.watermark_ms = wm;
            nd.updated_ms = up;
            nd.idle = idle != 0;
            nd.analyzer = analyzer != 0;
            *out = xreallocarray(*out, *n + 1, sizeof(**out));
            (*out)[(*n)++] = nd;
        }
        p += l + (p[l] == '\n');
    }
    strbuf_fini(&sb);
    return rc;
}

/* A day as the report names it, "YYYY-MM-DD": the only text the mail queries put in SQL. */
static bool
mail_day_ok(const char *day)
{
    for (size_t i = 0; i < 10; i++)
        if (i == 4 || i == 7 ? day[i] != '-' : day[i] < '0' || day[i] > '9')
            return false;
    return day[10] == '\0';
}

enum ds_rc
ch_mail_sent(struct ch_client *c, const struct cfg_clickhouse *ch, const char *day, bool *sent,
             char *by, size_t by_len, struct ds_error *err)
{
    struct strbuf sb = STRBUF_INIT;
    enum ds_rc rc;
    char *sql;

    *sent = false;
    if (!mail_day_ok(day))
        return ds_error_set(err, DS_ERR_USAGE, "'%s' is not a day (YYYY-MM-DD)", day);
    sql = xasprintf("SELECT node FROM %s.mails WHERE day = '%s' ORDER BY sent_ms LIMIT 1 "
                    "FORMAT TabSeparated", ch->database, day);
    rc = ch_exec(c, sql, &sb, err);
    free(sql);
    if (rc == DS_OK && *strbuf_str(&sb) != '\0') {
        const char *p = strbuf_str(&sb);

        *sent = true;
        if (by_len > 0)
            snprintf(by, by_len, "%.*s", (int)strcspn(p, "\n"), p);
    }
    strbuf_fini(&sb);
    return rc;
}

enum ds_rc
ch_mail_record(struct ch_client *c, const struct cfg_clickhouse *ch, const char *day,
               const char *message_id, int64_t sent_ms, struct ds_error *err)
{
    struct rowbin body = {NULL, 0, 0};
    enum ds_rc rc;
    char *query;

    if (!mail_day_ok(day))
        return ds_error_set(err, DS_ERR_USAGE, "'%s' is not a day (YYYY-MM-DD)", day);
    rowbin_str(&body, day, strlen(day));
    rowbin_str(&body, ch->node, strlen(ch->node));
    rowbin_str(&body, message_id, strlen(message_id));
    rowbin_le(&body, (uint64_t)sent_ms, 8);
    query = xasprintf("INSERT INTO %s.mails (day, node, message_id, sent_ms) FORMAT RowBinary",
                      ch->database);
    rc = ch_post(c, query, body.b, body.len, NULL, NULL, err);
    free(query);
    rowbin_fini(&body);
    return rc;
}
