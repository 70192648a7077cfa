/*
 * replay: sends the UDP payloads of pcap captures, in capture order, to a
 * collector at HOST:PORT, so that end-to-end tests feed it real router
 * exports (tests/data/captures).
 *
 * A collector keys exporters by source address, so each original source
 * gets a local address of its own: IPv4 sources 127.0.0.10, .11, ... in
 * the order they first appear (Linux accepts any 127.0.0.0/8 address
 * without configuration), IPv6 sources ::1, the only IPv6 loopback
 * address, all together.  A datagram goes to the destination address of
 * its source's family when HOST has one (a name such as localhost may
 * have both), else to the other family's; an IPv6 source sent to an IPv4
 * destination then gets a 127.0.0.x address of its own too, while an IPv4
 * source sent to an IPv6-only destination shares ::1.  A destination off
 * this host cannot be reached from loopback sources: everything then goes
 * from one socket, as with --one-socket.
 *
 * Only payloads that look like flow exports by their version field are
 * sent (IPFIX 10, NetFlow 9 and 5 in 16 bits, sFlow 5 in 32 bits), unless
 * --all; DNS, syslog and the like in a capture stay out.
 *
 * Exit status: 0; 1 when a capture cannot be read or a datagram cannot be
 * sent (named on stderr); 2 for a usage error.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "ds/parse.h"
#include "pcap.h"

#define LOCAL4_FIRST 0x7f00000au /* 127.0.0.10 */

/* An original source address and the local socket its datagrams leave from. */
struct source {
    int family;                 /* 4 or 6, of the original */
    uint8_t addr[16];
    int fd;                     /* shared by all the sources of one local address */
    const struct sockaddr *dst; /* points into struct replay */
    socklen_t dst_len;
    char local[INET6_ADDRSTRLEN];
    long in_file;               /* datagrams of the file being scanned */
};

struct replay {
    uint32_t first4;            /* the first local IPv4 address, host order */
    struct source *src;
    size_t n_src;
    size_t last;                /* the source of the previous datagram: most are the same */
    int all;
    /* destinations: the first address of each family that HOST resolves to */
    struct sockaddr_storage dst4, dst6;
    int has4, has6;
    /* pacing: datagrams a second, deadlines counted from the file's start */
    uint64_t rate;
    int64_t t0_ns;
    uint64_t in_file;
    /* counts of the file being read */
    long datagrams, skipped;
    unsigned long long bytes;
    const char *file;
    char err[512];
};

static uint16_t
be16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t
be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* A flow export by its version field: IPFIX, NetFlow v9 or v5, sFlow v5. */
static int
is_flow_export(const uint8_t *p, size_t len)
{
    uint16_t v;

    if (len >= 4 && be32(p) == 5)
        return 1;
    if (len < 2)
        return 0;
    v = be16(p);
    return v == 10 || v == 9 || v == 5;
}

static int64_t
now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void
sleep_until(int64_t t_ns)
{
    struct timespec ts;

    ts.tv_sec = (time_t)(t_ns / 1000000000);
    ts.tv_nsec = (long)(t_ns % 1000000000);
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
        ;
}

static const char *
format_addr(int family, const uint8_t *a, char *buf)
{
    if (inet_ntop(family == 6 ? AF_INET6 : AF_INET, a, buf, INET6_ADDRSTRLEN) == NULL)
        snprintf(buf, INET6_ADDRSTRLEN, "?");
    return buf;
}

static size_t
find_source(struct replay *r, const struct pcap_udp *d)
{
    size_t i = r->last;

    if (i < r->n_src && r->src[i].family == d->family &&
        memcmp(r->src[i].addr, d->src, 16) == 0)
        return i;
    for (i = 0; i < r->n_src; i++) {
        if (r->src[i].family == d->family && memcmp(r->src[i].addr, d->src, 16) == 0) {
            r->last = i;
            return i;
        }
    }
    return r->n_src;
}

/* Pass 1: counts, and the original sources in the order they appear. */
static int
scan_one(void *ctx, const struct pcap_udp *d)
{
    struct replay *r = ctx;
    struct source *s;

    if (!r->all && !is_flow_export(d->payload, d->len)) {
        r->skipped++;
        return 0;
    }
    r->datagrams++;
    r->bytes += d->len;
    if (find_source(r, d) < r->n_src) {
        r->src[r->last].in_file++;
        return 0;
    }
    s = realloc(r->src, (r->n_src + 1) * sizeof(*r->src));
    if (s == NULL) {
        snprintf(r->err, sizeof(r->err), "out of memory");
        return 1;
    }
    r->src = s;
    s = &r->src[r->n_src];
    memset(s, 0, sizeof(*s));
    s->family = d->family;
    memcpy(s->addr, d->src, 16);
    s->fd = -1;
    s->in_file = 1;
    r->last = r->n_src++;
    return 0;
}

