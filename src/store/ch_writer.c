/*
 * Records into the cluster (see ds/ch_writer.h, docs/CLICKHOUSE.md 4).
 *
 * A spool file is a header and the batch's RowBinary rows:
 *   "DSCHB001", batch u64, rows u64, first_ms i64, last_ms i64,
 *   body length u64, flags u64 (FLAG_*), all little-endian, then the body.
 * Its name, "SEQUENCE-BATCH.batch" (20 and 16 digits), orders the files as
 * they were made.  It is written under a temporary name, fsynced and
 * renamed, so that a file with the final name is whole.
 *
 * Our implementation sends from the caller's thread (analyze's reader) and
 * waits for each answer; after a failure it tries again no sooner than 1,
 * 2, 4, ... 60 s later, so that an unreachable cluster costs one attempt
 * now and then, not one per batch.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ds/ch_writer.h"
#include "ds/clickhouse.h"
#include "ds/hash.h"
#include "ds/rowbinary.h"
#include "ds/strbuf.h"
#include "ds/xmem.h"

#define MAGIC "DSCHB001"
#define HEADER_BYTES 56
#define FLAG_CHECK 0x1      /* it may be in the cluster already: ask before sending */
#define FLAG_REPEAT 0x2     /* an attempt ended without an answer: record a repeat first */
#define FLAG_LATE 0x4       /* records before the watermark written: record a revision first */
#define RETRY_MAX_S 60

struct ch_writer {
    struct cfg_clickhouse cfg;  /* borrowed strings */
    struct ch_client *client;
    char *spool;                /* owned */
    char *insert;               /* "INSERT INTO db.records FORMAT RowBinary" */
    /* the batch being filled */
    struct rowbin out;
    uint64_t rows;
    int64_t first_ms, last_ms;
    int64_t open_first_ms;      /* first_ms while its records are in no file (atomic) */
    uint64_t batch;
    bool open;
    bool late;                  /* a record starts before the watermark last written */
    /* numbering */
    char digest[33];            /* the input's, "" live */
    uint64_t index;             /* batches of this input so far */
    uint64_t live_next;         /* live batch numbers */
    uint64_t seq;               /* spool file order */
    uint64_t first_seq;         /* files before it were spooled by an earlier process */
    int lock_fd;                /* flock()ed: one process per spool */
    uint64_t salt;              /* mixed into analyze's batch numbers (ch_writer_salt()) */
    /* batches sent whose file could not be removed: not sent again */
    char **sent_names;
    size_t n_sent_names;
    /* sending */
    int64_t retry_at;           /* monotonic s: no attempt before */
    int retry_s;
    char failure[sizeof(((struct ds_error *)0)->msg)];
    struct ch_writer_stats st;
    int64_t batch_started;      /* monotonic s the batch being filled began */
    uint64_t spool_bytes;       /* of the spool's batch files (under lock) */
    /*
     * The collector: a thread of its own sends what the spool holds, so
     * that receiving never waits for ClickHouse.  lock guards st, failure
     * and the fields below; the spool files are what passes between them
     * (a file is renamed into place whole).
     */
    pthread_mutex_t lock;
    pthread_cond_t wake;
    pthread_cond_t drained;     /* the sender took a batch, or failed */
    bool sender_failing;        /* its last attempt failed: waiting for it is no use */
    size_t wait_ahead;          /* > 0: ch_writer_add() waits while more batches wait */
    /* the node's watermark row (docs/CLICKHOUSE.md 6), written by the sender */
    bool wm_set;
    int64_t wm_ms;
    bool wm_idle;
    int64_t wm_written;         /* monotonic s of the last row written */
    int64_t wm_published;       /* the watermark of the last row written (atomic) */
    /*
     * An idle row lets the judging node judge past any watermark this node
     * wrote: from the moment one may be written, every record is marked
     * late (atomic), until the node has written rows that are not idle for
     * PROMISE_GRACE_S and has raised wm_published to the end of the latest
     * slot judged since.
     */
    bool promised_all;
    int64_t busy_since;         /* monotonic s of the first row not idle after one; 0: none */
    pthread_t sender;
    bool sender_started, stopping;
    int64_t stop_by;            /* monotonic s: the last attempts end */
};

static int64_t
now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec;
}

/* "SEQUENCE-BATCH.batch", 20 and 16 digits: a batch file of the spool (and its sequence). */
static bool
is_batch_name(const char *name, unsigned long long *seq)
{
    size_t l = strlen(name);

    if (l != 43 || name[20] != '-' || strcmp(name + 37, ".batch") != 0)
        return false;
    for (size_t i = 0; i < 37; i++)
        if (i != 20 && !((name[i] >= '0' && name[i] <= '9') ||
                         (i > 20 && name[i] >= 'a' && name[i] <= 'f')))
            return false;
    if (seq != NULL)
        *seq = strtoull(name, NULL, 10);
    return true;
}

