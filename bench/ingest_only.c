/*
 * darkstab's reader side alone: framing, structural check, decoding,
 * normalisation and the darknet filter, without aggregation.  Shows what
 * the reader thread costs against the bare libfixbuf loop; with
 * --libfixbuf, every record is decoded by libfixbuf instead of the fast
 * path for fixed-length templates.
 *
 *   ingest_only [--libfixbuf] FILE
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "ds/addr.h"
#include "ds/ingest.h"
#include "ds/log.h"
#include "ds/norm.h"
#include "ds/prefix.h"

struct ctx {
    struct norm *norm;
    struct prefix_set *dark;
    uint64_t flows, dark_flows, packets;
};

static void
on_record(void *arg, const struct ipfix_record *rec)
{
    struct ctx *c = arg;
    struct flow f;

    if (norm_record(c->norm, rec, &f) != NORM_FLOW)
        return;
    c->flows++;
    if (prefix_set_classify(c->dark, &f.dst) == PREFIX_DARK) {
        c->dark_flows++;
        c->packets += f.packets;
    }
}

int
main(int argc, char **argv)
{
    struct ctx c = {0};
    struct ingest_file_opts opts = {.fn = on_record, .ctx = &c};
    struct ingest_stats st = {0};
    struct ds_error err;
    struct cidr dark[2];
    char why[128], digest[33];
    struct timespec t0, t1;
    double dt;

    if (argc == 3 && strcmp(argv[1], "--libfixbuf") == 0) {
        opts.use_libfixbuf = true;
        argv++;
        argc--;
    }
    if (argc != 2) {
        fprintf(stderr, "usage: ingest_only [--libfixbuf] FILE\n");
        return 2;
    }
    log_init(0, LOG_WARNING, "ingest_only");
    ingest_quiet_libfixbuf();
    cidr_parse("198.18.0.0/16", &dark[0], why, sizeof(why));
    cidr_parse("2001:db8:dead::/48", &dark[1], why, sizeof(why));
    c.dark = prefix_set_new(dark, 2, NULL, 0);
    c.norm = norm_new();
    clock_gettime(CLOCK_MONOTONIC, &t0);
    if (ingest_file(argv[1], &opts, &st, digest, &err) != DS_OK) {
        fprintf(stderr, "ingest_only: %s\n", err.msg);
        return 1;
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    dt = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    printf("ingest_only%s: %llu records, %llu in the darknet, in %.3f s: "
           "%.2f million records/s\n",
           opts.use_libfixbuf ? " --libfixbuf" : "", (unsigned long long)st.records,
           (unsigned long long)c.dark_flows, dt, (double)st.records / dt / 1e6);
    norm_free(c.norm);
    prefix_set_free(c.dark);
    return 0;
}
