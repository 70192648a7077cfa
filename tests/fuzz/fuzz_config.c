/*
 * Fuzz target: the YAML configuration loader (libyaml, the table of keys,
 * every value parser and the checks across keys), and printing back what
 * it accepted.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ds/cfg.h"
#include "ds/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    struct ds_cfg *cfg = NULL;
    struct ds_error err;

    if (text == NULL)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    if (cfg_load_string("fuzz.yaml", text, &cfg, &err) == DS_OK) {
        FILE *null = fopen("/dev/null", "w");

        if (null != NULL) {
            cfg_print(cfg, null);
            fclose(null);
        }
        cfg_free(cfg);
    }
    free(text);
    return 0;
}
