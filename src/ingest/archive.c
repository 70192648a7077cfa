/*
 * The collector's archive (see ds/archive.h): flows out as IPFIX files that
 * ingest_file() and norm read back into the same flows.
 *
 * The records are encoded here rather than by libfixbuf.  Its file exporter
 * writes through stdio, which hands the kernel part of a message whenever
 * its buffer fills, so a crash can leave half a message anywhere in the
 * last few kilobytes; its buffer exporter in manual mode wants an
 * end-of-message dance around every template export.  Fixed-length
 * records of four templates take a hundred lines, and the tests read every
 * archive both with libfixbuf alone and with darkstab's fast path.
 *
 * Writing, in order:
 *   1. a file is created as NAME.part (O_EXCL, a name neither NAME nor
 *      NAME.part uses) when the first flow of its period arrives; its
 *      template message goes out with its first data message;
 *   2. flows are encoded into one message in memory, consecutive records of
 *      the same template sharing a data set;
 *   3. a message that is full (or flushed) is written with pwrite() at the
 *      offset where the whole messages end, in one call unless the kernel
 *      takes less; a write that fails part way is cut back with
 *      ftruncate(), so the file holds whole messages only, and a crash
 *      during the write leaves at most a partial last message;
 *   4. flush syncs the file; completing it syncs it, renames NAME.part to
 *      NAME and syncs the directory.
 * Recovery (archive_open) keeps a .part's leading run of whole messages and
 * cuts what follows: after step 3, only the last message can be partial.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ds/addr.h"
#include "ds/archive.h"
#include "ds/ingest.h"
#include "ds/log.h"
#include "ds/proto.h"
#include "ds/xmem.h"
#include "ingest_int.h"

#define NAME_PREFIX "darkstab-"
#define NAME_SUFFIX ".ipfix"
#define PART_SUFFIX ".part"
#define NAME_LEN 64             /* darkstab-YYYYMMDDTHHMMSSZ-NNN.ipfix.part and room */
#define SUFFIX_MAX 1000         /* files for one period: -1 .. -999 */
#define DIR_MODE 0750
#define FILE_MODE 0640
#define SET_ID_TEMPLATE 2
#define TID_BASE 256
#define RECOVER_BUF (2 * IPFIX_MSG_MAX)
#define TMPL_MSG_LEN (IPFIX_HDR_LEN + 4 + N_TMPL * (4 + 4 * TMPL_FIELDS))

/*
 * The templates, indexed by (flow is IPv6) << 1 | (exporter is IPv6): IPv4
 * addresses in 4 bytes wherever they are IPv4.  Elements are named by
 * the reader's own table (ipf_table), so writer and reader cannot disagree
 * on a number; lengths are the natural ones but tcpControlBits, whose
 * 8 flags fit a reduced-size byte (RFC 7011 6.2).
 */
struct tfield {
    enum ipfix_field f;
    uint8_t len;
};

#define N_TMPL 4
#define TMPL_FIELDS 13