static enum ds_rc
load_spool(struct ch_writer *w, struct ds_error *err)
{
    DIR *d = opendir(w->spool);
    struct dirent *e;

    if (d == NULL)
        return ds_error_set(err, DS_ERR_IO, "store.clickhouse.spool %s: %s", w->spool,
                            strerror(errno));
    while ((e = readdir(d)) != NULL) {
        unsigned long long seq;
        char path[4096];
        size_t l = strlen(e->d_name);

        snprintf(path, sizeof(path), "%s/%s", w->spool, e->d_name);
        if (is_batch_name(e->d_name, &seq)) {
            struct stat sb;

            if (stat(path, &sb) == 0)
                w->spool_bytes += (uint64_t)sb.st_size;
            w->st.batches_spooled++;
            if (seq >= w->seq)
                w->seq = seq + 1;
        } else if (l > 4 && strcmp(e->d_name + l - 4, ".tmp") == 0) {
            /* a batch being written when the process died: never renamed, never counted */
            unlink(path);
        }
    }
    closedir(d);
    return DS_OK;
}

enum ds_rc
ch_writer_open(const struct cfg_clickhouse *ch, struct ch_writer **out, struct ds_error *err)
{
    struct ch_writer *w;
    enum ds_rc rc;

    *out = NULL;
    if (mkdir(ch->spool_dir, 0700) != 0 && errno != EEXIST)
        return ds_error_set(err, DS_ERR_IO, "store.clickhouse.spool %s: cannot make it: %s",
                            ch->spool_dir, strerror(errno));
    w = xcalloc(1, sizeof(*w));
    w->lock_fd = -1;
    w->open_first_ms = INT64_MAX;
    w->wm_published = INT64_MIN;
    w->cfg = *ch;
    w->spool = xstrdup(ch->spool_dir);
    w->insert = xasprintf("INSERT INTO %s.records FORMAT RowBinary", ch->database);
    w->seq = 1;
    w->retry_s = 1;
    pthread_mutex_init(&w->lock, NULL);
    {
        /* the sender's one-second wait: a clock step must not stretch it */
        pthread_condattr_t ca;

        pthread_condattr_init(&ca);
        pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
        pthread_cond_init(&w->wake, &ca);
        pthread_condattr_destroy(&ca);
    }
    pthread_cond_init(&w->drained, NULL);
    /*
     * Live numbers: the clock in the high half and random bits below, so that
     * neither a restart nor another process started in the same second
     * reuses them; 65,536 batches a run before the count reaches the random
     * bits, and then it only goes on counting.
     */
    {
        uint32_t r = 0;

        if (getrandom(&r, sizeof(r), 0) != (ssize_t)sizeof(r))
            r = (uint32_t)getpid() * 2654435761u;
        w->live_next = ((uint64_t)time(NULL) << 32 | (r & 0xffff0000u)) & (UINT64_MAX >> 1);
    }
    /* one process per spool: two senders of the same files would send them twice */
    {
        char lockpath[4200];

        snprintf(lockpath, sizeof(lockpath), "%s/.lock", w->spool);
        w->lock_fd = open(lockpath, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
        if (w->lock_fd < 0 || flock(w->lock_fd, LOCK_EX | LOCK_NB) != 0) {
            int e = errno;

            ch_writer_free(w);
            return ds_error_set(err, DS_ERR_IO, "store.clickhouse.spool %s: %s", ch->spool_dir,
                                e == EWOULDBLOCK ? "in use by another darkstab (each process "
                                                   "needs a spool of its own)"
                                                 : strerror(e));
        }
    }
    rc = load_spool(w, err);
    w->first_seq = w->seq;
    if (rc == DS_OK)
        rc = ch_client_new(ch, NULL, &w->client, err);
    if (rc != DS_OK) {
        ch_writer_free(w);
        return rc;
    }
    *out = w;
    return DS_OK;
}

static void
header(uint8_t *h, uint64_t batch, uint64_t rows, int64_t first, int64_t last, uint64_t len,
       uint64_t flags)
{
    uint64_t v[6] = {batch, rows, (uint64_t)first, (uint64_t)last, len, flags};

    memcpy(h, MAGIC, 8);
    for (int k = 0; k < 6; k++)
        for (int i = 0; i < 8; i++)
            h[8 + 8 * k + i] = (uint8_t)(v[k] >> (8 * i));
}

static uint64_t
get_le(const uint8_t *p)
{
    uint64_t v = 0;

    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

/* Writes all of buf to fd. */
static int
write_all(int fd, const uint8_t *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, buf, len);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}

static enum ds_rc seal_write(struct ch_writer *w, struct ds_error *err);

/* The batch being filled into the spool, whole or not at all. */
static enum ds_rc
seal(struct ch_writer *w, struct ds_error *err)
{
    enum ds_rc rc;

    if (!w->open || w->rows == 0) {
        w->open = false;
        return DS_OK;
    }
    rc = seal_write(w, err);
    /* in a spool file, or given up (counted by the caller): no longer held back */
    __atomic_store_n(&w->open_first_ms, INT64_MAX, __ATOMIC_SEQ_CST);
    return rc;
}

static enum ds_rc
seal_write(struct ch_writer *w, struct ds_error *err)
{
    uint8_t h[HEADER_BYTES];
    char tmp[4200], path[4096];
    int fd, dfd;
    bool full;
    uint64_t rows, size;

    pthread_mutex_lock(&w->lock);
    full = w->spool_bytes + HEADER_BYTES + w->out.len > (uint64_t)w->cfg.spool_max;
    pthread_mutex_unlock(&w->lock);
    if (full) {
        /* the bound of the disk it may take: this batch is not kept (the caller counts it) */
        rows = w->rows;
        w->open = false;
        w->out.len = 0;
        w->rows = 0;
        return ds_error_set(err, DS_ERR_LIMIT,
                            "store.clickhouse.spool %s is full (spool_max %lld bytes): a batch "
                            "of %llu records is not kept for the cluster",
                            w->spool, (long long)w->cfg.spool_max, (unsigned long long)rows);
    }
    header(h, w->batch, w->rows, w->first_ms, w->last_ms, w->out.len,
           (w->digest[0] != '\0' ? FLAG_CHECK : 0) | (w->late ? FLAG_LATE : 0));
    rows = w->rows;
    size = HEADER_BYTES + w->out.len;
    /* not kept whatever happens next: a batch that cannot be written is not retried per record */
    w->open = false;
    w->out.len = 0;
    w->rows = 0;
    snprintf(path, sizeof(path), "%s/%020llu-%016llx.batch", w->spool,
             (unsigned long long)w->seq, (unsigned long long)w->batch);
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0 || write_all(fd, h, sizeof(h)) != 0 ||
        write_all(fd, w->out.b, size - HEADER_BYTES) != 0 || fsync(fd) != 0) {
        int e = errno;

        if (fd >= 0)
            close(fd);
        unlink(tmp);
        return ds_error_set(err, DS_ERR_IO, "store.clickhouse.spool: %s: %s; a batch of %llu "
                            "records is not kept for the cluster", tmp, strerror(e),
                            (unsigned long long)rows);
    }
    close(fd);
    /* counted before it can be seen, so that the sender's count never goes below it */
    pthread_mutex_lock(&w->lock);
    w->st.batches_spooled++;
    w->spool_bytes += size;
    pthread_mutex_unlock(&w->lock);
    if (rename(tmp, path) != 0) {
        int e = errno;

        unlink(tmp);
        pthread_mutex_lock(&w->lock);
        w->st.batches_spooled--;
        w->spool_bytes -= size;
        pthread_mutex_unlock(&w->lock);
        return ds_error_set(err, DS_ERR_IO, "store.clickhouse.spool: %s: %s; a batch of %llu "
                            "records is not kept for the cluster", path, strerror(e),
                            (unsigned long long)rows);
    }
    dfd = open(w->spool, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
    w->seq++;
    pthread_mutex_lock(&w->lock);
    if (w->sender_started)
        pthread_cond_signal(&w->wake);
    pthread_mutex_unlock(&w->lock);
    return DS_OK;
}

void
ch_writer_salt(struct ch_writer *w, uint64_t salt)
{
    w->salt = salt;
}

enum ds_rc
ch_writer_source(struct ch_writer *w, const char *digest, struct ds_error *err)
{
    enum ds_rc rc = seal(w, err);

    snprintf(w->digest, sizeof(w->digest), "%s", digest != NULL ? digest : "");
    w->index = 0;
    return rc;
}

static enum ds_rc send_spooled(struct ch_writer *w, bool force, struct ds_error *err);

enum ds_rc
ch_writer_add(struct ch_writer *w, const struct flow *f, struct ds_error *err)
{
    char exporter[ADDR_STRLEN + 16] = "";
    enum ds_rc rc;

    if (!w->open) {
        if (w->digest[0] != '\0') {
            char id[64];
            int n = snprintf(id, sizeof(id), "%s/%llu/%lld/%016llx", w->digest,
                             (unsigned long long)w->index++, (long long)w->cfg.batch_rows,
                             (unsigned long long)w->salt);

            /* the same input gives the same numbers: its batches are found again */
            w->batch = hash_bytes(id, (size_t)n) >> 1;
        } else {
            w->batch = w->live_next++;
        }
        w->open = true;
        w->late = false;
        w->batch_started = now_s();
        w->first_ms = INT64_MAX;
        w->last_ms = INT64_MIN;
    }

    if (f->exporter != NULL) {
        char a[ADDR_STRLEN];

        snprintf(exporter, sizeof(exporter), "%s/%u", addr_format(&f->exporter->addr, a),
                 (unsigned)f->exporter->odid);
    }
    /* held back before the record is in the batch: the watermark never passes it */
    if (f->start_ms < w->first_ms) {
        w->first_ms = f->start_ms;
        __atomic_store_n(&w->open_first_ms, w->first_ms, __ATOMIC_SEQ_CST);
    }
    /*
     * Before a watermark this node has promised (after the hold above: the
     * sender raises the promise before it reads what is held, so one of
     * the two sees the other): the judging node may have judged its slot
     * without it, and must judge it again.
     */
    /* promised_all first: lower_promise() raises wm_published, then clears it */
    if (__atomic_load_n(&w->promised_all, __ATOMIC_SEQ_CST) ||
        f->start_ms < __atomic_load_n(&w->wm_published, __ATOMIC_SEQ_CST))
        w->late = true;
    if (f->start_ms > w->last_ms)
        w->last_ms = f->start_ms;
    rowbin_le(&w->out, (uint64_t)f->start_ms, 8);
    rowbin_le(&w->out, (uint64_t)f->end_ms, 8);
    rowbin_addr(&w->out, &f->src);
    rowbin_addr(&w->out, &f->dst);
    rowbin_le(&w->out, f->src_port, 2);
    rowbin_le(&w->out, f->dst_port, 2);
    rowbin_le(&w->out, f->proto, 1);
    rowbin_le(&w->out, f->tcp_flags, 1);
    rowbin_le(&w->out, f->icmp_type, 1);
    rowbin_le(&w->out, f->icmp_code, 1);
    rowbin_le(&w->out, f->packets, 8);
    rowbin_le(&w->out, f->bytes, 8);
    rowbin_le(&w->out, f->sampling, 4);
    rowbin_str(&w->out, exporter, strlen(exporter));
    rowbin_str(&w->out, w->cfg.node, strlen(w->cfg.node));
    rowbin_le(&w->out, w->batch, 8);
    rowbin_le(&w->out, w->rows, 4);
    w->rows++;
    /* every record: no lock, the metrics read it atomically */
    __atomic_fetch_add(&w->st.rows, 1, __ATOMIC_RELAXED);
    if (w->rows < (uint64_t)w->cfg.batch_rows)
        return DS_OK;
    rc = seal(w, err);
    if (rc != DS_OK)
        return rc;
    if (!w->sender_started)
        return send_spooled(w, false, err);
    /* analyze: no further ahead of the sender than wait_ahead batches, while it gets on */
    pthread_mutex_lock(&w->lock);
    while (w->wait_ahead > 0 && w->st.batches_spooled > w->wait_ahead && !w->sender_failing &&
           !w->stopping)
        pthread_cond_wait(&w->drained, &w->lock);
    pthread_mutex_unlock(&w->lock);
    return DS_OK;
}

/* A batch sent (or set aside) whose file stays: skipped from now on. */
static void
remember_sent(struct ch_writer *w, const char *name)
{
    w->sent_names = xreallocarray(w->sent_names, w->n_sent_names + 1, sizeof(*w->sent_names));
    w->sent_names[w->n_sent_names++] = xstrdup(name);
}

static int
cmp_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The spool's files, oldest first (owned; free each and the array). */
static char **
spool_files(const struct ch_writer *w, size_t *n)
{
    DIR *d = opendir(w->spool);
    struct dirent *e;
    char **v = NULL;

    *n = 0;
    if (d == NULL)
        return NULL;
    while ((e = readdir(d)) != NULL) {
        bool sent = false;

        for (size_t k = 0; k < w->n_sent_names && !sent; k++)
            sent = strcmp(w->sent_names[k], e->d_name) == 0;
        if (!sent && is_batch_name(e->d_name, NULL)) {
            v = xreallocarray(v, *n + 1, sizeof(*v));
            v[(*n)++] = xstrdup(e->d_name);
        }
    }
    closedir(d);
    if (*n > 1)
        qsort(v, *n, sizeof(*v), cmp_name);
    return v;
}

/*
 * A spool file opened, its header read into h and checked against its
 * length; the file stands at its body.  NULL with err if it is not one of
 * ours.
 */
static FILE *
open_batch(const char *path, uint8_t h[HEADER_BYTES], size_t *body, enum ds_rc *rc,
           struct ds_error *err)
{
    FILE *fp = fopen(path, "rb");
    struct stat sb;

    /* the system's trouble (no fd left, ...) is tried again; a file not ours is set aside */
    if (fp == NULL || fstat(fileno(fp), &sb) != 0) {
        *rc = ds_error_set(err, DS_ERR_IO, "store.clickhouse.spool: %s: %s", path,
                           strerror(errno));
        if (fp != NULL)
            fclose(fp);
        return NULL;
    }
    if (sb.st_size < HEADER_BYTES || fread(h, 1, HEADER_BYTES, fp) != HEADER_BYTES) {
        fclose(fp);
        *rc = ds_error_set(err, DS_ERR_PARSE,
                           "store.clickhouse.spool: %s: not a batch (too short)", path);
        return NULL;
    }
    if (memcmp(h, MAGIC, 8) != 0 || get_le(h + 40) != (uint64_t)sb.st_size - HEADER_BYTES) {
        fclose(fp);
        *rc = ds_error_set(err, DS_ERR_PARSE, "store.clickhouse.spool: %s: not a batch (header)",
                           path);
        return NULL;
    }
    *body = (size_t)sb.st_size - HEADER_BYTES;
    return fp;
}

/* Rewrites the flags of a spool file in place (FLAG_REPEAT after an attempt without answer). */
static void
set_flags(const char *path, uint64_t flags)
{
    uint8_t b[8];
    int fd = open(path, O_WRONLY | O_CLOEXEC);

    if (fd < 0)
        return;
    for (int i = 0; i < 8; i++)
        b[i] = (uint8_t)(flags >> (8 * i));
    if (pwrite(fd, b, 8, 48) == 8)
        fsync(fd);
    close(fd);
}

/* (node, batch) in the repeats table: readers of its time range say FINAL. */
static enum ds_rc
record_repeat(struct ch_writer *w, uint64_t batch, int64_t first, int64_t last,
              struct ds_error *err)
{
    enum ds_rc rc;
    char *sql = xasprintf("INSERT INTO %s.repeats (node, batch, first_ms, last_ms) VALUES "
                          "('%s', %llu, %lld, %lld)",
                          w->cfg.database, w->cfg.node, (unsigned long long)batch,
                          (long long)first, (long long)last);

    rc = ch_post(w->client, NULL, sql, strlen(sql), NULL, NULL, err);
    free(sql);
    if (rc == DS_OK) {
        pthread_mutex_lock(&w->lock);
        w->st.repeats++;
        pthread_mutex_unlock(&w->lock);
    }
    return rc;
}

/*
 * A batch with records before the watermark this node had written: named
 * in revisions before it is sent (docs/CLICKHOUSE.md 6), so that the
 * judging node judges their slots again once the batch is in.  A row for
 * a batch that never arrives costs a query a round; a row written twice
 * is folded.
 */
static enum ds_rc
record_revision(struct ch_writer *w, uint64_t batch, uint64_t rows, int64_t first, int64_t last,
                struct ds_error *err)
{
    enum ds_rc rc;
    char *sql = xasprintf("INSERT INTO %s.revisions (node, batch, rows, first_ms, last_ms) "
                          "VALUES ('%s', %llu, %llu, %lld, %lld)",
                          w->cfg.database, w->cfg.node, (unsigned long long)batch,
                          (unsigned long long)rows, (long long)first, (long long)last);

    rc = ch_post(w->client, NULL, sql, strlen(sql), NULL, NULL, err);
    free(sql);
    return rc;
}

/*
 * One spooled batch into the cluster: DS_OK once it is there (sent now, or
 * found there); otherwise the reason in err and *sent_unknown if the
 * attempt may have arrived.
 */
static enum ds_rc
send_one(struct ch_writer *w, const char *path, bool from_before, bool *sent_unknown,
         struct ds_error *err)
{
    uint8_t buf[HEADER_BYTES];
    size_t len;
    enum ds_rc open_rc = DS_OK;
    FILE *fp = open_batch(path, buf, &len, &open_rc, err);
    uint64_t batch, rows, flags;
    int64_t first, last;
    enum ds_rc rc = DS_OK;
    char *sql;

    *sent_unknown = false;
    if (fp == NULL)
        return open_rc;
    batch = get_le(buf + 8);
    rows = get_le(buf + 16);
    first = (int64_t)get_le(buf + 24);
    last = (int64_t)get_le(buf + 32);
    flags = get_le(buf + 48);
    if (flags & FLAG_REPEAT) {
        /* the readers of its range deduplicate before it can arrive twice */
        rc = record_repeat(w, batch, first, last, err);
        if (rc != DS_OK)
            goto out;
    }
    if ((flags & FLAG_LATE) && (rc = record_revision(w, batch, rows, first, last, err)) != DS_OK)
        goto out;
    if ((flags & (FLAG_CHECK | FLAG_REPEAT)) || from_before) {
        /* names are checked by check-config: no quote to escape */
        struct strbuf sb = STRBUF_INIT;
        unsigned long long have;

        sql = xasprintf("SELECT count() FROM %s.records WHERE start_ms >= %lld AND start_ms <= "
                        "%lld AND node = '%s' AND batch = %llu",
                        w->cfg.database, (long long)first, (long long)last, w->cfg.node,
                        (unsigned long long)batch);
        rc = ch_exec(w->client, sql, &sb, err);
        free(sql);
        have = strtoull(strbuf_str(&sb), NULL, 10);
        strbuf_fini(&sb);
        if (rc != DS_OK)
            goto out;
        if (have >= rows) {
            /* all of it is there (more: copies, which the repeat makes readers fold) */
            if (have > rows && !(flags & FLAG_REPEAT) &&
                (rc = record_repeat(w, batch, first, last, err)) != DS_OK)
                goto out;
            pthread_mutex_lock(&w->lock);
            w->st.batches_present++;
            pthread_mutex_unlock(&w->lock);
            goto out;
        }
        /*
         * Part of it: a batch over several days is a part per day, written
         * one after another, and an INSERT may have failed between them.
         */
        if (have > 0 && !(flags & FLAG_REPEAT) &&
            (rc = record_repeat(w, batch, first, last, err)) != DS_OK)
            goto out;
    }
    rc = ch_post_file(w->client, w->insert, fp, len, sent_unknown, err);
    if (rc == DS_OK) {
        pthread_mutex_lock(&w->lock);
        w->st.batches_sent++;
        pthread_mutex_unlock(&w->lock);
    }
    else if ((*sent_unknown || rc == DS_ERR_DB) && !(flags & FLAG_REPEAT))
        /* the server had it (an error status, or no answer): some of it may be written */
        set_flags(path, flags | FLAG_REPEAT);
out:
    fclose(fp);
    return rc;
}

/*
 * Every spooled batch, oldest first, until one fails; not before the retry
 * time after a failure unless force.  Sending failures are not errors:
 * the batch waits.  An error: a spool file that cannot be read or removed.
 */
static enum ds_rc
send_spooled(struct ch_writer *w, bool force, struct ds_error *err)
{
    size_t n, i;
    char **files;
    enum ds_rc rc = DS_OK;

    if (!force && now_s() < w->retry_at)
        return DS_OK;
    files = spool_files(w, &n);
    for (i = 0; i < n && rc == DS_OK; i++) {
        char path[4096];
        unsigned long long seq;
        uint64_t size;
        bool unknown;
        struct ds_error why;
        enum ds_rc sent;

        snprintf(path, sizeof(path), "%s/%s", w->spool, files[i]);
        sscanf(files[i], "%20llu", &seq);
        sent = send_one(w, path, seq < w->first_seq, &unknown, &why);
        if (sent == DS_ERR_PARSE) {
            /* damaged (our files are renamed whole into place: the disk's doing): set aside */
            char aside[4200];
            struct stat sb;

            size = stat(path, &sb) == 0 ? (uint64_t)sb.st_size : 0;
            snprintf(aside, sizeof(aside), "%s.damaged", path);
            if (rename(path, aside) != 0) {
                /* not even that: left alone, and never read again by this process */
                remember_sent(w, files[i]);
                snprintf(aside, sizeof(aside), "%s (it could not be renamed: %s)", path,
                         strerror(errno));
            }
            pthread_mutex_lock(&w->lock);
            w->st.batches_spooled--;
            w->spool_bytes -= size < w->spool_bytes ? size : w->spool_bytes;
            snprintf(w->failure, sizeof(w->failure), "%s", why.msg);
            w->sender_failing = true;
            pthread_cond_broadcast(&w->drained);
            pthread_mutex_unlock(&w->lock);
            rc = ds_error_set(err, DS_ERR_IO, "%s; set aside as %s", why.msg, aside);
            break;
        }
        if (sent != DS_OK) {
            pthread_mutex_lock(&w->lock);
            w->st.send_failures++;
            snprintf(w->failure, sizeof(w->failure), "%s", why.msg);
            w->sender_failing = true;
            pthread_cond_broadcast(&w->drained);
            pthread_mutex_unlock(&w->lock);
            w->retry_at = now_s() + w->retry_s;
            w->retry_s = w->retry_s * 2 > RETRY_MAX_S ? RETRY_MAX_S : w->retry_s * 2;
            break;
        }
        {
            struct stat sb;

            size = stat(path, &sb) == 0 ? (uint64_t)sb.st_size : 0;
        }
        if (unlink(path) != 0) {
            /* sent, and still there: never sent again by this process; said once */
            remember_sent(w, files[i]);
            rc = ds_error_set(err, DS_ERR_IO, "store.clickhouse.spool: %s was sent but cannot "
                              "be removed: %s", path, strerror(errno));
        }
        pthread_mutex_lock(&w->lock);
        w->st.batches_spooled--;
        w->spool_bytes -= size < w->spool_bytes ? size : w->spool_bytes;
        w->sender_failing = false;
        pthread_cond_broadcast(&w->drained);
        pthread_mutex_unlock(&w->lock);
        w->retry_s = 1;
        w->retry_at = 0;
    }
    for (size_t k = 0; k < n; k++)
        free(files[k]);
    free(files);
    return rc;
}

enum ds_rc
ch_writer_flush(struct ch_writer *w, uint64_t *pending, struct ds_error *err)
{
    enum ds_rc rc = seal(w, err);

    if (rc == DS_OK)
        rc = send_spooled(w, true, err);
    *pending = w->st.batches_spooled;
    return rc;
}

void
ch_writer_last_failure(struct ch_writer *w, char *buf, size_t len)
{
    pthread_mutex_lock(&w->lock);
    snprintf(buf, len, "%s", w->failure);
    pthread_mutex_unlock(&w->lock);
}

void
ch_writer_stats(struct ch_writer *w, struct ch_writer_stats *out)
{
    pthread_mutex_lock(&w->lock);
    *out = w->st;
    out->rows = __atomic_load_n(&w->st.rows, __ATOMIC_RELAXED);
    out->spool_bytes = w->spool_bytes;
    pthread_mutex_unlock(&w->lock);
}

enum ds_rc
ch_writer_tick(struct ch_writer *w, struct ds_error *err)
{
    if (w->open && now_s() - w->batch_started >= w->cfg.flush_interval_s)
        return seal(w, err);
    return DS_OK;
}

enum ds_rc
ch_writer_seal(struct ch_writer *w, struct ds_error *err)
{
    return seal(w, err);
}

#define WATERMARK_EVERY_S 5

void
ch_writer_watermark(struct ch_writer *w, int64_t watermark_ms, bool idle)
{
    pthread_mutex_lock(&w->lock);
    w->wm_set = true;
    w->wm_ms = watermark_ms;
    w->wm_idle = idle;
    pthread_mutex_unlock(&w->lock);
}

/*
 * The earliest flow start of the records not yet in the cluster: in the
 * batch being filled, or in the spool (INT64_MAX: none).  The batch is
 * read first: sealed in between, its file is in the spool before it stops
 * counting here.  A file that cannot be read is passed over: sending sets
 * it aside, and it must not hold the node back for ever.
 */
int64_t
ch_writer_pending_first(const struct ch_writer *w)
{
    int64_t first = __atomic_load_n(&w->open_first_ms, __ATOMIC_SEQ_CST);
    size_t n;
    char **names = spool_files(w, &n);

    for (size_t i = 0; i < n; i++) {
        char path[4200];
        uint8_t h[HEADER_BYTES];
        size_t body;
        enum ds_rc rc;
        struct ds_error err;
        FILE *fp;

        snprintf(path, sizeof(path), "%s/%s", w->spool, names[i]);
        if ((fp = open_batch(path, h, &body, &rc, &err)) != NULL) {
            int64_t f = (int64_t)get_le(h + 24);

            if (f < first)
                first = f;
            fclose(fp);
        }
        free(names[i]);
    }
    free(names);
    return first;
}

/*
 * The node's row in the watermarks table, every WATERMARK_EVERY_S (sender
 * thread).  It says "every record of this node that starts up to here is
 * in the cluster": so it is held below the earliest record still on its
 * way (docs/CLICKHOUSE.md 6), and a node with records on their way is not
 * idle.
 */
/*
 * The highest watermark this node may have promised: raised before a row
 * is written (the INSERT may land whatever its answer), never lowered (a
 * row held back below it promises less, not the earlier row).
 */
static void
raise_published(struct ch_writer *w, int64_t wm)
{
    int64_t cur = __atomic_load_n(&w->wm_published, __ATOMIC_SEQ_CST);

    while (wm > cur &&
           !__atomic_compare_exchange_n(&w->wm_published, &cur, wm, false, __ATOMIC_SEQ_CST,
                                        __ATOMIC_SEQ_CST))
        ;
}

/*
 * How long after its first row that is not idle a node that wrote an idle
 * one goes on marking every record late: a round of the judging node that
 * read the idle row before must have saved its judgements by then.  Not
 * the whole round (a day of 42 million records took 21 to 63 s to judge
 * here, a day at scale minutes): the judging node reads the nodes' rows
 * again just before it saves, and saves nothing this row holds back
 * (cluster_live.c: still_passed()), so only that read to the save, a
 * second or so, must fit.
 */
#define PROMISE_GRACE_S 60

/*
 * After an idle row: once the node has been busy for PROMISE_GRACE_S, the
 * end of the latest slot judged (any analysis) becomes its promise, and
 * records are marked late only before it again.  A failed query leaves
 * every record marked, and is tried again at the next row.
 */
static void
lower_promise(struct ch_writer *w)
{
    struct ds_error err;
    int64_t end, n;
    char *sql;

    if (w->busy_since == 0)
        w->busy_since = now_s();
    if (now_s() - w->busy_since < PROMISE_GRACE_S)
        return;
    sql = xasprintf("SELECT max(end), count() FROM %s.slots FORMAT TabSeparated",
                    w->cfg.database);
    if (ch_query_value(w->client, sql, &end, &n, &err) == DS_OK) {
        if (n > 0 && end < INT64_MAX / 1000)
            raise_published(w, end * 1000);
        __atomic_store_n(&w->promised_all, false, __ATOMIC_SEQ_CST);
        w->busy_since = 0;
    }
    free(sql);
}

static void
write_watermark(struct ch_writer *w, bool now)
{
    struct timespec ts;
    int64_t wm, updated, pending;
    bool set, idle;
    struct ds_error err;
    char *sql;

    /* not while the cluster is away (the spool's backoff): a connect timeout each second */
    if (!now && (now_s() - w->wm_written < WATERMARK_EVERY_S || now_s() < w->retry_at))
        return;
    pthread_mutex_lock(&w->lock);
    set = w->wm_set;
    wm = w->wm_ms;
    idle = w->wm_idle;
    pthread_mutex_unlock(&w->lock);
    if (!set)
        return;
    raise_published(w, wm);
    /*
     * An idle row may follow: promise everything before reading what is
     * held, as raise_published() does, so that a record added meanwhile is
     * either seen held (the row is not idle) or marked late.
     */
    if (idle)
        __atomic_store_n(&w->promised_all, true, __ATOMIC_SEQ_CST);
    pending = ch_writer_pending_first(w);
    if (pending != INT64_MAX) {
        idle = false;
        if (pending - 1 < wm)
            wm = pending - 1;
    }
    if (idle)
        w->busy_since = 0;
    clock_gettime(CLOCK_REALTIME, &ts);
    updated = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    sql = xasprintf("INSERT INTO %s.watermarks (node, updated_ms, watermark_ms, idle, analyzer) "
                    "VALUES ('%s', %lld, %lld, %d, %d)",
                    w->cfg.database, w->cfg.node, (long long)updated, (long long)wm,
                    idle ? 1 : 0, w->cfg.analyzer != CFG_ANALYZER_FALSE ? 1 : 0);
    /* a failure is the spool's business to report: the next try is in a few seconds */
    if (ch_exec(w->client, sql, NULL, &err) == DS_OK) {
        w->wm_written = now_s();
        if (!idle && __atomic_load_n(&w->promised_all, __ATOMIC_SEQ_CST))
            lower_promise(w);
    }
    free(sql);
}

/* The sender thread: the spool, whenever a batch is sealed or a second has passed. */
static void *
sender_run(void *arg)
{
    struct ch_writer *w = arg;

    for (;;) {
        struct ds_error err;
        struct timespec until;
        bool stopping;

        pthread_mutex_lock(&w->lock);
        clock_gettime(CLOCK_MONOTONIC, &until);
        until.tv_sec += 1;
        if (!w->stopping)
            pthread_cond_timedwait(&w->wake, &w->lock, &until);
        stopping = w->stopping;
        pthread_mutex_unlock(&w->lock);
        if (stopping) {
            /* the last attempts, until stop_by: what is left waits for the next start */
            for (;;) {
                struct ch_writer_stats a, b;

                ch_writer_stats(w, &a);
                if (now_s() >= w->stop_by || a.batches_spooled == 0 ||
                    send_spooled(w, true, &err) != DS_OK)
                    break;
                ch_writer_stats(w, &b);
                if (b.send_failures != a.send_failures)
                    break;
            }
            if (now_s() < w->stop_by)
                write_watermark(w, true);
            return NULL;
        }
        write_watermark(w, false);
        if (send_spooled(w, false, &err) != DS_OK) {
            /* a damaged file was set aside (failure says which); go on with the others */
            continue;
        }
    }
}

enum ds_rc
ch_writer_read_promise(struct ch_writer *w, struct ds_error *err)
{
    struct strbuf sb = STRBUF_INIT;
    char *sql = xasprintf("SELECT max(watermark_ms), argMax(idle, updated_ms), count() FROM "
                          "%s.watermarks WHERE node = '%s' FORMAT TabSeparated",
                          w->cfg.database, w->cfg.node);
    enum ds_rc rc = ch_exec(w->client, sql, &sb, err);
    long long wm, n;
    int idle;

    if (rc != DS_OK) {
        /* unknown: every record is marked until the end of what was judged is read */
        __atomic_store_n(&w->promised_all, true, __ATOMIC_SEQ_CST);
    } else if (sscanf(strbuf_str(&sb), "%lld\t%d\t%lld", &wm, &idle, &n) == 3 && n > 0) {
        raise_published(w, wm);
        /* stopped while idle: what the others judged since may hold slots of its records */
        if (idle)
            __atomic_store_n(&w->promised_all, true, __ATOMIC_SEQ_CST);
    }
    strbuf_fini(&sb);
    free(sql);
    return rc;
}

enum ds_rc
ch_writer_start_sender(struct ch_writer *w, size_t wait_ahead, struct ds_error *err)
{
    w->wait_ahead = wait_ahead;
    if (pthread_create(&w->sender, NULL, sender_run, w) != 0)
        return ds_error_set(err, DS_ERR_NOMEM, "store.clickhouse: cannot start the sender");
    w->sender_started = true;
    return DS_OK;
}

void
ch_writer_stop_sender(struct ch_writer *w, int64_t wait_s)
{
    if (!w->sender_started)
        return;
    pthread_mutex_lock(&w->lock);
    w->stopping = true;
    w->stop_by = now_s() + wait_s;
    pthread_cond_signal(&w->wake);
    pthread_cond_broadcast(&w->drained);
    pthread_mutex_unlock(&w->lock);
    pthread_join(w->sender, NULL);
    w->sender_started = false;
}

void
ch_writer_free(struct ch_writer *w)
{
    if (w == NULL)
        return;
    ch_writer_stop_sender(w, 0);
    for (size_t i = 0; i < w->n_sent_names; i++)
        free(w->sent_names[i]);
    free(w->sent_names);
    if (w->lock_fd >= 0)
        close(w->lock_fd);
    pthread_mutex_destroy(&w->lock);
    pthread_cond_destroy(&w->wake);
    pthread_cond_destroy(&w->drained);
    ch_client_free(w->client);
    rowbin_fini(&w->out);
    free(w->insert);
    free(w->spool);
    free(w);
}
