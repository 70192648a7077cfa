/*
 * A streaming JSON writer: output goes straight to a FILE as values are
 * added, so a report of any size needs no tree in memory.  Commas and
 * indentation are handled here; callers only open, add and close.
 */
#ifndef DS_JSON_H
#define DS_JSON_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define JSON_MAX_DEPTH 32

struct json_w {
    FILE *fp;         /* borrowed */
    int depth;
    bool pretty;
    bool need_comma[JSON_MAX_DEPTH];
    bool after_key;
};

void json_init(struct json_w *w, FILE *fp, bool pretty);
void json_obj_begin(struct json_w *w);
void json_obj_end(struct json_w *w);
void json_arr_begin(struct json_w *w);
void json_arr_end(struct json_w *w);
void json_key(struct json_w *w, const char *key);
void json_str(struct json_w *w, const char *s);
void json_int(struct json_w *w, int64_t v);
void json_uint(struct json_w *w, uint64_t v);
/* Fixed decimals, trailing zeros trimmed; NaN and infinities become null. */
void json_double(struct json_w *w, double v, int decimals);
void json_bool(struct json_w *w, bool v);
void json_null(struct json_w *w);
/* A value already written as JSON by someone trusted (a stored object), as is. */
void json_raw(struct json_w *w, const char *json);
/* Ends the document with a newline. */
void json_finish(struct json_w *w);

/* Writes s as a JSON string literal, quotes included, to fp. */
void json_write_string(FILE *fp, const char *s);

#endif