static const struct tfield tmpl[N_TMPL][TMPL_FIELDS] = {
    {   /* 256: IPv4 flow, IPv4 exporter: 56 bytes */
        {IPF_START_MS, 8}, {IPF_END_MS, 8}, {IPF_PKT_DELTA, 8}, {IPF_OCT_DELTA, 8},
        {IPF_SRC4, 4}, {IPF_DST4, 4}, {IPF_EXPORTER4, 4}, {IPF_OBS_DOMAIN, 4},
        {IPF_SRC_PORT, 2}, {IPF_DST_PORT, 2}, {IPF_ICMP_TC4, 2}, {IPF_PROTO, 1},
        {IPF_TCP_FLAGS, 1},
    },
    {   /* 257: IPv4 flow, IPv6 exporter: 68 bytes */
        {IPF_EXPORTER6, 16}, {IPF_START_MS, 8}, {IPF_END_MS, 8}, {IPF_PKT_DELTA, 8},
        {IPF_OCT_DELTA, 8}, {IPF_SRC4, 4}, {IPF_DST4, 4}, {IPF_OBS_DOMAIN, 4},
        {IPF_SRC_PORT, 2}, {IPF_DST_PORT, 2}, {IPF_ICMP_TC4, 2}, {IPF_PROTO, 1},
        {IPF_TCP_FLAGS, 1},
    },
    {   /* 258: IPv6 flow, IPv4 exporter: 80 bytes */
        {IPF_SRC6, 16}, {IPF_DST6, 16}, {IPF_START_MS, 8}, {IPF_END_MS, 8},
        {IPF_PKT_DELTA, 8}, {IPF_OCT_DELTA, 8}, {IPF_EXPORTER4, 4}, {IPF_OBS_DOMAIN, 4},
        {IPF_SRC_PORT, 2}, {IPF_DST_PORT, 2}, {IPF_ICMP_TC6, 2}, {IPF_PROTO, 1},
        {IPF_TCP_FLAGS, 1},
    },
    {   /* 259: IPv6 flow, IPv6 exporter: 92 bytes */
        {IPF_SRC6, 16}, {IPF_DST6, 16}, {IPF_EXPORTER6, 16}, {IPF_START_MS, 8},
        {IPF_END_MS, 8}, {IPF_PKT_DELTA, 8}, {IPF_OCT_DELTA, 8}, {IPF_OBS_DOMAIN, 4},
        {IPF_SRC_PORT, 2}, {IPF_DST_PORT, 2}, {IPF_ICMP_TC6, 2}, {IPF_PROTO, 1},
        {IPF_TCP_FLAGS, 1},
    },
};

struct archive {
    char *dir;                  /* owned; for messages */
    int dfd;                    /* the directory: files are opened relative to it */
    int64_t rotate_s;
    int64_t now_s;              /* the latest clock seen, for export times */
    uint16_t rec_len[N_TMPL];
    /* the open file; fd < 0: none */
    int fd;
    int64_t period;             /* start of its period, Unix seconds */
    char name[NAME_LEN];        /* NAME; the file is NAME.part until complete */
    uint64_t whole;             /* bytes of whole messages in it: where the next one goes */
    uint32_t seq;               /* data records in its messages so far (RFC 7011 3.1) */
    int unsynced;               /* written since the last fsync */
    int cut;                    /* a failed write may have left bytes after whole */
    /* the message being filled; len 0: none */
    size_t len;
    size_t set_at;              /* offset of the open data set, 0: none */
    int set_tmpl;
    uint32_t records;           /* in this message */
    uint8_t msg[IPFIX_MSG_MAX];
};

/* ---- encoding (RFC 7011 section 3, network byte order) ---- */

static void
put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static void
put32(uint8_t *p, uint32_t v)
{
    put16(p, (uint16_t)(v >> 16));
    put16(p + 2, (uint16_t)v);
}

static void
put64(uint8_t *p, uint64_t v)
{
    put32(p, (uint32_t)(v >> 32));
    put32(p + 4, (uint32_t)v);
}

/* Message header (3.1); the observation domain is 0, each record names its own. */
static void
put_header(uint8_t *p, size_t len, int64_t export_s, uint32_t seq)
{
    put16(p, 10);
    put16(p + 2, (uint16_t)len);
    put32(p + 4, (uint32_t)export_s);
    put32(p + 8, seq);
    put32(p + 12, 0);
}

/* The template message that opens every file (3.4.1). */
static size_t
template_message(uint8_t *p, int64_t export_s)
{
    size_t len = IPFIX_HDR_LEN + 4;

    for (int t = 0; t < N_TMPL; t++) {
        put16(p + len, (uint16_t)(TID_BASE + t));
        put16(p + len + 2, TMPL_FIELDS);
        len += 4;
        for (int i = 0; i < TMPL_FIELDS; i++) {
            put16(p + len, ipf_table[tmpl[t][i].f].ie);
            put16(p + len + 2, tmpl[t][i].len);
            len += 4;
        }
    }
    put16(p + IPFIX_HDR_LEN, SET_ID_TEMPLATE);
    put16(p + IPFIX_HDR_LEN + 2, (uint16_t)(len - IPFIX_HDR_LEN));
    put_header(p, len, export_s, 0);
    return len;
}

