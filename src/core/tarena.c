/*
 * Table arenas (see ds/tarena.h).
 *
 * Our implementation: a table of 2^k bytes up to a block is carved from
 * the arena's last block (a new one from the pool, or mapped, when it does
 * not fit: the rest of the block is left unused); a freed table waits in
 * the list of its size for the next table of that size, as a table grows
 * by doubling and its old copy is freed.  Blocks are mapped 2 MB-aligned
 * and advised MADV_HUGEPAGE; where transparent huge pages are off they
 * still save the faults of every block but the first use.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "ds/tarena.h"
#include "ds/xmem.h"

static void *
map_aligned(size_t bytes)
{
    size_t len = bytes + TARENA_BLOCK, lead;
    uint8_t *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

    if (p == MAP_FAILED)
        return NULL;
    lead = (TARENA_BLOCK - ((uintptr_t)p & (TARENA_BLOCK - 1))) & (TARENA_BLOCK - 1);
    if (lead > 0)
        munmap(p, lead);
    munmap(p + lead + bytes, TARENA_BLOCK - lead);
    madvise(p + lead, bytes, MADV_HUGEPAGE);
    return p + lead;
}

void
tarena_pool_fini(struct tarena_pool *pool)
{
    for (size_t i = 0; i < pool->n_free; i++)
        munmap(pool->free[i], TARENA_BLOCK);
    free(pool->free);
    memset(pool, 0, sizeof(*pool));
}

void
tarena_init(struct tarena *a, struct tarena_pool *pool)
{
    memset(a, 0, sizeof(*a));
    a->pool = pool;
}

static int
log2_of(size_t bytes)
{
    return 63 - __builtin_clzll((unsigned long long)bytes);
}

/* A block for a: the pool's, or a new one; -1 if memory is out. */
static int
next_block(struct tarena *a)
{
    void *b;

    if (a->pool->n_free > 0)
        b = a->pool->free[--a->pool->n_free];
    else if ((b = map_aligned(TARENA_BLOCK)) == NULL)
        return -1;
    if (a->n_blocks == a->cap_blocks) {
        a->cap_blocks = a->cap_blocks ? 2 * a->cap_blocks : 8;
        a->blocks = xreallocarray(a->blocks, a->cap_blocks, sizeof(*a->blocks));
    }
    a->blocks[a->n_blocks++] = b;
    a->used = 0;
    return 0;
}

void *
tarena_alloc(struct tarena *a, size_t bytes)
{
    int c = log2_of(bytes);
    uint8_t *p;

    if (a->freed[c] != NULL) {
        p = a->freed[c];
        memcpy(&a->freed[c], p, sizeof(void *));
        return memset(p, 0, bytes);
    }
    if (bytes > TARENA_BLOCK) {
        /* fresh pages are zero */
        if ((p = map_aligned(bytes)) == NULL)
            return NULL;
        if (a->n_big == a->cap_big) {
            a->cap_big = a->cap_big ? 2 * a->cap_big : 4;
            a->big = xreallocarray(a->big, a->cap_big, sizeof(*a->big));
        }
        a->big[a->n_big++] = (struct tarena_big){p, bytes};
        return p;
    }
    /* a cache line's start: a probe reads one line */
    a->used = (a->used + 63) & ~(size_t)63;
    if ((a->n_blocks == 0 || a->used > TARENA_BLOCK || TARENA_BLOCK - a->used < bytes) &&
        next_block(a) != 0)
        return NULL;
    p = (uint8_t *)a->blocks[a->n_blocks - 1] + a->used;
    a->used += bytes;
    return memset(p, 0, bytes);
}

void
tarena_free(struct tarena *a, void *p, size_t bytes)
{
    int c = log2_of(bytes);

    if (p == NULL)
        return;
    if (bytes > TARENA_BLOCK) {
        for (size_t i = 0; i < a->n_big; i++) {
            if (a->big[i].p == p) {
                munmap(p, a->big[i].bytes);
                a->big[i] = a->big[--a->n_big];
                return;
            }
        }
        return;
    }
    memcpy(p, &a->freed[c], sizeof(void *));
    a->freed[c] = p;
}

void
tarena_reset(struct tarena *a)
{
    struct tarena_pool *pool = a->pool;

    for (size_t i = 0; i < a->n_blocks; i++) {
        if (pool->n_free == pool->cap) {
            pool->cap = pool->cap ? 2 * pool->cap : 8;
            pool->free = xreallocarray(pool->free, pool->cap, sizeof(*pool->free));
        }
        pool->free[pool->n_free++] = a->blocks[i];
    }
    for (size_t i = 0; i < a->n_big; i++)
        munmap(a->big[i].p, a->big[i].bytes);
    free(a->blocks);
    free(a->big);
    tarena_init(a, pool);
}
