/*
 * Table arenas: memory for hash tables that are built, grown and dropped
 * together (a slot's maps while it is read back), carved from 2 MB blocks
 * backed by huge pages and kept for the next arena of the same pool.
 *
 * On the machines darkstab runs on, a page fault costs microseconds (14 us
 * a 4 KB page on the benchmark's virtual machine) and unmapping a table
 * another thread has touched flushes both CPUs' TLBs: tables taken from
 * calloc() and freed at once paid both for every slot read back.  Here a
 * block is faulted in once, in 2 MB pages, and reused.
 */
#ifndef DS_TARENA_H
#define DS_TARENA_H

#include <stddef.h>

#define TARENA_BLOCK ((size_t)2 << 20)

/* A thread's blocks not in use by one of its arenas. */
struct tarena_pool {
    void **free;
    size_t n_free, cap;
};

/* The tables of one user (a slot), freed together by tarena_reset(). */
struct tarena {
    struct tarena_pool *pool;   /* borrowed */
    void **blocks;              /* in use, the last one being carved */
    size_t n_blocks, cap_blocks;
    size_t used;                /* bytes of the last block carved */
    void *freed[64];            /* freed tables by log2 of their size, a list each */
    struct tarena_big {
        void *p;
        size_t bytes;
    } *big;                     /* tables larger than a block: mapped alone */
    size_t n_big, cap_big;
};

void tarena_pool_fini(struct tarena_pool *pool);
void tarena_init(struct tarena *a, struct tarena_pool *pool);
/*
 * Zeroed memory for a table of bytes (a power of two, at least 64),
 * aligned to 64 bytes; NULL if memory is out.
 */
void *tarena_alloc(struct tarena *a, size_t bytes);
/* p (from tarena_alloc() of bytes) for a later table of the same size. */
void tarena_free(struct tarena *a, void *p, size_t bytes);
/* Every table of a back to the pool (big ones to the system). */
void tarena_reset(struct tarena *a);

#endif