static int
is_unknown(const struct addr *a)
{
    static const struct addr zero;

    return memcmp(a, &zero, sizeof(zero)) == 0;
}

/* 0.0.0.0 stands for an unknown exporter; norm reads it back as the all-zero address. */
static int
exporter_v6(const struct flow *f)
{
    return f->exporter != NULL && !is_unknown(&f->exporter->addr) &&
           !addr_is_v4(&f->exporter->addr);
}

static int
template_of(const struct flow *f)
{
    int flow6 = !addr_is_v4(&f->src) || !addr_is_v4(&f->dst);

    return flow6 << 1 | exporter_v6(f);
}

static void
put_record(uint8_t *p, int t, const struct flow *f)
{
    const struct exporter *e = f->exporter;
    uint16_t icmp = (uint16_t)(f->icmp_type << 8 | f->icmp_code);

    for (int i = 0; i < TMPL_FIELDS; i++) {
        switch (tmpl[t][i].f) {
        case IPF_START_MS:
            put64(p, (uint64_t)f->start_ms);
            break;
        case IPF_END_MS:
            put64(p, (uint64_t)f->end_ms);
            break;
        case IPF_PKT_DELTA:
            put64(p, f->packets);
            break;
        case IPF_OCT_DELTA:
            put64(p, f->bytes);
            break;
        case IPF_SRC4:
            put32(p, addr_v4(&f->src));
            break;
        case IPF_DST4:
            put32(p, addr_v4(&f->dst));
            break;
        case IPF_SRC6:
            memcpy(p, f->src.b, 16);
            break;
        case IPF_DST6:
            memcpy(p, f->dst.b, 16);
            break;
        case IPF_EXPORTER4:
            put32(p, e != NULL && !is_unknown(&e->addr) ? addr_v4(&e->addr) : 0);
            break;
        case IPF_EXPORTER6:
            memcpy(p, e->addr.b, 16);
            break;
        case IPF_OBS_DOMAIN:
            put32(p, e != NULL ? e->odid : 0);
            break;
        case IPF_SRC_PORT:
            put16(p, f->src_port);
            break;
        case IPF_DST_PORT:
            /*
             * ICMP type and code also here, as Cisco and SiLK put them: norm
             * reads them from this port when the template's icmpTypeCode
             * element is the other family's (ICMPv6 in an IPv4 flow).
             */
            put16(p, proto_is_icmp(f->proto) ? icmp : f->dst_port);
            break;
        case IPF_ICMP_TC4:
        case IPF_ICMP_TC6:
            put16(p, icmp);
            break;
        case IPF_PROTO:
            *p = f->proto;
            break;
        case IPF_TCP_FLAGS:
            *p = f->tcp_flags;
            break;
        default:
            break;
        }
        p += tmpl[t][i].len;
    }
}

/* ---- files ---- */

static int64_t
period_of(int64_t now_s, int64_t rotate_s)
{
    int64_t r = now_s % rotate_s;

    return now_s - (r < 0 ? r + rotate_s : r);
}

/* darkstab-YYYYMMDDTHHMMSSZ.ipfix, or -N before the suffix for the Nth more. */
static void
file_name(char *buf, size_t len, int64_t period, int n)
{
    time_t t = (time_t)period;
    struct tm tm;
    char stamp[32];

    gmtime_r(&t, &tm);
    strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &tm);
    if (n == 0)
        snprintf(buf, len, NAME_PREFIX "%s" NAME_SUFFIX, stamp);
    else
        snprintf(buf, len, NAME_PREFIX "%s-%d" NAME_SUFFIX, stamp, n);
}

static int
exists(int dfd, const char *name)
{
    struct stat st;

    return fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0;
}