/* Pass 2: one datagram, at its time under --rate. */
static int
send_one(void *ctx, const struct pcap_udp *d)
{
    struct replay *r = ctx;
    size_t i;
    const struct source *s;
    char orig[INET6_ADDRSTRLEN];

    if (!r->all && !is_flow_export(d->payload, d->len))
        return 0;
    i = find_source(r, d);
    if (i == r->n_src) {
        snprintf(r->err, sizeof(r->err), "%s: a source not seen before (file changed?)", r->file);
        return 1;
    }
    s = &r->src[i];
    if (r->rate > 0) {
        uint64_t q = r->in_file / r->rate, rem = r->in_file % r->rate;
        int64_t due = r->t0_ns + (int64_t)(q * 1000000000u + rem * 1000000000u / r->rate);

        if (due > now_ns())
            sleep_until(due);
    }
    for (;;) {
        ssize_t n = sendto(s->fd, d->payload, d->len, 0, s->dst, s->dst_len);

        if (n == (ssize_t)d->len)
            break;
        if (n < 0 && (errno == EINTR || errno == ENOBUFS || errno == EAGAIN))
            continue;
        snprintf(r->err, sizeof(r->err), "%s: datagram %ld (%zu bytes) from %s via %s: %s",
                 r->file, r->datagrams + 1, d->len, format_addr(d->family, d->src, orig),
                 s->local, n < 0 ? strerror(errno) : "sent short");
        return 1;
    }
    r->in_file++;
    r->datagrams++;
    r->bytes += d->len;
    return 0;
}

static int
is_loopback(const struct sockaddr_storage *ss)
{
    if (ss->ss_family == AF_INET)
        return (ntohl(((const struct sockaddr_in *)ss)->sin_addr.s_addr) >> 24) == 127;
    return IN6_IS_ADDR_LOOPBACK(&((const struct sockaddr_in6 *)ss)->sin6_addr);
}

