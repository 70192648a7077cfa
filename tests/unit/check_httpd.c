/*
 * Tests of the Prometheus endpoint: the text format helpers (escaping of
 * help text and label values, special values, name checks) and the HTTP
 * server, spoken to over loopback by a plain socket client written here
 * (IPv4 and IPv6, status codes, headers, HEAD, a 1 MB body, two servers,
 * bind errors, the connection limit, stopping with clients still
 * connected, libmicrohttpd's messages in our log).
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "ds/httpd.h"
#include "ds/log.h"
#include "ds/promtext.h"
#include "ds/rc.h"
#include "ds/strbuf.h"
#include "testutil.h"

#define GET_METRICS "GET /metrics HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"

/* ---- promtext ---- */

START_TEST(test_family_help_escapes_backslash_and_newline)
{
    struct strbuf b = STRBUF_INIT;

    /* help: a \ b, newline, then c "q" (quotes stay as they are in help text) */
    prom_family(&b, "darkstab_x_total", "counter", "a \\ b\nc \"q\"");
    ck_assert_str_eq(strbuf_str(&b), "# HELP darkstab_x_total a \\\\ b\\nc \"q\"\n"
                                     "# TYPE darkstab_x_total counter\n");
    strbuf_reset(&b);
    prom_family(&b, "up", "gauge", NULL);
    ck_assert_str_eq(strbuf_str(&b), "# TYPE up gauge\n");
    strbuf_fini(&b);
}
END_TEST

START_TEST(test_label_values_escaped)
{
    struct strbuf lb = STRBUF_INIT;
    const char *s;

    /* value: say "hi" \ bye, newline, end */
    s = prom_labels(&lb, "a", "say \"hi\" \\ bye\nend", "b", "", "c", NULL, NULL);
    ck_assert_str_eq(s, "a=\"say \\\"hi\\\" \\\\ bye\\nend\",b=\"\",c=\"\"");
    /* prom_labels starts over; prom_label_add adds */
    prom_labels(&lb, "exporter", "192.0.2.1", NULL);
    prom_label_add(&lb, "protocol", "ipfix");
    ck_assert_str_eq(strbuf_str(&lb), "exporter=\"192.0.2.1\",protocol=\"ipfix\"");
    strbuf_fini(&lb);
}
END_TEST

START_TEST(test_samples)
{
    struct strbuf b = STRBUF_INIT;
    struct strbuf lb = STRBUF_INIT;

    prom_sample_u64(&b, "n_total", NULL, 0);
    prom_sample_u64(&b, "n_total", "", UINT64_MAX);
    prom_sample_u64(&b, "n_total", prom_labels(&lb, "k", "v\"", NULL), 7);
    prom_sample_f(&b, "ratio", prom_labels(&lb, "k", "v", NULL), 0.25);
    ck_assert_str_eq(strbuf_str(&b), "n_total 0\n"
                                     "n_total 18446744073709551615\n"
                                     "n_total{k=\"v\\\"\"} 7\n"
                                     "ratio{k=\"v\"} 0.25\n");
    strbuf_fini(&b);
    strbuf_fini(&lb);
}
END_TEST

static const char *
value_text(double v)
{
    static struct strbuf b = STRBUF_INIT;

    strbuf_reset(&b);
    prom_value_f(&b, v);
    return strbuf_str(&b);
}

START_TEST(test_special_values)
{
    static const double round_trip[] = {1.0 / 3, 0.1 + 0.2, 1e-300, 123456789012345678.0, -2.5e-7};

    ck_assert_str_eq(value_text(NAN), "NaN");
    ck_assert_str_eq(value_text(-NAN), "NaN");
    ck_assert_str_eq(value_text(INFINITY), "+Inf");
    ck_assert_str_eq(value_text(-INFINITY), "-Inf");
    ck_assert_str_eq(value_text(0.1), "0.1");
    ck_assert_str_eq(value_text(3), "3");
    ck_assert_str_eq(value_text(-0.5), "-0.5");
    ck_assert_str_eq(value_text(1e21), "1e+21");
    /* nothing is rounded away */
    for (size_t i = 0; i < sizeof(round_trip) / sizeof(round_trip[0]); i++)
        ck_assert_msg(strtod(value_text(round_trip[i]), NULL) == round_trip[i], "%.17g as %s",
                      round_trip[i], value_text(round_trip[i]));
}
END_TEST

