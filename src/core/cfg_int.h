/*
 * Private to src/core: the table of configuration keys (cfg.c) that
 * drives parsing and validation (cfg_parse.c), printing and the reference
 * table (cfg_print.c) and the reload rules (cfg.c).
 */
#ifndef DS_CFG_INT_H
#define DS_CFG_INT_H

#include <stddef.h>
#include <stdint.h>

#include "ds/cfg.h"


enum cfg_type {
    T_STR,
    T_NAME,         /* an analysis name: letters, digits, '_', '-' */
    T_TZ,
    T_DURATION,
    T_INT,
    T_DECIMAL,
    T_ENUM,
    T_CIDRS,
    T_KEYS,
    T_THRESHOLDS,
    T_SIZE,         /* bytes, with K, M or G */
    T_CIDR,         /* one prefix; an address alone is a host */
    T_ENDPOINT,     /* address:port, [v6]:port */
    T_LISTEN,       /* collector.listen: a list of mappings */
    T_SAMPLING,     /* collector.sampling: a list of mappings */
    T_BOOL,         /* true or false */
    T_SCHEDULE,     /* a local time of day "HH:MM" as minutes; "" (F_EMPTY_OK): -1, off */
    T_MAILADDR,     /* a mail address (addr-spec) "user@example.org" */
    T_MAILADDRS,    /* a list of them, into struct cfg_strs */
    T_SMTPURL,      /* smtp://host[:port] or smtps://host[:port] */
    T_HTTPURL,      /* http://host[:port][/path] or https://... */
};

#define F_REQUIRED 0x1      /* no default: the key must be given */
#define F_LIST_EMPTY_OK 0x2 /* an empty list is allowed */
#define F_EMPTY_OK 0x4      /* an empty string is allowed (it means "off") */
#define F_RESTART 0x8       /* a reload cannot change it: restart darkstab */
#define F_SECRET 0x10       /* never printed: check-config --print masks it */

struct cfg_entry {
    const char *section;    /* "darknet", "store", ...; NULL at top level */
    const char *name;
    enum cfg_type type;
    size_t offset;          /* into struct ds_cfg or struct cfg_analysis */
    const char *def;        /* default as text; lists comma separated */
    unsigned flags;
    int64_t min, max;       /* T_INT, T_DURATION */
    const char *const *enums;
    double dlo, dhi;        /* T_DECIMAL, T_THRESHOLDS: bounds */
    int lo_open, hi_open;   /* bounds excluded */
    int decimals;
    const char *doc;        /* one line, shown by "check-config --doc" */
};


extern const char *const cfg_stddev_names[];
extern const char *const cfg_attribution_names[];
extern const char *const cfg_protocol_names[];
extern const char *const cfg_transport_names[];
extern const char *const cfg_level_names[];
extern const char *const cfg_starttls_names[];

/* The keys: top level (by section), of each analysis, listener and sampling entry. */
extern const struct cfg_entry cfg_top_entries[];
extern const struct cfg_entry cfg_analysis_entries[];
extern const struct cfg_entry cfg_listen_entries[];
extern const struct cfg_entry cfg_sampling_entries[];
extern const size_t cfg_n_top, cfg_n_analysis, cfg_n_listen, cfg_n_sampling;
/* The top-level sections, NULL terminated. */
extern const char *const cfg_top_sections[];

#define N_TOP cfg_n_top
#define N_ANALYSIS cfg_n_analysis
#define N_LISTEN cfg_n_listen
#define N_SAMPLING_ENTRIES cfg_n_sampling

/* Types whose value is a YAML list (their defaults are comma separated). */
static inline int
cfg_is_list_type(enum cfg_type t)
{
    return t == T_CIDRS || t == T_KEYS || t == T_THRESHOLDS || t == T_MAILADDRS;
}

/* Bounds of the tables, checked at compile time in cfg.c. */
#define CFG_ENTRIES_MAX 128     /* entries of one table */
#define CFG_KEY_PATHS_MAX 256   /* key paths of all tables */

/* "timezone", "store.path": the key path of a top-level entry, into buf. */
const char *cfg_entry_path(const struct cfg_entry *e, char *buf, size_t len);

#endif
