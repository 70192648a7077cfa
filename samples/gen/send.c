/*
 * darkstab-gen --send (see send.h): records into datagrams, datagrams into
 * batches, batches onto a connected UDP socket with sendmmsg at their time.
 *
 * IPFIX is encoded here byte for byte as libfixbuf's UDP exporter encoded
 * it when it did this job (libfixbuf 2.4, checked against its output), so
 * that results over UDP stay comparable with earlier runs; libfixbuf's
 * exporter sends one message per system call, which is too slow for a
 * benchmark:
 *   - a first message with the two templates only, exported at the wall
 *     clock time (no record has set an export time yet);
 *   - messages of at most 1420 bytes (libfixbuf's MTU for UDP), a new set
 *     whenever the template changes; export time: the end (Unix seconds)
 *     of the message's first record; sequence number: data records before;
 *   - after every 20000th record, the message is sent and the templates
 *     follow in a message of their own, with the last record's export time.
 *
 * NetFlow v9 carries the same records in the same order, with the same
 * field types and lengths but for the times, which are uptimes (v9's types
 * are IPFIX's up to 127; 139, icmpTypeCodeIPv6, is past RFC 3954's list:
 * collectors, darkstab's included, read v9 types as IPFIX elements):
 *   - datagrams of at most 1400 bytes; flowsets padded to 4 bytes (RFC 3954
 *     section 5.3; records of 40 and 64 bytes never need it); the template
 *     flowset (both templates) opens the first datagram and every 20th;
 *   - header: count = template and data records, sysUptime, unix_secs,
 *     sequence = datagrams sent since the exporter's boot, source id 0;
 *   - FIRST_SWITCHED and LAST_SWITCHED are start_ms and end_ms minus the
 *     boot time, in milliseconds.  The exporter boots at the first record's
 *     start, rounded down to a whole second: every later record starts
 *     after it (they come in start order), so uptimes fit 32 bits for 49.7
 *     days from the first flow;
 *   - unix_secs is the latest record end of the datagram rounded up to a
 *     second, and never less than the previous datagram's (a collector
 *     reads a smaller sysUptime as a reboot); sysUptime is unix_secs * 1000
 *     minus the boot time, so that unix_secs * 1000 - sysUptime gives the
 *     boot time exactly and no record ends after its datagram's uptime;
 *   - a scenario longer than 49.7 days (the paper's 50 days) cannot keep
 *     one boot time: when a datagram's uptime would pass 2^32 - 1 ms, the
 *     exporter reboots at the next record's start (rounded down to a
 *     second) with its sequence from 0 and the templates in its first
 *     datagram, as a router does.  Counted in send_stats.restarts.
 *
 * Pacing: a batch is due when its last record is, at start + records /
 * rate, computed from the start time every time so that it does not drift.
 * A batch holds at most 64 datagrams and, under a rate, about a
 * millisecond of records; the sender sleeps until shortly before the
 * deadline and spins the rest, since a sleep alone overshoots by tens of
 * microseconds.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "ds/proto.h"
#include "send.h"

#define BATCH 64
#define DGRAM_CAP 1500
#define IPFIX_MTU 1420
#define IPFIX_TEMPLATES_EVERY 20000 /* records */
#define NF9_MAX 1400
#define NF9_TEMPLATES_EVERY 20      /* datagrams */
#define TID_V4 256
#define TID_V6 257
#define SPIN_NS 100000              /* the last 100 us before a deadline are spun */
#define UPTIME_MAX INT64_C(0xffffffff)

struct field {
    uint16_t id;
    uint16_t len;
};

/* IPFIX: as darkstab-gen's files; the record lengths below follow from these. */
static const struct field ipfix4[] = {
    {152, 8}, {153, 8}, {2, 8}, {1, 8}, {8, 4}, {12, 4}, {7, 2}, {11, 2}, {32, 2}, {4, 1}, {6, 1},
};
static const struct field ipfix6[] = {
    {27, 16}, {28, 16}, {152, 8}, {153, 8}, {2, 8}, {1, 8}, {7, 2}, {11, 2}, {139, 2}, {4, 1},
    {6, 1},
};
/*
 * NetFlow v9: FIRST_SWITCHED (22) and LAST_SWITCHED (21) for the times;
 * IN_PKTS and IN_BYTES at 8 bytes (RFC 3954 allows N) keep every value.
 */
