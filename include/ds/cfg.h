/*
 * The configuration: one YAML file, parsed with libyaml into struct ds_cfg.
 *
 * One table per section (in src/core/cfg.c) drives parsing, validation,
 * defaults and printing, so that the keys accepted, the keys printed by
 * "check-config" and the keys documented in config/darkstab.yaml cannot
 * drift apart (tests/unit/check_cfg.c compares them).
 *
 * Errors name the file, line and column, the key path and what was
 * expected: "darkstab.yaml:12:7: analyses[1].thresholds[0]: 100 is outside
 * (0, 100)".
 */
#ifndef DS_CFG_H
#define DS_CFG_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "ds/addr.h"
#include "ds/keyspec.h"
#include "ds/parse.h"
#include "ds/rc.h"

#define CFG_THRESHOLDS_MAX 8
#define CFG_ANALYSES_MAX 32
#define CFG_NAME_MAX 63
#define CFG_CIDRS_MAX 4096
#define CFG_WINDOW_MAX 1000

enum cfg_stddev {
    CFG_STDDEV_POPULATION,
    CFG_STDDEV_SAMPLE,
};

enum cfg_attribution {
    CFG_ATTR_START,
    CFG_ATTR_SPREAD,
};

struct cfg_cidrs {
    struct cidr *v;     /* owned */
    size_t n;
};

struct cfg_analysis {
    char *name;                             /* owned */
    struct key_spec keys[KEYS_MAX];
    size_t n_keys;
    int64_t slot_s;                         /* 300, 3600, 86400, 604800, ... */
    int64_t window;                         /* T, earlier slots with data */
    struct decimal k_sigma;
    struct decimal thresholds[CFG_THRESHOLDS_MAX];  /* in the order written */
    size_t n_thresholds;
    int stddev;                             /* enum cfg_stddev */
    struct decimal min_stddev;
    int attribution;                        /* enum cfg_attribution */
};

struct ds_cfg {
    char *path;                             /* owned; the file it came from */
    char *timezone;                         /* owned; IANA name */
    struct cfg_cidrs prefixes;              /* darknet.prefixes */
    struct cfg_cidrs exclude;               /* darknet.exclude */
    struct cfg_analysis *analyses;          /* owned array */
    size_t n_analyses;
    char *store_path;                       /* owned; store.path */
    int64_t input_lateness_s;               /* input.lateness */
};

/*
 * Loads and checks path.  On success *out is a new, owned configuration
 * (free with cfg_free()); on failure *out is NULL, err says what and where,
 * and DS_ERR_CONFIG (or DS_ERR_IO when the file cannot be read) is returned.
 */
enum ds_rc cfg_load(const char *path, struct ds_cfg **out, struct ds_error *err);
/* Same, from a string; name is used in messages. */
enum ds_rc cfg_load_string(const char *name, const char *text, struct ds_cfg **out,
                           struct ds_error *err);
/* The configuration with every default, as used when no file is given. */
struct ds_cfg *cfg_default(void);
void cfg_free(struct ds_cfg *cfg);

/* Prints the effective configuration as YAML that cfg_load() accepts. */
void cfg_print(const struct ds_cfg *cfg, FILE *fp);

/* The lowest threshold of an analysis (its TopN set is shown, METHOD 6). */
const struct decimal *cfg_lowest_threshold(const struct cfg_analysis *a);

/*
 * Every key path the tables accept ("timezone", "darknet.prefixes",
 * "analyses[].window", ...), NULL terminated; for the documentation check.
 */
const char *const *cfg_key_paths(void);

#endif