/* Writes len bytes at the end of the whole messages; cuts a partial write back off. */
static enum ds_rc
write_message(struct archive *a, const uint8_t *p, size_t len, struct ds_error *err)
{
    size_t done = 0;

    if (a->cut && ftruncate(a->fd, (off_t)a->whole) == 0)
        a->cut = 0;
    while (done < len) {
        ssize_t n = pwrite(a->fd, p + done, len - done, (off_t)(a->whole + done));

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            int e = n < 0 ? errno : EIO;

            if (done > 0 && ftruncate(a->fd, (off_t)a->whole) != 0)
                a->cut = 1;
            return ds_error_set(err, DS_ERR_IO, "archive %s/%s%s: write: %s", a->dir, a->name,
                                PART_SUFFIX, strerror(e));
        }
        done += (size_t)n;
    }
    a->whole += len;
    a->unsynced = 1;
    return DS_OK;
}

/*
 * Ends the message being filled and writes it, after the templates if the
 * file has none yet; its flows are lost if that fails.
 */
static enum ds_rc
emit(struct archive *a, struct ds_error *err)
{
    uint8_t tm[TMPL_MSG_LEN];
    struct ds_error e;
    enum ds_rc rc = DS_OK;

    if (a->len == 0)
        return DS_OK;
    if (a->whole == 0)
        rc = write_message(a, tm, template_message(tm, a->now_s), &e);
    if (rc == DS_OK) {
        put16(a->msg + a->set_at + 2, (uint16_t)(a->len - a->set_at));
        put_header(a->msg, a->len, a->now_s, a->seq);
        rc = write_message(a, a->msg, a->len, &e);
    }
    if (rc == DS_OK)
        a->seq += a->records;
    else
        ds_error_set(err, rc, "%s (%u flows lost)", e.msg, a->records);
    a->len = 0;
    a->set_at = 0;
    a->records = 0;
    return rc;
}

static enum ds_rc
sync_file(struct archive *a, struct ds_error *err)
{
    if (!a->unsynced)
        return DS_OK;
    if (fsync(a->fd) != 0)
        return ds_error_set(err, DS_ERR_IO, "archive %s/%s%s: fsync: %s", a->dir, a->name,
                            PART_SUFFIX, strerror(errno));
    a->unsynced = 0;
    return DS_OK;
}

/* Renames from to to in the directory and makes the rename durable. */
static enum ds_rc
rename_durably(struct archive *a, const char *from, const char *to, struct ds_error *err)
{
    if (renameat(a->dfd, from, a->dfd, to) != 0)
        return ds_error_set(err, DS_ERR_IO, "archive %s/%s: cannot rename to %s: %s", a->dir,
                            from, to, strerror(errno));
    if (fsync(a->dfd) != 0)
        return ds_error_set(err, DS_ERR_IO, "archive %s: fsync: %s", a->dir, strerror(errno));
    return DS_OK;
}

/*
 * Writes what is buffered, syncs the open file, closes it and renames it
 * to NAME.  A file whose partial write could not be cut back stays a .part
 * (archive_open() cuts it); one with no whole message is removed.  Returns
 * the first error.
 */
static enum ds_rc
complete_file(struct archive *a, struct ds_error *err)
{
    char part[NAME_LEN + sizeof(PART_SUFFIX)];
    struct ds_error e;
    enum ds_rc rc, r;

    if (a->fd < 0)
        return DS_OK;
    snprintf(part, sizeof(part), "%s" PART_SUFFIX, a->name);
    rc = emit(a, err);
    if (a->cut && ftruncate(a->fd, (off_t)a->whole) == 0)
        a->cut = 0;
    if (a->cut)
        r = ds_error_set(&e, DS_ERR_IO, "archive %s/%s: cannot cut a partial write: %s",
                         a->dir, part, strerror(errno));
    else
        r = sync_file(a, &e);
    if (close(a->fd) != 0 && r == DS_OK)
        r = ds_error_set(&e, DS_ERR_IO, "archive %s/%s: close: %s", a->dir, part,
                         strerror(errno));
    a->fd = -1;
    if (r == DS_OK && a->whole == 0 && unlinkat(a->dfd, part, 0) != 0)
        r = ds_error_set(&e, DS_ERR_IO, "archive %s/%s: cannot remove: %s", a->dir, part,
                         strerror(errno));
    else if (r == DS_OK && a->whole > 0)
        r = rename_durably(a, part, a->name, &e);
    if (rc == DS_OK && r != DS_OK) {
        rc = r;
        ds_error_set(err, rc, "%s", e.msg);
    }
    return rc;
}

