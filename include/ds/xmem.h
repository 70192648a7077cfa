/*
 * Allocation wrappers for small, fixed-size allocations: they call fatalx()
 * when memory runs out (OpenSMTPD's xcalloc).  Allocations whose size comes
 * from input must not use these: they check for NULL and enforce a limit.
 */
#ifndef DS_XMEM_H
#define DS_XMEM_H

#include <stddef.h>

void *xmalloc(size_t size);
void *xcalloc(size_t nmemb, size_t size);
void *xreallocarray(void *ptr, size_t nmemb, size_t size);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
/* Returns owned memory holding the formatted string. */
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/*
 * Gives the free pages of glibc's arenas back to the system (malloc_trim),
 * after a burst of frees that a thread's arena would otherwise keep.  Any
 * thread may call it.  Nothing under AddressSanitizer, whose allocator is
 * not glibc's: there glibc's malloc is never set up, and two threads that
 * trim at once raced in its lazy setup and crashed.
 */
void xmem_release_free(void);

#endif