START_TEST(test_name_checks)
{
    ck_assert(prom_metric_name_ok("darkstab_records_total"));
    ck_assert(prom_metric_name_ok("job:rate5m"));
    ck_assert(prom_metric_name_ok("_x9"));
    ck_assert(!prom_metric_name_ok(""));
    ck_assert(!prom_metric_name_ok("9x"));
    ck_assert(!prom_metric_name_ok("a-b"));
    ck_assert(!prom_metric_name_ok("a b"));
    ck_assert(prom_label_name_ok("exporter"));
    ck_assert(!prom_label_name_ok("a:b"));
    ck_assert(!prom_label_name_ok("__name__"));
    ck_assert(!prom_label_name_ok("é"));
}
END_TEST

/* A bad name is a bug of the caller's: it stops the program (exit 1). */
START_TEST(test_bad_metric_name_is_fatal)
{
    struct strbuf b = STRBUF_INIT;

    log_set_level(LOG_EMERG);
    prom_sample_u64(&b, "bad name", NULL, 1);
}
END_TEST

START_TEST(test_bad_label_name_is_fatal)
{
    struct strbuf lb = STRBUF_INIT;

    log_set_level(LOG_EMERG);
    prom_labels(&lb, "__reserved", "x", NULL);
}
END_TEST

START_TEST(test_bad_type_is_fatal)
{
    struct strbuf b = STRBUF_INIT;

    log_set_level(LOG_EMERG);
    prom_family(&b, "x", "count", "help");
}
END_TEST

/* ---- a plain HTTP client ---- */

struct resp {
    int status;         /* 0: the server closed without answering */
    char *raw;          /* owned: everything the server sent */
    size_t raw_len;
    const char *body;   /* inside raw */
    size_t body_len;
};

static int
client_connect(int family, uint16_t port)
{
    struct sockaddr_storage ss;
    socklen_t len;
    struct timeval tv = {5, 0};
    int fd;

    memset(&ss, 0, sizeof(ss));
    if (family == AF_INET) {
        struct sockaddr_in *sin = (struct sockaddr_in *)&ss;

        sin->sin_family = AF_INET;
        sin->sin_port = htons(port);
        sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        len = sizeof(*sin);
    } else {
        struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;

        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons(port);
        sin6->sin6_addr = in6addr_loopback;
        len = sizeof(*sin6);
    }
    fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ck_assert_int_ge(fd, 0);
    /* every read and write is bounded, so a server that hangs fails the test */
    ck_assert_int_eq(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)), 0);
    ck_assert_int_eq(setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)), 0);
    ck_assert_msg(connect(fd, (struct sockaddr *)&ss, len) == 0, "connect to port %u: %s",
                  (unsigned)port, strerror(errno));
    return fd;
}

static void
client_send(int fd, const char *text)
{
    size_t len = strlen(text), off = 0;

    while (off < len) {
        ssize_t n = send(fd, text + off, len - off, MSG_NOSIGNAL);

        ck_assert_msg(n > 0, "send: %s", strerror(errno));
        off += (size_t)n;
    }
}

/* Reads until the server closes; fails the test after 5 s of silence. */
static void
client_read_all(int fd, struct resp *r)
{
    struct strbuf sb = STRBUF_INIT;
    char buf[65536];
    const char *end;
    ssize_t n;

    for (;;) {
        n = recv(fd, buf, sizeof(buf), 0);
        if (n == 0 || (n < 0 && errno == ECONNRESET))
            break;
        ck_assert_msg(n > 0, "recv: %s", strerror(errno));
        strbuf_appendn(&sb, buf, (size_t)n);
    }
    r->raw_len = sb.len;
    r->raw = strbuf_take(&sb);
    r->status = 0;
    r->body = r->raw + r->raw_len;
    r->body_len = 0;
    if (r->raw_len == 0)
        return;
    ck_assert_msg(sscanf(r->raw, "HTTP/1.%*1[01] %3d ", &r->status) == 1, "not HTTP: %.80s",
                  r->raw);
    end = strstr(r->raw, "\r\n\r\n");
    ck_assert_msg(end != NULL, "no end of headers: %.200s", r->raw);
    r->body = end + 4;
    r->body_len = r->raw_len - (size_t)(r->body - r->raw);
}

