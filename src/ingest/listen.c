/*
 * Listening sockets and the receive thread (see ds/listen.h).
 *
 * The receive thread waits in epoll on every socket; a readable UDP socket
 * is read with recvmmsg until it is empty, so one wakeup takes a whole
 * burst.  Items go into a byte ring (one producer, one consumer): a header
 * and the payload, 8-byte aligned, with a wrap marker where a record does
 * not fit before the end.  When the ring is full the thread waits, and the
 * socket buffer (collector.receive_buffer) takes the burst meanwhile; what
 * the kernel then drops it reports through SO_RXQ_OVFL, and that is
 * counted.
 */
#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "ds/listen.h"
#include "ds/xmem.h"

#ifndef IPPROTO_SCTP
#define IPPROTO_SCTP 132
#endif

#define BATCH 64                    /* datagrams per recvmmsg */
#define DGRAM_MAX 65536
#define CONNS_MAX 256               /* TCP connections per listener, by default */
#define MESSAGE_TIMEOUT_MS 30000    /* a part of a message held this long closes it, by default */
#define WRAP_MARK 0xffffffffu
#define EV_STOP UINT64_MAX          /* epoll data of the stop eventfd */
#define EV_CONN_BIT (UINT64_C(1) << 63)

struct ring_hdr {
    uint32_t size;                  /* of the whole record, header included, 8-aligned */
    uint16_t event;
    uint16_t listener;
    uint32_t conn;
    uint16_t from_port;
    uint16_t pad;
    int64_t recv_ms;
    uint8_t from[16];
    uint32_t len;
    uint32_t pad2;
};

struct conn {
    int fd;
    uint32_t id;
    uint16_t listener;
    struct addr from;
    uint16_t from_port;
    /* framing, to tell a connection that waits inside a message */
    uint8_t hdr[4];                 /* version and length of the message being received */
    uint8_t hdr_n;
    uint32_t left;                  /* bytes of it still to come, once hdr is whole */
    int64_t partial_since;          /* ms: the first byte of an incomplete message; 0: none */
    int64_t since;                  /* ms: accepted */
    int64_t last_read;              /* ms */
    bool whole;                     /* has sent a whole message */
};

struct listener {
    struct cfg_listener cfg;        /* address borrowed from name */
    int fd;
    int sock_type;
    uint16_t port;
    char name[96];
    struct listen_stats st;         /* updated by the receive thread under stats_lock */
    uint32_t last_ovfl;
};

struct listen_set {
    struct listener *ls;
    size_t n;
    int epfd;
    int stop_fd;                    /* eventfd: the receive thread ends */
    int wake_fd;                    /* eventfd: an item for a waiting consumer */
    pthread_t thread;
    int started;
    atomic_int stopping;
    atomic_int done;                /* the receive thread has ended */
    pthread_mutex_t stats_lock;
    /* the ring */
    uint8_t *ring;
    size_t cap;
    _Atomic uint64_t head;          /* bytes written (producer) */
    _Atomic uint64_t tail;          /* bytes read (consumer) */
    atomic_int consumer_waiting;
    struct listen_item item;
    size_t item_size;               /* of the record listen_next() handed out, 0 none */
    /* TCP connections, owned by the receive thread */
    struct conn *conns;
    size_t n_conns;
    uint32_t next_conn;
    size_t max_conns;               /* per listener */
    int64_t message_timeout_ms;
    int64_t next_timeout_check;
    /* recvmmsg staging */
    uint8_t *bufs;
    struct mmsghdr msgs[BATCH];
    struct iovec iov[BATCH];
    struct sockaddr_storage addrs[BATCH];
    uint8_t ctl[BATCH][64];
};

