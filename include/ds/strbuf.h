/*
 * A growable NUL-terminated string.  The buffer is owned by the strbuf and
 * released by strbuf_fini(); strbuf_take() hands it to the caller.
 */
#ifndef DS_STRBUF_H
#define DS_STRBUF_H

#include <stdarg.h>
#include <stddef.h>

struct strbuf {
    char *s;    /* always NUL terminated once anything was appended */
    size_t len;
    size_t cap;
};

#define STRBUF_INIT {NULL, 0, 0}

void strbuf_append(struct strbuf *sb, const char *s);
void strbuf_appendn(struct strbuf *sb, const char *s, size_t n);
void strbuf_appendc(struct strbuf *sb, char c);
void strbuf_printf(struct strbuf *sb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void strbuf_reset(struct strbuf *sb);
/* The contents, "" when empty; valid until the next append. */
const char *strbuf_str(const struct strbuf *sb);
/* Returns the owned string (never NULL) and leaves sb empty. */
char *strbuf_take(struct strbuf *sb);
void strbuf_fini(struct strbuf *sb);

#endif
