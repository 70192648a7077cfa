/*
 * Why the group table is our own: the same lookups, with the same keys and
 * the same skew as a darknet's ports (a few busy groups, a long tail), done
 * by the slot's open-addressing table (src/agg/agg.c) and by GLib's
 * GHashTable holding the same packed keys.
 *
 *   hashtable [LOOKUPS]
 */
#include <glib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ds/agg.h"
#include "ds/hash.h"

struct gkey {
    uint8_t k[8];
};

static guint
ghash(gconstpointer p)
{
    return (guint)hash_mix64(*(const uint64_t *)p);
}

static gboolean
gequal(gconstpointer a, gconstpointer b)
{
    return memcmp(a, b, 8) == 0;
}

static double
now(void)
{
    struct timespec t;

    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

int
main(int argc, char **argv)
{
    size_t n = argc > 1 ? (size_t)strtoull(argv[1], NULL, 10) : 20000000;
    struct key_spec ks[2] = {{KEY_PROTO, 0, 0}, {KEY_DST_PORT, 0, 0}};
    struct key_layout layout;
    struct agg_slot *slot;
    GHashTable *gt;
    uint8_t (*keys)[8];
    uint64_t r = 42, sum = 0;
    double t0, t_ours, t_glib;

    key_layout_init(&layout, ks, 2);
    keys = calloc(n, 8);
    if (keys == NULL)
        return 1;
    /* 70% of lookups to 30 busy ports, the rest to any of 65536 */
    for (size_t i = 0; i < n; i++) {
        uint16_t port;

        r = r * 6364136223846793005ULL + 1442695040888963407ULL;
        port = (r >> 33) % 10 < 7 ? (uint16_t)(1 + (r >> 40) % 30) : (uint16_t)(r >> 48);
        keys[i][0] = 0;
        keys[i][1] = 6;
        keys[i][2] = (uint8_t)(port >> 8);
        keys[i][3] = (uint8_t)port;
    }

    slot = agg_slot_new(&layout, 0, 86400);
    t0 = now();
    for (size_t i = 0; i < n; i++)
        agg_slot_group_get(slot, keys[i], false)->packets++;
    t_ours = now() - t0;

    gt = g_hash_table_new_full(ghash, gequal, g_free, g_free);
    t0 = now();
    for (size_t i = 0; i < n; i++) {
        uint64_t *v = g_hash_table_lookup(gt, keys[i]);

        if (v == NULL) {
            struct gkey *k = g_new(struct gkey, 1);

            memcpy(k->k, keys[i], 8);
            v = g_new0(uint64_t, 1);
            g_hash_table_insert(gt, k, v);
        }
        (*v)++;
    }
    t_glib = now() - t0;

    for (uint32_t i = 0; i < slot->n_groups; i++)
        sum += agg_slot_group(slot, i)->packets;
    printf("hashtable: %zu lookups into %u groups: darkstab's table %.1f ns, GHashTable %.1f ns "
           "per lookup (checksum %llu, %u)\n",
           n, slot->n_groups, t_ours * 1e9 / (double)n, t_glib * 1e9 / (double)n,
           (unsigned long long)sum, g_hash_table_size(gt));
    agg_slot_free(slot);
    g_hash_table_destroy(gt);
    free(keys);
    return 0;
}
