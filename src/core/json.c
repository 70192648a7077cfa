/*
 * Streaming JSON writer (see ds/json.h).
 */
#include <math.h>
#include <string.h>

#include "ds/json.h"

void
json_init(struct json_w *w, FILE *fp, bool pretty)
{
    memset(w, 0, sizeof(*w));
    w->fp = fp;
    w->pretty = pretty;
}

static void
newline(struct json_w *w)
{
    if (!w->pretty)
        return;
    fputc('\n', w->fp);
    for (int i = 0; i < w->depth; i++)
        fputs("  ", w->fp);
}

/* Comma and indentation before a value or a key. */
static void
before_item(struct json_w *w)
{
    if (w->after_key) {
        w->after_key = false;
        return;
    }
    if (w->depth > 0) {
        if (w->need_comma[w->depth])
            fputc(',', w->fp);
        w->need_comma[w->depth] = true;
        newline(w);
    }
}

void
json_write_string(FILE *fp, const char *s)
{
    const unsigned char *p = (const unsigned char *)s;

    fputc('"', fp);
    for (; *p; p++) {
        switch (*p) {
        case '"':
            fputs("\\\"", fp);
            break;
        case '\\':
            fputs("\\\\", fp);
            break;
        case '\n':
            fputs("\\n", fp);
            break;
        case '\r':
            fputs("\\r", fp);
            break;
        case '\t':
            fputs("\\t", fp);
            break;
        default:
            if (*p < 0x20)
                fprintf(fp, "\\u%04x", *p);
            else
                fputc(*p, fp);
        }
    }
    fputc('"', fp);
}

static void
open_container(struct json_w *w, char c)
{
    before_item(w);
    fputc(c, w->fp);
    if (w->depth + 1 < JSON_MAX_DEPTH)
        w->depth++;
    w->need_comma[w->depth] = false;
}

static void
close_container(struct json_w *w, char c)
{
    bool had_items = w->need_comma[w->depth];

    if (w->depth > 0)
        w->depth--;
    if (had_items)
        newline(w);
    fputc(c, w->fp);
}

void
json_obj_begin(struct json_w *w)
{
    open_container(w, '{');
}

void
json_obj_end(struct json_w *w)
{
    close_container(w, '}');
}

void
json_arr_begin(struct json_w *w)
{
    open_container(w, '[');
}

void
json_arr_end(struct json_w *w)
{
    close_container(w, ']');
}

void
json_key(struct json_w *w, const char *key)
{
    before_item(w);
    json_write_string(w->fp, key);
    fputs(w->pretty ? ": " : ":", w->fp);
    w->after_key = true;
}

void
json_str(struct json_w *w, const char *s)
{
    before_item(w);
    json_write_string(w->fp, s);
}

void
json_int(struct json_w *w, int64_t v)
{
    before_item(w);
    fprintf(w->fp, "%lld", (long long)v);
}

void
json_uint(struct json_w *w, uint64_t v)
{
    before_item(w);
    fprintf(w->fp, "%llu", (unsigned long long)v);
}

void
json_double(struct json_w *w, double v, int decimals)
{
    char buf[64];
    size_t n;

    before_item(w);
    if (!isfinite(v)) {
        fputs("null", w->fp);
        return;
    }
    snprintf(buf, sizeof(buf), "%.*f", decimals, v);
    n = strlen(buf);
    if (strchr(buf, '.') != NULL) {
        while (n > 0 && buf[n - 1] == '0')
            buf[--n] = '\0';
        if (n > 0 && buf[n - 1] == '.')
            buf[n++] = '0', buf[n] = '\0';
    }
    if (strcmp(buf, "-0.0") == 0)
        memcpy(buf, "0.0", 4);
    fputs(buf, w->fp);
}

void
json_bool(struct json_w *w, bool v)
{
    before_item(w);
    fputs(v ? "true" : "false", w->fp);
}

void
json_null(struct json_w *w)
{
    before_item(w);
    fputs("null", w->fp);
}

void
json_raw(struct json_w *w, const char *json)
{
    before_item(w);
    fputs(json, w->fp);
}

void
json_finish(struct json_w *w)
{
    fputc('\n', w->fp);
}
