/*
 * IPFIX files and standard input: framing of messages (RFC 7011 section 10,
 * messages back to back), then check and decode (see ds/ingest.h).
 *
 * Files come from YAF, super_mediator, libfixbuf's exporters, or a
 * collector's archive, and sometimes they are cut short or damaged.  The
 * framing trusts a message's length only when its sets agree with it:
 *   1. a header that is not IPFIX (version 10, length >= 16) starts a
 *      resynchronisation: the bytes are scanned for the next offset where a
 *      header and the chain of its sets agree, and the skipped bytes are
 *      counted;
 *   2. a length that disagrees with its sets, when the sets themselves run
 *      cleanly to another plausible message boundary, is taken to lie and
 *      the set chain wins;
 *   3. a message cut by the end of the input is checked as far as it goes,
 *      so that its whole sets are still counted.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ds/hash.h"
#include "ds/ingest.h"
#include "ds/log.h"
#include "ds/xmem.h"
#include "ingest_int.h"

#define READ_BUF (512 * 1024)

uint64_t
ingest_stats_malformed(const struct ingest_stats *s)
{
    return s->bad_messages + s->bad_sets + s->bad_templates + s->unknown_template_sets +
           s->bad_records;
}

void
ingest_stats_add(struct ingest_stats *to, const struct ingest_stats *from)
{
    to->bytes += from->bytes;
    to->messages += from->messages;
    to->records += from->records;
    to->options_records += from->options_records;
    to->templates += from->templates;
    to->bad_messages += from->bad_messages;
    to->bad_sets += from->bad_sets;
    to->bad_templates += from->bad_templates;
    to->unknown_template_sets += from->unknown_template_sets;
    to->bad_records += from->bad_records;
    to->skipped_bytes += from->skipped_bytes;
    to->limit_templates += from->limit_templates;
    to->limit_fields += from->limit_fields;
    to->limit_template_memory += from->limit_template_memory;
    to->limit_template_total += from->limit_template_total;
}

/* End offset of the last whole, plausible set of the message at p. */
static size_t
chain_end(const uint8_t *p, size_t limit)
{
    size_t pos = IPFIX_HDR_LEN;

    while (limit - pos >= 4) {
        uint16_t id = rd16(p + pos), len = rd16(p + pos + 2);

        if (len < 4 || len > limit - pos || (id != 2 && id != 3 && id < 256))
            break;
        pos += len;
    }
    return pos;
}

/*
 * Does a message start at p?  Its version and length must be right and its
 * sets must run exactly to its length.  When the message reaches past
 * avail, only the sets that are there are checked.
 */
static int
plausible_message(const uint8_t *p, size_t avail)
{
    size_t len;

    if (avail < IPFIX_HDR_LEN || rd16(p) != 10)
        return 0;
    len = rd16(p + 2);
    if (len < IPFIX_HDR_LEN)
        return 0;
    if (len <= avail)
        return chain_end(p, len) == len;
    return chain_end(p, avail) > IPFIX_HDR_LEN;
}

struct reader {
    const char *name;
    int fd;
    uint8_t *buf;
    size_t have;            /* bytes in buf */
    size_t pos;             /* parse position in buf */
    uint64_t base;          /* input offset of buf[0] */
    int eof;
    int seekable;           /* a regular file: opts->next may skip by seeking */
    XXH3_state_t *xx;
    struct ingest_stats *stats;
    struct ds_error *err;
};

/* Makes at least want bytes available from pos, unless the input ends. */
static enum ds_rc
fill(struct reader *r, size_t want)
{
    if (r->have - r->pos >= want || r->eof)
        return DS_OK;
    if (r->pos > 0) {
        memmove(r->buf, r->buf + r->pos, r->have - r->pos);
        r->base += r->pos;
        r->have -= r->pos;
        r->pos = 0;
    }
    while (r->have < want && !r->eof) {
        ssize_t n = read(r->fd, r->buf + r->have, READ_BUF - r->have);

        if (n < 0) {
            if (errno == EINTR)
                continue;
            return ds_error_set(r->err, DS_ERR_IO, "%s: read error at offset %llu: %s", r->name,
                                (unsigned long long)(r->base + r->have), strerror(errno));
        }
        if (n == 0) {
            r->eof = 1;
            break;
        }
        if (r->xx != NULL)
            XXH3_128bits_update(r->xx, r->buf + r->have, (size_t)n);
        r->have += (size_t)n;
        r->stats->bytes += (uint64_t)n;
    }
    return DS_OK;
}