/*
 * Creates NAME.part for the period of now_s.  Its templates are written
 * with its first message (emit), so a file never holds templates alone.
 */
static enum ds_rc
begin_file(struct archive *a, int64_t now_s, struct ds_error *err)
{
    char part[NAME_LEN + sizeof(PART_SUFFIX)];
    int64_t period = period_of(now_s, a->rotate_s);

    for (int n = 0; n < SUFFIX_MAX; n++) {
        file_name(a->name, sizeof(a->name), period, n);
        snprintf(part, sizeof(part), "%s" PART_SUFFIX, a->name);
        /* A complete file is never opened again: a restart within the period takes -1, -2. */
        if (exists(a->dfd, a->name) || exists(a->dfd, part))
            continue;
        a->fd = openat(a->dfd, part, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, FILE_MODE);
        if (a->fd >= 0)
            break;
        if (errno != EEXIST)
            return ds_error_set(err, DS_ERR_IO, "archive %s/%s: cannot create: %s", a->dir,
                                part, strerror(errno));
    }
    if (a->fd < 0)
        return ds_error_set(err, DS_ERR_IO, "archive %s: %d files for the period of %s already",
                            a->dir, SUFFIX_MAX, a->name);
    a->period = period;
    a->whole = 0;
    a->seq = 0;
    a->cut = 0;
    a->unsynced = 0;
    return DS_OK;
}

enum ds_rc
archive_add(struct archive *a, const struct flow *f, int64_t now_s, struct ds_error *err)
{
    struct ds_error e;
    enum ds_rc rc = DS_OK, r;
    int t = template_of(f);
    size_t need;

    /* dateTimeMilliseconds are unsigned; norm never lets such a flow through. */
    if (f->start_ms < 0 || f->end_ms < f->start_ms)
        return ds_error_set(err, DS_ERR_PARSE,
                            "archive %s: a flow from %lld to %lld ms cannot be archived",
                            a->dir, (long long)f->start_ms, (long long)f->end_ms);
    if (now_s > a->now_s)
        a->now_s = now_s;
    /* A clock that steps back stays in the open file: its period's name is taken. */
    if (a->fd >= 0 && period_of(now_s, a->rotate_s) > a->period)
        rc = complete_file(a, err);
    if (a->fd < 0) {
        r = begin_file(a, now_s, &e);
        if (r != DS_OK) {
            if (rc == DS_OK)
                rc = ds_error_set(err, r, "%s (1 flow lost)", e.msg);
            return rc;
        }
    }
    need = a->rec_len[t] + (a->set_at != 0 && a->set_tmpl == t ? 0u : 4u);
    if (a->len != 0 && a->len + need > sizeof(a->msg)) {
        r = emit(a, &e);
        if (rc == DS_OK && r != DS_OK)
            rc = ds_error_set(err, r, "%s", e.msg);
    }
    if (a->len == 0)
        a->len = IPFIX_HDR_LEN;
    if (a->set_at == 0 || a->set_tmpl != t) {
        /* a new data set (3.3.1): the open one ends here */
        if (a->set_at != 0)
            put16(a->msg + a->set_at + 2, (uint16_t)(a->len - a->set_at));
        a->set_at = a->len;
        a->set_tmpl = t;
        put16(a->msg + a->len, (uint16_t)(TID_BASE + t));
        a->len += 4;
    }
    put_record(a->msg + a->len, t, f);
    a->len += a->rec_len[t];
    a->records++;
    return rc;
}

