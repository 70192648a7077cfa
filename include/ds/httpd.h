/*
 * The HTTP endpoint Prometheus scrapes (metrics.listen), served by
 * libmicrohttpd on one thread of its own that polls every connection.
 *
 *   GET or HEAD /metrics   200, the body the render callback writes, as
 *                          text/plain; version=0.0.4; charset=utf-8
 *   GET or HEAD /          200, a short page that points to /metrics
 *   any other path         404
 *   other methods          405 with "Allow: GET, HEAD"
 *
 * At most HTTPD_MAX_CONNECTIONS connections are open at once (more are
 * closed on accept), and one idle for HTTPD_TIMEOUT_S seconds is closed.
 * libmicrohttpd's messages go to our log (ds/log.h), never to stderr
 * directly: those about one client's request or connection (which anyone
 * who can connect can cause) as debug messages, the others as warnings,
 * at most a few a minute of each kind.
 */
#ifndef DS_HTTPD_H
#define DS_HTTPD_H

#include <stdint.h>

#include "ds/rc.h"
#include "ds/strbuf.h"

#define HTTPD_MAX_CONNECTIONS 32
#define HTTPD_TIMEOUT_S 10

struct httpd;

/*
 * Called on the server's own thread for every GET or HEAD /metrics (one at
 * a time): append the whole response body to body, which is empty on entry
 * and borrowed.  ctx is the pointer given to httpd_start(); whatever the
 * callback reads through it must be safe to read while other threads run.
 */
typedef void (*httpd_render_fn)(void *ctx, struct strbuf *body);

/*
 * Starts serving on endpoint, "address:port" or "[IPv6 address]:port" as
 * cfg_parse_endpoint() reads them; the socket listens on exactly that
 * address (an IPv6 one for IPv6 only).  Port 0 takes any free port (for
 * tests; see httpd_port()).
 *
 * Returns DS_OK and an owned server in *out (stop and free it with
 * httpd_stop()).  On failure *out is NULL, err names the endpoint and the
 * reason, and the result is DS_ERR_CONFIG (endpoint is not address:port)
 * or DS_ERR_NET (the socket could not be bound or the server could not
 * start: "address already in use", "permission denied", ...).  endpoint
 * and ctx are borrowed; ctx must stay valid until httpd_stop() returns.
 */
enum ds_rc httpd_start(const char *endpoint, httpd_render_fn fn, void *ctx, struct httpd **out,
                       struct ds_error *err);

/* The bound port (the one chosen by the system when endpoint asked for 0). */
uint16_t httpd_port(const struct httpd *h);

/*
 * Stops serving and frees h; NULL is a no-op.  Waits for a render in
 * progress to finish, then closes every connection, idle or not, without
 * waiting for clients: responses still being sent are cut off.  After it
 * returns, fn is not called again.
 */
void httpd_stop(struct httpd *h);

#endif