static void
report_issues(struct reader *r, uint64_t msg_off, const struct ipfix_check_result *res)
{
    int64_t now = (int64_t)time(NULL);

    for (uint32_t i = 0; i < res->n_issues && i < IPFIX_ISSUES_MAX; i++)
        log_throttled(hash_bytes(r->name, strlen(r->name)) ^ 0x1, now, LOG_WARNING,
                      "ingest: %s offset %llu: %s", r->name,
                      (unsigned long long)(msg_off + res->issues[i].offset), res->issues[i].text);
    if (res->n_issues > IPFIX_ISSUES_MAX)
        log_throttled(hash_bytes(r->name, strlen(r->name)) ^ 0x2, now, LOG_WARNING,
                      "ingest: %s offset %llu: %u more problems in this message", r->name,
                      (unsigned long long)msg_off, res->n_issues - IPFIX_ISSUES_MAX);
}

/*
 * Scans from pos + 1 for the next plausible message.  Returns DS_OK with
 * pos at a message or at the end of the input.
 */
static enum ds_rc
resync(struct reader *r)
{
    uint64_t from = r->base + r->pos;
    uint64_t skipped = 0;
    enum ds_rc rc;

    r->pos++;
    skipped++;
    for (;;) {
        rc = fill(r, IPFIX_MSG_MAX);
        if (rc != DS_OK)
            return rc;
        if (r->have - r->pos < IPFIX_HDR_LEN) {
            skipped += r->have - r->pos;
            r->pos = r->have;
            break;
        }
        if (plausible_message(r->buf + r->pos, r->have - r->pos))
            break;
        r->pos++;
        skipped++;
    }
    r->stats->skipped_bytes += skipped;
    log_throttled(hash_bytes(r->name, strlen(r->name)) ^ 0x3, (int64_t)time(NULL), LOG_WARNING,
                  "ingest: %s offset %llu: not an IPFIX message; skipped %llu bytes%s", r->name,
                  (unsigned long long)from, (unsigned long long)skipped,
                  r->pos < r->have ? " to the next message" : " to the end of the input");
    return DS_OK;
}

/* Does the message p[0..mlen) hold a template or options template set (ids 2, 3)? */
static bool
has_templates(const uint8_t *p, size_t mlen)
{
    size_t off = IPFIX_HDR_LEN;

    while (off + 4 <= mlen) {
        uint16_t id = rd16(p + off), len = rd16(p + off + 2);

        if (id == 2 || id == 3)
            return true;
        if (len < 4)
            return true;    /* damaged: let the checker see it */
        off += len;
    }
    return false;
}

/*
 * Goes on reading at offset to (> from, the offset after the message just
 * skipped): inside the buffer by moving the parse position, beyond it by a
 * seek that leaves the bytes between unread.
 */
static enum ds_rc
skip_to(struct reader *r, uint64_t to, uint64_t from)
{
    if (to <= from)
        return DS_OK;
    if (to <= r->base + r->have) {
        r->pos = (size_t)(to - r->base);
        return DS_OK;
    }
    if (to == UINT64_MAX || lseek(r->fd, (off_t)to, SEEK_SET) == (off_t)-1) {
        /* past the end (or a seek the file refuses): nothing more to read */
        r->pos = r->have;
        r->eof = 1;
        return DS_OK;
    }
    r->base = to;
    r->have = 0;
    r->pos = 0;
    return DS_OK;
}

