/*
 * Allocation wrappers that abort on exhaustion (see ds/xmem.h).
 */
#include <malloc.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ds/log.h"
#include "ds/xmem.h"

void *
xmalloc(size_t size)
{
    void *p = malloc(size ? size : 1);

    if (p == NULL)
        fatalx("xmalloc: out of memory allocating %zu bytes", size);
    return p;
}

void *
xcalloc(size_t nmemb, size_t size)
{
    void *p = calloc(nmemb ? nmemb : 1, size ? size : 1);

    if (p == NULL)
        fatalx("xcalloc: out of memory allocating %zu x %zu bytes", nmemb, size);
    return p;
}

void *
xreallocarray(void *ptr, size_t nmemb, size_t size)
{
    void *p;

    if (size != 0 && nmemb > SIZE_MAX / size)
        fatalx("xreallocarray: %zu x %zu bytes overflows", nmemb, size);
    p = realloc(ptr, (nmemb * size) != 0 ? nmemb * size : 1);
    if (p == NULL)
        fatalx("xreallocarray: out of memory allocating %zu x %zu bytes", nmemb, size);
    return p;
}

char *
xstrdup(const char *s)
{
    char *p = strdup(s);

    if (p == NULL)
        fatalx("xstrdup: out of memory");
    return p;
}

char *
xstrndup(const char *s, size_t n)
{
    char *p = strndup(s, n);

    if (p == NULL)
        fatalx("xstrndup: out of memory");
    return p;
}

char *
xasprintf(const char *fmt, ...)
{
    char *p = NULL;
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vasprintf(&p, fmt, ap);
    va_end(ap);
    if (n < 0)
        fatalx("xasprintf: out of memory");
    return p;
}

#if defined(__SANITIZE_ADDRESS__)
#define XMEM_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define XMEM_ASAN 1
#endif
#endif

void
xmem_release_free(void)
{
#ifndef XMEM_ASAN
    malloc_trim(0);
#endif
}