static const struct field nf9_4[] = {
    {22, 4}, {21, 4}, {2, 8}, {1, 8}, {8, 4}, {12, 4}, {7, 2}, {11, 2}, {32, 2}, {4, 1}, {6, 1},
};
static const struct field nf9_6[] = {
    {27, 16}, {28, 16}, {22, 4}, {21, 4}, {2, 8}, {1, 8}, {7, 2}, {11, 2}, {139, 2}, {4, 1},
    {6, 1},
};

#define N_FIELDS 11
_Static_assert(sizeof(ipfix4) == N_FIELDS * sizeof(struct field) &&
                   sizeof(ipfix6) == N_FIELDS * sizeof(struct field) &&
                   sizeof(nf9_4) == N_FIELDS * sizeof(struct field) &&
                   sizeof(nf9_6) == N_FIELDS * sizeof(struct field),
               "templates of 11 fields");
#define IPFIX_REC4 48
#define IPFIX_REC6 72
#define NF9_REC4 40
#define NF9_REC6 64
/* a set header and two template records of 11 fields */
#define TEMPLATE_SET_LEN (4 + 2 * (4 + N_FIELDS * 4))

#define EXPORTERS_MAX 1000

struct sender {
    int fd;
    /*
     * send_exporters(): more exporters, each its own socket from the next
     * source address, taking datagrams in turn, each with its own IPFIX
     * sequence and the templates; n_fd 1: fds[0] is fd.
     */
    int fds[EXPORTERS_MAX];
    int n_fd;
    int cur;                    /* the exporter of the datagram being filled */
    int next;                   /* of the next one */
    uint64_t exp_records[EXPORTERS_MAX];
    int dg_fd[BATCH];           /* the exporter of each datagram of the batch */
    enum send_format fmt;
    uint64_t rate;
    uint64_t drop_every;        /* leave out every nth datagram; 0: none */
    uint64_t seen;              /* datagrams finished, dropped ones included */
    /* the batch: datagrams [0, n_ready) are finished, buf[n_ready] is being filled */
    uint8_t (*buf)[DGRAM_CAP];
    struct mmsghdr mm[BATCH];
    struct iovec iov[BATCH];
    int n_ready;
    uint64_t batch_records;
    uint64_t batch_max;         /* records a batch may hold under a rate */
    /* the datagram being filled; len 0: none */
    size_t len;
    size_t set_at;              /* offset of the open set's header; 0: none */
    uint16_t set_tid;
    uint32_t dg_records;
    uint32_t dg_count;          /* v9: template and data records */
    int64_t dg_hdr_ms;          /* v9: latest record end, rounded up to a second */
    /* the stream */
    uint64_t records;           /* appended */
    uint64_t paced;             /* in batches sent or waiting for their time */
    uint32_t export_time;       /* IPFIX: the last record's end (Unix s); at first the clock */
    uint32_t nf9_seq;           /* v9: datagrams since boot */
    int64_t boot_ms;            /* v9: -1 before the first record */
    int64_t hdr_ms;             /* v9: the last header's unix_secs, in ms */
    int64_t t0_ns;              /* the first batch; 0 before */
    int64_t t_end_ns;
    struct send_stats st;
    int warned_refused;
    char why[256];
};

static inline uint8_t *
put8(uint8_t *p, uint8_t v)
{
    *p = v;
    return p + 1;
}

static inline uint8_t *
put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
    return p + 2;
}

static inline uint8_t *
put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
    return p + 4;
}

static inline uint8_t *
put64(uint8_t *p, uint64_t v)
{
    put32(p, (uint32_t)(v >> 32));
    return put32(p + 4, (uint32_t)v);
}

static int64_t
now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* A template set (IPFIX set 2, v9 flowset 0) with both templates at p; returns its end. */
static uint8_t *
put_templates(uint8_t *p, uint16_t set_id, const struct field *f4, const struct field *f6)
{
    p = put16(p, set_id);
    p = put16(p, TEMPLATE_SET_LEN);
    p = put16(p, TID_V4);
    p = put16(p, N_FIELDS);
    for (int i = 0; i < N_FIELDS; i++) {
        p = put16(p, f4[i].id);
        p = put16(p, f4[i].len);
    }
    p = put16(p, TID_V6);
    p = put16(p, N_FIELDS);
    for (int i = 0; i < N_FIELDS; i++) {
        p = put16(p, f6[i].id);
        p = put16(p, f6[i].len);
    }
    return p;
}

