/*
 * The Prometheus endpoint (see ds/httpd.h): libmicrohttpd with one
 * internal thread that polls the listening socket and every connection.
 *
 * We bind the socket ourselves and hand it over with
 * MHD_OPTION_LISTEN_SOCKET: then the address is exactly the configured
 * one (IPV6_V6ONLY for IPv6, so "[::]:9464" does not take IPv4 too), and
 * a bind that fails says why with its own errno, whether or not the
 * library was built to log messages.
 */
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "ds/addr.h"
#include "ds/cfg.h"
#include "ds/httpd.h"
#include "ds/log.h"
#include "ds/promtext.h"
#include "ds/xmem.h"

#define LISTEN_BACKLOG 64

struct httpd {
    struct MHD_Daemon *daemon;
    httpd_render_fn fn;
    void *ctx;                      /* borrowed */
    uint16_t port;
    char name[ADDR_STRLEN + 16];    /* the endpoint as given, for messages */
    /*
     * While MHD_start_daemon() runs, its messages on our thread explain a
     * failure: they are kept for the error instead of being logged.
     */
    atomic_bool starting;
    pthread_t starter;
    char start_msg[256];
};

/* Not const: MHD_create_response_from_buffer() takes void * even for persistent memory. */
static char index_page[] = "darkstab: Prometheus metrics are at /metrics\n";
static char not_found_page[] = "not found; darkstab serves /metrics\n";
static char not_allowed_page[] = "method not allowed; use GET or HEAD\n";

static int64_t
monotonic_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec;
}

/*
 * The beginnings of libmicrohttpd's messages (0.9.75) about one client's
 * connection: a malformed request, a client that went away, headers too
 * big.  Anyone who can connect causes them (a port scan does), so they are
 * debug messages; any other message is about the server and a warning.
 */
static const char *const client_messages[] = {
    "Connection was closed by remote side",
    "Connection socket is closed when reading",
    "Socket has been disconnected",
    "Error processing request",
    "Failed to parse `Content-Length'",
    "Too large value of 'Content-Length'",
    "Received HTTP/1.1 request without",
    "Failed to send",
    "Not enough memory in pool",
    "Too late to send an error response",
    "Processing thread terminating",
};

/* libmicrohttpd's error log (MHD_OPTION_EXTERNAL_LOGGER); never writes to stderr itself. */
static void
mhd_log(void *cls, const char *fmt, va_list ap)
{
    struct httpd *h = cls;
    char msg[512];
    size_t n;

    vsnprintf(msg, sizeof(msg), fmt, ap);
    n = strlen(msg);
    while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == ' '))
        msg[--n] = '\0';
    if (atomic_load(&h->starting) && pthread_equal(pthread_self(), h->starter)) {
        snprintf(h->start_msg, sizeof(h->start_msg), "%s", msg);
        return;
    }
    for (size_t i = 0; i < sizeof(client_messages) / sizeof(client_messages[0]); i++) {
        if (strncmp(fmt, client_messages[i], strlen(client_messages[i])) == 0) {
            log_debug("httpd %s: libmicrohttpd: %s", h->name, msg);
            return;
        }
    }
    /* at most a few a minute of each kind (keyed by the library's format string) */
    log_throttled(0x4854545044000000ULL ^ (uint64_t)(uintptr_t)fmt, monotonic_s(), LOG_WARNING,
                  "httpd %s: libmicrohttpd: %s", h->name, msg);
}

/* Queues r (which is released here) with its Content-Type; MHD_NO closes the connection. */
static enum MHD_Result
reply(struct MHD_Connection *conn, unsigned int status, struct MHD_Response *r, const char *type)
{
    enum MHD_Result ok = MHD_NO;

    if (r == NULL)
        return MHD_NO;
    if (MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type) == MHD_NO)
        goto out;
    if (status == MHD_HTTP_METHOD_NOT_ALLOWED &&
        MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD") == MHD_NO)
        goto out;
    ok = MHD_queue_response(conn, status, r);
out:
    MHD_destroy_response(r);
    return ok;
}

static enum MHD_Result
reply_text(struct MHD_Connection *conn, unsigned int status, char *text)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_PERSISTENT);

    return reply(conn, status, r, "text/plain; charset=utf-8");
}

