/*
 * The Prometheus text exposition format (see ds/promtext.h): families,
 * samples and label sets with the format's escaping.
 */
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ds/log.h"
#include "ds/promtext.h"

static bool
name_ok(const char *name, bool colon)
{
    if (name == NULL || name[0] == '\0')
        return false;
    for (const char *p = name; *p != '\0'; p++) {
        char c = *p;
        bool letter = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';

        if (letter || (colon && c == ':'))
            continue;
        if (p != name && c >= '0' && c <= '9')
            continue;
        return false;
    }
    return true;
}

bool
prom_metric_name_ok(const char *name)
{
    return name_ok(name, true);
}

bool
prom_label_name_ok(const char *name)
{
    return name_ok(name, false) && strncmp(name, "__", 2) != 0;
}

/* Names are the caller's constants: a bad one is a bug, not input (see the header). */
static void
check_metric_name(const char *name)
{
    if (!prom_metric_name_ok(name))
        fatalx("promtext: '%s' is not a valid metric name", name ? name : "(null)");
}

/* Appends s with each character of specials ("\\\n" or "\\\"\n") escaped. */
static void
append_escaped(struct strbuf *b, const char *s, const char *specials)
{
    const char *run = s;

    for (const char *p = s; *p != '\0'; p++) {
        if (strchr(specials, *p) == NULL)
            continue;
        strbuf_appendn(b, run, (size_t)(p - run));
        strbuf_appendc(b, '\\');
        strbuf_appendc(b, *p == '\n' ? 'n' : *p);
        run = p + 1;
    }
    strbuf_append(b, run);
}

void
prom_family(struct strbuf *b, const char *name, const char *type, const char *help)
{
    static const char *const types[] = {"counter", "gauge", "untyped", "histogram", "summary"};
    bool known = false;

    check_metric_name(name);
    for (size_t i = 0; type != NULL && i < sizeof(types) / sizeof(types[0]); i++)
        known = known || strcmp(type, types[i]) == 0;
    if (!known)
        fatalx("promtext: metric %s: '%s' is not a metric type", name, type ? type : "(null)");
    if (help != NULL && help[0] != '\0') {
        strbuf_printf(b, "# HELP %s ", name);
        /* the format escapes only backslash and newline in help text */
        append_escaped(b, help, "\\\n");
        strbuf_appendc(b, '\n');
    }
    strbuf_printf(b, "# TYPE %s %s\n", name, type);
}

void
prom_label_add(struct strbuf *lb, const char *key, const char *value)
{
    if (!prom_label_name_ok(key))
        fatalx("promtext: '%s' is not a valid label name", key ? key : "(null)");
    if (lb->len > 0)
        strbuf_appendc(lb, ',');
    strbuf_append(lb, key);
    strbuf_append(lb, "=\"");
    append_escaped(lb, value ? value : "", "\\\"\n");
    strbuf_appendc(lb, '"');
}

const char *
prom_labels(struct strbuf *lb, const char *key, const char *value, ...)
{
    va_list ap;

    strbuf_reset(lb);
    va_start(ap, value);
    while (key != NULL) {
        prom_label_add(lb, key, value);
        key = va_arg(ap, const char *);
        if (key == NULL)
            break;
        value = va_arg(ap, const char *);
    }
    va_end(ap);
    return strbuf_str(lb);
}

static void
sample_start(struct strbuf *b, const char *name, const char *labels)
{
    check_metric_name(name);
    strbuf_append(b, name);
    if (labels != NULL && labels[0] != '\0') {
        strbuf_appendc(b, '{');
        strbuf_append(b, labels);
        strbuf_appendc(b, '}');
    }
    strbuf_appendc(b, ' ');
}

void
prom_sample_u64(struct strbuf *b, const char *name, const char *labels, uint64_t value)
{
    sample_start(b, name, labels);
    strbuf_printf(b, "%" PRIu64 "\n", value);
}

void
prom_value_f(struct strbuf *b, double v)
{
    char buf[32];

    if (isnan(v)) {
        strbuf_append(b, "NaN");
        return;
    }
    if (isinf(v)) {
        strbuf_append(b, v > 0 ? "+Inf" : "-Inf");
        return;
    }
    /*
     * The shortest of 15, 16 or 17 significant digits that reads back as v:
     * 0.1 stays "0.1" (not 0.10000000000000001) and nothing is rounded
     * away.  The program never calls setlocale(), so the point is '.'.
     */
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(buf, sizeof(buf), "%.*g", prec, v);
        if (strtod(buf, NULL) == v)
            break;
    }
    strbuf_append(b, buf);
}

void
prom_sample_f(struct strbuf *b, const char *name, const char *labels, double value)
{
    sample_start(b, name, labels);
    prom_value_f(b, value);
    strbuf_appendc(b, '\n');
}