static enum ds_rc
read_messages(struct reader *r, const struct ingest_file_opts *opts)
{
    struct ipfix_check *chk = ipfix_check_new();
    struct ipfix_decoder *dec = ipfix_decoder_new();
    struct ipfix_check_result res;
    struct ds_error derr;
    enum ds_rc rc = DS_OK;

    ipfix_decoder_use_libfixbuf(dec, opts->use_libfixbuf);
    for (;;) {
        const uint8_t *p;
        size_t avail, mlen;
        uint64_t off;

        rc = fill(r, IPFIX_MSG_MAX);
        if (rc != DS_OK)
            break;
        avail = r->have - r->pos;
        if (avail == 0)
            break;
        p = r->buf + r->pos;
        off = r->base + r->pos;
        if (opts->growing && (avail < IPFIX_HDR_LEN || rd16(p + 2) > avail)) {
            /* the writer is not done with it: the rest is for the next reader */
            r->pos = r->have;
            break;
        }
        if (avail < IPFIX_HDR_LEN) {
            log_warnx("ingest: %s offset %llu: %zu bytes at the end are not a whole message",
                      r->name, (unsigned long long)off, avail);
            r->stats->bad_messages++;
            r->pos = r->have;
            break;
        }
        mlen = rd16(p + 2);
        if (rd16(p) != 10 || mlen < IPFIX_HDR_LEN) {
            r->stats->bad_messages++;
            rc = resync(r);
            if (rc != DS_OK)
                break;
            continue;
        }
        if (mlen > avail) {
            /* 3. cut by the end of the input: check what is there */
            log_warnx("ingest: %s offset %llu: message of %zu bytes cut short by the end of the "
                      "input (%zu bytes present)",
                      r->name, (unsigned long long)off, mlen, avail);
            r->stats->bad_messages++;
            mlen = avail;
        } else if (chain_end(p, mlen) != mlen) {
            /* 2. does the length lie?  Follow the sets instead. */
            size_t alt = chain_end(p, avail < IPFIX_MSG_MAX ? avail : IPFIX_MSG_MAX);

            if (alt != mlen && alt > IPFIX_HDR_LEN &&
                (alt == avail || plausible_message(p + alt, avail - alt)) &&
                !plausible_message(p + mlen, avail - mlen)) {
                log_throttled(hash_bytes(r->name, strlen(r->name)) ^ 0x4, (int64_t)time(NULL),
                              LOG_WARNING,
                              "ingest: %s offset %llu: message length %zu disagrees with its "
                              "sets, which end at %zu; using %zu",
                              r->name, (unsigned long long)off, mlen, alt, alt);
                r->stats->bad_messages++;
                mlen = alt;
            }
        }
        if (mlen != rd16(p + 2)) {
            /* The buffer is ours: make the header agree for what follows. */
            r->buf[r->pos + 2] = (uint8_t)(mlen >> 8);
            r->buf[r->pos + 3] = (uint8_t)mlen;
        }
        if (opts->want != NULL && !opts->want(opts->ctx, off) && !has_templates(p, mlen)) {
            r->pos += mlen;
            if (opts->next != NULL && r->seekable) {
                rc = skip_to(r, opts->next(opts->ctx, off), off + mlen);
                if (rc != DS_OK)
                    break;
            }
            continue;
        }
        if (opts->on_message)
            opts->on_message(opts->ctx, off, rd32(p + 12), rd32(p + 4), has_templates(p, mlen));
        r->stats->messages++;
        ipfix_check_message(chk, p, mlen, &res, r->stats);
        if (res.n_issues > 0)
            report_issues(r, off, &res);
        if (res.len > 0 &&
            ipfix_decoder_message(dec, res.msg, res.len, opts->fn, opts->ctx, r->stats, &derr) !=
                DS_OK)
            log_throttled(hash_bytes(r->name, strlen(r->name)) ^ 0x5, (int64_t)time(NULL),
                          LOG_WARNING, "ingest: %s offset %llu: %s", r->name,
                          (unsigned long long)off, derr.msg);
        r->pos += mlen;
    }
    ipfix_check_free(chk);
    ipfix_decoder_free(dec);
    return rc;
}

static void
digest_hex(XXH3_state_t *xx, char digest[33])
{
    XXH128_hash_t h = XXH3_128bits_digest(xx);

    snprintf(digest, 33, "%016llx%016llx", (unsigned long long)h.high64,
             (unsigned long long)h.low64);
}

