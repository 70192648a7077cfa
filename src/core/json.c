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
    /* a newline and two spaces per level, JSON_MAX_DEPTH levels at most */
    static const char indent[] = "\n"
                                 "                                "
                                 "                                ";

    _Static_assert(sizeof(indent) >= 2 + 2 * (JSON_MAX_DEPTH - 1), "indent too short");
    if (!w->pretty)
        return;
    fwrite(indent, 1, 1 + 2 * (size_t)w->depth, w->fp);
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
            putc(',', w->fp);
        w->need_comma[w->depth] = true;
        newline(w);
    }
}

void
json_write_string(FILE *fp, const char *s)
{
    const unsigned char *p = (const unsigned char *)s;

    putc('"', fp);
    for (; *p; p++) {
        const unsigned char *run = p;

        /* most strings need no escape: written a run at a time, not a byte */
        while (*p >= 0x20 && *p != '"' && *p != '\\')
            p++;
        if (p > run)
            fwrite(run, 1, (size_t)(p - run), fp);
        if (*p == '\0')
            break;
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
            fprintf(fp, "\\u%04x", *p);
        }
    }
    putc('"', fp);
}

static void
open_container(struct json_w *w, char c)
{
    before_item(w);
    putc(c, w->fp);
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
    putc(c, w->fp);
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

/* v in decimal, with a minus sign if negative: fprintf's work without its format parsing */
static void
put_decimal(FILE *fp, uint64_t v, bool negative)
{
    char buf[24];
    char *p = buf + sizeof(buf);

    do {
        *--p = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    if (negative)
        *--p = '-';
    fwrite(p, 1, (size_t)(buf + sizeof(buf) - p), fp);
}

void
json_int(struct json_w *w, int64_t v)
{
    before_item(w);
    put_decimal(w->fp, v < 0 ? -(uint64_t)v : (uint64_t)v, v < 0);
}

void
json_uint(struct json_w *w, uint64_t v)
{
    before_item(w);
    put_decimal(w->fp, v, false);
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