/* Waits for the batch's deadline (under a rate), then hands it to the kernel. */
static int
flush(struct sender *s)
{
    int done = 0, err;

    if (s->n_ready == 0)
        return 0;
    if (s->t0_ns == 0)
        s->t0_ns = now_ns();
    s->paced += s->batch_records;
    if (s->rate > 0) {
        uint64_t q = s->paced / s->rate, r = s->paced % s->rate;
        int64_t due = s->t0_ns + (int64_t)(q * 1000000000u + r * 1000000000u / s->rate);
        int64_t now = now_ns();

        if (due - now > SPIN_NS) {
            struct timespec ts;
            int64_t wake = due - SPIN_NS;

            ts.tv_sec = (time_t)(wake / 1000000000);
            ts.tv_nsec = (long)(wake % 1000000000);
            while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
                ;
        }
        while (now_ns() < due)
            ;
    }
    if (s->drop_every > 0) {
        int kept = 0;

        for (int i = 0; i < s->n_ready; i++) {
            if (++s->seen % s->drop_every == 0 && s->seen > 1) {
                s->st.dropped++;
                continue;
            }
            s->mm[kept++] = s->mm[i];
        }
        s->n_ready = kept;
    }
    while (done < s->n_ready) {
        int n;

        if (s->n_fd > 1)
            /* each datagram from its exporter's socket */
            n = sendmsg(s->fds[s->dg_fd[done]], &s->mm[done].msg_hdr, 0) >= 0 ? 1 : -1;
        else
            n = sendmmsg(s->fd, s->mm + done, (unsigned)(s->n_ready - done), 0);

        if (n > 0) {
            done += n;
            continue;
        }
        err = n < 0 ? errno : EIO;
        if (err == EINTR || err == ENOBUFS)
            continue;
        if (err == ECONNREFUSED) {
            /*
             * An earlier datagram drew "port unreachable": nobody listens
             * (yet).  The error is reported instead of sending the next
             * one, which is sent again.  A router goes on exporting; so do
             * we, and say so once.
             */
            if (!s->warned_refused)
                fprintf(stderr, "darkstab-gen: the destination refuses datagrams (nobody "
                                "listening?); going on\n");
            s->warned_refused = 1;
            s->st.refused++;
            continue;
        }
        snprintf(s->why, sizeof(s->why), "sendmmsg: %s", strerror(err));
        return -1;
    }
    for (int i = 0; i < s->n_ready; i++)
        s->st.bytes += s->mm[i].msg_hdr.msg_iov->iov_len;
    /* dropping moved some headers: each goes back to its own datagram */
    for (int i = 0; s->drop_every > 0 && i < BATCH; i++)
        s->mm[i].msg_hdr.msg_iov = &s->iov[i];
    s->st.datagrams += (uint64_t)s->n_ready;
    s->n_ready = 0;
    s->batch_records = 0;
    s->t_end_ns = now_ns();
    return 0;
}

/* Closes the open set: its length, and for v9 the padding to 4 bytes. */
static void
close_set(struct sender *s)
{
    uint8_t *d = s->buf[s->n_ready];

    if (s->set_at == 0)
        return;
    if (s->fmt == SEND_NETFLOW9) {
        while ((s->len - s->set_at) % 4 != 0)
            d[s->len++] = 0;
    }
    put16(d + s->set_at + 2, (uint16_t)(s->len - s->set_at));
    s->set_at = 0;
    s->set_tid = 0;
}

/* The datagram being filled is complete: its header, then into the batch. */
static int
finish(struct sender *s)
{
    uint8_t *d = s->buf[s->n_ready];

    if (s->len == 0)
        return 0;
    close_set(s);
    if (s->fmt == SEND_IPFIX) {
        put16(d + 2, (uint16_t)s->len);
        if (s->n_fd > 1) {
            put32(d + 8, (uint32_t)s->exp_records[s->cur]);
            s->exp_records[s->cur] += s->dg_records;
        }
    } else {
        int64_t hdr = s->dg_hdr_ms > s->hdr_ms ? s->dg_hdr_ms : s->hdr_ms;

        put16(d + 2, (uint16_t)s->dg_count);
        put32(d + 4, (uint32_t)(hdr - s->boot_ms));
        put32(d + 8, (uint32_t)(hdr / 1000));
        put32(d + 12, s->nf9_seq++);
        put32(d + 16, 0);
        s->hdr_ms = hdr;
    }
    s->iov[s->n_ready].iov_len = s->len;
    s->dg_fd[s->n_ready] = s->cur;
    s->n_ready++;
    s->batch_records += s->dg_records;
    s->len = 0;
    if (s->n_ready == BATCH || (s->rate > 0 && s->batch_records >= s->batch_max))
        return flush(s);
    return 0;
}

