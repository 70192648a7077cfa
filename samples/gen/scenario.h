/*
 * Synthetic darknet traffic for samples, tests and benchmarks.
 *
 * A scenario produces flow records in time order, day by day: a background
 * of scanning whose TopN at 1% moves around 14 to 19, and, on chosen days,
 * events modelled on the paper's case studies.  The same records can be
 * written to IPFIX files or, later, sent live; a truth file lists them for
 * tests that check darkstab against an independent computation.
 */
#ifndef DS_GEN_SCENARIO_H
#define DS_GEN_SCENARIO_H

#include <stdbool.h>
#include <stdint.h>

#include "ds/addr.h"

struct gen_flow {
    int64_t start_ms;
    int64_t end_ms;
    uint64_t packets;
    struct addr src;
    struct addr dst;
    uint16_t sport;
    uint16_t dport;
    uint8_t proto;
    uint8_t flags;
    uint8_t icmp_type;
    uint8_t icmp_code;
    bool v6;
};

enum gen_event {
    GEN_EV_NONE,
    GEN_EV_DDOS,            /* Table I: UDP 2849 from 233 sources, a short burst */
    GEN_EV_MISCONFIG,       /* Table II: one host floods UDP 52290 */
    GEN_EV_BACKSCATTER,     /* Dataset 2 case 1: from port 53 to high ports */
    GEN_EV_SCAN_INCREASE,   /* Table VII: one host, a dozen UDP ports */
};

struct gen_event_day {
    int day;                /* day index from the start */
    enum gen_event ev;
};

struct gen_params {
    int64_t start_day;      /* local midnight of the first day (Unix seconds) */
    int days;
    uint64_t flows_per_day; /* background flows per day */
    uint64_t seed;
    struct gen_event_day events[16];
    int n_events;
    double outside_share;   /* of flows sent outside the darknet */
    double excluded_share;  /* of flows sent to the excluded sensor */
    double v6_share;
    double spoofed_share;   /* of background IPv4 flows: a random source (a spoofed flood) */
    double flows_per_source;    /* a popular port's scanner's flows a day; 0: 2.5 */
};

/* Called for every flow in start-time order within a day; days in order. */
typedef int (*gen_flow_fn)(void *ctx, const struct gen_flow *f);
/* Called at the end of each day (for per-day files). */
typedef int (*gen_day_fn)(void *ctx, int day, int64_t day_start);

/* The paper scenario used by samples/: events on four days. */
void gen_params_paper(struct gen_params *p);

/* Runs the scenario; returns 0, or the first non-zero callback result. */
int gen_run(const struct gen_params *p, gen_flow_fn fn, gen_day_fn day_fn, void *ctx);

/* The darknet and excluded prefixes the scenario uses. */
#define GEN_DARKNET4 "198.18.0.0/16"
#define GEN_DARKNET6 "2001:db8:dead::/48"
#define GEN_EXCLUDED4 "198.18.0.0/24"

#endif
