/*
 * The Prometheus text exposition format, version 0.0.4
 * (https://prometheus.io/docs/instrumenting/exposition_formats/), written
 * into a strbuf: what a GET /metrics answers.
 *
 * A body is a sequence of families, each written once: prom_family() for
 * its # HELP and # TYPE lines, then every sample of that family, all with
 * the family's name.  The format's escaping is done here:
 *   - help text: backslash as \\ and newline as \n;
 *   - label values: backslash as \\, double quote as \" and newline as \n;
 *   - values: NaN, +Inf and -Inf spelled so; other doubles in the shortest
 *     form that reads back to the same double.
 *
 * Names are not escaped, since the format has no escape for them: callers
 * pass constant metric names ([a-zA-Z_:][a-zA-Z0-9_:]*) and label names
 * ([a-zA-Z_][a-zA-Z0-9_]*, not starting with "__").  A name outside those
 * is a bug in the caller and stops the program (fatalx), so that the first
 * test that renders it fails; label values may be anything.
 *
 * Nothing here allocates beyond the strbufs given; every function borrows
 * its arguments.
 */
#ifndef DS_PROMTEXT_H
#define DS_PROMTEXT_H

#include <stdbool.h>
#include <stdint.h>

#include "ds/strbuf.h"

/* The Content-Type of a body written with these functions. */
#define PROM_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* Is name a valid metric name?  Is it a valid label name (not reserved)? */
bool prom_metric_name_ok(const char *name);
bool prom_label_name_ok(const char *name);

/*
 * Appends "# HELP name help" and "# TYPE name type" to b.  type is
 * "counter", "gauge" or "untyped" (also "histogram" or "summary", whose
 * _bucket, _sum and _count samples are then the caller's); any other is a
 * bug and stops the program like a bad name.  help may be any text; NULL
 * or "" leaves out the HELP line.
 */
void prom_family(struct strbuf *b, const char *name, const char *type, const char *help);

/*
 * Label sets, built in a strbuf of the caller's that can be reused from
 * sample to sample (no fixed limit, so no label set is ever cut short):
 *
 *     struct strbuf lb = STRBUF_INIT;
 *
 *     prom_labels(&lb, "exporter", "192.0.2.1", "protocol", "ipfix", NULL);
 *     prom_sample_u64(b, "darkstab_records_total", strbuf_str(&lb), n);
 *     ...
 *     strbuf_fini(&lb);
 *
 * prom_labels() empties lb, then adds each key/value pair up to a NULL
 * key; a NULL value is written as "".  It returns strbuf_str(lb), which
 * is valid until lb changes.  prom_label_add() adds one pair to what lb
 * holds, for label sets built in a loop.  The text is the inside of the
 * braces: exporter="192.0.2.1",protocol="ipfix".
 */
const char *prom_labels(struct strbuf *lb, const char *key, const char *value, ...)
    __attribute__((sentinel));
void prom_label_add(struct strbuf *lb, const char *key, const char *value);

/*
 * Appends one sample line "name{labels} value"; labels is the text of
 * prom_labels(), NULL or "" for none.
 */
void prom_sample_u64(struct strbuf *b, const char *name, const char *labels, uint64_t value);
void prom_sample_f(struct strbuf *b, const char *name, const char *labels, double value);

/* Appends v as the format spells a value ("NaN", "+Inf", "-Inf", "0.1", "1e+21"). */
void prom_value_f(struct strbuf *b, double v);

#endif