enum ds_rc
ingest_file(const char *path, const struct ingest_file_opts *opts, struct ingest_stats *stats,
            char digest[33], struct ds_error *err)
{
    struct reader r;
    struct stat st;
    enum ds_rc rc;
    uint64_t messages_before = stats->messages;
    uint64_t bytes_before = stats->bytes;
    uint64_t malformed_before = ingest_stats_malformed(stats);
    struct ingest_stats before = *stats;

    memset(&r, 0, sizeof(r));
    r.name = strcmp(path, "-") == 0 ? "(standard input)" : path;
    r.stats = stats;
    r.err = err;
    if (strcmp(path, "-") == 0) {
        r.fd = STDIN_FILENO;
    } else {
        r.fd = open(path, O_RDONLY);
        if (r.fd < 0)
            return ds_error_set(err, DS_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
        if (fstat(r.fd, &st) == 0 && S_ISDIR(st.st_mode)) {
            close(r.fd);
            return ds_error_set(err, DS_ERR_IO, "%s: is a directory", path);
        }
        r.seekable = fstat(r.fd, &st) == 0 && S_ISREG(st.st_mode);
    }
    r.buf = xmalloc(READ_BUF);
    /* no digest asked (reading back by seeks): no pass of the hash over the bytes */
    if (digest != NULL) {
        r.xx = XXH3_createState();
        if (r.xx == NULL)
            fatalx("ingest: out of memory");
        XXH3_128bits_reset(r.xx);
    }

    rc = read_messages(&r, opts);
    if (rc == DS_OK && ingest_stats_malformed(stats) > malformed_before) {
        struct ingest_stats d = *stats;

        d.bad_messages -= before.bad_messages;
        d.bad_sets -= before.bad_sets;
        d.bad_templates -= before.bad_templates;
        d.unknown_template_sets -= before.unknown_template_sets;
        d.bad_records -= before.bad_records;
        log_warnx("ingest: %s: %llu malformed (messages %llu, sets %llu, templates %llu, data "
                  "sets for unknown templates %llu, records cut short %llu)",
                  r.name, (unsigned long long)ingest_stats_malformed(&d),
                  (unsigned long long)d.bad_messages, (unsigned long long)d.bad_sets,
                  (unsigned long long)d.bad_templates, (unsigned long long)d.unknown_template_sets,
                  (unsigned long long)d.bad_records);
    }
    /* An empty file is a day without traffic, not a broken input: said, not failed. */
    if (rc == DS_OK && stats->bytes == bytes_before && !opts->growing)
        log_warnx("ingest: %s: empty, no records", r.name);
    /* a file being written may not hold a whole message yet */
    if (rc == DS_OK && stats->messages == messages_before && stats->bytes > bytes_before &&
        !opts->growing)
        rc = ds_error_set(err, DS_ERR_IO,
                          "%s: no IPFIX message found in %llu bytes (is it an IPFIX file?)",
                          r.name, (unsigned long long)(stats->bytes - bytes_before));
    if (digest != NULL)
        digest_hex(r.xx, digest);
    if (r.xx != NULL)
        XXH3_freeState(r.xx);
    free(r.buf);
    if (r.fd != STDIN_FILENO)
        close(r.fd);
    return rc;
}

enum ds_rc
ingest_file_digest(const char *path, char digest[33], struct ds_error *err)
{
    XXH3_state_t *xx;
    uint8_t *buf;
    int fd;
    enum ds_rc rc = DS_OK;

    fd = open(path, O_RDONLY);
    if (fd < 0)
        return ds_error_set(err, DS_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    buf = xmalloc(READ_BUF);
    xx = XXH3_createState();
    if (xx == NULL)
        fatalx("ingest: out of memory");
    XXH3_128bits_reset(xx);
    for (;;) {
        ssize_t n = read(fd, buf, READ_BUF);

        if (n < 0) {
            if (errno == EINTR)
                continue;
            rc = ds_error_set(err, DS_ERR_IO, "%s: read error: %s", path, strerror(errno));
            break;
        }
        if (n == 0)
            break;
        XXH3_128bits_update(xx, buf, (size_t)n);
    }
    if (rc == DS_OK)
        digest_hex(xx, digest);
    XXH3_freeState(xx);
    free(buf);
    close(fd);
    return rc;
}
