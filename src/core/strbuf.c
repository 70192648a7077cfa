/*
 * Growable strings (see ds/strbuf.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ds/strbuf.h"
#include "ds/xmem.h"

static void
reserve(struct strbuf *sb, size_t extra)
{
    size_t want = sb->len + extra + 1;

    if (want <= sb->cap)
        return;
    if (sb->cap == 0)
        sb->cap = 64;
    while (sb->cap < want)
        sb->cap *= 2;
    sb->s = xreallocarray(sb->s, sb->cap, 1);
}

void
strbuf_appendn(struct strbuf *sb, const char *s, size_t n)
{
    reserve(sb, n);
    memcpy(sb->s + sb->len, s, n);
    sb->len += n;
    sb->s[sb->len] = '\0';
}

void
strbuf_append(struct strbuf *sb, const char *s)
{
    strbuf_appendn(sb, s, strlen(s));
}

void
strbuf_appendc(struct strbuf *sb, char c)
{
    strbuf_appendn(sb, &c, 1);
}

void
strbuf_printf(struct strbuf *sb, const char *fmt, ...)
{
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n <= 0)
        return;
    reserve(sb, (size_t)n);
    va_start(ap, fmt);
    vsnprintf(sb->s + sb->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    sb->len += (size_t)n;
}

void
strbuf_reset(struct strbuf *sb)
{
    sb->len = 0;
    if (sb->s)
        sb->s[0] = '\0';
}

const char *
strbuf_str(const struct strbuf *sb)
{
    return sb->s ? sb->s : "";
}

char *
strbuf_take(struct strbuf *sb)
{
    char *s = sb->s ? sb->s : xstrdup("");

    sb->s = NULL;
    sb->len = sb->cap = 0;
    return s;
}

void
strbuf_fini(struct strbuf *sb)
{
    free(sb->s);
    sb->s = NULL;
    sb->len = sb->cap = 0;
}