static int64_t
now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
addr_of_sockaddr(const struct sockaddr_storage *sa, struct addr *a, uint16_t *port)
{
    memset(a, 0, sizeof(*a));
    *port = 0;
    if (sa->ss_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)(const void *)sa;

        addr_from_v4(a, ntohl(in->sin_addr.s_addr));
        *port = ntohs(in->sin_port);
    } else if (sa->ss_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)(const void *)sa;

        /* an IPv4 peer of a dual-stack socket comes as ::ffff:a.b.c.d, our own form */
        memcpy(a->b, &in6->sin6_addr, 16);
        *port = ntohs(in6->sin6_port);
    }
}

/* ---- binding ---------------------------------------------------------------- */

static enum ds_rc
bind_one(struct listener *l, int64_t rcvbuf, struct ds_error *err)
{
    struct addr a;
    struct sockaddr_storage ss;
    socklen_t sl;
    int family, type, proto = 0, one = 1, zero = 0;
    int got = 0;
    socklen_t gl = sizeof(got);

    if (addr_parse(l->cfg.address, &a) != 0)
        return ds_error_set(err, DS_ERR_CONFIG, "collect: %s: not an address", l->name);
    memset(&ss, 0, sizeof(ss));
    if (addr_is_v4(&a) && strchr(l->cfg.address, ':') == NULL) {
        struct sockaddr_in *in = (struct sockaddr_in *)(void *)&ss;

        family = AF_INET;
        in->sin_family = AF_INET;
        in->sin_port = htons(l->port);
        in->sin_addr.s_addr = htonl(addr_v4(&a));
        sl = sizeof(*in);
    } else {
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)(void *)&ss;

        family = AF_INET6;
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons(l->port);
        memcpy(&in6->sin6_addr, a.b, 16);
        sl = sizeof(*in6);
    }
    switch (l->cfg.transport) {
    case CFG_TRANSPORT_TCP:
        type = SOCK_STREAM;
        break;
    case CFG_TRANSPORT_SCTP:
        type = SOCK_SEQPACKET;
        proto = IPPROTO_SCTP;
        break;
    default:
        type = SOCK_DGRAM;
        break;
    }
    l->sock_type = type;
    l->fd = socket(family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, proto);
    if (l->fd < 0) {
        if (proto == IPPROTO_SCTP && (errno == EPROTONOSUPPORT || errno == ESOCKTNOSUPPORT))
            return ds_error_set(err, DS_ERR_IO,
                                "collect: %s: SCTP is not available here (is the sctp kernel "
                                "module loaded?)",
                                l->name);
        return ds_error_set(err, DS_ERR_IO, "collect: %s: socket: %s", l->name, strerror(errno));
    }
    /*
     * TCP: a restart must not wait for TIME_WAIT.  Not UDP: there it would
     * let a second collector bind the same port and take half the traffic.
     */
    if (type == SOCK_STREAM)
        setsockopt(l->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (family == AF_INET6)
        setsockopt(l->fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
    if (type == SOCK_DGRAM)
        setsockopt(l->fd, SOL_SOCKET, SO_RXQ_OVFL, &one, sizeof(one));
    if (type != SOCK_STREAM) {
        int want = rcvbuf > INT32_MAX / 2 ? INT32_MAX / 2 : (int)rcvbuf;

        l->st.rcvbuf_wanted = rcvbuf;
        setsockopt(l->fd, SOL_SOCKET, SO_RCVBUF, &want, sizeof(want));
        /* Linux grants twice what is asked, up to net.core.rmem_max; root may go beyond */
        if (getsockopt(l->fd, SOL_SOCKET, SO_RCVBUF, &got, &gl) == 0 && got / 2 < want)
            setsockopt(l->fd, SOL_SOCKET, SO_RCVBUFFORCE, &want, sizeof(want));
        gl = sizeof(got);
        if (getsockopt(l->fd, SOL_SOCKET, SO_RCVBUF, &got, &gl) == 0)
            l->st.rcvbuf = got / 2;
    }
    if (bind(l->fd, (struct sockaddr *)&ss, sl) != 0)
        return ds_error_set(err, DS_ERR_IO, "collect: %s: cannot bind: %s%s", l->name,
                            strerror(errno),
                            errno == EACCES ? " (ports below 1024 need root: run as root with "
                                              "collector.user, or pick a port above 1023)"
                                            : "");
    if (type != SOCK_DGRAM && listen(l->fd, 64) != 0)
        return ds_error_set(err, DS_ERR_IO, "collect: %s: listen: %s", l->name, strerror(errno));
    sl = sizeof(ss);
    if (getsockname(l->fd, (struct sockaddr *)&ss, &sl) == 0) {
        struct addr b;

        addr_of_sockaddr(&ss, &b, &l->port);
    }
    return DS_OK;
}

enum ds_rc
listen_open(const struct cfg_listener *ls, size_t n, int64_t rcvbuf, struct listen_set **out,
            struct ds_error *err)
{
    struct listen_set *s = xcalloc(1, sizeof(*s));

    s->max_conns = CONNS_MAX;
    s->message_timeout_ms = MESSAGE_TIMEOUT_MS;
    enum ds_rc rc = DS_OK;

    *out = NULL;
    s->epfd = s->stop_fd = s->wake_fd = -1;
    s->ls = xcalloc(n ? n : 1, sizeof(*s->ls));
    s->n = n;
    pthread_mutex_init(&s->stats_lock, NULL);
    for (size_t i = 0; i < n; i++) {
        struct listener *l = &s->ls[i];
        int v6 = strchr(ls[i].address, ':') != NULL;

        l->cfg = ls[i];
        l->fd = -1;
        l->port = cfg_listener_port(&ls[i]);
        snprintf(l->name, sizeof(l->name), "%s/%s %s%s%s:%u", cfg_protocol_name(ls[i].protocol),
                 cfg_transport_name(ls[i].transport), v6 ? "[" : "", ls[i].address,
                 v6 ? "]" : "", l->port);
        rc = bind_one(l, rcvbuf, err);
        if (rc != DS_OK)
            break;
        /* the name shows the port bound */
        snprintf(l->name, sizeof(l->name), "%s/%s %s%s%s:%u", cfg_protocol_name(ls[i].protocol),
                 cfg_transport_name(ls[i].transport), v6 ? "[" : "", ls[i].address,
                 v6 ? "]" : "", l->port);
    }
    if (rc != DS_OK) {
        listen_close(s);
        return rc;
    }
    *out = s;
    return DS_OK;
}

/* ---- the ring ---------------------------------------------------------------- */

static size_t
rec_size(size_t len)
{
    return (sizeof(struct ring_hdr) + len + 7) & ~(size_t)7;
}

/*
 * Producer: room for a record of len payload bytes, waiting while the ring
 * is full; NULL if the set is stopping and no room comes.
 */
static uint8_t *
ring_reserve(struct listen_set *s, size_t len, struct listener *l)
{
    size_t need = rec_size(len);
    int waited = 0;

    for (;;) {
        uint64_t head = atomic_load_explicit(&s->head, memory_order_relaxed);
        uint64_t tail = atomic_load_explicit(&s->tail, memory_order_acquire);
        size_t at = (size_t)(head % s->cap);
        size_t to_end = s->cap - at;
        size_t want = need <= to_end ? need : to_end + need;

        if (s->cap - (size_t)(head - tail) >= want) {
            if (need > to_end) {
                /* skip to the start: the consumer sees the mark and wraps */
                *(uint32_t *)(void *)(s->ring + at) = WRAP_MARK;
                atomic_store_explicit(&s->head, head + to_end, memory_order_release);
                at = 0;
            }
            return s->ring + at;
        }
        if (!waited) {
            pthread_mutex_lock(&s->stats_lock);
            l->st.ring_waits++;
            pthread_mutex_unlock(&s->stats_lock);
            waited = 1;
        }
        if (atomic_load(&s->stopping) > 1)
            return NULL;
        usleep(200);
    }
}

static void
ring_commit(struct listen_set *s, uint8_t *at, const struct ring_hdr *h, const void *data)
{
    uint64_t head = atomic_load_explicit(&s->head, memory_order_relaxed);

    memcpy(at, h, sizeof(*h));
    if (h->len > 0)
        memcpy(at + sizeof(*h), data, h->len);
    atomic_store_explicit(&s->head, head + h->size, memory_order_release);
    /*
     * The consumer sets its flag, then looks at head; this looks at the
     * flag after its store of head: without the fence between, both could
     * miss the other's.  The flag is taken, not only read: one write wakes
     * the consumer, and the items put before it runs need none.
     */
    atomic_thread_fence(memory_order_seq_cst);
    if (atomic_load_explicit(&s->consumer_waiting, memory_order_relaxed) &&
        atomic_exchange(&s->consumer_waiting, 0)) {
        uint64_t one = 1;

        if (write(s->wake_fd, &one, sizeof(one)) < 0) {
            /* the eventfd counter is already set: the consumer wakes anyway */
        }
    }
}

static void
ring_put(struct listen_set *s, struct listener *l, enum listen_event ev, uint32_t conn,
         const struct addr *from, uint16_t from_port, int64_t recv_ms, const void *data,
         size_t len)
{
    struct ring_hdr h;
    uint8_t *at = ring_reserve(s, len, l);

    if (at == NULL)
        return;
    memset(&h, 0, sizeof(h));
    h.size = (uint32_t)rec_size(len);
    h.event = (uint16_t)ev;
    h.listener = (uint16_t)(l - s->ls);
    h.conn = conn;
    h.from_port = from_port;
    h.recv_ms = recv_ms;
    memcpy(h.from, from->b, 16);
    h.len = (uint32_t)len;
    ring_commit(s, at, &h, data);
}

const struct listen_item *
listen_next(struct listen_set *s, int timeout_ms)
{
    for (;;) {
        uint64_t tail = atomic_load_explicit(&s->tail, memory_order_relaxed);
        uint64_t head = atomic_load_explicit(&s->head, memory_order_acquire);

        if (s->item_size != 0)
            listen_release(s);
        if (head != tail) {
            size_t at = (size_t)(tail % s->cap);
            const struct ring_hdr *h = (const struct ring_hdr *)(const void *)(s->ring + at);

            if (*(const uint32_t *)(const void *)(s->ring + at) == WRAP_MARK) {
                atomic_store_explicit(&s->tail, tail + (s->cap - at), memory_order_release);
                continue;
            }
            s->item.event = (enum listen_event)h->event;
            s->item.listener = h->listener;
            s->item.conn = h->conn;
            memcpy(s->item.from.b, h->from, 16);
            s->item.from_port = h->from_port;
            s->item.recv_ms = h->recv_ms;
            s->item.len = h->len;
            s->item.data = s->ring + at + sizeof(*h);
            s->item_size = h->size;
            return &s->item;
        }
        if (timeout_ms <= 0 || atomic_load(&s->done))
            return NULL;
        {
            struct pollfd pfd = {s->wake_fd, POLLIN, 0};
            uint64_t v;

            atomic_store(&s->consumer_waiting, 1);
            /* an item may have come between the check and the flag (see ring_commit()) */
            if (atomic_load(&s->head) == tail &&
                poll(&pfd, 1, timeout_ms) > 0) {
                if (read(s->wake_fd, &v, sizeof(v)) < 0) {
                    /* nothing to read: woken for nothing */
                }
            }
            atomic_store(&s->consumer_waiting, 0);
            timeout_ms = 0; /* one wait; the caller loops */
        }
    }
}

void
listen_release(struct listen_set *s)
{
    if (s->item_size == 0)
        return;
    atomic_fetch_add_explicit(&s->tail, s->item_size, memory_order_release);
    s->item_size = 0;
}

/* ---- the receive thread ---------------------------------------------------------- */

static void
read_udp(struct listen_set *s, struct listener *l)
{
    for (int rounds = 0; rounds < 64; rounds++) {
        int n;
        int64_t t;
        uint64_t bytes, truncated, ovfl_new;

        for (int i = 0; i < BATCH; i++) {
            s->iov[i].iov_base = s->bufs + (size_t)i * DGRAM_MAX;
            s->iov[i].iov_len = DGRAM_MAX;
            memset(&s->msgs[i].msg_hdr, 0, sizeof(s->msgs[i].msg_hdr));
            s->msgs[i].msg_hdr.msg_iov = &s->iov[i];
            s->msgs[i].msg_hdr.msg_iovlen = 1;
            s->msgs[i].msg_hdr.msg_name = &s->addrs[i];
            s->msgs[i].msg_hdr.msg_namelen = sizeof(s->addrs[i]);
            s->msgs[i].msg_hdr.msg_control = s->ctl[i];
            s->msgs[i].msg_hdr.msg_controllen = sizeof(s->ctl[i]);
        }
        n = recvmmsg(l->fd, s->msgs, BATCH, MSG_DONTWAIT, NULL);
        if (n <= 0)
            return;
        t = now_ms();
        /* the statistics once a call: a lock per datagram was near a tenth of this thread */
        bytes = 0;
        truncated = 0;
        ovfl_new = 0;
        for (int i = 0; i < n; i++) {
            struct msghdr *mh = &s->msgs[i].msg_hdr;
            struct addr from;
            uint16_t port;

            for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c != NULL; c = CMSG_NXTHDR(mh, c)) {
                if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SO_RXQ_OVFL) {
                    uint32_t ovfl;

                    memcpy(&ovfl, CMSG_DATA(c), sizeof(ovfl));
                    if (ovfl > l->last_ovfl) {
                        ovfl_new += ovfl - l->last_ovfl;
                        l->last_ovfl = ovfl;
                    }
                }
            }
            bytes += s->msgs[i].msg_len;
            if (mh->msg_flags & MSG_TRUNC) {
                truncated++;
                continue;
            }
            addr_of_sockaddr(&s->addrs[i], &from, &port);
            ring_put(s, l, LISTEN_DATAGRAM, 0, &from, port, t, s->iov[i].iov_base,
                     s->msgs[i].msg_len);
        }
        pthread_mutex_lock(&s->stats_lock);
        l->st.kernel_drops += ovfl_new;
        l->st.datagrams += (uint64_t)n;
        l->st.bytes += bytes;
        l->st.truncated += truncated;
        pthread_mutex_unlock(&s->stats_lock);
        if (n < BATCH)
            return;
    }
}