/*
 * Starts a datagram.  IPFIX: the header but its length (finish()), export
 * time the first record's end, sequence the data records before.  v9: the
 * version, the rest of the header by finish(); the templates first when due.
 */
static void
begin(struct sender *s)
{
    uint8_t *d = s->buf[s->n_ready];

    s->set_at = 0;
    s->set_tid = 0;
    s->dg_records = 0;
    s->cur = s->next;
    s->next = s->n_fd > 1 ? (s->next + 1) % s->n_fd : 0;
    if (s->fmt == SEND_IPFIX) {
        put16(d, 10);
        put32(d + 4, s->export_time);
        put32(d + 8, (uint32_t)s->records);
        put32(d + 12, 0);
        s->len = 16;
        return;
    }
    put16(d, 9);
    s->len = 20;
    s->dg_count = 0;
    s->dg_hdr_ms = 0;
    if (s->nf9_seq % NF9_TEMPLATES_EVERY == 0) {
        put_templates(d + 20, 0, nf9_4, nf9_6);
        s->len += TEMPLATE_SET_LEN;
        s->dg_count = 2;
    }
}

/*
 * A message with the templates only (libfixbuf's fbSessionExportTemplates
 * over UDP), exported at s->export_time.
 */
static int
ipfix_templates(struct sender *s)
{
    if (finish(s) != 0)
        return -1;
    /* to every exporter (send_exporters()) */
    for (int e = 0; e < (s->n_fd > 1 ? s->n_fd : 1); e++) {
        if (s->n_fd > 1)
            s->next = e;
        begin(s);
        put_templates(s->buf[s->n_ready] + 16, 2, ipfix4, ipfix6);
        s->len += TEMPLATE_SET_LEN;
        if (finish(s) != 0)
            return -1;
    }
    return 0;
}

/* Room for a record of rlen bytes of template tid, with a set header if one is needed. */
static int
fits(const struct sender *s, uint16_t tid, size_t rlen, size_t max)
{
    size_t set_len = (s->set_at != 0 && s->set_tid == tid ? s->len - s->set_at : 4) + rlen;
    size_t before = s->set_at != 0 && s->set_tid == tid ? s->set_at : s->len;
    size_t pad = s->fmt == SEND_NETFLOW9 ? (4 - set_len % 4) % 4 : 0;

    /* a v9 set closed before a new one pads: that costs up to 3 bytes more */
    if (s->fmt == SEND_NETFLOW9 && s->set_at != 0 && s->set_tid != tid)
        before += (4 - (s->len - s->set_at) % 4) % 4;
    return before + set_len + pad <= max;
}

/* Makes the open set one of template tid. */
static void
use_set(struct sender *s, uint16_t tid)
{
    if (s->set_at != 0 && s->set_tid == tid)
        return;
    close_set(s);
    s->set_at = s->len;
    s->set_tid = tid;
    put16(s->buf[s->n_ready] + s->len, tid);
    s->len += 4;
}

/*
 * Appends f's record in a set of its template, to the datagram being filled
 * or, when it does not fit, to a new one.  The formats differ in the times
 * only: IPFIX Unix milliseconds, v9 uptimes (32 bits).
 */
static int
append(struct sender *s, const struct gen_flow *f)
{
    int v9 = s->fmt == SEND_NETFLOW9;
    uint16_t tid = f->v6 ? TID_V6 : TID_V4;
    size_t rlen = v9 ? (f->v6 ? NF9_REC6 : NF9_REC4) : (f->v6 ? IPFIX_REC6 : IPFIX_REC4);
    uint8_t *p;

    if (s->len != 0 && !fits(s, tid, rlen, v9 ? NF9_MAX : IPFIX_MTU) && finish(s) != 0)
        return -1;
    if (s->len == 0)
        begin(s);
    use_set(s, tid);
    p = s->buf[s->n_ready] + s->len;
    if (f->v6) {
        memcpy(p, f->src.b, 16);
        memcpy(p + 16, f->dst.b, 16);
        p += 32;
    }
    if (v9) {
        p = put32(p, (uint32_t)(f->start_ms - s->boot_ms));
        p = put32(p, (uint32_t)(f->end_ms - s->boot_ms));
    } else {
        p = put64(p, (uint64_t)f->start_ms);
        p = put64(p, (uint64_t)f->end_ms);
    }
    p = put64(p, f->packets);
    p = put64(p, f->packets * 60);
    if (!f->v6) {
        p = put32(p, addr_v4(&f->src));
        p = put32(p, addr_v4(&f->dst));
    }
    p = put16(p, f->sport);
    p = put16(p, f->dport);
    p = put16(p, proto_is_icmp(f->proto) ? (uint16_t)(f->icmp_type << 8 | f->icmp_code) : 0);
    p = put8(p, f->proto);
    put8(p, f->flags);
    s->len += rlen;
    s->dg_records++;
    s->records++;
    return 0;
}

