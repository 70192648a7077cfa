/*
 * Fuzz target: an IPFIX file as "darkstab analyze" reads it (framing,
 * resynchronisation after garbage, the checker, the decoder, both the fast
 * path and libfixbuf's), then normalised as analyze normalises it.  The
 * input is written to a file of this process first: ingest_file() reads
 * paths.
 */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "ds/ingest.h"
#include "ds/norm.h"

static char path[64];
static struct norm *norm;

static void
on_record(void *ctx, const struct ipfix_record *rec)
{
    struct flow f;

    (void)ctx;
    norm_record(norm, rec, &f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct ingest_file_opts opts = {0};
    struct ingest_stats st = {0};
    struct ds_error err;
    char digest[33];
    FILE *fp;

    if (norm == NULL) {
        ingest_quiet_libfixbuf();
        snprintf(path, sizeof(path), "/tmp/darkstab-fuzz-ipfix-%ld", (long)getpid());
    }
    norm_free(norm);
    norm = norm_new();      /* a file's sampling and init times are its own */
    fp = fopen(path, "wb");
    if (fp == NULL)
        return 0;
    fwrite(data, 1, size, fp);
    fclose(fp);
    opts.fn = on_record;
    /* odd sizes take libfixbuf's path for every record, even ones the fast path */
    opts.use_libfixbuf = (size & 1) != 0;
    ingest_file(path, &opts, &st, digest, &err);
    unlink(path);
    return 0;
}
