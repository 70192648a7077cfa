/*
 * Seed corpora for the fuzz targets (make fuzz): the UDP payloads of the
 * captures (tests/data/captures, ../shared/captures) as inputs of
 * fuzz_datagram, each behind its sender byte.
 *
 *   seeds OUTDIR FILE.pcap...
 */
#include <stdio.h>
#include <stdlib.h>

#include "pcap.h"

struct out {
    const char *dir;
    long n;
    long in_file;
};

static int
write_one(void *ctx, const struct pcap_udp *d)
{
    struct out *o = ctx;
    char path[4096];
    FILE *fp;
    unsigned char who = (unsigned char)(o->n % 16);

    snprintf(path, sizeof(path), "%s/seed-%06ld", o->dir, o->n++);
    fp = fopen(path, "wb");
    if (fp == NULL)
        return 1;
    fwrite(&who, 1, 1, fp);
    fwrite(d->payload, 1, d->len, fp);
    fclose(fp);
    /* a capture's first datagrams carry its templates: 400 of each are plenty */
    return ++o->in_file >= 400;
}

int
main(int argc, char **argv)
{
    struct out o = {NULL, 0, 0};
    char err[256];

    if (argc < 3) {
        fprintf(stderr, "usage: seeds OUTDIR FILE.pcap...\n");
        return 2;
    }
    o.dir = argv[1];
    for (int i = 2; i < argc; i++) {
        o.in_file = 0;
        if (pcap_each_udp(argv[i], write_one, &o, err, sizeof(err)) < 0)
            fprintf(stderr, "seeds: %s: %s\n", argv[i], err);
    }
    printf("%ld seeds\n", o.n);
    return 0;
}