static enum MHD_Result
reply_metrics(struct httpd *h, struct MHD_Connection *conn)
{
    struct strbuf body = STRBUF_INIT;
    struct MHD_Response *r;
    size_t len;
    char *s;

    /* HEAD renders too, so that its Content-Length is the one GET would send. */
    h->fn(h->ctx, &body);
    len = body.len;
    s = strbuf_take(&body);
    r = MHD_create_response_from_buffer_with_free_callback(len, s, free);
    if (r == NULL) {
        free(s);
        return MHD_NO;
    }
    return reply(conn, MHD_HTTP_OK, r, PROM_CONTENT_TYPE);
}

static bool
has_body(struct MHD_Connection *conn)
{
    const char *len =
        MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);

    return (len != NULL && strcmp(len, "0") != 0) ||
           MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_TRANSFER_ENCODING);
}

/*
 * Every request.  libmicrohttpd calls this first when the headers are in,
 * then again when the body (if any) is.  A response queued on the first
 * call makes it close the connection afterwards, as it will not read a
 * body it skipped: so a request without a body is answered on the second
 * call, which lets Prometheus keep its connection from scrape to scrape,
 * and one with a body (we want none) at once, without reading it.
 */
static enum MHD_Result
answer(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
       const char *version, const char *upload_data, size_t *upload_data_size, void **req_cls)
{
    static int headers_seen;
    struct httpd *h = cls;
    bool get =
        strcmp(method, MHD_HTTP_METHOD_GET) == 0 || strcmp(method, MHD_HTTP_METHOD_HEAD) == 0;

    (void)version;
    (void)upload_data;
    if (*req_cls == NULL && !has_body(conn)) {
        *req_cls = &headers_seen;
        return MHD_YES;
    }
    if (*upload_data_size != 0) {
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (strcmp(url, "/metrics") != 0 && strcmp(url, "/") != 0)
        return reply_text(conn, MHD_HTTP_NOT_FOUND, not_found_page);
    if (!get)
        return reply_text(conn, MHD_HTTP_METHOD_NOT_ALLOWED, not_allowed_page);
    if (strcmp(url, "/") == 0)
        return reply_text(conn, MHD_HTTP_OK, index_page);
    return reply_metrics(h, conn);
}

/*
 * endpoint into a socket address.  cfg_parse_endpoint() takes ports
 * 1..65535, as the config file must; port 0 (any free port, for tests) is
 * read by letting it check the rest with port 1 in its place.
 */
static enum ds_rc
parse_endpoint(const char *endpoint, struct sockaddr_storage *ss, socklen_t *sslen,
               struct ds_error *err)
{
    char text[ADDR_STRLEN + 16];
    char why[256] = "";
    size_t n = strlen(endpoint);
    bool any_port = false;
    struct addr a;
    uint16_t port;

    if (n >= sizeof(text))
        return ds_error_set(err, DS_ERR_CONFIG, "httpd %.60s...: not address:port (too long)",
                            endpoint);
    memcpy(text, endpoint, n + 1);
    if (n >= 2 && strcmp(text + n - 2, ":0") == 0) {
        text[n - 1] = '1';
        any_port = true;
    }
    if (cfg_parse_endpoint(text, &a, &port, why, sizeof(why)) != 0) {
        /* the reason, in the words of the text as the caller wrote it */
        if (any_port)
            cfg_parse_endpoint(endpoint, &a, &port, why, sizeof(why));
        return ds_error_set(err, DS_ERR_CONFIG, "httpd %s: %s", endpoint, why);
    }
    if (any_port)
        port = 0;

    memset(ss, 0, sizeof(*ss));
    if (addr_is_v4(&a)) {
        struct sockaddr_in *sin = (struct sockaddr_in *)ss;

        sin->sin_family = AF_INET;
        sin->sin_port = htons(port);
        sin->sin_addr.s_addr = htonl(addr_v4(&a));
        *sslen = sizeof(*sin);
    } else {
        struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons(port);
        memcpy(sin6->sin6_addr.s6_addr, a.b, sizeof(a.b));
        *sslen = sizeof(*sin6);
    }
    return DS_OK;
}

/* A listening socket on exactly ss; its port into h->port.  Returns the socket or -1. */
static int
listen_on(struct httpd *h, const struct sockaddr_storage *ss, socklen_t sslen, struct ds_error *err)
{
    struct sockaddr_storage bound;
    socklen_t blen = sizeof(bound);
    const char *step;
    int on = 1;
    int fd;

    fd = socket(ss->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        step = "socket";
        goto fail;
    }
    /*
     * A restart must not wait out the old connections' TIME_WAIT; on Linux
     * this does not let a second socket take a port that one listens on.
     */
    step = "setsockopt SO_REUSEADDR";
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) != 0)
        goto fail;
    step = "setsockopt IPV6_V6ONLY";
    if (ss->ss_family == AF_INET6 &&
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof(on)) != 0)
        goto fail;
    step = "cannot bind";
    if (bind(fd, (const struct sockaddr *)ss, sslen) != 0)
        goto fail;
    step = "cannot listen";
    if (listen(fd, LISTEN_BACKLOG) != 0)
        goto fail;
    step = "getsockname";
    if (getsockname(fd, (struct sockaddr *)&bound, &blen) != 0)
        goto fail;
    if (bound.ss_family == AF_INET)
        h->port = ntohs(((const struct sockaddr_in *)&bound)->sin_port);
    else
        h->port = ntohs(((const struct sockaddr_in6 *)&bound)->sin6_port);
    return fd;

