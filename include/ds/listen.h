/*
 * Listening sockets of the collector: UDP (recvmmsg), TCP and SCTP, read by
 * a receive thread of their own into a ring that the decoding thread
 * empties.  Keeping the sockets drained is all that thread does, so that
 * a burst from many routers lands in the ring, not in the kernel's drops.
 *
 * Opening binds every socket at once (before privileges are dropped);
 * starting runs the thread.  Items come out in arrival order.
 */
#ifndef DS_LISTEN_H
#define DS_LISTEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ds/addr.h"
#include "ds/cfg.h"
#include "ds/rc.h"

enum listen_event {
    LISTEN_DATAGRAM,        /* a UDP datagram or an SCTP message */
    LISTEN_STREAM_DATA,     /* bytes of a TCP connection */
    LISTEN_STREAM_CLOSE,    /* the TCP connection ended */
};

struct listen_item {
    enum listen_event event;
    uint16_t listener;      /* index in the configured listeners */
    uint32_t conn;          /* TCP connection id; 0 for datagrams */
    struct addr from;
    uint16_t from_port;
    int64_t recv_ms;        /* wall clock when read */
    size_t len;
    const uint8_t *data;    /* borrowed until listen_release() */
};

/* One listener's counts, cumulative. */
struct listen_stats {
    uint64_t datagrams;     /* datagrams, messages or TCP reads */
    uint64_t bytes;
    uint64_t kernel_drops;  /* dropped by the kernel, full socket buffer (UDP, SO_RXQ_OVFL) */
    uint64_t truncated;     /* datagrams longer than 65535 bytes (cannot happen over IPv4) */
    uint64_t connections;   /* TCP connections accepted */
    uint64_t refused;       /* TCP connections refused: too many at once, none to evict */
    uint64_t evicted;       /* TCP connections closed to make room (limits.tcp_connections) */
    uint64_t message_timeouts;  /* closed holding part of a message (limits.tcp_message_timeout) */
    uint64_t open_connections;
    uint64_t ring_waits;    /* times the receive thread waited for room in the ring */
    int64_t rcvbuf;         /* the socket receive buffer the kernel granted */
    int64_t rcvbuf_wanted;
};

struct listen_set;

/*
 * Binds the n listeners (IPv6 "::" also takes IPv4) with receive buffers of
 * rcvbuf bytes.  Returns an owned set, or an error naming the listener and
 * the reason (address in use, permission denied, SCTP unavailable).
 */
enum ds_rc listen_open(const struct cfg_listener *ls, size_t n, int64_t rcvbuf,
                       struct listen_set **out, struct ds_error *err);
/*
 * TCP limits, before listen_start(): at most max_conns connections per
 * listener, and none holding part of a message longer than
 * message_timeout_ms.  A connection that arrives when a listener is full
 * takes the place of the oldest one that has not yet sent a whole message,
 * else of the one silent longest if it has been silent longer than
 * message_timeout_ms; else it is refused.  Defaults: 256, 30 s.
 */
void listen_set_tcp_limits(struct listen_set *s, size_t max_conns, int64_t message_timeout_ms);
/* Starts the receive thread with a ring of ring_bytes between it and listen_next(). */
enum ds_rc listen_start(struct listen_set *s, size_t ring_bytes, struct ds_error *err);
/*
 * The next item, waiting up to timeout_ms (0: no wait); NULL if there is
 * none yet, or none any more after listen_stop().  The item stays valid
 * until listen_release().
 */
const struct listen_item *listen_next(struct listen_set *s, int timeout_ms);
void listen_release(struct listen_set *s);
/*
 * Stops receiving: the thread reads what the sockets hold already, then
 * ends; listen_next() still gives what the ring holds.
 */
void listen_stop(struct listen_set *s);
/*
 * After listen_stop(): has the thread ended and listen_next() given every
 * item?  listen_next() may return NULL before that (a wait that ended
 * early, a pause of the thread's last reads).
 */
bool listen_drained(struct listen_set *s);
/* Stops if needed, closes every socket, frees; NULL is a no-op. */
void listen_close(struct listen_set *s);

size_t listen_count(const struct listen_set *s);
/* "ipfix/udp 0.0.0.0:4739" */
const char *listen_name(const struct listen_set *s, size_t i);
/* The port bound (the one asked for, or the kernel's choice for port 0 in tests). */
uint16_t listen_port(const struct listen_set *s, size_t i);
void listen_get_stats(struct listen_set *s, size_t i, struct listen_stats *out);
/* Bytes in the ring now, and its size. */
void listen_ring_use(struct listen_set *s, size_t *used, size_t *size);

#endif