static void
read_sctp(struct listen_set *s, struct listener *l)
{
    for (int rounds = 0; rounds < 1024; rounds++) {
        struct sockaddr_storage ss;
        struct iovec iov = {s->bufs, DGRAM_MAX};
        struct msghdr mh;
        ssize_t n;
        struct addr from;
        uint16_t port;

        memset(&mh, 0, sizeof(mh));
        mh.msg_name = &ss;
        mh.msg_namelen = sizeof(ss);
        mh.msg_iov = &iov;
        mh.msg_iovlen = 1;
        n = recvmsg(l->fd, &mh, MSG_DONTWAIT);
        if (n <= 0)
            return;
        addr_of_sockaddr(&ss, &from, &port);
        pthread_mutex_lock(&s->stats_lock);
        l->st.datagrams++;
        l->st.bytes += (uint64_t)n;
        pthread_mutex_unlock(&s->stats_lock);
        ring_put(s, l, LISTEN_DATAGRAM, 0, &from, port, now_ms(), s->bufs, (size_t)n);
    }
}

static void
conn_close(struct listen_set *s, size_t ci)
{
    struct conn *c = &s->conns[ci];
    struct listener *l = &s->ls[c->listener];

    ring_put(s, l, LISTEN_STREAM_CLOSE, c->id, &c->from, c->from_port, now_ms(), NULL, 0);
    epoll_ctl(s->epfd, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    pthread_mutex_lock(&s->stats_lock);
    l->st.open_connections--;
    pthread_mutex_unlock(&s->stats_lock);
    s->conns[ci] = s->conns[--s->n_conns];
}

void
listen_set_tcp_limits(struct listen_set *s, size_t max_conns, int64_t message_timeout_ms)
{
    s->max_conns = max_conns > 0 ? max_conns : 1;
    s->message_timeout_ms = message_timeout_ms > 0 ? message_timeout_ms : MESSAGE_TIMEOUT_MS;
}

/*
 * The connection of listener li that a newcomer may replace (see
 * listen_set_tcp_limits()), or -1.
 */
static ssize_t
conn_victim(const struct listen_set *s, size_t li, int64_t now)
{
    ssize_t fresh = -1, silent = -1;

    for (size_t i = 0; i < s->n_conns; i++) {
        const struct conn *c = &s->conns[i];

        if (c->listener != li)
            continue;
        if (!c->whole) {
            if (fresh < 0 || c->since < s->conns[fresh].since)
                fresh = (ssize_t)i;
        } else if (silent < 0 || c->last_read < s->conns[silent].last_read) {
            silent = (ssize_t)i;
        }
    }
    if (fresh >= 0)
        return fresh;
    if (silent >= 0 && now - s->conns[silent].last_read > s->message_timeout_ms)
        return silent;
    return -1;
}

/*
 * Follows the messages in n bytes of a connection's stream: at the end, is
 * it inside one?  A length below a header's makes the rest unframeable: the
 * connection stays inside a message, and is closed when that times out.
 */
static void
conn_frame(struct conn *c, const uint8_t *p, size_t n, int64_t now)
{
    size_t i = 0;

    c->last_read = now;
    while (i < n) {
        if (c->partial_since == 0)
            c->partial_since = now;
        if (c->hdr_n < 4) {
            c->hdr[c->hdr_n++] = p[i++];
            if (c->hdr_n == 4) {
                uint32_t len = (uint32_t)c->hdr[2] << 8 | c->hdr[3];

                if (len < 16) {
                    c->left = UINT32_MAX;
                    return;
                }
                c->left = len - 4;
            }
            continue;
        }
        if (c->left == UINT32_MAX)
            return;
        if (n - i < c->left) {
            c->left -= (uint32_t)(n - i);
            return;
        }
        i += c->left;
        c->left = 0;
        c->hdr_n = 0;
        c->partial_since = 0;
        c->whole = true;
    }
}

/* limits.tcp_message_timeout: connections that wait inside a message are closed. */
static void
conn_timeouts(struct listen_set *s, int64_t now)
{
    if (now < s->next_timeout_check)
        return;
    s->next_timeout_check = now + 1000;
    for (size_t i = 0; i < s->n_conns;) {
        struct conn *c = &s->conns[i];

        if (c->partial_since != 0 && now - c->partial_since > s->message_timeout_ms) {
            struct listener *l = &s->ls[c->listener];

            pthread_mutex_lock(&s->stats_lock);
            l->st.message_timeouts++;
            pthread_mutex_unlock(&s->stats_lock);
            conn_close(s, i);
            continue;
        }
        i++;
    }
}

static void
accept_tcp(struct listen_set *s, struct listener *l)
{
    for (;;) {
        struct sockaddr_storage ss;
        socklen_t sl = sizeof(ss);
        int fd = accept4(l->fd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
        struct epoll_event ev;
        struct conn *c;

        if (fd < 0)
            return;
        if (l->st.open_connections >= s->max_conns) {
            ssize_t v = conn_victim(s, (size_t)(l - s->ls), now_ms());

            if (v < 0) {
                close(fd);
                pthread_mutex_lock(&s->stats_lock);
                l->st.refused++;
                pthread_mutex_unlock(&s->stats_lock);
                continue;
            }
            pthread_mutex_lock(&s->stats_lock);
            l->st.evicted++;
            pthread_mutex_unlock(&s->stats_lock);
            conn_close(s, (size_t)v);
        }
        s->conns = xreallocarray(s->conns, s->n_conns + 1, sizeof(*s->conns));
        c = &s->conns[s->n_conns++];
        memset(c, 0, sizeof(*c));
        c->since = c->last_read = now_ms();
        c->fd = fd;
        c->id = ++s->next_conn ? s->next_conn : ++s->next_conn;
        c->listener = (uint16_t)(l - s->ls);
        addr_of_sockaddr(&ss, &c->from, &c->from_port);
        ev.events = EPOLLIN;
        ev.data.u64 = EV_CONN_BIT | c->id;
        epoll_ctl(s->epfd, EPOLL_CTL_ADD, fd, &ev);
        pthread_mutex_lock(&s->stats_lock);
        l->st.connections++;
        l->st.open_connections++;
        pthread_mutex_unlock(&s->stats_lock);
    }
}

static void
read_conn(struct listen_set *s, uint32_t id)
{
    size_t ci;

    for (ci = 0; ci < s->n_conns; ci++)
        if (s->conns[ci].id == id)
            break;
    if (ci == s->n_conns)
        return;
    for (int rounds = 0; rounds < 16; rounds++) {
        struct conn *c = &s->conns[ci];
        int64_t now;
        struct listener *l = &s->ls[c->listener];
        ssize_t n = read(c->fd, s->bufs, DGRAM_MAX);

        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            return;
        if (n <= 0) {
            conn_close(s, ci);
            return;
        }
        pthread_mutex_lock(&s->stats_lock);
        l->st.datagrams++;
        l->st.bytes += (uint64_t)n;
        pthread_mutex_unlock(&s->stats_lock);
        now = now_ms();
        conn_frame(c, s->bufs, (size_t)n, now);
        ring_put(s, l, LISTEN_STREAM_DATA, c->id, &c->from, c->from_port, now, s->bufs,
                 (size_t)n);
    }
}

static void
read_listener(struct listen_set *s, struct listener *l)
{
    if (l->sock_type == SOCK_DGRAM)
        read_udp(s, l);
    else if (l->sock_type == SOCK_SEQPACKET)
        read_sctp(s, l);
    else
        accept_tcp(s, l);
}

static void *
receive_thread(void *arg)
{
    struct listen_set *s = arg;
    struct epoll_event evs[32];

    for (;;) {
        int n = epoll_wait(s->epfd, evs, 32, 1000);

        for (int i = 0; i < n; i++) {
            uint64_t d = evs[i].data.u64;

            if (d == EV_STOP)
                continue;
            if (d & EV_CONN_BIT)
                read_conn(s, (uint32_t)(d & 0xffffffffu));
            else
                read_listener(s, &s->ls[d]);
        }
        if (s->n_conns > 0)
            conn_timeouts(s, now_ms());
        if (atomic_load(&s->stopping))
            break;
    }
    /* what the sockets hold already is read before ending (SIGTERM loses nothing received) */
    for (size_t i = 0; i < s->n; i++)
        if (s->ls[i].sock_type != SOCK_STREAM)
            read_listener(s, &s->ls[i]);
    while (s->n_conns > 0) {
        read_conn(s, s->conns[0].id);
        if (s->n_conns > 0)
            conn_close(s, 0);
    }
    atomic_store(&s->done, 1);
    {
        uint64_t one = 1;

        if (write(s->wake_fd, &one, sizeof(one)) < 0) {
            /* already signalled */
        }
    }
    return NULL;
}

enum ds_rc
listen_start(struct listen_set *s, size_t ring_bytes, struct ds_error *err)
{
    struct epoll_event ev;

    s->cap = (ring_bytes < 4 * DGRAM_MAX ? 4 * DGRAM_MAX : ring_bytes) & ~(size_t)7;
    s->ring = xmalloc(s->cap);
    s->bufs = xmalloc((size_t)BATCH * DGRAM_MAX);
    s->epfd = epoll_create1(EPOLL_CLOEXEC);
    s->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    s->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (s->epfd < 0 || s->stop_fd < 0 || s->wake_fd < 0)
        return ds_error_set(err, DS_ERR_IO, "collect: epoll/eventfd: %s", strerror(errno));
    ev.events = EPOLLIN;
    ev.data.u64 = EV_STOP;
    epoll_ctl(s->epfd, EPOLL_CTL_ADD, s->stop_fd, &ev);
    for (size_t i = 0; i < s->n; i++) {
        ev.events = EPOLLIN;
        ev.data.u64 = i;
        if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, s->ls[i].fd, &ev) != 0)
            return ds_error_set(err, DS_ERR_IO, "collect: %s: epoll: %s", s->ls[i].name,
                                strerror(errno));
    }
    if (pthread_create(&s->thread, NULL, receive_thread, s) != 0)
        return ds_error_set(err, DS_ERR_INTERNAL, "collect: cannot start the receive thread");
    pthread_setname_np(s->thread, "darkstab-recv");
    s->started = 1;
    return DS_OK;
}