enum ds_rc
archive_flush(struct archive *a, struct ds_error *err)
{
    enum ds_rc rc;

    if (a->fd < 0)
        return DS_OK;
    rc = emit(a, err);
    if (rc == DS_OK)
        rc = sync_file(a, err);
    return rc;
}

/* ---- recovery ---- */

/* Do the sets of the message at p (len bytes, header included) run exactly to its end? */
static int
sets_whole(const uint8_t *p, size_t len)
{
    size_t pos = IPFIX_HDR_LEN;

    while (len - pos >= 4) {
        uint16_t id = rd16(p + pos), slen = rd16(p + pos + 2);

        if (slen < 4 || slen > len - pos || (id != 2 && id != 3 && id < 256))
            return 0;
        pos += slen;
    }
    return pos == len;
}

/*
 * The length of the leading run of whole messages of the file at fd, and
 * how many there are.  Returns DS_OK or DS_ERR_IO.
 */
static enum ds_rc
whole_prefix(int fd, const char *path, uint64_t *whole, uint64_t *messages,
             struct ds_error *err)
{
    uint8_t *buf = xmalloc(RECOVER_BUF);
    size_t have = 0, pos = 0;
    int eof = 0;
    enum ds_rc rc = DS_OK;

    *whole = 0;
    *messages = 0;
    for (;;) {
        size_t mlen;

        /* Keep at least one largest message in the buffer past pos. */
        if (!eof && have - pos < IPFIX_MSG_MAX) {
            ssize_t n;

            memmove(buf, buf + pos, have - pos);
            have -= pos;
            pos = 0;
            n = read(fd, buf + have, RECOVER_BUF - have);
            if (n < 0 && errno == EINTR)
                continue;
            if (n < 0) {
                rc = ds_error_set(err, DS_ERR_IO, "archive %s: read: %s", path,
                                  strerror(errno));
                break;
            }
            if (n == 0)
                eof = 1;
            have += (size_t)n;
            continue;
        }
        if (have - pos < IPFIX_HDR_LEN || rd16(buf + pos) != 10)
            break;
        mlen = rd16(buf + pos + 2);
        if (mlen < IPFIX_HDR_LEN || mlen > have - pos || !sets_whole(buf + pos, mlen))
            break;
        pos += mlen;
        *whole += mlen;
        (*messages)++;
    }
    free(buf);
    return rc;
}

/* A free name for what part becomes: part without .part, or with -N. */
static enum ds_rc
recovered_name(struct archive *a, const char *part, char *name, size_t len,
               struct ds_error *err)
{
    size_t stem = strlen(part) - strlen(NAME_SUFFIX PART_SUFFIX);

    snprintf(name, len, "%.*s" NAME_SUFFIX, (int)stem, part);
    for (int n = 1; exists(a->dfd, name); n++) {
        if (n == SUFFIX_MAX)
            return ds_error_set(err, DS_ERR_IO, "archive %s/%s: no free name to complete it",
                                a->dir, part);
        snprintf(name, len, "%.*s-%d" NAME_SUFFIX, (int)stem, part, n);
    }
    return DS_OK;
}