/* Sends request on a new connection and reads the answer until the server closes. */
static void
http(int family, uint16_t port, const char *request, struct resp *r)
{
    int fd = client_connect(family, port);

    client_send(fd, request);
    client_read_all(fd, r);
    close(fd);
}

static void
resp_free(struct resp *r)
{
    free(r->raw);
    r->raw = NULL;
}

/* The value of header name (first one, name case-insensitive), or NULL. */
static const char *
header(const struct resp *r, const char *name)
{
    static char value[1024];
    size_t nl = strlen(name);
    const char *line = strstr(r->raw, "\r\n");

    while (line != NULL && line + 2 < r->body) {
        const char *eol;

        line += 2;
        eol = strstr(line, "\r\n");
        if (eol == NULL)
            break;
        if (strncasecmp(line, name, nl) == 0 && line[nl] == ':') {
            const char *v = line + nl + 1;

            while (*v == ' ')
                v++;
            snprintf(value, sizeof(value), "%.*s", (int)(eol - v), v);
            return value;
        }
        line = eol;
    }
    return NULL;
}

/* ---- servers ---- */

struct scrape {
    const char *text;   /* the body to render */
    size_t big;         /* or, if not 0, this many bytes of a pattern */
    int calls;
    int calls_here;     /* made on the thread that started the server */
    pthread_t starter;
    int slow_ms;        /* each render takes this long */
    atomic_int renders_begun;
    atomic_int renders_done;
};

static void
render(void *ctx, struct strbuf *body)
{
    struct scrape *s = ctx;

    s->calls++;
    s->calls_here += pthread_equal(pthread_self(), s->starter);
    atomic_fetch_add(&s->renders_begun, 1);
    if (s->slow_ms > 0) {
        struct timespec ts = {0, (long)s->slow_ms * 1000 * 1000};

        nanosleep(&ts, NULL);
    }
    atomic_fetch_add(&s->renders_done, 1);
    if (s->big == 0) {
        strbuf_append(body, s->text);
        return;
    }
    for (size_t i = 0; i < s->big; i++)
        strbuf_appendc(body, (char)('a' + i % 26));
}

static struct httpd *
start(const char *endpoint, struct scrape *s)
{
    struct ds_error err = {""};
    struct httpd *h = NULL;
    enum ds_rc rc;

    s->starter = pthread_self();
    rc = httpd_start(endpoint, render, s, &h, &err);

    ck_assert_msg(rc == DS_OK, "%s: %s (%s)", endpoint, ds_rc_str(rc), err.msg);
    ck_assert_ptr_nonnull(h);
    ck_assert_uint_ne(httpd_port(h), 0);
    return h;
}

static const char metrics_body[] = "# HELP darkstab_up Whether darkstab runs.\n"
                                   "# TYPE darkstab_up gauge\n"
                                   "darkstab_up 1\n";