/* A UDP socket bound to a local address (NULL: any), or -1 with the reason in r->err. */
static int
bound_socket(struct replay *r, int family, const void *local, const char *name)
{
    struct sockaddr_storage ss;
    socklen_t len;
    int fd = socket(family, SOCK_DGRAM, 0);

    if (fd < 0) {
        snprintf(r->err, sizeof(r->err), "socket: %s", strerror(errno));
        return -1;
    }
    if (local == NULL)
        return fd;
    memset(&ss, 0, sizeof(ss));
    if (family == AF_INET) {
        ((struct sockaddr_in *)&ss)->sin_family = AF_INET;
        memcpy(&((struct sockaddr_in *)&ss)->sin_addr, local, 4);
        len = sizeof(struct sockaddr_in);
    } else {
        ((struct sockaddr_in6 *)&ss)->sin6_family = AF_INET6;
        memcpy(&((struct sockaddr_in6 *)&ss)->sin6_addr, local, 16);
        len = sizeof(struct sockaddr_in6);
    }
    if (bind(fd, (struct sockaddr *)&ss, len) != 0) {
        snprintf(r->err, sizeof(r->err), "bind %s: %s", name, strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

/*
 * Gives every source its socket and destination (see the top of the
 * file).  Returns 0, or -1 with the reason in r->err.
 */
static int
map_sources(struct replay *r, int one_socket, int verbose)
{
    static const uint8_t lo6[16] = {[15] = 1};
    uint32_t next4 = r->first4 ? r->first4 : LOCAL4_FIRST;
    int shared4 = -1, shared6 = -1;

    if (!one_socket && ((r->has4 && !is_loopback(&r->dst4)) ||
                        (r->has6 && !is_loopback(&r->dst6)))) {
        if (verbose)
            printf("destination is not on this host: all sources from one socket\n");
        one_socket = 1;
    }
    for (size_t i = 0; i < r->n_src; i++) {
        struct source *s = &r->src[i];
        int to6 = s->family == 6 ? r->has6 : !r->has4;
        int *shared = to6 ? &shared6 : &shared4;
        char orig[INET6_ADDRSTRLEN];

        s->dst = (const struct sockaddr *)(to6 ? &r->dst6 : &r->dst4);
        s->dst_len = to6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
        if (one_socket || to6) {
            /* one socket per family: unbound (the kernel picks), or ::1 */
            if (*shared < 0) {
                *shared = bound_socket(r, to6 ? AF_INET6 : AF_INET,
                                       one_socket ? NULL : lo6, "::1");
                if (*shared < 0)
                    return -1;
            }
            s->fd = *shared;
            snprintf(s->local, sizeof(s->local), "%s", one_socket ? "(one socket)" : "::1");
        } else {
            uint32_t a = htonl(next4++);

            inet_ntop(AF_INET, &a, s->local, sizeof(s->local));
            s->fd = bound_socket(r, AF_INET, &a, s->local);
            if (s->fd < 0)
                return -1;
        }
        if (verbose)
            printf("%s -> %s\n", format_addr(s->family, s->addr, orig), s->local);
    }
    return 0;
}

/* HOST:PORT, [V6]:PORT; fills the destinations.  Returns 0, 1 (cannot resolve) or 2 (usage). */
static int
resolve(struct replay *r, const char *spec)
{
    const char *colon = strrchr(spec, ':');
    struct addrinfo hints, *res, *ai;
    char host[256];
    int64_t port;
    char why[128];
    size_t hl;
    int rc;

    if (colon == NULL || colon == spec) {
        fprintf(stderr, "replay: the destination is HOST:PORT, not '%s'\n", spec);
        return 2;
    }
    if (parse_int64(colon + 1, 1, 65535, &port, why, sizeof(why)) != 0) {
        fprintf(stderr, "replay: port of '%s': %s\n", spec, why);
        return 2;
    }
    hl = (size_t)(colon - spec);
    if (spec[0] == '[' && colon[-1] == ']') {
        spec++;
        hl -= 2;
    }
    if (hl == 0 || hl >= sizeof(host)) {
        fprintf(stderr, "replay: the destination is HOST:PORT, not '%s'\n", spec);
        return 2;
    }
    memcpy(host, spec, hl);
    host[hl] = '\0';
    memset(&hints, 0, sizeof(hints));
    hints.ai_socktype = SOCK_DGRAM;
    rc = getaddrinfo(host, colon + 1, &hints, &res);
    if (rc != 0) {
        fprintf(stderr, "replay: %s: %s\n", host, gai_strerror(rc));
        return 1;
    }
    for (ai = res; ai != NULL; ai = ai->ai_next) {
        if (ai->ai_family == AF_INET && !r->has4) {
            memcpy(&r->dst4, ai->ai_addr, ai->ai_addrlen);
            r->has4 = 1;
        } else if (ai->ai_family == AF_INET6 && !r->has6) {
            memcpy(&r->dst6, ai->ai_addr, ai->ai_addrlen);
            r->has6 = 1;
        }
    }
    freeaddrinfo(res);
    if (!r->has4 && !r->has6) {
        fprintf(stderr, "replay: %s: no IPv4 or IPv6 address\n", host);
        return 1;
    }
    return 0;
}

static void
usage(FILE *fp)
{
    fprintf(fp,
            "usage: replay [options] HOST:PORT FILE.pcap...\n"
            "       replay --count-only [--all] FILE.pcap...\n\n"
            "Sends the UDP payloads of pcap captures, in capture order, to HOST:PORT\n"
            "(IPv6: [::1]:PORT).  Each original IPv4 source sends from a loopback address\n"
            "of its own, 127.0.0.10, .11, ... in order of appearance; IPv6 sources from ::1.\n\n"
            "  --rate N        N datagrams a second (default: as fast as possible)\n"
            "  --gap MS        wait MS milliseconds between files (templates before data)\n"
            "  --repeat K      send the files K times over (default 1)\n"
            "  --count-only    print each file's datagrams and bytes; send nothing\n"
            "  --all           every UDP payload, not only IPFIX, NetFlow v9/v5 and sFlow v5\n"
            "  --one-socket    send everything from one socket (one source address)\n"
            "  --first ADDR    the first local address instead of 127.0.0.10 (127.0.0.0/8)\n"
            "  -v              print the mapping \"ORIGINAL -> LOCAL\" and each file's counts\n"
            "                  (with --count-only: each file's sources)\n"
            "  -h, --help\n"
            "Exit status: 0; 1 if a file cannot be read or a datagram cannot be sent; 2 for\n"
            "a usage error.\n");
}

int
main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"rate", required_argument, NULL, 'r'},
        {"gap", required_argument, NULL, 'g'},
        {"repeat", required_argument, NULL, 'k'},
        {"count-only", no_argument, NULL, 'c'},
        {"all", no_argument, NULL, 'a'},
        {"one-socket", no_argument, NULL, 'o'},
        {"first", required_argument, NULL, 'F'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    static struct replay r;
    int64_t rate = 0, gap = 0, repeat = 1;
    int ch, count_only = 0, one_socket = 0, verbose = 0, first, status = 0, rc;
    long total = 0;
    unsigned long long total_bytes = 0;
    char why[256];
    int64_t t_start;

    while ((ch = getopt_long(argc, argv, "vh", longopts, NULL)) != -1) {
        switch (ch) {
        case 'r':
            if (parse_int64(optarg, 1, 100000000, &rate, why, sizeof(why)) != 0)
                goto bad;
            break;
        case 'g':
            if (parse_int64(optarg, 0, 3600000, &gap, why, sizeof(why)) != 0)
                goto bad;
            break;
        case 'k':
            if (parse_int64(optarg, 1, 1000000, &repeat, why, sizeof(why)) != 0)
                goto bad;
            break;
        case 'c':
            count_only = 1;
            break;
        case 'a':
            r.all = 1;
            break;
        case 'o':
            one_socket = 1;
            break;
        case 'F': {
            struct in_addr ia;

            /* several replays to one collector, each its own addresses */
            if (inet_pton(AF_INET, optarg, &ia) != 1 || (ntohl(ia.s_addr) >> 24) != 127) {
                fprintf(stderr, "replay: --first %s: not an address of 127.0.0.0/8\n", optarg);
                return 2;
            }
            r.first4 = ntohl(ia.s_addr);
            break;
        }
        case 'v':
            verbose = 1;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    first = optind + (count_only ? 0 : 1);
    if (first >= argc) {
        usage(stderr);
        return 2;
    }
    if (!count_only) {
        rc = resolve(&r, argv[optind]);
        if (rc != 0)
            return rc;
    }
    r.rate = (uint64_t)rate;

    /* 1. every file read once before anything is sent: a bad file stops nothing half-way */
    for (int i = first; i < argc; i++) {
        r.file = argv[i];
        r.datagrams = r.skipped = 0;
        r.bytes = 0;
        for (size_t j = 0; j < r.n_src; j++)
            r.src[j].in_file = 0;
        if (pcap_each_udp(argv[i], scan_one, &r, r.err, sizeof(r.err)) < 0 || r.err[0]) {
            fprintf(stderr, "replay: %s\n", r.err);
            return 1;
        }
        if (count_only) {
            printf("%s: %ld datagrams, %llu bytes", argv[i], r.datagrams, r.bytes);
            if (r.skipped)
                printf(" (%ld other UDP datagram%s left out)", r.skipped,
                       r.skipped == 1 ? "" : "s");
            printf("\n");
            for (size_t j = 0; verbose && j < r.n_src; j++) {
                char a[INET6_ADDRSTRLEN];

                if (r.src[j].in_file > 0)
                    printf("  from %s: %ld datagrams\n",
                           format_addr(r.src[j].family, r.src[j].addr, a), r.src[j].in_file);
            }
        }
    }
    if (count_only)
        return 0;

    /* 2. the sources' sockets */
    if (map_sources(&r, one_socket, verbose) != 0) {
        fprintf(stderr, "replay: %s\n", r.err);
        return 1;
    }
    fflush(stdout);

    /* 3. the datagrams */
    t_start = now_ns();
    for (int64_t k = 0; k < repeat && status == 0; k++) {
        for (int i = first; i < argc && status == 0; i++) {
            if (gap > 0 && (k > 0 || i > first))
                sleep_until(now_ns() + gap * 1000000);
            r.file = argv[i];
            r.datagrams = 0;
            r.bytes = 0;
            r.in_file = 0;
            r.t0_ns = now_ns();
            if (pcap_each_udp(argv[i], send_one, &r, r.err, sizeof(r.err)) < 0 || r.err[0]) {
                fprintf(stderr, "replay: %s\n", r.err);
                status = 1;
            }
            total += r.datagrams;
            total_bytes += r.bytes;
            if (verbose)
                printf("%s: %ld datagrams, %llu bytes sent\n", argv[i], r.datagrams, r.bytes);
        }
    }
    fprintf(stderr, "replay: %ld datagrams, %llu bytes sent to %s in %.3f s\n", total,
            total_bytes, argv[optind], (double)(now_ns() - t_start) / 1e9);
    for (size_t i = 0; i < r.n_src; i++) {
        /* sockets are shared between sources: close each once */
        int fd = r.src[i].fd;

        for (size_t j = i; j < r.n_src; j++)
            if (r.src[j].fd == fd)
                r.src[j].fd = -1;
        if (fd >= 0)
            close(fd);
    }
    free(r.src);
    return status;
bad:
    fprintf(stderr, "replay: %s\n", why);
    return 2;
}