static int
ipfix_flow(struct sender *s, const struct gen_flow *f)
{
    s->export_time = (uint32_t)(f->end_ms / 1000);
    if (append(s, f) != 0)
        return -1;
    /* UDP loses templates with their datagram: send them again now and then. */
    if (s->records % IPFIX_TEMPLATES_EVERY == 0)
        return ipfix_templates(s);
    return 0;
}

static int
nf9_flow(struct sender *s, const struct gen_flow *f)
{
    int64_t end_s_ms = (f->end_ms + 999) / 1000 * 1000;
    int64_t hdr = s->hdr_ms;

    if (s->len != 0 && s->dg_hdr_ms > hdr)
        hdr = s->dg_hdr_ms;
    if (end_s_ms > hdr)
        hdr = end_s_ms;
    if (s->boot_ms < 0 || f->start_ms < s->boot_ms || hdr - s->boot_ms > UPTIME_MAX) {
        /* (re)boot: see the top of the file */
        if (finish(s) != 0)
            return -1;
        s->st.restarts += s->boot_ms >= 0;
        s->boot_ms = f->start_ms / 1000 * 1000;
        s->nf9_seq = 0;
        s->hdr_ms = 0;
    }
    if (append(s, f) != 0)
        return -1;
    s->dg_count++;
    if (end_s_ms > s->dg_hdr_ms)
        s->dg_hdr_ms = end_s_ms;
    return 0;
}

/* Binds fd to the source address from, any port. */
static int
bind_from(int fd, int family, const char *from, char *why, size_t whylen)
{
    struct addrinfo hints, *res = NULL;
    int rc;

    memset(&hints, 0, sizeof(hints));
    hints.ai_family = family;
    hints.ai_socktype = SOCK_DGRAM;
    hints.ai_flags = AI_NUMERICHOST | AI_PASSIVE;
    rc = getaddrinfo(from, "0", &hints, &res);
    if (rc != 0) {
        snprintf(why, whylen, "--from %s: %s", from, gai_strerror(rc));
        return -1;
    }
    rc = bind(fd, res->ai_addr, res->ai_addrlen);
    if (rc != 0)
        snprintf(why, whylen, "--from %s: %s", from, strerror(errno));
    freeaddrinfo(res);
    return rc;
}