void
listen_stop(struct listen_set *s)
{
    uint64_t one = 1;

    if (!s->started || atomic_load(&s->stopping))
        return;
    atomic_store(&s->stopping, 1);
    if (write(s->stop_fd, &one, sizeof(one)) < 0) {
        /* the thread also wakes once a second */
    }
}

bool
listen_drained(struct listen_set *s)
{
    /* done first: the thread's last items are in the ring before it sets it */
    return !s->started ||
           (atomic_load(&s->done) && s->item_size == 0 &&
            atomic_load(&s->head) == atomic_load_explicit(&s->tail, memory_order_relaxed));
}

void
listen_close(struct listen_set *s)
{
    if (s == NULL)
        return;
    if (s->started) {
        listen_stop(s);
        /* a full ring must not hold the thread: give up waiting for room */
        atomic_store(&s->stopping, 2);
        pthread_join(s->thread, NULL);
        s->started = 0;
    }
    for (size_t i = 0; i < s->n; i++)
        if (s->ls[i].fd >= 0)
            close(s->ls[i].fd);
    for (size_t i = 0; i < s->n_conns; i++)
        close(s->conns[i].fd);
    if (s->epfd >= 0)
        close(s->epfd);
    if (s->stop_fd >= 0)
        close(s->stop_fd);
    if (s->wake_fd >= 0)
        close(s->wake_fd);
    pthread_mutex_destroy(&s->stats_lock);
    free(s->conns);
    free(s->ring);
    free(s->bufs);
    free(s->ls);
    free(s);
}

size_t
listen_count(const struct listen_set *s)
{
    return s->n;
}

const char *
listen_name(const struct listen_set *s, size_t i)
{
    return s->ls[i].name;
}

uint16_t
listen_port(const struct listen_set *s, size_t i)
{
    return s->ls[i].port;
}

void
listen_get_stats(struct listen_set *s, size_t i, struct listen_stats *out)
{
    pthread_mutex_lock(&s->stats_lock);
    *out = s->ls[i].st;
    pthread_mutex_unlock(&s->stats_lock);
}

void
listen_ring_use(struct listen_set *s, size_t *used, size_t *size)
{
    *used = (size_t)(atomic_load(&s->head) - atomic_load(&s->tail));
    *size = s->cap;
}