static void
check_metrics(int family, const char *endpoint)
{
    struct scrape s = {.text = metrics_body};
    struct httpd *h = start(endpoint, &s);
    struct resp r;

    http(family, httpd_port(h), GET_METRICS, &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(header(&r, "Content-Type"), "text/plain; version=0.0.4; charset=utf-8");
    ck_assert_uint_eq(strtoul(header(&r, "Content-Length"), NULL, 10), strlen(metrics_body));
    ck_assert_uint_eq(r.body_len, strlen(metrics_body));
    ck_assert_str_eq(r.body, metrics_body);
    /* rendered once, on the server's own thread */
    ck_assert_int_eq(s.calls, 1);
    ck_assert_int_eq(s.calls_here, 0);
    resp_free(&r);
    httpd_stop(h);
}

START_TEST(test_metrics_v4)
{
    check_metrics(AF_INET, "127.0.0.1:0");
}
END_TEST

START_TEST(test_metrics_v6)
{
    check_metrics(AF_INET6, "[::1]:0");
}
END_TEST

/* The IPv6 socket takes IPv6 only: nothing answers on 127.0.0.1 at its port. */
START_TEST(test_v6_is_v6_only)
{
    struct scrape s = {.text = metrics_body};
    struct httpd *h = start("[::]:0", &s);
    struct sockaddr_in sin = {0};
    struct resp r;
    int fd;

    http(AF_INET6, httpd_port(h), GET_METRICS, &r);
    ck_assert_int_eq(r.status, 200);
    resp_free(&r);
    sin.sin_family = AF_INET;
    sin.sin_port = htons(httpd_port(h));
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    fd = socket(AF_INET, SOCK_STREAM, 0);
    ck_assert_int_ne(connect(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
    ck_assert_int_eq(errno, ECONNREFUSED);
    close(fd);
    httpd_stop(h);
}
END_TEST

START_TEST(test_head)
{
    struct scrape s = {.text = metrics_body};
    struct httpd *h = start("127.0.0.1:0", &s);
    struct resp r;

    http(AF_INET, httpd_port(h), "HEAD /metrics HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
         &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(header(&r, "Content-Type"), PROM_CONTENT_TYPE);
    /* the length GET would send, and no body */
    ck_assert_uint_eq(strtoul(header(&r, "Content-Length"), NULL, 10), strlen(metrics_body));
    ck_assert_uint_eq(r.body_len, 0);
    resp_free(&r);
    httpd_stop(h);
}
END_TEST

START_TEST(test_index_page)
{
    struct scrape s = {.text = metrics_body};
    struct httpd *h = start("127.0.0.1:0", &s);
    struct resp r;

    http(AF_INET, httpd_port(h), "GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(header(&r, "Content-Type"), "text/plain; charset=utf-8");
    ck_assert_ptr_nonnull(strstr(r.body, "/metrics"));
    resp_free(&r);
    /* a query string does not change the path */
    http(AF_INET, httpd_port(h),
         "GET /metrics?debug=1 HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(r.body, metrics_body);
    resp_free(&r);
    httpd_stop(h);
}
END_TEST

START_TEST(test_not_found)
{
    static const char *const requests[] = {
        "GET /metric HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
        "GET /metrics/ HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
        "HEAD /favicon.ico HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
        "POST /nowhere HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
    };
    struct scrape s = {.text = metrics_body};
    struct httpd *h = start("127.0.0.1:0", &s);
    struct resp r;

    for (size_t i = 0; i < sizeof(requests) / sizeof(requests[0]); i++) {
        http(AF_INET, httpd_port(h), requests[i], &r);
        ck_assert_msg(r.status == 404, "%s: %d", requests[i], r.status);
        resp_free(&r);
    }
    httpd_stop(h);
}
END_TEST

START_TEST(test_method_not_allowed)
{
    static const char *const requests[] = {
        ("POST /metrics HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nConnection: close\r\n\r\n"
         "hello"),
        "PUT / HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        "DELETE /metrics HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
        "OPTIONS /metrics HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
    };
    struct scrape s = {.text = metrics_body};
    struct httpd *h = start("127.0.0.1:0", &s);
    struct resp r;

    for (size_t i = 0; i < sizeof(requests) / sizeof(requests[0]); i++) {
        http(AF_INET, httpd_port(h), requests[i], &r);
        ck_assert_msg(r.status == 405, "%s: %d", requests[i], r.status);
        ck_assert_str_eq(header(&r, "Allow"), "GET, HEAD");
        resp_free(&r);
    }
    httpd_stop(h);
}
END_TEST

/*
 * Two requests on one connection (the first with an empty body): each
 * scrape renders afresh, and the connection stays open between them.
 */
START_TEST(test_keep_alive)
{
    struct scrape s = {.text = metrics_body};
    struct httpd *h = start("127.0.0.1:0", &s);
    struct resp r;
    const char *second;

    http(AF_INET, httpd_port(h),
         "GET /metrics HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n" GET_METRICS, &r);
    ck_assert_int_eq(r.status, 200);
    second = strstr(r.body, "HTTP/1.1 200 ");
    ck_assert_ptr_nonnull(second);
    ck_assert_ptr_nonnull(strstr(second, "\r\n\r\n# HELP darkstab_up"));
    ck_assert_int_eq(s.calls, 2);
    resp_free(&r);
    httpd_stop(h);
}
END_TEST

START_TEST(test_large_body)
{
    struct scrape s = {.big = 1 << 20};
    struct httpd *h = start("127.0.0.1:0", &s);
    struct resp r;
    size_t bad = 0;

    http(AF_INET, httpd_port(h), GET_METRICS, &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_uint_eq(r.body_len, (size_t)1 << 20);
    for (size_t i = 0; i < r.body_len; i++)
        bad += r.body[i] != (char)('a' + i % 26);
    ck_assert_uint_eq(bad, 0);
    resp_free(&r);
    httpd_stop(h);
}
END_TEST

START_TEST(test_two_servers)
{
    struct scrape s1 = {.text = "one 1\n"};
    struct scrape s2 = {.text = "two 2\n"};
    struct httpd *h1 = start("127.0.0.1:0", &s1);
    struct httpd *h2 = start("[::1]:0", &s2);
    struct resp r;

    ck_assert_uint_ne(httpd_port(h1), httpd_port(h2));
    http(AF_INET, httpd_port(h1), GET_METRICS, &r);
    ck_assert_str_eq(r.body, "one 1\n");
    resp_free(&r);
    http(AF_INET6, httpd_port(h2), GET_METRICS, &r);
    ck_assert_str_eq(r.body, "two 2\n");
    resp_free(&r);
    /* stopping one leaves the other serving */
    httpd_stop(h1);
    http(AF_INET6, httpd_port(h2), GET_METRICS, &r);
    ck_assert_str_eq(r.body, "two 2\n");
    resp_free(&r);
    httpd_stop(h2);
}
END_TEST

/* Starting on endpoint fails with rc; the message holds each of the words. */
static void
check_start_fails(const char *endpoint, enum ds_rc want, const char *word1, const char *word2)
{
    struct scrape s = {.text = ""};
    struct ds_error err = {""};
    struct httpd *h = (struct httpd *)&s;   /* must be reset to NULL */
    enum ds_rc rc = httpd_start(endpoint, render, &s, &h, &err);

    ck_assert_msg(rc == want, "%s: %s, not %s (%s)", endpoint, ds_rc_str(rc), ds_rc_str(want),
                  err.msg);
    ck_assert_ptr_null(h);
    ck_assert_msg(strstr(err.msg, word1) != NULL, "'%s' not in: %s", word1, err.msg);
    ck_assert_msg(strstr(err.msg, word2) != NULL, "'%s' not in: %s", word2, err.msg);
}

START_TEST(test_address_in_use)
{
    struct scrape s = {.text = metrics_body};
    struct httpd *h4 = start("127.0.0.1:0", &s);
    struct httpd *h6 = start("[::1]:0", &s);
    char ep[64];
    struct resp r;

    snprintf(ep, sizeof(ep), "127.0.0.1:%u", (unsigned)httpd_port(h4));
    check_start_fails(ep, DS_ERR_NET, ep, "Address already in use");
    snprintf(ep, sizeof(ep), "[::1]:%u", (unsigned)httpd_port(h6));
    check_start_fails(ep, DS_ERR_NET, ep, "Address already in use");
    /* the first servers are unharmed */
    http(AF_INET, httpd_port(h4), GET_METRICS, &r);
    ck_assert_int_eq(r.status, 200);
    resp_free(&r);
    httpd_stop(h4);
    httpd_stop(h6);
}
END_TEST

START_TEST(test_address_not_here)
{
    /* 192.0.2.1 (TEST-NET-1) is on no interface of a test machine */
    check_start_fails("192.0.2.1:0", DS_ERR_NET, "httpd 192.0.2.1:0: cannot bind",
                      "Cannot assign requested address");
}
END_TEST

START_TEST(test_bad_endpoints)
{
    check_start_fails("localhost:9464", DS_ERR_CONFIG, "localhost:9464", "not an IPv4 or IPv6");
    check_start_fails("127.0.0.1", DS_ERR_CONFIG, "127.0.0.1", "address:port");
    check_start_fails("127.0.0.1:65536", DS_ERR_CONFIG, "127.0.0.1:65536", "65536");
    check_start_fails("127.0.0.1:-1", DS_ERR_CONFIG, "httpd 127.0.0.1:-1", "-1");
    /* the reason quotes the text as written, not with the port 1 checked in its place */
    check_start_fails("::1:0", DS_ERR_CONFIG, "'::1:0'", "[::1]:port");
    check_start_fails("", DS_ERR_CONFIG, "httpd ", "address");
}
END_TEST

static double
now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/*
 * Clients that hold connections open (one in the middle of its request
 * headers, one silent) do not hold up httpd_stop(), and are closed by it.
 */
START_TEST(test_stop_with_clients_connected)
{
    struct scrape s = {.text = metrics_body};
    struct httpd *h = start("127.0.0.1:0", &s);
    int partial = client_connect(AF_INET, httpd_port(h));
    int silent = client_connect(AF_INET, httpd_port(h));
    struct resp r;
    ssize_t n;
    char c;
    double t0;

    client_send(partial, "GET /metrics HTTP/1.1\r\nHost: t\r\n");
    /* a full request after them: the server has taken both connections by its answer */
    http(AF_INET, httpd_port(h), GET_METRICS, &r);
    ck_assert_int_eq(r.status, 200);
    resp_free(&r);

    t0 = now_s();
    httpd_stop(h);
    ck_assert_msg(now_s() - t0 < 2.0, "httpd_stop took %.1f s", now_s() - t0);
    /* both see the connection closed, not a timeout of the client's */
    n = recv(partial, &c, 1, 0);
    ck_assert_msg(n == 0 || (n < 0 && errno == ECONNRESET), "recv %zd: %s", n, strerror(errno));
    n = recv(silent, &c, 1, 0);
    ck_assert_msg(n == 0 || (n < 0 && errno == ECONNRESET), "recv %zd: %s", n, strerror(errno));
    close(partial);
    close(silent);
    httpd_stop(NULL);
}
END_TEST

/* A scrape on a thread of its own; no checks there (only the main thread may fail a test). */
static void *
fetch_thread(void *arg)
{
    int fd = *(int *)arg;
    char buf[4096];

    if (send(fd, GET_METRICS, strlen(GET_METRICS), MSG_NOSIGNAL) > 0)
        while (recv(fd, buf, sizeof(buf), 0) > 0)
            continue;
    return NULL;
}

/* A scrape being rendered when httpd_stop() is called is rendered to its end first. */
START_TEST(test_stop_waits_for_render)
{
    struct scrape s = {.text = metrics_body, .slow_ms = 300};
    struct httpd *h = start("127.0.0.1:0", &s);
    int fd = client_connect(AF_INET, httpd_port(h));
    struct timespec ms1 = {0, 1000 * 1000};
    pthread_t t;

    ck_assert_int_eq(pthread_create(&t, NULL, fetch_thread, &fd), 0);
    for (int i = 0; i < 5000 && atomic_load(&s.renders_begun) == 0; i++)
        nanosleep(&ms1, NULL);
    ck_assert_int_eq(atomic_load(&s.renders_begun), 1);
    httpd_stop(h);
    ck_assert_int_eq(atomic_load(&s.renders_done), 1);
    pthread_join(t, NULL);
    close(fd);
}
END_TEST

/*
 * HTTPD_MAX_CONNECTIONS connections held open: libmicrohttpd stops
 * accepting, so the next scrape waits in the listen queue unanswered;
 * once one connection is let go, it is answered.
 */
START_TEST(test_connection_limit)
{
    struct scrape s = {.text = metrics_body};
    struct httpd *h = start("127.0.0.1:0", &s);
    int held[HTTPD_MAX_CONNECTIONS];
    struct pollfd pfd;
    struct resp r;

    for (int i = 0; i < HTTPD_MAX_CONNECTIONS; i++) {
        held[i] = client_connect(AF_INET, httpd_port(h));
        client_send(held[i], "GET /metrics HTTP/1.1\r\n");
    }
    pfd.fd = client_connect(AF_INET, httpd_port(h));
    pfd.events = POLLIN;
    client_send(pfd.fd, GET_METRICS);
    ck_assert_int_eq(poll(&pfd, 1, 300), 0);

    close(held[0]);
    client_read_all(pfd.fd, &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(r.body, metrics_body);
    resp_free(&r);
    close(pfd.fd);
    for (int i = 1; i < HTTPD_MAX_CONNECTIONS; i++)
        close(held[i]);
    httpd_stop(h);
}
END_TEST

/*
 * libmicrohttpd's own messages come through our log, nothing is written
 * to stderr behind its back.  A request with a Content-Length that is not
 * a number is one it answers with 400 and a message of its own ("Failed to
 * parse `Content-Length' header"), about one client: a debug message.
 */
START_TEST(test_library_messages_go_to_our_log)
{
    struct scrape s = {.text = metrics_body};
    const char *path = tu_path("stderr.txt");
    int saved = dup(STDERR_FILENO);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    uint64_t warnings;
    struct httpd *h;
    struct resp r;
    FILE *fp;
    char line[1024];
    int ours = 0;

    ck_assert_int_ge(fd, 0);
    ck_assert_int_ge(dup2(fd, STDERR_FILENO), 0);
    log_set_level(LOG_DEBUG);
    warnings = log_warning_count();
    h = start("127.0.0.1:0", &s);
    http(AF_INET, httpd_port(h),
         "GET /metrics HTTP/1.1\r\nHost: t\r\nContent-Length: x\r\n\r\n", &r);
    ck_assert_int_eq(r.status, 400);
    resp_free(&r);
    httpd_stop(h);
    dup2(saved, STDERR_FILENO);
    close(fd);
    close(saved);

    ck_assert_uint_eq(log_warning_count(), warnings);
    fp = fopen(path, "r");
    ck_assert_ptr_nonnull(fp);
    while (fgets(line, sizeof(line), fp) != NULL) {
        ck_assert_msg(strncmp(line, "darkstab: ", 10) == 0, "not from our log: %s", line);
        ours += strstr(line, " debug: httpd 127.0.0.1:0: libmicrohttpd: Failed to parse "
                             "`Content-Length' header") != NULL;
    }
    fclose(fp);
    ck_assert_int_eq(ours, 1);
}
END_TEST

int
main(void)
{
    Suite *s = suite_create("httpd");
    TCase *tc = tcase_create("promtext");

    tcase_add_test(tc, test_family_help_escapes_backslash_and_newline);
    tcase_add_test(tc, test_label_values_escaped);
    tcase_add_test(tc, test_samples);
    tcase_add_test(tc, test_special_values);
    tcase_add_test(tc, test_name_checks);
    tcase_add_exit_test(tc, test_bad_metric_name_is_fatal, 1);
    tcase_add_exit_test(tc, test_bad_label_name_is_fatal, 1);
    tcase_add_exit_test(tc, test_bad_type_is_fatal, 1);
    suite_add_tcase(s, tc);

    tc = tcase_create("httpd");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_metrics_v4);
    tcase_add_test(tc, test_metrics_v6);
    tcase_add_test(tc, test_v6_is_v6_only);
    tcase_add_test(tc, test_head);
    tcase_add_test(tc, test_index_page);
    tcase_add_test(tc, test_not_found);
    tcase_add_test(tc, test_method_not_allowed);
    tcase_add_test(tc, test_keep_alive);
    tcase_add_test(tc, test_large_body);
    tcase_add_test(tc, test_two_servers);
    tcase_add_test(tc, test_address_in_use);
    tcase_add_test(tc, test_address_not_here);
    tcase_add_test(tc, test_bad_endpoints);
    tcase_add_test(tc, test_stop_with_clients_connected);
    tcase_add_test(tc, test_stop_waits_for_render);
    tcase_add_test(tc, test_connection_limit);
    tcase_add_test(tc, test_library_messages_go_to_our_log);
    suite_add_tcase(s, tc);

    return tu_run(s) == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