fail:
    ds_error_set(err, DS_ERR_NET, "httpd %s: %s: %s", h->name, step, strerror(errno));
    if (fd >= 0)
        close(fd);
    return -1;
}

enum ds_rc
httpd_start(const char *endpoint, httpd_render_fn fn, void *ctx, struct httpd **out,
            struct ds_error *err)
{
    struct sockaddr_storage ss;
    socklen_t sslen = 0;
    struct httpd *h = NULL;
    unsigned int flags;
    enum ds_rc rc;
    int fd;

    *out = NULL;
    rc = parse_endpoint(endpoint, &ss, &sslen, err);
    if (rc != DS_OK)
        return rc;
    h = xcalloc(1, sizeof(*h));
    h->fn = fn;
    h->ctx = ctx;
    snprintf(h->name, sizeof(h->name), "%s", endpoint);
    fd = listen_on(h, &ss, sslen, err);
    if (fd < 0) {
        rc = DS_ERR_NET;
        goto out;
    }

    flags = MHD_USE_POLL_INTERNAL_THREAD | MHD_USE_ERROR_LOG;
    if (ss.ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    h->starter = pthread_self();
    atomic_store(&h->starting, true);
    /* the logger first, so that no message of the start goes to stderr; one option a line */
    /* clang-format off */
    h->daemon = MHD_start_daemon(flags, 0, NULL, NULL, answer, h,
                                 MHD_OPTION_EXTERNAL_LOGGER, mhd_log, h,
                                 MHD_OPTION_LISTEN_SOCKET, fd,
                                 MHD_OPTION_CONNECTION_LIMIT, (unsigned int)HTTPD_MAX_CONNECTIONS,
                                 MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)HTTPD_TIMEOUT_S,
                                 MHD_OPTION_END);
    /* clang-format on */
    atomic_store(&h->starting, false);
    if (h->daemon == NULL) {
        /*
         * fd is not closed here: libmicrohttpd 0.9.75 closes a socket it
         * was given on most of its failure paths but not on the earliest
         * (no memory, no descriptor for its wake-up channel), and a double
         * close could hit another thread's descriptor.  Leaking it once,
         * at start-up, when resources are out anyway, is the lesser harm.
         */
        rc = ds_error_set(err, DS_ERR_NET, "httpd %s: libmicrohttpd could not start: %s", endpoint,
                          h->start_msg[0] ? h->start_msg : "no reason given");
        goto out;
    }
    if (h->start_msg[0] != '\0')
        log_warnx("httpd %s: libmicrohttpd: %s", h->name, h->start_msg);
    log_debug("httpd %s: serving /metrics on port %u", h->name, (unsigned)h->port);
    *out = h;
    h = NULL;
    rc = DS_OK;
out:
    free(h);
    return rc;
}

uint16_t
httpd_port(const struct httpd *h)
{
    return h->port;
}

void
httpd_stop(struct httpd *h)
{
    if (h == NULL)
        return;
    /* joins the polling thread, which closes every connection and the listening socket */
    MHD_stop_daemon(h->daemon);
    free(h);
}
