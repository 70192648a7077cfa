/*
 * ClickHouse over its HTTP interface (store.backend: clickhouse,
 * docs/CLICKHOUSE.md): a client that runs one statement at a time with
 * libcurl, the tables darkstab keeps on a cluster (their DDL), and the
 * check of a server that "check-config --connect" does.
 *
 * The password is read from store.clickhouse.password_file when a client
 * is made, handed to libcurl (HTTP basic authentication) and wiped when
 * the client is freed; no message ever holds it.
 */
#ifndef DS_CLICKHOUSE_H
#define DS_CLICKHOUSE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "ds/cfg.h"
#include "ds/rc.h"
#include "ds/strbuf.h"

struct ch_client;

/*
 * A client of the server at url (NULL: ch->url), as ch->user with the
 * password of ch->password_file, each request at most ch->timeout_s.
 */
enum ds_rc ch_client_new(const struct cfg_clickhouse *ch, const char *url, struct ch_client **out,
                         struct ds_error *err);
void ch_client_free(struct ch_client *c);
/* The server's URL as messages name it (no user information). */
const char *ch_client_server(const struct ch_client *c);

/*
 * Requests of c give up (an error) once *flag is set, within about a
 * second, however long their timeout: a thread that stops does not wait
 * for a judging query.  flag is borrowed and outlives c.
 */
void ch_client_abort_on(struct ch_client *c, const atomic_bool *flag);

/*
 * Runs one statement; its answer (text, as the server sends it) is
 * appended to out if out is not NULL.  A refused statement's error names
 * the server, the HTTP status and ClickHouse's own message.
 */
enum ds_rc ch_exec(struct ch_client *c, const char *sql, struct strbuf *out,
                   struct ds_error *err);
/*
 * A query answering one row "value<TAB>count()" (TabSeparated): *count
 * of it, *v the value when *count > 0 (an aggregate over no rows is none).
 */
enum ds_rc ch_query_value(struct ch_client *c, const char *sql, int64_t *v, int64_t *count,
                          struct ds_error *err);
/*
 * A SELECT whose answer (FORMAT RowBinary, say) may be larger than memory:
 * each piece of it, as it comes, goes to fn (rows cut anywhere); fn returns
 * non-zero to stop (the request then fails).  An error answer is not
 * handed to fn: it is the error's message.  settings ("name=value&...",
 * URL-safe; NULL none) apply to this query; long_query: it may take
 * store.clickhouse.query_timeout (a slot's judgement), not timeout.
 */
typedef int (*ch_rows_fn)(void *ctx, const uint8_t *p, size_t n);
enum ds_rc ch_select(struct ch_client *c, const char *sql, const char *settings, bool long_query,
                     ch_rows_fn fn, void *ctx, struct ds_error *err);

/*
 * An INSERT with its data: query ("INSERT INTO db.t FORMAT RowBinary") in
 * the URL, the len bytes of body as the data, insert_distributed_sync=1
 * (an answer 200 means the shard holding it has it).  query NULL: body is
 * the statement (ch_exec).  On failure *unknown (may be NULL) says whether
 * the request may have reached the server (a timeout or a connection lost
 * after sending): then the server may have done it.
 */
enum ds_rc ch_post(struct ch_client *c, const char *query, const void *body, size_t len,
                   struct strbuf *out, bool *unknown, struct ds_error *err);
/* As ch_post(), the data being the next len bytes of fp (a spooled batch, not read into memory). */
enum ds_rc ch_post_file(struct ch_client *c, const char *query, FILE *fp, size_t len,
                        bool *unknown, struct ds_error *err);

/* The tables of docs/CLICKHOUSE.md, local then Distributed: how many, and their names. */
size_t ch_schema_tables(const char *const **names);
/*
 * The statements that create darkstab's database and tables on one shard,
 * each followed by ";\n" (CREATE ... IF NOT EXISTS: applying twice is
 * harmless).  Returns how many.
 */
size_t ch_schema(const struct cfg_clickhouse *ch, struct strbuf *out);
/* Runs ch_schema()'s statements on c's server, in order; *done: how many ran. */
enum ds_rc ch_schema_apply(struct ch_client *c, const struct cfg_clickhouse *ch, size_t *done,
                           struct ds_error *err);

/*
 * What darkstab needs of the server: its version (into version, len
 * bytes), ch->cluster in system.clusters (its shards into *shards) and
 * every table of the schema in ch->database.  An error says what is
 * missing and what to do.
 */
enum ds_rc ch_check(struct ch_client *c, const struct cfg_clickhouse *ch, char *version,
                    size_t len, unsigned *shards, struct ds_error *err);

/* A node's latest row in the watermarks table (docs/CLICKHOUSE.md section 6). */
struct ch_node {
    char node[64];
    int64_t watermark_ms;       /* its records are in up to here (event time); INT64_MIN none */
    int64_t updated_ms;         /* when it wrote this (its wall clock) */
    bool idle;                  /* all its exporters idle */
    bool analyzer;              /* it may judge (store.clickhouse.analyzer not false) */
};

/* The nodes that wrote a watermark, by name (*out owned, *n of them). */
enum ds_rc ch_nodes(struct ch_client *c, const struct cfg_clickhouse *ch, struct ch_node **out,
                    size_t *n, struct ds_error *err);

/*
 * The nightly mail on a cluster (docs/CLICKHOUSE.md section 6): whether
 * some node sent the report of day ("YYYY-MM-DD"), and which (by, may be
 * truncated); and the record that this node (ch->node) sent it.
 */
enum ds_rc ch_mail_sent(struct ch_client *c, const struct cfg_clickhouse *ch, const char *day,
                        bool *sent, char *by, size_t by_len, struct ds_error *err);
enum ds_rc ch_mail_record(struct ch_client *c, const struct cfg_clickhouse *ch, const char *day,
                          const char *message_id, int64_t sent_ms, struct ds_error *err);

#endif
