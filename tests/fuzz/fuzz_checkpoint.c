/*
 * Fuzz target: what a collector reads back from its checkpoint at start:
 * the exporters' state (exporter_state_walk(), then each exporter's
 * session and sampling state restored as the collector restores them), an
 * exporter's session alone (templates as IPFIX template records, sequence
 * state), its sampling state alone, and an open slot's two blobs (group
 * counts and details, with distinct counters, top lists and minute
 * series).  Byte 0 picks which; for a slot, bytes 1-2 split the rest into
 * counts and details.  A restored session must then decode a message.
 */
#include <stdlib.h>
#include <string.h>

#include "ds/addr.h"
#include "ds/exporter_table.h"
#include "ds/agg.h"
#include "ds/ingest.h"
#include "ds/key.h"
#include "ds/norm.h"
#include "ds/store.h"

static const uint8_t msg[] = {
    /* IPFIX header: version 10, length 36, export time, sequence 0, domain 0 */
    0, 10, 0, 36, 0x51, 0x3e, 0x5b, 0x80, 0, 0, 0, 0, 0, 0, 0, 0,
    /* a data set of template 256: 16 bytes of whatever the template says */
    1, 0, 0, 20, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
};

static void
on_record(void *ctx, const struct ipfix_record *rec)
{
    (void)ctx;
    (void)rec;
}

static struct norm *norm;

/* As the collector's restore_one(): a session and a sampling state from their blobs. */
static int
restore_one(void *ctx, const struct exporter_saved *e)
{
    struct ingest_session *s = ingest_session_new((enum ingest_proto)e->proto);
    struct norm_source *ns = norm_source_new(norm, &e->addr);
    struct ingest_stats st = {0};
    struct ds_error err;

    (void)ctx;
    if (ingest_session_restore(s, e->session, e->session_len, &err) == DS_OK &&
        e->proto == INGEST_IPFIX)
        ingest_session_datagram(s, msg, sizeof(msg), 0, on_record, NULL, &st, &err);
    norm_source_restore(ns, e->norm, e->norm_len);
    norm_source_free(ns);
    ingest_session_free(s);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct ds_error err;

    if (norm == NULL) {
        ingest_quiet_libfixbuf();
        norm = norm_new();
    }
    if (size < 3)
        return 0;
    switch (data[0] % 5) {
    case 4:
        exporter_state_walk(data + 1, size - 1, restore_one, NULL);
        break;
    case 0:
    case 1: {
        struct ingest_session *s = ingest_session_new(data[0] % 2 ? INGEST_NETFLOW9 : INGEST_IPFIX);
        struct ingest_stats st = {0};

        if (ingest_session_restore(s, data + 1, size - 1, &err) == DS_OK)
            ingest_session_datagram(s, msg, sizeof(msg), 0, on_record, NULL, &st, &err);
        ingest_session_free(s);
        break;
    }
    case 2: {
        struct addr a;
        struct norm_source *ns;

        addr_from_v4(&a, 0x7f000001u);
        ns = norm_source_new(norm, &a);
        norm_source_restore(ns, data + 1, size - 1);
        norm_source_free(ns);
        break;
    }
    default: {
        static const struct key_spec keys[] = {{KEY_PROTO, 0, 0}, {KEY_DST_PORT, 0, 0},
                                               {KEY_SRC_NET, 24, 48}};
        size_t split = ((size_t)data[1] << 8 | data[2]) % (size - 2);
        struct key_layout layout;
        struct agg_slot *slot;

        key_layout_init(&layout, keys, 3);
        slot = agg_slot_new(&layout, 0, 86400);
        store_slot_decode(slot, data + 3, split, data + 3 + split, size - 3 - split);
        agg_slot_free(slot);
        break;
    }
    }
    return 0;
}
