/*
 * Fuzz target: what a node reads back from its ClickHouse spool at start
 * (store.backend clickhouse, src/store/ch_writer.c): a file named like a
 * batch, whatever it holds.  The writer must find it, check its header and
 * length, and either try to send it (to a port where nobody listens: the
 * attempt fails and the batch waits) or set it aside as damaged; never
 * read past it, never crash.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ds/cfg.h"
#include "ds/ch_writer.h"
#include "ds/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char dir[64];
static struct ds_cfg *cfg;

static void
empty_dir(void)
{
    DIR *d = opendir(dir);
    struct dirent *e;

    if (d == NULL)
        return;
    while ((e = readdir(d)) != NULL) {
        char path[512];

        if (e->d_name[0] == '.')
            continue;
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        unlink(path);
    }
    closedir(d);
}

static int
setup(void)
{
    struct ds_error err;

    snprintf(dir, sizeof(dir), "/tmp/darkstab-fuzz-spool-XXXXXX");
    if (mkdtemp(dir) == NULL)
        return -1;
    if (cfg_load_string("fuzz.yaml",
                        "timezone: UTC\nstore:\n  clickhouse:\n    url: http://127.0.0.1:1/\n"
                        "    node: fuzz\n    timeout: 1s\n",
                        &cfg, &err) != DS_OK)
        return -1;
    free(cfg->clickhouse.spool_dir);
    cfg->clickhouse.spool_dir = strdup(dir);
    log_set_level(LOG_ERR);
    return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int ready;
    struct ch_writer *w;
    struct ds_error err;
    char path[512];
    uint64_t pending;
    FILE *fp;

    if (!ready)
        ready = setup() == 0 ? 1 : -1;
    if (ready < 0)
        return 0;
    snprintf(path, sizeof(path), "%s/00000000000000000001-0000000000000001.batch", dir);
    fp = fopen(path, "wb");
    if (fp == NULL)
        return 0;
    fwrite(data, 1, size, fp);
    fclose(fp);
    if (ch_writer_open(&cfg->clickhouse, &w, &err) == DS_OK) {
        ch_writer_flush(w, &pending, &err);
        ch_writer_free(w);
    }
    empty_dir();
    return 0;
}