struct sender *
send_open(const char *host, const char *port, const char *from, enum send_format fmt,
          uint64_t rate, char *why, size_t whylen)
{
    struct addrinfo hints, *res = NULL, *ai;
    struct sender *s;
    int rc, sndbuf = 4 << 20;

    why[0] = '\0';
    memset(&hints, 0, sizeof(hints));
    hints.ai_socktype = SOCK_DGRAM;
    hints.ai_protocol = IPPROTO_UDP;
    rc = getaddrinfo(host, port, &hints, &res);
    if (rc != 0) {
        snprintf(why, whylen, "%s port %s: %s", host, port, gai_strerror(rc));
        return NULL;
    }
    s = calloc(1, sizeof(*s));
    if (s != NULL)
        s->buf = calloc(BATCH, DGRAM_CAP);
    if (s == NULL || s->buf == NULL) {
        snprintf(why, whylen, "out of memory");
        goto fail;
    }
    s->fd = -1;
    for (ai = res; ai != NULL && s->fd < 0; ai = ai->ai_next) {
        s->fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
        if (s->fd < 0)
            continue;
        if (from != NULL && bind_from(s->fd, ai->ai_family, from, why, whylen) != 0) {
            close(s->fd);
            s->fd = -1;
            continue;
        }
        /* connected: the kernel looks the route up once, not per datagram */
        if (connect(s->fd, ai->ai_addr, ai->ai_addrlen) != 0) {
            snprintf(why, whylen, "%s port %s: %s", host, port, strerror(errno));
            close(s->fd);
            s->fd = -1;
        }
    }
    if (s->fd < 0) {
        if (why[0] == '\0')
            snprintf(why, whylen, "%s port %s: no usable address", host, port);
        goto fail;
    }
    freeaddrinfo(res);
    /* a batch must fit the socket buffer (capped by net.core.wmem_max) */
    setsockopt(s->fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
    for (int i = 0; i < BATCH; i++) {
        s->iov[i].iov_base = s->buf[i];
        s->mm[i].msg_hdr.msg_iov = &s->iov[i];
        s->mm[i].msg_hdr.msg_iovlen = 1;
    }
    s->fmt = fmt;
    s->rate = rate;
    s->batch_max = rate / 1000 > 0 ? rate / 1000 : 1;
    s->boot_ms = -1;
    /* no record has set an export time yet: the wall clock's */
    s->export_time = (uint32_t)time(NULL);
    if (fmt == SEND_IPFIX && ipfix_templates(s) != 0) {
        snprintf(why, whylen, "%s", s->why);
        send_close(s, NULL);
        return NULL;
    }
    return s;
fail:
    if (res != NULL)
        freeaddrinfo(res);
    if (s != NULL) {
        free(s->buf);
        free(s);
    }
    return NULL;
}

int
send_flow(struct sender *s, const struct gen_flow *f)
{
    return s->fmt == SEND_IPFIX ? ipfix_flow(s, f) : nf9_flow(s, f);
}

const char *
send_error(const struct sender *s)
{
    return s->why;
}

int
send_close(struct sender *s, struct send_stats *st)
{
    int rc = 0;

    if (s == NULL)
        return 0;
    if (finish(s) != 0 || flush(s) != 0) {
        fprintf(stderr, "darkstab-gen: %s\n", s->why);
        rc = -1;
    }
    s->st.records = s->records;
    s->st.seconds = s->t0_ns ? (double)(s->t_end_ns - s->t0_ns) / 1e9 : 0;
    if (st != NULL)
        *st = s->st;
    close(s->fd);
    for (int e = 1; e < s->n_fd; e++)
        close(s->fds[e]);
    free(s->buf);
    free(s);
    return rc;
}

int
send_exporters(struct sender *s, const char *host, const char *port, const char *from, int n)
{
    struct in_addr a;
    struct addrinfo hints, *res = NULL;
    int rc;

    if (n < 1 || n > EXPORTERS_MAX || from == NULL || inet_pton(AF_INET, from, &a) != 1 ||
        s->fmt != SEND_IPFIX || s->drop_every > 0) {
        snprintf(s->why, sizeof(s->why), "--exporters needs 1 to %d, IPFIX, an IPv4 --from "
                 "and no --drop-every", EXPORTERS_MAX);
        return -1;
    }
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_INET;
    hints.ai_socktype = SOCK_DGRAM;
    rc = getaddrinfo(host, port, &hints, &res);
    if (rc != 0) {
        snprintf(s->why, sizeof(s->why), "%s port %s: %s", host, port, gai_strerror(rc));
        return -1;
    }
    s->fds[0] = s->fd;
    s->n_fd = 1;
    for (int e = 1; e < n; e++) {
        struct in_addr b = {htonl(ntohl(a.s_addr) + (uint32_t)e)};
        char text[INET_ADDRSTRLEN];
        int fd = socket(AF_INET, SOCK_DGRAM, 0);

        inet_ntop(AF_INET, &b, text, sizeof(text));
        if (fd < 0 || bind_from(fd, AF_INET, text, s->why, sizeof(s->why)) != 0 ||
            connect(fd, res->ai_addr, res->ai_addrlen) != 0) {
            if (fd >= 0)
                close(fd);
            if (s->why[0] == '\0')
                snprintf(s->why, sizeof(s->why), "exporter %s: %s", text, strerror(errno));
            freeaddrinfo(res);
            return -1;
        }
        s->fds[s->n_fd++] = fd;
    }
    freeaddrinfo(res);
    /* the first exporter had its templates at send_open(): the others now */
    s->exp_records[0] = s->records;
    for (int e = 1; e < s->n_fd; e++) {
        s->next = e;
        begin(s);
        put_templates(s->buf[s->n_ready] + 16, 2, ipfix4, ipfix6);
        s->len += TEMPLATE_SET_LEN;
        if (finish(s) != 0)
            return -1;
    }
    s->next = 0;
    return 0;
}

void
send_drop_every(struct sender *s, uint64_t n)
{
    s->drop_every = n;
}