/* Completes a .part that an earlier run left behind (see ds/archive.h). */
static enum ds_rc
recover(struct archive *a, const char *part, struct ds_error *err)
{
    char path[4096], name[NAME_LEN + 16];
    uint64_t whole, messages;
    struct stat st;
    enum ds_rc rc;
    int fd;

    snprintf(path, sizeof(path), "%s/%s", a->dir, part);
    fd = openat(a->dfd, part, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return ds_error_set(err, DS_ERR_IO, "archive %s: cannot open: %s", path,
                            strerror(errno));
    rc = whole_prefix(fd, path, &whole, &messages, err);
    if (rc == DS_OK && fstat(fd, &st) != 0)
        rc = ds_error_set(err, DS_ERR_IO, "archive %s: fstat: %s", path, strerror(errno));
    if (rc == DS_OK && (uint64_t)st.st_size > whole) {
        if (ftruncate(fd, (off_t)whole) != 0)
            rc = ds_error_set(err, DS_ERR_IO, "archive %s: cannot cut a partial message: %s",
                              path, strerror(errno));
        else
            log_warnx("archive: %s: cut %llu bytes after its last whole message", path,
                      (unsigned long long)((uint64_t)st.st_size - whole));
    }
    if (rc == DS_OK && fsync(fd) != 0)
        rc = ds_error_set(err, DS_ERR_IO, "archive %s: fsync: %s", path, strerror(errno));
    close(fd);
    if (rc != DS_OK)
        return rc;
    if (messages == 0) {
        if (unlinkat(a->dfd, part, 0) != 0)
            return ds_error_set(err, DS_ERR_IO, "archive %s: cannot remove: %s", path,
                                strerror(errno));
        log_warnx("archive: %s: no whole message in it; removed", path);
        return DS_OK;
    }
    rc = recovered_name(a, part, name, sizeof(name), err);
    if (rc == DS_OK)
        rc = rename_durably(a, part, name, err);
    if (rc == DS_OK)
        log_info("archive: %s: left by an earlier run, completed as %s (%llu messages)", path,
                 name, (unsigned long long)messages);
    return rc;
}

static int
cmp_names(const void *x, const void *y)
{
    return strcmp(*(char *const *)x, *(char *const *)y);
}

static int
is_part(const char *name)
{
    size_t len = strlen(name), pre = strlen(NAME_PREFIX);
    size_t suf = strlen(NAME_SUFFIX PART_SUFFIX);

    return len > pre + suf && len < NAME_LEN && strncmp(name, NAME_PREFIX, pre) == 0 &&
           strcmp(name + len - suf, NAME_SUFFIX PART_SUFFIX) == 0;
}

/* Every .part of ours in the directory, in name order (so, oldest first). */
static enum ds_rc
recover_all(struct archive *a, struct ds_error *err)
{
    char **names = NULL;
    size_t n = 0;
    struct dirent *de;
    enum ds_rc rc = DS_OK;
    int fd = dup(a->dfd);
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;

    if (d == NULL) {
        if (fd >= 0)
            close(fd);
        return ds_error_set(err, DS_ERR_IO, "archive %s: cannot list: %s", a->dir,
                            strerror(errno));
    }
    /* Names first: renaming while readdir() runs may show an entry twice. */
    while ((de = readdir(d)) != NULL) {
        if (!is_part(de->d_name))
            continue;
        names = xreallocarray(names, n + 1, sizeof(*names));
        names[n++] = xstrdup(de->d_name);
    }
    closedir(d);
    if (n > 0)
        qsort(names, n, sizeof(*names), cmp_names);
    for (size_t i = 0; i < n; i++) {
        if (rc == DS_OK)
            rc = recover(a, names[i], err);
        free(names[i]);
    }
    free(names);
    return rc;
}

/* ---- the archive ---- */

/* mkdir -p, each new directory DIR_MODE. */
static int
make_dirs(const char *dir)
{
    char *p = xstrdup(dir);
    int rc = 0;

    for (char *s = p + 1; *s != '\0' && rc == 0; s++) {
        if (*s != '/')
            continue;
        *s = '\0';
        if (mkdir(p, DIR_MODE) != 0 && errno != EEXIST)
            rc = -1;
        *s = '/';
    }
    if (rc == 0 && mkdir(p, DIR_MODE) != 0 && errno != EEXIST)
        rc = -1;
    free(p);
    return rc;
}

/* Can a file be created here?  Asked now, not when the first flow comes. */
static enum ds_rc
probe(struct archive *a, struct ds_error *err)
{
    char name[64];
    int fd;

    snprintf(name, sizeof(name), ".darkstab-probe-%ld", (long)getpid());
    fd = openat(a->dfd, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, FILE_MODE);
    if (fd < 0)
        return ds_error_set(err, DS_ERR_IO, "archive %s: cannot create files in it: %s",
                            a->dir, strerror(errno));
    close(fd);
    unlinkat(a->dfd, name, 0);
    return DS_OK;
}

enum ds_rc
archive_open(const char *dir, int64_t rotate_s, struct archive **out, struct ds_error *err)
{
    struct archive *a;
    enum ds_rc rc;

    *out = NULL;
    if (rotate_s < 1)
        return ds_error_set(err, DS_ERR_CONFIG, "archive %s: rotation every %lld s", dir,
                            (long long)rotate_s);
    if (make_dirs(dir) != 0)
        return ds_error_set(err, DS_ERR_IO, "archive %s: cannot create: %s", dir,
                            strerror(errno));
    a = xcalloc(1, sizeof(*a));
    a->dir = xstrdup(dir);
    a->rotate_s = rotate_s;
    a->fd = -1;
    for (int t = 0; t < N_TMPL; t++)
        for (int i = 0; i < TMPL_FIELDS; i++)
            a->rec_len[t] = (uint16_t)(a->rec_len[t] + tmpl[t][i].len);
    a->dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (a->dfd < 0) {
        rc = ds_error_set(err, DS_ERR_IO, "archive %s: cannot open: %s", dir, strerror(errno));
        goto fail;
    }
    rc = probe(a, err);
    if (rc == DS_OK)
        rc = recover_all(a, err);
    if (rc != DS_OK)
        goto fail;
    *out = a;
    return DS_OK;
fail:
    if (a->dfd >= 0)
        close(a->dfd);
    free(a->dir);
    free(a);
    return rc;
}

enum ds_rc
archive_close(struct archive *a, struct ds_error *err)
{
    enum ds_rc rc;

    if (a == NULL)
        return DS_OK;
    rc = complete_file(a, err);
    close(a->dfd);
    free(a->dir);
    free(a);
    return rc;
}

/* The period a name of ours starts at (darkstab-YYYYMMDDTHHMMSSZ...), or false. */
static bool
name_period(const char *name, int64_t *period, bool *part)
{
    size_t plen = strlen(NAME_PREFIX), len = strlen(name);
    struct tm tm;
    const char *end;

    if (strncmp(name, NAME_PREFIX, plen) != 0)
        return false;
    memset(&tm, 0, sizeof(tm));
    end = strptime(name + plen, "%Y%m%dT%H%M%SZ", &tm);
    if (end == NULL || (*end != '.' && *end != '-'))
        return false;
    *part = len > strlen(PART_SUFFIX) && strcmp(name + len - strlen(PART_SUFFIX), PART_SUFFIX) == 0;
    if (!*part && (len <= strlen(NAME_SUFFIX) ||
                   strcmp(name + len - strlen(NAME_SUFFIX), NAME_SUFFIX) != 0))
        return false;
    *period = (int64_t)timegm(&tm);
    return true;
}

static int
cmp_archive_file(const void *x, const void *y)
{
    const struct archive_file *a = x, *b = y;

    if (a->period != b->period)
        return a->period < b->period ? -1 : 1;
    return strcmp(a->path, b->path);
}

enum ds_rc
archive_files(const char *dir, int64_t rotate_s, int64_t from_s, int64_t to_s,
              struct archive_file **out, size_t *n, struct ds_error *err)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    struct archive_file *v = NULL;
    size_t cap = 0;

    *out = NULL;
    *n = 0;
    if (d == NULL)
        return ds_error_set(err, DS_ERR_IO, "archive %s: cannot read: %s", dir, strerror(errno));
    while ((de = readdir(d)) != NULL) {
        int64_t period;
        bool part;

        if (!name_period(de->d_name, &period, &part) || period + rotate_s <= from_s ||
            period > to_s)
            continue;
        if (*n == cap) {
            cap = cap ? 2 * cap : 16;
            v = xreallocarray(v, cap, sizeof(*v));
        }
        v[*n].path = xasprintf("%s/%s", dir, de->d_name);
        v[*n].period = period;
        v[*n].growing = part;
        (*n)++;
    }
    closedir(d);
    if (*n > 1)
        qsort(v, *n, sizeof(*v), cmp_archive_file);
    *out = v;
    return DS_OK;
}

void
archive_files_free(struct archive_file *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i].path);
    free(v);
}
