/*
 * Unit tests of src/explain: the changes of a slot against its window, the
 * groups shown with their lists, the probable cause with the default rules
 * (cfg_default()), the serialised form and the JSON members.
 *
 * The slots are built with agg_slot_add() from synthetic flows shaped like
 * the samples' days (samples/gen/scenario.c): a background of scanned
 * ports with fixed shares, and on the day explained one of the paper's
 * events (a DDoS, DNS backscatter, a scan of a dozen ports, a
 * misconfigured host) or a day where the usual campaigns merely move.
 *
 * The top lists and minutes come from the aggregator's detail (ds/detail.h):
 * exact lists are asserted only where a group has few values.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "ds/agg.h"
#include "ds/cfg.h"
#include "ds/explain.h"
#include "ds/hash.h"
#include "ds/json.h"
#include "ds/key.h"
#include "ds/keyspec.h"
#include "ds/proto.h"
#include "ds/stability.h"
#include "ds/tz.h"
#include "testutil.h"

/* ---- building slots ----------------------------------------------------- */

#define DAY 86400
#define P 20000u            /* background packets of a day */
#define DAY0 1362528000     /* 2013-03-06 00:00 UTC */

static struct ds_cfg *cfg;
static const struct cfg_analysis *an;
static struct key_layout layout;

static void
setup(void)
{
    const char *specs[] = {"proto", "dst_port"};
    struct key_spec k[2];
    char why[128];

    cfg = cfg_default();
    ck_assert_ptr_nonnull(cfg);
    ck_assert_uint_ge(cfg->n_analyses, 1);
    an = &cfg->analyses[0];
    for (size_t i = 0; i < 2; i++)
        ck_assert_int_eq(keyspec_parse(specs[i], &k[i], why, sizeof(why)), 0);
    key_layout_init(&layout, k, 2);
}

static void
teardown(void)
{
    cfg_free(cfg);
}

static void
v4(struct addr *a, uint32_t v)
{
    addr_from_v4(a, v);
}

/* Adds one flow of packets. */
static void
add(struct agg_slot *s, uint8_t proto, uint32_t src, uint16_t sport, uint32_t dst,
    uint16_t dport, int64_t start_ms, uint64_t packets, uint8_t flags)
{
    struct flow f;

    memset(&f, 0, sizeof(f));
    f.proto = proto;
    v4(&f.src, src);
    v4(&f.dst, dst);
    f.src_value = addr_value(&f.src);
    f.dst_value = addr_value(&f.dst);
    f.src_port = sport;
    f.dst_port = dport;
    f.tcp_flags = flags;
    f.start_ms = start_ms;
    f.end_ms = start_ms + 1000;
    f.packets = packets;
    f.sampling = 1;
    f.ip_version = 4;
    agg_slot_add(s, &f, packets);
}

/* The background: scanned ports with shares in 1/100 percent, the rest a tail of one-offs. */
static const struct {
    uint8_t proto;
    uint16_t port;
    unsigned share;
} bg_ports[] = {
    {PROTO_TCP, 445, 1700}, {PROTO_TCP, 23, 1300},  {PROTO_TCP, 22, 750},
    {PROTO_TCP, 1433, 550}, {PROTO_TCP, 3389, 480}, {PROTO_TCP, 80, 430},
    {PROTO_TCP, 8080, 360}, {PROTO_TCP, 5900, 290}, {PROTO_TCP, 443, 240},
    {PROTO_TCP, 21, 200},   {PROTO_TCP, 25, 170},   {PROTO_TCP, 3306, 145},
    {PROTO_TCP, 139, 120},  {PROTO_TCP, 135, 110},  {PROTO_UDP, 53, 90},
    {PROTO_TCP, 8443, 85},  {PROTO_TCP, 6379, 30},  {PROTO_UDP, 123, 25},
};

#define N_BG (sizeof(bg_ports) / sizeof(bg_ports[0]))
#define BG_SET 16           /* the ports above 0.5% on a normal day */

/*
 * A day of background from day_start.  noise: the usual campaigns move,
 * as on the samples' noise days: TCP 6379 rises into the set, UDP 53 falls
 * out of it, TCP 8443 almost doubles.
 */
static void
background(struct agg_slot *s, int64_t day_start, bool noise)
{
    uint64_t used = 0;

    for (size_t p = 0; p < N_BG; p++) {
        unsigned share = bg_ports[p].share;
        uint64_t packets, flows;

        if (noise && bg_ports[p].port == 6379)
            share = 95;
        if (noise && bg_ports[p].port == 53)
            share = 30;
        if (noise && bg_ports[p].port == 8443)
            share = 160;
        packets = (uint64_t)P * share / 10000;
        flows = packets / 2;
        used += flows * 2;
        for (uint64_t i = 0; i < flows; i++)
            /* 120 scanners of each port, all day long */
            add(s, bg_ports[p].proto, 0x50000000u | (uint32_t)p << 16 | (uint32_t)(i % 120),
                (uint16_t)(1024 + i), 0xC6120000u | (uint32_t)(256 + i * 7 % 65000),
                bg_ports[p].port, (day_start * 1000) + (int64_t)(i * 86400000 / flows), 2,
                bg_ports[p].proto == PROTO_TCP ? 0x02 : 0);
    }
    /* the tail: one packet each to ports 10000..59999, from anyone */
    for (uint64_t i = 0; used + i < P; i++)
        add(s, PROTO_UDP, 0x60000000u | (uint32_t)i, 40000,
            0xC6120000u | (uint32_t)(256 + i % 65000), (uint16_t)(10000 + i * 7919 % 50000),
            day_start * 1000 + (int64_t)(i * 86400000 / (P - used)), 1, 0);
}

enum event {
    EV_NONE,
    EV_NOISE,
    EV_DDOS,
    EV_BACKSCATTER,
    EV_SCAN,
    EV_MISCONFIG,
};

#define DDOS_SRC0 0x70000000u
#define BS_SRC 0x08080808u
#define SCAN_SRC 0x5B000009u
#define MIS_SRC 0x4D000001u

static const uint16_t scan_ports[12] = {64187, 53413, 23387, 29630, 16635, 32516,
                                        27998, 5919,  45703, 11252, 40001, 18080};

static void
event(struct agg_slot *s, int64_t t0, enum event ev)
{
    int64_t ms = t0 * 1000;

    switch (ev) {
    case EV_DDOS:
        /* Table I: UDP 2849, 233 sources, 1017 addresses, 8 days' worth in 90 minutes */
        for (uint64_t i = 0; i < 8 * P / 20; i++)
            add(s, PROTO_UDP, DDOS_SRC0 + (uint32_t)(i % 233), (uint16_t)(1024 + i % 5000),
                0xC6120000u | (uint32_t)(256 + i % 1017), 2849,
                ms + 14 * 3600000 + (int64_t)(i * 5400000 / (8 * P / 20)), 20, 0);
        break;
    case EV_BACKSCATTER:
        /* DNS replies of one server to two high ports, 06:00 to 18:00 */
        for (uint64_t i = 0; i < 3 * P / 25; i++)
            add(s, PROTO_UDP, BS_SRC, 53, 0xC6124242u, i % 10 < 6 ? 64157 : 64066,
                ms + 6 * 3600000 + (int64_t)(i * 43200000 / (3 * P / 25)), 25, 0);
        break;
    case EV_SCAN:
        /*
         * Table VII: one host, a dozen UDP ports, each a little above the
         * threshold, each to only five addresses: no single group says
         * "scan", together they do.
         */
        for (int p = 0; p < 12; p++)
            for (uint64_t i = 0; i < 40; i++)
                add(s, PROTO_UDP, SCAN_SRC, (uint16_t)(40000 + p),
                    0xC6120000u | (uint32_t)(300 + i % 5), scan_ports[p],
                    ms + 20 * 3600000 + (int64_t)(i * 10800000 / 40), 10, 0);
        break;
    case EV_MISCONFIG:
        /* Table II: one host, UDP 52290 to one address, 2.5 days' worth in an hour */
        for (uint64_t i = 0; i < 500; i++)
            add(s, PROTO_UDP, MIS_SRC, 52290, 0xC6120A0Bu, 52290,
                ms + 9 * 3600000 + (int64_t)(i * 3600000 / 500), 100, 0);
        break;
    case EV_NONE:
    case EV_NOISE:
        break;
    }
}

#define WINDOW 7

struct day {
    struct agg_slot *window[WINDOW];
    struct agg_slot *slot;
    struct slot_result r;
    struct slot_explain *e;
};

/* Seven normal days, then the day explained with ev, trimmed as when it closes. */
static void
day_build(struct day *d, enum event ev)
{
    int64_t t0 = DAY0;

    memset(d, 0, sizeof(*d));
    for (int w = 0; w < WINDOW; w++) {
        int64_t ws = t0 - (WINDOW - w) * DAY;

        d->window[w] = agg_slot_new(&layout, ws, ws + DAY);
        background(d->window[w], ws, false);
    }
    d->slot = agg_slot_new(&layout, t0, t0 + DAY);
    background(d->slot, t0, ev == EV_NOISE);
    event(d->slot, t0, ev);
    agg_slot_trim(d->slot, cfg_lowest_threshold(an), AGG_TRIM_MARGIN);
    d->r.start = t0;
    d->r.end = t0 + DAY;
    d->r.packets = d->slot->packets;
    d->e = explain_slot(an, &cfg->causes, d->slot, &d->r,
                        (const struct agg_slot *const *)d->window, WINDOW);
    ck_assert_ptr_nonnull(d->e);
}

static void
day_free(struct day *d)
{
    explain_free(d->e);
    for (int w = 0; w < WINDOW; w++)
        agg_slot_free(d->window[w]);
    agg_slot_free(d->slot);
}

static void
key_of(uint8_t *k, uint8_t proto, uint16_t port)
{
    struct flow f;

    memset(&f, 0, sizeof(f));
    f.proto = proto;
    f.dst_port = port;
    f.ip_version = 4;
    memset(k, 0, KEY_BYTES_MAX);
    key_extract(&layout, &f, k);
}

static bool
key_is(const uint8_t *k, uint8_t proto, uint16_t port)
{
    uint8_t want[KEY_BYTES_MAX];

    key_of(want, proto, port);
    return memcmp(k, want, layout.size) == 0;
}

static const struct explain_change *
change_find(const struct explain_change *v, size_t n, uint8_t proto, uint16_t port)
{
    for (size_t i = 0; i < n; i++)
        if (key_is(v[i].key, proto, port))
            return &v[i];
    return NULL;
}

static const struct explain_group *
group_find(const struct slot_explain *e, uint8_t proto, uint16_t port)
{
    for (size_t i = 0; i < e->n_groups; i++)
        if (key_is(e->groups[i].key, proto, port))
            return &e->groups[i];
    return NULL;
}

static bool
cause_has(const struct slot_explain *e, uint8_t proto, uint16_t port)
{
    for (size_t i = 0; i < e->n_cause_groups; i++)
        if (key_is(e->groups[e->cause_groups[i]].key, proto, port))
            return true;
    return false;
}

static uint32_t
v4_of(const struct addr *a)
{
    return addr_v4(a);
}

/* Every group of the slot's TopN set (lowest threshold) is shown, flagged in_top. */
static void
assert_set_shown(const struct day *d)
{
    const struct decimal *th = cfg_lowest_threshold(an);
    size_t n_set = 0, n_in_top = 0;

    for (uint32_t i = 0; i < d->slot->n_groups; i++) {
        const struct agg_group *g = agg_slot_group(d->slot, i);
        bool found = false;

        if (!topn_above(g->packets, d->slot->packets, th))
            continue;
        n_set++;
        for (size_t j = 0; j < d->e->n_groups; j++)
            if (memcmp(d->e->groups[j].key, g->key, layout.size) == 0) {
                found = true;
                ck_assert(d->e->groups[j].in_top);
                ck_assert(d->e->groups[j].has_lists);
                ck_assert_uint_eq(d->e->groups[j].packets, g->packets);
            }
        ck_assert_msg(found, "a group of the TopN set is not shown");
    }
    for (size_t j = 0; j < d->e->n_groups; j++)
        n_in_top += d->e->groups[j].in_top;
    ck_assert_uint_eq(n_in_top, n_set);
    ck_assert_uint_le(d->e->n_groups, EXPLAIN_GROUPS_MAX);
}

/* ---- changes ------------------------------------------------------------ */

START_TEST(test_step1_normal_day_changes_nothing)
{
    struct day d;

    day_build(&d, EV_NONE);
    ck_assert_uint_eq(d.e->window_slots, WINDOW);
    ck_assert_uint_eq(d.e->n_entered, 0);
    ck_assert_uint_eq(d.e->n_left, 0);
    /* shares equal to the window's: nothing moved, nothing to explain */
    ck_assert_uint_eq(d.e->n_moved, 0);
    ck_assert_uint_eq(d.e->n_groups, BG_SET);
    assert_set_shown(&d);
    ck_assert_int_eq(d.e->cause, CAUSE_UNKNOWN);
    ck_assert_uint_eq(d.e->n_cause_groups, 0);
    ck_assert_str_eq(d.e->evidence, "no group entered or grew against the window");
    day_free(&d);
}
END_TEST

START_TEST(test_step2_ddos_entered_and_left)
{
    struct day d;
    const struct explain_change *c;

    day_build(&d, EV_DDOS);
    /* 2849 entered; at 0.5% of 9 days' packets only shares above 4.5% stay */
    ck_assert_uint_eq(d.e->n_entered, 1);
    ck_assert(key_is(d.e->entered[0].key, PROTO_UDP, 2849));
    ck_assert_uint_eq(d.e->entered[0].packets, 8 * P);
    ck_assert_double_eq(d.e->entered[0].window_share, 0);
    ck_assert_uint_eq(d.e->n_left, BG_SET - 5);
    ck_assert_ptr_nonnull(change_find(d.e->left, d.e->n_left, PROTO_TCP, 80));
    ck_assert_ptr_null(change_find(d.e->left, d.e->n_left, PROTO_TCP, 3389));
    /* largest window share first */
    ck_assert(key_is(d.e->left[0].key, PROTO_TCP, 80));
    c = change_find(d.e->left, d.e->n_left, PROTO_TCP, 8443);
    ck_assert_ptr_nonnull(c);
    ck_assert_double_eq_tol(c->window_share, 0.85, 1e-9);
    ck_assert_double_eq_tol(c->share, 0.85 / 9, 1e-9);
    /* moved: 2849 most, then the largest shares that fell */
    ck_assert_uint_eq(d.e->n_moved, EXPLAIN_MOVED_MAX);
    ck_assert(key_is(d.e->moved[0].key, PROTO_UDP, 2849));
    ck_assert(key_is(d.e->moved[1].key, PROTO_TCP, 445));
    ck_assert_uint_eq(d.e->more_entered, 0);
    ck_assert_uint_eq(d.e->more_left, 0);
    day_free(&d);
}
END_TEST

START_TEST(test_step2_exact_comparison_at_the_threshold)
{
    struct day d;

    /* backscatter day: 4 days' packets, TCP 21 holds exactly 0.5%: out */
    day_build(&d, EV_BACKSCATTER);
    ck_assert_ptr_nonnull(change_find(d.e->left, d.e->n_left, PROTO_TCP, 21));
    ck_assert_ptr_null(change_find(d.e->left, d.e->n_left, PROTO_TCP, 443));
    ck_assert_uint_eq(d.e->n_left, 7);
    ck_assert_uint_eq(d.e->n_entered, 2);
    ck_assert(key_is(d.e->entered[0].key, PROTO_UDP, 64157));
    ck_assert(key_is(d.e->entered[1].key, PROTO_UDP, 64066));
    day_free(&d);
}
END_TEST

START_TEST(test_step1_window_majority)
{
    struct day d;
    struct slot_explain *e;
    struct agg_slot *win[WINDOW];
    /*
     * 6379 above 0.5% on 3 of 7 window days is not in the window's set,
     * so on a noise day it entered; on 4 of 7 it is in it.
     */
    day_build(&d, EV_NOISE);
    ck_assert_ptr_nonnull(change_find(d.e->entered, d.e->n_entered, PROTO_TCP, 6379));
    ck_assert_ptr_nonnull(change_find(d.e->left, d.e->n_left, PROTO_UDP, 53));
    ck_assert_ptr_nonnull(change_find(d.e->moved, d.e->n_moved, PROTO_TCP, 8443));
    for (int w = 0; w < WINDOW; w++)
        win[w] = d.window[w];
    for (int w = 0; w < 4; w++) {
        add(win[w], PROTO_TCP, 0x51000000u, 999, 0xC6120101u, 6379,
            (int64_t)(DAY0 - 7 * DAY) * 1000, 200, 0x02);
        e = explain_slot(an, &cfg->causes, d.slot, &d.r, (const struct agg_slot *const *)win,
                         WINDOW);
        if (w < 3)
            ck_assert_ptr_nonnull(change_find(e->entered, e->n_entered, PROTO_TCP, 6379));
        else
            ck_assert_ptr_null(change_find(e->entered, e->n_entered, PROTO_TCP, 6379));
        explain_free(e);
    }
    /* no window: no changes, the set shown */
    e = explain_slot(an, &cfg->causes, d.slot, &d.r, NULL, 0);
    ck_assert_uint_eq(e->window_slots, 0);
    ck_assert_uint_eq(e->n_entered + e->n_left + e->n_moved, 0);
    ck_assert_uint_eq(e->n_groups, BG_SET);
    explain_free(e);
    day_free(&d);
}
END_TEST

/* ---- shown groups and lists --------------------------------------------- */

START_TEST(test_step4_shown_groups_and_lists)
{
    struct day d;
    const struct explain_group *g;
    uint64_t sum = 0;
    size_t with_minutes = 0;

    day_build(&d, EV_DDOS);
    assert_set_shown(&d);
    /* changed first: the entered group, then the moved */
    g = &d.e->groups[0];
    ck_assert(key_is(g->key, PROTO_UDP, 2849));
    ck_assert(g->changed && g->in_top && g->has_lists);
    ck_assert_uint_eq(g->src.n, EXPLAIN_SOURCES);
    ck_assert_uint_eq(g->src.distinct, 233);
    ck_assert_uint_eq(g->dst.n, EXPLAIN_DSTS);
    ck_assert_uint_eq(g->dst.distinct, 1017);
    ck_assert_uint_eq(g->sport.n, EXPLAIN_SPORTS);
    for (uint32_t i = 0; i < g->src.n; i++) {
        ck_assert_uint_ge(v4_of(&g->src.v[i].addr), DDOS_SRC0);
        ck_assert_uint_lt(v4_of(&g->src.v[i].addr), DDOS_SRC0 + 233);
        ck_assert(i == 0 || g->src.v[i].packets <= g->src.v[i - 1].packets);
    }
    /* its packets per minute: all of them, between 14:00 and 15:31 */
    ck_assert_ptr_nonnull(g->minutes);
    ck_assert_uint_eq(g->n_minutes, 1440);
    for (uint32_t m = 0; m < g->n_minutes; m++) {
        sum += g->minutes[m];
        if (m < 14 * 60 || m > 15 * 60 + 31)
            ck_assert_uint_eq(g->minutes[m], 0);
    }
    ck_assert_uint_eq(sum, 8 * P);
    for (size_t i = 0; i < d.e->n_groups; i++) {
        with_minutes += d.e->groups[i].minutes != NULL;
        /* changed groups come before the unchanged */
        if (i > 0 && d.e->groups[i].changed)
            ck_assert(d.e->groups[i - 1].changed);
    }
    ck_assert_uint_eq(with_minutes, EXPLAIN_SERIES);
    /* TCP 80 left; its detail was trimmed when the slot closed */
    g = group_find(d.e, PROTO_TCP, 80);
    ck_assert_ptr_nonnull(g);
    ck_assert(g->changed && !g->in_top && !g->has_lists);
    ck_assert_uint_eq(g->src.n, 0);
    ck_assert_ptr_null(g->minutes);
    day_free(&d);
}
END_TEST

START_TEST(test_step4_single_source_lists_exact)
{
    struct day d;
    const struct explain_group *g;

    day_build(&d, EV_MISCONFIG);
    g = group_find(d.e, PROTO_UDP, 52290);
    ck_assert_ptr_nonnull(g);
    ck_assert(g->has_lists);
    /* the host, and at most the one tail probe of the port */
    ck_assert_uint_ge(g->src.n, 1);
    ck_assert(g->src.exact);
    ck_assert_uint_eq(v4_of(&g->src.v[0].addr), MIS_SRC);
    ck_assert_uint_eq(g->src.v[0].packets, 50000);
    ck_assert_uint_eq(g->sport.v[0].port, 52290);
    ck_assert_uint_eq(v4_of(&g->dst.v[0].addr), 0xC6120A0Bu);
    ck_assert_uint_eq(g->dst.v[0].packets, 50000);
    day_free(&d);
}
END_TEST

/* ---- causes with the default rules -------------------------------------- */

START_TEST(test_step5_ddos)
{
    struct day d;

    day_build(&d, EV_DDOS);
    ck_assert_str_eq(explain_cause_name(d.e->cause), "ddos");
    ck_assert_uint_eq(d.e->n_cause_groups, 1);
    ck_assert(cause_has(d.e, PROTO_UDP, 2849));
    ck_assert_msg(strstr(d.e->evidence, "233 sources, 1 destination port, 1017 destination "
                                        "addresses, 89% of the slot's packets") != NULL,
                  "%s", d.e->evidence);
    ck_assert_msg(strstr(d.e->evidence, "of them within 1 h ") != NULL, "%s", d.e->evidence);
    day_free(&d);
}
END_TEST

START_TEST(test_step5_backscatter)
{
    struct day d;

    day_build(&d, EV_BACKSCATTER);
    ck_assert_str_eq(explain_cause_name(d.e->cause), "backscatter");
    ck_assert_uint_eq(d.e->n_cause_groups, 2);
    ck_assert(cause_has(d.e, PROTO_UDP, 64157));
    ck_assert(cause_has(d.e, PROTO_UDP, 64066));
    ck_assert_msg(strstr(d.e->evidence, "100% of the packets are replies") != NULL &&
                      strstr(d.e->evidence, "ports 64157, 64066") != NULL,
                  "%s", d.e->evidence);
    day_free(&d);
}
END_TEST

START_TEST(test_step5_scan_across_groups)
{
    struct day d;

    day_build(&d, EV_SCAN);
    ck_assert_uint_eq(d.e->n_entered, 12);
    ck_assert_str_eq(explain_cause_name(d.e->cause), "scan");
    ck_assert_uint_eq(d.e->n_cause_groups, 12);
    for (int p = 0; p < 12; p++)
        ck_assert(cause_has(d.e, PROTO_UDP, scan_ports[p]));
    ck_assert_msg(strstr(d.e->evidence, "1 source (91.0.0.9), 12 destination ports in 12 groups") !=
                      NULL,
                  "%s", d.e->evidence);
    day_free(&d);
}
END_TEST

START_TEST(test_step5_scan_needs_enough_ports)
{
    struct day d;
    struct cfg_causes c = cfg->causes;
    struct slot_explain *e;

    /* each group alone is one host on one unknown port: a misconfiguration */
    day_build(&d, EV_SCAN);
    c.scan_min_ports = 13;
    e = explain_slot(an, &c, d.slot, &d.r, (const struct agg_slot *const *)d.window, WINDOW);
    ck_assert_str_eq(explain_cause_name(e->cause), "misconfiguration");
    explain_free(e);
    day_free(&d);
}
END_TEST

START_TEST(test_step5_misconfiguration)
{
    struct day d;

    day_build(&d, EV_MISCONFIG);
    ck_assert_str_eq(explain_cause_name(d.e->cause), "misconfiguration");
    ck_assert_uint_eq(d.e->n_cause_groups, 1);
    ck_assert(cause_has(d.e, PROTO_UDP, 52290));
    ck_assert_msg(strstr(d.e->evidence, "1 source (77.0.0.1, ") != NULL &&
                      strstr(d.e->evidence, "destination port 52290 (no known service)") != NULL,
                  "%s", d.e->evidence);
    day_free(&d);
}
END_TEST

START_TEST(test_step5_noise_is_unknown)
{
    struct day d;

    day_build(&d, EV_NOISE);
    ck_assert_str_eq(explain_cause_name(d.e->cause), "unknown");
    /* the evidence anyway, about the largest group that entered or grew */
    ck_assert_uint_eq(d.e->n_cause_groups, 1);
    ck_assert_msg(cause_has(d.e, PROTO_TCP, 8443), "%s", d.e->evidence);
    ck_assert_msg(strstr(d.e->evidence, "no rule fits: 120 sources") != NULL, "%s",
                  d.e->evidence);
    day_free(&d);
}
END_TEST

START_TEST(test_step5_ddos_needs_a_burst)
{
    struct day d;
    struct cfg_causes c = cfg->causes;
    struct slot_explain *e;
    char why[128];

    day_build(&d, EV_DDOS);
    /* 80% of 90 minutes: 72 minutes, 5% of the day */
    ck_assert_int_eq(parse_decimal("4", 2, &c.ddos_burst_length, why, sizeof(why)), 0);
    e = explain_slot(an, &c, d.slot, &d.r, (const struct agg_slot *const *)d.window, WINDOW);
    ck_assert_str_eq(explain_cause_name(e->cause), "unknown");
    explain_free(e);
    ck_assert_int_eq(parse_decimal("6", 2, &c.ddos_burst_length, why, sizeof(why)), 0);
    e = explain_slot(an, &c, d.slot, &d.r, (const struct agg_slot *const *)d.window, WINDOW);
    ck_assert_str_eq(explain_cause_name(e->cause), "ddos");
    explain_free(e);
    c.ddos_min_sources = 234;
    e = explain_slot(an, &c, d.slot, &d.r, (const struct agg_slot *const *)d.window, WINDOW);
    ck_assert_str_eq(explain_cause_name(e->cause), "unknown");
    explain_free(e);
    c.ddos_min_sources = 233;
    e = explain_slot(an, &c, d.slot, &d.r, (const struct agg_slot *const *)d.window, WINDOW);
    ck_assert_str_eq(explain_cause_name(e->cause), "ddos");
    explain_free(e);
    day_free(&d);
}
END_TEST

START_TEST(test_names_and_ports)
{
    ck_assert_str_eq(explain_cause_name(CAUSE_MISCONFIGURATION), "misconfiguration");
    ck_assert_str_eq(explain_cause_name(99), "unknown");
    ck_assert_int_eq(explain_cause_parse("backscatter"), CAUSE_BACKSCATTER);
    ck_assert_int_eq(explain_cause_parse("ddoss"), -1);
    ck_assert(explain_port_known(53));
    ck_assert(explain_port_known(3389));
    ck_assert(!explain_port_known(52290));
    ck_assert(!explain_port_known(2849));
}
END_TEST

START_TEST(test_causes_config)
{
    struct ds_cfg *c = NULL;
    struct ds_error err;

    /* the defaults the rules are tuned with */
    ck_assert_str_eq(cfg->causes.one_source_share.text, "90");
    ck_assert_int_eq(cfg->causes.ddos_min_sources, 50);
    ck_assert_int_eq(cfg->causes.ddos_max_ports, 1);
    ck_assert_str_eq(cfg->causes.ddos_burst_share.text, "80");
    ck_assert_str_eq(cfg->causes.ddos_burst_length.text, "25");
    ck_assert_int_eq(cfg->causes.misconfig_max_ports, 1);
    ck_assert_int_eq(cfg->causes.scan_min_ports, 10);
    ck_assert_int_eq(cfg->causes.scan_min_addrs, 25);
    ck_assert_str_eq(cfg->causes.backscatter_share.text, "75");
    ck_assert_int_eq(cfg->causes.backscatter_min_port, 1024);
    /* a causes: section sets them */
    ck_assert_int_eq(cfg_load_string("t.yaml",
                                     "causes:\n  scan_min_ports: 12\n  ddos_burst_length: 12.5\n",
                                     &c, &err),
                     DS_OK);
    ck_assert_int_eq(c->causes.scan_min_ports, 12);
    ck_assert_int_eq(c->causes.ddos_burst_length.num, 125);
    ck_assert_int_eq(c->causes.ddos_burst_length.den, 10);
    ck_assert_int_eq(c->causes.ddos_min_sources, 50);
    cfg_free(c);
    c = NULL;
    ck_assert_int_eq(cfg_load_string("t.yaml", "causes:\n  one_source_share: 101\n", &c, &err),
                     DS_ERR_CONFIG);
    ck_assert_ptr_nonnull(strstr(err.msg, "causes.one_source_share"));
    ck_assert_int_eq(cfg_load_string("t.yaml", "causes:\n  scan_ports: 3\n", &c, &err),
                     DS_ERR_CONFIG);
}
END_TEST

/* ---- serialised form and JSON ------------------------------------------- */

static void
assert_same(const struct slot_explain *a, const struct slot_explain *b)
{
    ck_assert_int_eq(a->start, b->start);
    ck_assert_int_eq(a->end, b->end);
    ck_assert_uint_eq(a->key_size, b->key_size);
    ck_assert_uint_eq(a->window_slots, b->window_slots);
    ck_assert_uint_eq(a->n_entered, b->n_entered);
    ck_assert_uint_eq(a->n_left, b->n_left);
    ck_assert_uint_eq(a->n_moved, b->n_moved);
    ck_assert_uint_eq(a->n_groups, b->n_groups);
    ck_assert_int_eq(a->cause, b->cause);
    ck_assert_uint_eq(a->n_cause_groups, b->n_cause_groups);
    ck_assert_str_eq(a->evidence, b->evidence);
    for (size_t i = 0; i < a->n_moved; i++) {
        ck_assert_mem_eq(a->moved[i].key, b->moved[i].key, a->key_size);
        ck_assert_double_eq(a->moved[i].window_share, b->moved[i].window_share);
    }
    for (size_t i = 0; i < a->n_groups; i++) {
        const struct explain_group *x = &a->groups[i], *y = &b->groups[i];

        ck_assert_mem_eq(x->key, y->key, a->key_size);
        ck_assert_uint_eq(x->packets, y->packets);
        ck_assert_double_eq(x->share, y->share);
        ck_assert(x->in_top == y->in_top && x->changed == y->changed);
        ck_assert(x->has_lists == y->has_lists);
        ck_assert_uint_eq(x->src.n, y->src.n);
        ck_assert_uint_eq(x->src.distinct, y->src.distinct);
        ck_assert_mem_eq(x->src.v, y->src.v, x->src.n * sizeof(x->src.v[0]));
        ck_assert_mem_eq(x->sport.v, y->sport.v, x->sport.n * sizeof(x->sport.v[0]));
        ck_assert_mem_eq(x->dst.v, y->dst.v, x->dst.n * sizeof(x->dst.v[0]));
        ck_assert_uint_eq(x->n_minutes, y->n_minutes);
        ck_assert((x->minutes == NULL) == (y->minutes == NULL));
        if (x->minutes != NULL)
            ck_assert_mem_eq(x->minutes, y->minutes, x->n_minutes * sizeof(uint64_t));
    }
    for (size_t i = 0; i < a->n_cause_groups; i++)
        ck_assert_uint_eq(a->cause_groups[i], b->cause_groups[i]);
}

START_TEST(test_codec_round_trip)
{
    static const enum event evs[] = {EV_NOISE, EV_DDOS, EV_BACKSCATTER, EV_SCAN, EV_MISCONFIG};

    for (size_t k = 0; k < sizeof(evs) / sizeof(evs[0]); k++) {
        struct day d;
        uint8_t *buf, *buf2;
        size_t len, len2;
        struct slot_explain *back;

        day_build(&d, evs[k]);
        buf = explain_encode(d.e, &len);
        back = explain_decode(buf, len);
        ck_assert_ptr_nonnull(back);
        assert_same(d.e, back);
        /* the decoded block is one allocation too: its arrays lie inside it */
        ck_assert_ptr_eq(back->groups, (void *)(back->moved + back->n_moved));
        buf2 = explain_encode(back, &len2);
        ck_assert_uint_eq(len, len2);
        ck_assert_mem_eq(buf, buf2, len);
        free(buf2);
        explain_free(back);
        free(buf);
        day_free(&d);
    }
}
END_TEST

START_TEST(test_codec_damaged_returns_null)
{
    struct day d;
    uint8_t *buf, *bad;
    size_t len;
    uint64_t s = 42;

    day_build(&d, EV_DDOS);
    buf = explain_encode(d.e, &len);
    /* every truncation */
    for (size_t n = 0; n < len; n++)
        ck_assert_msg(explain_decode(buf, n) == NULL, "truncated to %zu of %zu", n, len);
    bad = malloc(len + 1);
    ck_assert_ptr_nonnull(bad);
    /* a byte too many */
    memcpy(bad, buf, len);
    bad[len] = 0;
    ck_assert_ptr_null(explain_decode(bad, len + 1));
    /* wrong magic; an unknown version */
    bad[0] = 'X';
    ck_assert_ptr_null(explain_decode(bad, len));
    memcpy(bad, buf, len);
    bad[4] = 2;
    ck_assert_ptr_null(explain_decode(bad, len));
    /* counts past their limits: n_entered (offset 29) and key_size (offset 21) */
    memcpy(bad, buf, len);
    bad[29] = 0xff;
    ck_assert_ptr_null(explain_decode(bad, len));
    memcpy(bad, buf, len);
    bad[21] = 0xff;
    ck_assert_ptr_null(explain_decode(bad, len));
    ck_assert_ptr_null(explain_decode(NULL, 0));
    /* random damage: NULL or a valid explanation, never a crash (ASan) */
    for (int round = 0; round < 3000; round++) {
        struct slot_explain *e;

        memcpy(bad, buf, len);
        for (int k = 0; k < 1 + round % 4; k++) {
            s = s * 6364136223846793005ULL + 1442695040888963407ULL;
            bad[(s >> 33) % len] ^= (uint8_t)(1 + (s >> 20) % 255);
        }
        e = explain_decode(bad, len);
        if (e != NULL)
            ck_assert_uint_le(e->n_groups, EXPLAIN_GROUPS_MAX);
        explain_free(e);
    }
    /* pure garbage */
    for (size_t i = 0; i < len; i++)
        bad[i] = (uint8_t)(i * 131 + 7);
    ck_assert_ptr_null(explain_decode(bad, len));
    free(bad);
    free(buf);
    day_free(&d);
}
END_TEST

static char *
json_of(const struct slot_explain *e)
{
    char *text = NULL;
    size_t size = 0;
    FILE *fp = open_memstream(&text, &size);
    struct json_w w;

    ck_assert_ptr_nonnull(fp);
    json_init(&w, fp, false);
    json_obj_begin(&w);
    explain_write_json(e, &layout, &w);
    json_obj_end(&w);
    json_finish(&w);
    fclose(fp);
    return text;
}

START_TEST(test_json_shape)
{
    struct day d;
    char *text;

    day_build(&d, EV_DDOS);
    text = json_of(d.e);
    ck_assert_msg(strncmp(text, "{\"changes\":{\"entered\":[{\"key\":{\"proto\":\"udp\","
                                "\"dst_port\":2849},\"packets\":160000,\"share\":88.",
                          strlen("{\"changes\":{\"entered\":[{\"key\":{\"proto\":\"udp\","
                                 "\"dst_port\":2849},\"packets\":160000,\"share\":88.")) == 0,
                  "%s", text);
    ck_assert_msg(strstr(text, "\"window_share\":0.0}],") != NULL, "%.600s", text);
    ck_assert_ptr_nonnull(strstr(text, "],\"left\":[{\"key\":{\"proto\":\"tcp\",\"dst_port\":80}"));
    ck_assert_ptr_nonnull(strstr(text, "\"more_entered\":0,\"more_left\":0,\"window_slots\":7},"
                                       "\"detail\":[{\"key\":{\"proto\":\"udp\","
                                       "\"dst_port\":2849}"));
    ck_assert_ptr_nonnull(strstr(text, "\"in_top\":true,\"changed\":true,\"sources\":{\"exact\":"));
    ck_assert_ptr_nonnull(strstr(text, "\"distinct\":233,\"items\":[{\"addr\":\"112.0.0."));
    ck_assert_ptr_nonnull(strstr(text, "\"src_ports\":{\"exact\":"));
    ck_assert_ptr_nonnull(strstr(text, "\"items\":[{\"port\":"));
    ck_assert_ptr_nonnull(strstr(text, "\"minutes\":{\"start\":1362528000,\"exact\":true,"
                                       "\"packets\":[0,0,"));
    /* the trimmed group: no lists, no minutes */
    ck_assert_ptr_nonnull(strstr(text, "\"sources\":null,\"src_ports\":null,\"dst_addrs\":null,"
                                       "\"minutes\":null}"));
    ck_assert_ptr_nonnull(strstr(text, "\"cause\":{\"kind\":\"ddos\",\"groups\":[{\"proto\":"
                                       "\"udp\",\"dst_port\":2849}],\"evidence\":\"233 sources"));
    ck_assert_str_eq(text + strlen(text) - 4, "\"}}\n");
    free(text);
    day_free(&d);
}
END_TEST

/* ---- the bundled samples ------------------------------------------------ */

/*
 * samples/data through ingest and norm, one slot per day (Asia/Tokyo) of
 * proto and dst_port, counted as samples/darkstab-sample.yaml says (the
 * darknet's prefixes, 198.18.0.0/24 excluded); each unstable day explained
 * against the seven before it, with the default rules: the four paper-like
 * days get their cause, the three noise days "unknown".
 */
#define SAMPLE_DAYS 45      /* 2013-02-15 .. 2013-03-31 */

static bool
in_darknet(const struct addr *a)
{
    static const char *const in[] = {"198.18.0.0/16", "2001:db8:dead::/48"};
    struct cidr c;
    char why[64];

    ck_assert_int_eq(cidr_parse("198.18.0.0/24", &c, why, sizeof(why)), 0);
    if (cidr_contains(&c, a))
        return false;
    for (size_t i = 0; i < 2; i++) {
        ck_assert_int_eq(cidr_parse(in[i], &c, why, sizeof(why)), 0);
        if (cidr_contains(&c, a))
            return true;
    }
    return false;
}

START_TEST(test_samples_causes)
{
    static const struct {
        int day;            /* from 2013-02-15 */
        const char *cause;
        uint8_t proto;
        uint16_t port;      /* a group the cause is about; 0: none */
    } want[] = {
        {7, "unknown", 0, 0},                       /* 02-22 */
        {11, "unknown", 0, 0},                      /* 02-26 */
        {17, "unknown", 0, 0},                      /* 03-04 */
        {19, "ddos", PROTO_UDP, 2849},              /* 03-06 */
        {30, "backscatter", PROTO_UDP, 64157},      /* 03-17 */
        {37, "scan", PROTO_UDP, 64187},             /* 03-24 */
        {44, "misconfiguration", PROTO_UDP, 52290}, /* 03-31 */
    };
    struct agg_slot *slots[SAMPLE_DAYS];
    int64_t t = 1360854000; /* 2013-02-15 00:00 +09:00 */

    tz_apply("Asia/Tokyo");
    for (int day = 0; day < SAMPLE_DAYS; day++) {
        char path[64];
        struct tm tm;
        time_t tt = (time_t)t;
        struct tu_decoded dec;

        localtime_r(&tt, &tm);
        snprintf(path, sizeof(path), "samples/data/darknet-%04d%02d%02d.ipfix",
                 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
        slots[day] = agg_slot_new(&layout, t, tz_next_day(t));
        tu_decode(path, &dec);
        ck_assert_msg(dec.rc == DS_OK, "%s: %s", path, dec.err);
        for (size_t i = 0; i < dec.n; i++)
            if (in_darknet(&dec.flows[i].dst) && dec.flows[i].start_ms / 1000 >= t &&
                dec.flows[i].start_ms / 1000 < slots[day]->end)
                agg_slot_add(slots[day], &dec.flows[i], dec.flows[i].packets);
        tu_decoded_free(&dec);
        agg_slot_trim(slots[day], cfg_lowest_threshold(an), AGG_TRIM_MARGIN);
        t = slots[day]->end;
    }
    for (size_t k = 0; k < sizeof(want) / sizeof(want[0]); k++) {
        int day = want[k].day;
        struct slot_result r;
        struct slot_explain *e;

        memset(&r, 0, sizeof(r));
        e = explain_slot(an, &cfg->causes, slots[day], &r,
                         (const struct agg_slot *const *)&slots[day - WINDOW], WINDOW);
        ck_assert_msg(strcmp(explain_cause_name(e->cause), want[k].cause) == 0,
                      "day %d: %s: %s", day, explain_cause_name(e->cause), e->evidence);
        if (want[k].port != 0)
            ck_assert_msg(cause_has(e, want[k].proto, want[k].port), "day %d: %s", day,
                          e->evidence);
        explain_free(e);
    }
    for (int day = 0; day < SAMPLE_DAYS; day++)
        agg_slot_free(slots[day]);
}
END_TEST

/* ---- reading a slot back (reread.c) against brute-force counts ---- */

#define RR_T0 1362528000000LL   /* 2013-03-06 00:00 UTC, ms */
#define RR_FLOWS 6000
#define RR_TID 300

struct rr_flow {
    int64_t start_ms, end_ms;
    uint64_t packets;
    uint32_t src, dst;
    uint16_t sport, dport;
    uint8_t proto;
};

static uint64_t rr_seed;

static uint32_t
rr_rand(void)
{
    rr_seed = rr_seed * 6364136223846793005ULL + 1442695040888963407ULL;
    return (uint32_t)(rr_seed >> 33);
}

/*
 * Flows of three groups (udp 2849, tcp 445, udp 53) over two hours, a few
 * outside the darknet; with spread, some last an hour and cross the
 * boundary, with packets a multiple of 60 so that each side's share is
 * exact: (packets * minutes on that side) / 60.
 */
static size_t
rr_make(struct rr_flow *f, size_t n, bool spread, uint32_t sources)
{
    static const uint16_t ports[3] = {2849, 445, 53};
    static const uint8_t protos[3] = {17, 6, 17};

    for (size_t i = 0; i < n; i++) {
        int g = (int)(rr_rand() % 3);

        memset(&f[i], 0, sizeof(f[i]));
        f[i].start_ms = RR_T0 + (int64_t)(rr_rand() % (2 * 3600)) * 1000;
        f[i].end_ms = f[i].start_ms + (int64_t)(rr_rand() % 30) * 1000;
        f[i].packets = 1 + rr_rand() % 7;
        f[i].src = 0x0A000000u + rr_rand() % (g == 0 ? sources : 50);
        f[i].dst = 0xC6120000u + 256 + rr_rand() % 300;     /* 198.18.1.0 and up */
        f[i].sport = (uint16_t)(1024 + rr_rand() % 200);
        f[i].dport = ports[g];
        f[i].proto = protos[g];
        if (i % 97 == 0)
            f[i].dst = 0x0B000001u;     /* outside the darknet */
        if ((f[i].start_ms - RR_T0) / 3600000 != (f[i].end_ms - 1 - RR_T0) / 3600000)
            f[i].end_ms = f[i].start_ms;    /* short flows stay in their hour */
        if (spread && i % 5 == 0) {
            /* an hour long, crossing 01:00 at a whole minute */
            f[i].start_ms = RR_T0 + (int64_t)(1 + rr_rand() % 59) * 60000;
            f[i].end_ms = f[i].start_ms + 3600000;
            f[i].packets = 60 * (1 + rr_rand() % 3);
        }
    }
    return n;
}

/* Writes f[0..n) as IPFIX: messages of 500 records, the template in the first. */
static void
rr_write(const char *path, const struct rr_flow *f, size_t n)
{
    static const uint16_t fields[] = {152, 8, 153, 8, 2, 8, 8, 4, 12, 4, 7, 2, 11, 2, 4, 1};
    static struct tu_msg m;
    FILE *fp = fopen(path, "wb");

    ck_assert_ptr_nonnull(fp);
    for (size_t i = 0; i < n; i += 500) {
        tu_msg_begin(&m, (uint32_t)(RR_T0 / 1000), (uint32_t)i, 1);
        if (i == 0) {
            tu_set_begin(&m, 2);
            tu_template(&m, RR_TID, 8, fields);
            tu_set_end(&m);
        }
        tu_set_begin(&m, RR_TID);
        for (size_t j = i; j < n && j < i + 500; j++) {
            tu_u64(&m, (uint64_t)f[j].start_ms);
            tu_u64(&m, (uint64_t)f[j].end_ms);
            tu_u64(&m, f[j].packets);
            tu_u32(&m, f[j].src);
            tu_u32(&m, f[j].dst);
            tu_u16(&m, f[j].sport);
            tu_u16(&m, f[j].dport);
            tu_u8(&m, f[j].proto);
        }
        tu_set_end(&m);
        tu_msg_end(&m);
        ck_assert_uint_eq(fwrite(m.b, 1, m.len, fp), m.len);
    }
    ck_assert_int_eq(fclose(fp), 0);
}

/* The packets flow f puts in hour h (0 or 1) of the test, by hand. */
static uint64_t
rr_share(const struct rr_flow *f, int h, bool spread)
{
    int64_t b = RR_T0 + 3600000;

    if (f->dst == 0x0B000001u)
        return 0;
    if (!spread || f->end_ms <= b || f->start_ms >= b)
        return (f->start_ms < b) == (h == 0) ? f->packets : 0;
    /* packets are a multiple of 60 and the boundary is a whole minute into it */
    return h == 0 ? f->packets * (uint64_t)(b - f->start_ms) / 3600000
                  : f->packets * (uint64_t)(f->end_ms - b) / 3600000;
}

static int
rr_cmp_u64(const void *x, const void *y)
{
    uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;

    return a > b ? -1 : a < b;
}

/*
 * Brute force: value v of kind (0 sources, 1 source ports, 2 destinations)
 * of the flows of group g in hour h: every distinct value's packets, most
 * first, into out (counts only, sorted); returns how many distinct.
 */
static size_t
rr_brute(const struct rr_flow *f, size_t n, int h, bool spread, uint16_t dport, int kind,
         uint64_t *out)
{
    size_t k = 0;
    uint32_t *vals = calloc(n + 1, sizeof(*vals));

    ck_assert_ptr_nonnull(vals);
    for (size_t i = 0; i < n; i++) {
        uint64_t p = rr_share(&f[i], h, spread);
        uint32_t v = kind == 0 ? f[i].src : kind == 1 ? f[i].sport : f[i].dst;
        size_t j;

        if (p == 0 || f[i].dport != dport)
            continue;
        for (j = 0; j < k && vals[j] != v; j++)
            ;
        if (j == k) {
            vals[k] = v;
            out[k++] = 0;
        }
        out[j] += p;
    }
    free(vals);
    qsort(out, k, sizeof(*out), rr_cmp_u64);
    return k;
}

/* Are two read-back slots the same, list for list? */
static void
rr_same(const struct explain_exact *a, const struct explain_exact *b, size_t key_size)
{
    ck_assert_ptr_nonnull(a);
    ck_assert_ptr_nonnull(b);
    ck_assert_int_eq(a->start, b->start);
    ck_assert_uint_eq(a->packets, b->packets);
    ck_assert_uint_eq(a->n_groups, b->n_groups);
    ck_assert_uint_eq(a->n_min, b->n_min);
    ck_assert_mem_eq(a->minutes, b->minutes, a->n_groups * a->n_min * sizeof(*a->minutes));
    for (size_t g = 0; g < a->n_groups; g++) {
        const struct explain_exact_group *x = &a->groups[g], *y = &b->groups[g];

        ck_assert_mem_eq(x->key, y->key, key_size);
        ck_assert_int_eq(x->lists, y->lists);
        ck_assert_mem_eq(&x->src, &y->src, sizeof(x->src));
        ck_assert_mem_eq(&x->sport, &y->sport, sizeof(x->sport));
        ck_assert_mem_eq(&x->dst, &y->dst, sizeof(x->dst));
    }
}

static void
rr_check(bool spread, int64_t bound, uint32_t sources, bool big_exact)
{
    char yaml[512];
    struct ds_cfg *c;
    static struct rr_flow f[RR_FLOWS];
    static uint64_t want[RR_FLOWS];
    struct explain_group groups[2][3];
    struct slot_explain ex[2];
    const struct slot_explain *exs[2] = {&ex[0], &ex[1]};
    struct explain_exact *out[2] = {NULL, NULL};
    struct explain_file files[2];
    struct key_layout kl;
    struct ds_error err;
    char paths[2][512];
    static const uint16_t ports[3] = {2849, 445, 53};

    snprintf(yaml, sizeof(yaml),
             "timezone: UTC\ndarknet:\n  prefixes: [198.18.0.0/16]\n"
             "drilldown:\n  reread_values: %lld\n"
             "analyses:\n  - name: t\n    keys: [proto, dst_port]\n    slot: 1h\n"
             "    attribution: %s\n",
             (long long)bound, spread ? "spread" : "start");
    c = tu_cfg(yaml);
    key_layout_init(&kl, c->analyses[0].keys, c->analyses[0].n_keys);
    /* tu_path() gives the same buffer each time */
    snprintf(paths[0], sizeof(paths[0]), "%s", tu_path("rr-a.ipfix"));
    snprintf(paths[1], sizeof(paths[1]), "%s", tu_path("rr-b.ipfix"));
    rr_seed = 42;
    rr_make(f, RR_FLOWS, spread, sources);
    /* two files, each half of the flows */
    rr_write(paths[0], f, RR_FLOWS / 2);
    rr_write(paths[1], f + RR_FLOWS / 2, RR_FLOWS / 2);
    memset(files, 0, sizeof(files));
    for (int i = 0; i < 2; i++) {
        files[i].path = paths[i];
        files[i].first_ms = RR_T0;
        files[i].last_ms = RR_T0 + 2 * 3600000;
    }
    memset(groups, 0, sizeof(groups));
    memset(ex, 0, sizeof(ex));
    for (int h = 0; h < 2; h++) {
        ex[h].start = RR_T0 / 1000 + h * 3600;
        ex[h].end = ex[h].start + 3600;
        ex[h].key_size = (uint32_t)kl.size;
        ex[h].n_groups = 3;
        ex[h].groups = groups[h];
        for (int g = 0; g < 3; g++) {
            struct flow fl = tu_flow(RR_T0, 1, "10.0.0.1", "198.18.1.1", g == 1 ? 6 : 17, 1,
                                     ports[g]);

            key_extract(&kl, &fl, groups[h][g].key);
        }
    }
    ck_assert_int_eq(explain_reread(c, &c->analyses[0], &kl, exs, 2, files, 2, out, &err),
                     DS_OK);
    /*
     * Two analyses (the same one twice) over the same files, by two
     * readers (one slot each): what one reader of one analysis found.
     */
    {
        struct explain_exact *o2[2][2] = {{NULL, NULL}, {NULL, NULL}};
        struct explain_reread_job jobs[2] = {
            {&c->analyses[0], &kl, exs, 2, files, 2, o2[0], 0},
            {&c->analyses[0], &kl, exs, 2, files, 2, o2[1], 0},
        };

        ck_assert_int_eq(explain_reread_jobs(c, jobs, 2, 2, NULL, &err), DS_OK);
        for (int j = 0; j < 2; j++) {
            for (int h = 0; h < 2; h++) {
                rr_same(out[h], o2[j][h], kl.size);
                explain_exact_free(o2[j][h]);
            }
        }
    }
    for (int h = 0; h < 2; h++) {
        uint64_t total = 0;

        ck_assert_ptr_nonnull(out[h]);
        ck_assert(!out[h]->missed);
        ck_assert_int_eq(out[h]->start, ex[h].start);
        for (size_t i = 0; i < RR_FLOWS; i++)
            total += rr_share(&f[i], h, spread);
        ck_assert_uint_eq(out[h]->packets, total);
        ck_assert_uint_eq(out[h]->n_min, 60);
        for (int g = 0; g < 3; g++) {
            const struct explain_exact_group *xg = &out[h]->groups[g];
            const struct explain_list *l[3] = {&xg->src, &xg->sport, &xg->dst};
            uint64_t gp = 0, mp = 0;

            ck_assert_mem_eq(xg->key, groups[h][g].key, kl.size);
            for (size_t i = 0; i < RR_FLOWS; i++)
                if (f[i].dport == ports[g])
                    gp += rr_share(&f[i], h, spread);
            /* minutes: exact whatever the bound */
            for (uint32_t m = 0; m < 60; m++)
                mp += xg->minutes[m];
            ck_assert_uint_eq(mp, gp);
            /*
             * Past the bound: udp 2849 (thousands of sources) always gives
             * up its maps; a smaller group may too if it met the bound
             * first, but a list said exact is always exact.
             */
            if (g == 0 && !big_exact)
                ck_assert(!xg->lists);
            /* the bound takes the group of most values first: a small one keeps its lists */
            if (g == 0 && !big_exact)
                ck_assert(out[h]->groups[1].lists || out[h]->groups[2].lists);
            if (!big_exact && !xg->lists)
                continue;
            ck_assert(xg->lists);
            for (int k = 0; k < 3; k++) {
                size_t n = rr_brute(f, RR_FLOWS, h, spread, ports[g], k, want);

                ck_assert(l[k]->exact);
                ck_assert_uint_eq(l[k]->error, 0);
                ck_assert_uint_eq(l[k]->distinct, n);
                ck_assert_uint_eq(l[k]->n, n < (k == 0 ? 10u : 5u) ? n : (k == 0 ? 10u : 5u));
                for (uint32_t i = 0; i < l[k]->n; i++)
                    ck_assert_uint_eq(l[k]->v[i].packets, want[i]);
            }
        }
    }
    /* the minutes of one group by hand: a flow counts at the minute of its start */
    {
        uint64_t m7 = 0;

        for (size_t i = 0; i < RR_FLOWS; i++)
            if (f[i].dport == 445 && f[i].start_ms >= RR_T0 + 7 * 60000 &&
                f[i].start_ms < RR_T0 + 8 * 60000)
                m7 += rr_share(&f[i], 0, spread);
        ck_assert_uint_eq(out[0]->groups[1].minutes[7], m7);
    }
    explain_exact_free(out[0]);
    explain_exact_free(out[1]);
    cfg_free(c);
}

START_TEST(test_reread_start_matches_brute_force)
{
    rr_check(false, 1000000, 233, true);
}
END_TEST

START_TEST(test_reread_spread_matches_brute_force)
{
    rr_check(true, 1000000, 233, true);
}
END_TEST

START_TEST(test_reread_bound_keeps_memory_lists)
{
    /* udp 2849 has 5000 possible sources: past 1000 values it gives up its lists */
    rr_check(false, 1000, 5000, false);
}
END_TEST

/*
 * An hour's 3000 flows append 9000 values to its lists, about 1800 of them
 * distinct: with room for 2000 they are summed several times on the way
 * (at 2000 held, then at twice what the last summing left), and every list
 * is exact in the end.
 */
START_TEST(test_reread_compacts_within_bound)
{
    rr_check(false, 2000, 233, true);
    rr_check(true, 2000, 233, true);
}
END_TEST

/*
 * The maps hold ports and IPv4 addresses in 8-byte entries while every
 * count fits in 32 bits: IPv6 addresses go to a side table, and a value's
 * count growing past 2^32, or a new value of more than 2^32 packets, turns
 * a map's entries wide; no value or count is lost on the way, and the
 * lists take the side table's values in their order.
 */
START_TEST(test_reread_maps_side_and_wide)
{
    static const uint16_t v6f[] = {152, 8, 153, 8, 2, 8, 27, 16, 28, 16, 7, 2, 11, 2, 4, 1};
    static struct tu_msg m;
    struct ds_cfg *c = tu_cfg("timezone: UTC\n"
                              "darknet:\n  prefixes: [198.18.0.0/16, \"2001:db8:dead::/48\"]\n"
                              "analyses:\n  - name: t\n    keys: [proto, dst_port]\n"
                              "    slot: 1h\n");
    struct explain_group g[2];
    struct slot_explain e;
    const struct slot_explain *exs[1] = {&e};
    struct explain_exact *out[1] = {NULL};
    struct explain_file file;
    struct key_layout kl;
    struct ds_error err;
    struct addr s6, d6, a;
    const struct explain_exact_group *x;
    uint64_t big = UINT64_C(5000000000);

    ck_assert_int_eq(addr_parse("2001:db8:1::5", &s6), 0);
    ck_assert_int_eq(addr_parse("2001:db8:dead::1", &d6), 0);
    key_layout_init(&kl, c->analyses[0].keys, c->analyses[0].n_keys);
    tu_msg_begin(&m, (uint32_t)(RR_T0 / 1000), 0, 1);
    tu_set_begin(&m, 2);
    tu_template_basic(&m);
    tu_template(&m, RR_TID, 8, v6f);
    tu_set_end(&m);
    tu_set_begin(&m, TU_TID_BASIC);
    /* udp 2849: 200 IPv4 sources of 1 to 7 packets, narrow maps that grow */
    for (uint32_t i = 1; i <= 200; i++)
        tu_record_basic(&m, (uint64_t)RR_T0 + 60000, 1 + (i - 1) % 7, 0x0A000000u + i,
                        0xC6120100u + i % 50, (uint16_t)(1024 + i % 40), 2849, 17);
    tu_set_end(&m);
    /* then an IPv6 source and destination: the address maps' side tables */
    tu_set_begin(&m, RR_TID);
    tu_u64(&m, (uint64_t)RR_T0 + 120000);
    tu_u64(&m, (uint64_t)RR_T0 + 120000);
    tu_u64(&m, 1000);
    tu_bytes(&m, s6.b, 16);
    tu_bytes(&m, d6.b, 16);
    tu_u16(&m, 4321);
    tu_u16(&m, 2849);
    tu_u8(&m, 17);
    tu_set_end(&m);
    tu_set_begin(&m, TU_TID_BASIC);
    /* 3e9 + 2e9 packets of source port 4321: its narrow map's count passes 2^32 */
    tu_record_basic(&m, (uint64_t)RR_T0 + 60000, UINT64_C(3000000000), 0x0A010009u,
                    0xC6120109u, 4321, 2849, 17);
    tu_record_basic(&m, (uint64_t)RR_T0 + 60000, UINT64_C(2000000000), 0x0A010009u,
                    0xC6120109u, 4321, 2849, 17);
    /* tcp 445: a first flow of 5e9 packets, new in each of its narrow maps */
    tu_record_basic(&m, (uint64_t)RR_T0 + 60000, big, 0x0A020001u, 0xC6120201u, 80, 445, 6);
    tu_set_end(&m);
    tu_msg_end(&m);
    tu_write_file(tu_path("rr-wide.ipfix"), m.b, m.len);

    memset(g, 0, sizeof(g));
    memset(&e, 0, sizeof(e));
    e.start = RR_T0 / 1000;
    e.end = e.start + 3600;
    e.key_size = (uint32_t)kl.size;
    e.n_groups = 2;
    e.groups = g;
    {
        struct flow f0 = tu_flow(RR_T0, 1, "10.0.0.1", "198.18.1.1", 17, 1, 2849);
        struct flow f1 = tu_flow(RR_T0, 1, "10.0.0.1", "198.18.1.1", 6, 1, 445);

        key_extract(&kl, &f0, g[0].key);
        key_extract(&kl, &f1, g[1].key);
    }
    memset(&file, 0, sizeof(file));
    file.path = tu_path("rr-wide.ipfix");
    file.first_ms = RR_T0;
    file.last_ms = RR_T0 + 3600000;
    ck_assert_int_eq(explain_reread(c, &c->analyses[0], &kl, exs, 1, &file, 1, out, &err),
                     DS_OK);
    ck_assert_ptr_nonnull(out[0]);
    ck_assert(!out[0]->missed);

    x = &out[0]->groups[0];
    ck_assert(x->lists);
    /* sources: the heavy one, the IPv6 one, then the 7-packet ones by address */
    ck_assert(x->src.exact);
    ck_assert_uint_eq(x->src.distinct, 202);
    ck_assert_uint_eq(x->src.v[0].packets, big);
    addr_from_v4(&a, 0x0A010009u);
    ck_assert_mem_eq(&x->src.v[0].addr, &a, sizeof(a));
    ck_assert_uint_eq(x->src.v[1].packets, 1000);
    ck_assert_mem_eq(&x->src.v[1].addr, &s6, sizeof(s6));
    ck_assert_uint_eq(x->src.v[2].packets, 7);
    addr_from_v4(&a, 0x0A000007u);
    ck_assert_mem_eq(&x->src.v[2].addr, &a, sizeof(a));
    addr_from_v4(&a, 0x0A00000Eu);
    ck_assert_mem_eq(&x->src.v[3].addr, &a, sizeof(a));
    /* source ports: 4321's 5e9 + 1000, then 40 others */
    ck_assert_uint_eq(x->sport.distinct, 41);
    ck_assert_uint_eq(x->sport.v[0].port, 4321);
    ck_assert_uint_eq(x->sport.v[0].packets, big + 1000);
    /* destinations: 50 of the darknet's IPv4 ones, 198.18.1.9, the IPv6 one */
    ck_assert_uint_eq(x->dst.distinct, 51);
    addr_from_v4(&a, 0xC6120109u);
    ck_assert_mem_eq(&x->dst.v[0].addr, &a, sizeof(a));
    ck_assert_uint_eq(x->dst.v[1].packets, 1000);
    ck_assert_mem_eq(&x->dst.v[1].addr, &d6, sizeof(d6));

    x = &out[0]->groups[1];
    ck_assert(x->lists);
    ck_assert_uint_eq(x->src.distinct, 1);
    ck_assert_uint_eq(x->src.v[0].packets, big);
    addr_from_v4(&a, 0x0A020001u);
    ck_assert_mem_eq(&x->src.v[0].addr, &a, sizeof(a));
    ck_assert_uint_eq(x->sport.v[0].packets, big);
    ck_assert_uint_eq(x->sport.v[0].port, 80);
    ck_assert_uint_eq(x->dst.v[0].packets, big);
    explain_exact_free(out[0]);
    cfg_free(c);
}
END_TEST

START_TEST(test_reread_changed_file_is_missed)
{
    struct ds_cfg *c = tu_cfg("analyses:\n  - name: t\n    keys: [proto, dst_port]\n");
    static struct rr_flow f[100];
    struct explain_group g[1];
    struct slot_explain e;
    const struct slot_explain *exs[1] = {&e};
    struct explain_exact *out[1] = {(struct explain_exact *)&e};
    struct explain_file file;
    struct key_layout kl;
    struct ds_error err;

    key_layout_init(&kl, c->analyses[0].keys, c->analyses[0].n_keys);
    rr_seed = 7;
    rr_make(f, 100, false, 10);
    rr_write(tu_path("rr-c.ipfix"), f, 100);
    memset(g, 0, sizeof(g));
    memset(&e, 0, sizeof(e));
    e.start = RR_T0 / 1000 - 9 * 3600;
    e.end = e.start + 86400;
    e.n_groups = 1;
    e.groups = g;
    memset(&file, 0, sizeof(file));
    file.path = tu_path("rr-c.ipfix");
    file.digest = "00000000000000000000000000000000";
    file.first_ms = RR_T0;
    file.last_ms = RR_T0 + 7200000;
    /* its slots come back missed: what memory kept stays */
    ck_assert_int_eq(explain_reread(c, &c->analyses[0], &kl, exs, 1, &file, 1, out, &err),
                     DS_OK);
    ck_assert_ptr_nonnull(out[0]);
    ck_assert(out[0]->missed);
    explain_exact_free(out[0]);
    file.path = tu_path("no-such.ipfix");
    file.digest = NULL;
    ck_assert_int_eq(explain_reread(c, &c->analyses[0], &kl, exs, 1, &file, 1, out, &err),
                     DS_OK);
    ck_assert_ptr_nonnull(out[0]);
    ck_assert(out[0]->missed);
    explain_exact_free(out[0]);
    cfg_free(c);
}
END_TEST

/* ingest_file()'s on_message: where each message starts */
struct rr_offsets {
    uint64_t off[64];
    bool templates[64];
    size_t n;
};

static void
rr_on_message(void *ctx, uint64_t offset, uint32_t domain, uint32_t export_time, bool templates)
{
    struct rr_offsets *o = ctx;

    (void)domain;
    (void)export_time;
    if (o->n < 64) {
        o->templates[o->n] = templates;
        o->off[o->n++] = offset;
    }
}

static void
rr_ignore(void *ctx, const struct ipfix_record *rec)
{
    (void)ctx;
    (void)rec;
}

static int
rr_cmp_start(const void *x, const void *y)
{
    const struct rr_flow *a = x, *b = y;

    return a->start_ms < b->start_ms ? -1 : a->start_ms > b->start_ms;
}

/*
 * With a chunk index (each message a chunk), the second hour is read back
 * without the messages of the first: one of them holds flows of the second
 * hour that the index says are of the first, and is not counted; the
 * template in the first message is read all the same.  A file touched
 * since is refused.
 */
START_TEST(test_reread_seeks_past_unwanted_chunks)
{
    struct ds_cfg *c = tu_cfg("timezone: UTC\ndarknet:\n  prefixes: [198.18.0.0/16]\n"
                              "analyses:\n  - name: t\n    keys: [proto, dst_port]\n"
                              "    slot: 1h\n");
    static struct rr_flow f[RR_FLOWS];
    struct explain_group g[1];
    struct slot_explain e;
    const struct slot_explain *exs[1] = {&e};
    struct explain_exact *out[1] = {NULL};
    struct explain_chunk chunks[64];
    struct rr_offsets o = {.n = 0};
    struct ingest_file_opts opts = {.fn = rr_ignore, .on_message = rr_on_message, .ctx = &o};
    struct ingest_stats stats;
    struct explain_file file;
    struct key_layout kl;
    struct ds_error err;
    struct stat sb;
    const char *path = tu_path("rr-seek.ipfix");
    char saved[512];
    uint64_t want_packets = 0;
    size_t lie;

    key_layout_init(&kl, c->analyses[0].keys, c->analyses[0].n_keys);
    rr_seed = 11;
    rr_make(f, RR_FLOWS, false, 233);
    qsort(f, RR_FLOWS, sizeof(*f), rr_cmp_start);
    /* message lie (of the first hour) gets 40 flows of the second hour */
    lie = RR_FLOWS / 500 / 4;
    for (size_t i = 0; i < 40; i++) {
        f[lie * 500 + i].start_ms += 3600000;
        f[lie * 500 + i].end_ms += 3600000;
    }
    snprintf(saved, sizeof(saved), "%s", path);
    rr_write(saved, f, RR_FLOWS);
    memset(&stats, 0, sizeof(stats));
    ck_assert_int_eq(ingest_file(saved, &opts, &stats, NULL, &err), DS_OK);
    ck_assert_uint_eq(o.n, RR_FLOWS / 500);
    ck_assert(o.templates[0] && !o.templates[1]);
    for (size_t m = 0; m < o.n; m++) {
        chunks[m].offset = o.off[m];
        chunks[m].templates = o.templates[m];
        chunks[m].first_ms = INT64_MAX;
        chunks[m].last_ms = INT64_MIN;
        for (size_t i = m * 500; i < (m + 1) * 500; i++) {
            int64_t t = m == lie ? RR_T0 : f[i].start_ms;   /* the lie */

            chunks[m].first_ms = t < chunks[m].first_ms ? t : chunks[m].first_ms;
            chunks[m].last_ms = t > chunks[m].last_ms ? t : chunks[m].last_ms;
        }
    }
    for (size_t i = 0; i < RR_FLOWS; i++)
        if (f[i].start_ms >= RR_T0 + 3600000 && f[i].dst >> 16 == 0xC612 && i / 500 != lie)
            want_packets += f[i].packets;
    memset(g, 0, sizeof(g));
    memset(&e, 0, sizeof(e));
    e.start = RR_T0 / 1000 + 3600;
    e.end = e.start + 3600;
    e.key_size = (uint32_t)kl.size;
    e.n_groups = 1;
    e.groups = g;
    {
        struct flow fl = tu_flow(RR_T0, 1, "10.0.0.1", "198.18.1.1", 17, 1, 2849);

        key_extract(&kl, &fl, g[0].key);
    }
    ck_assert_int_eq(stat(saved, &sb), 0);
    memset(&file, 0, sizeof(file));
    file.path = saved;
    file.digest = "00000000000000000000000000000000";  /* not checked: the size and time are */
    file.first_ms = RR_T0;
    file.last_ms = RR_T0 + 2 * 3600000;
    file.chunks = chunks;
    file.n_chunks = o.n;
    file.size = (int64_t)sb.st_size;
    file.mtime_ns = (int64_t)sb.st_mtim.tv_sec * 1000000000 + sb.st_mtim.tv_nsec;
    ck_assert_int_eq(explain_reread(c, &c->analyses[0], &kl, exs, 1, &file, 1, out, &err),
                     DS_OK);
    ck_assert_ptr_nonnull(out[0]);
    ck_assert_uint_eq(out[0]->packets, want_packets);
    ck_assert(out[0]->groups[0].lists);
    ck_assert_uint_gt(out[0]->groups[0].src.distinct, 0);
    explain_exact_free(out[0]);
    out[0] = NULL;
    /* touched: not read, its slot missed */
    file.mtime_ns -= 1000000000;
    ck_assert_int_eq(explain_reread(c, &c->analyses[0], &kl, exs, 1, &file, 1, out, &err),
                     DS_OK);
    ck_assert_ptr_nonnull(out[0]);
    ck_assert(out[0]->missed);
    ck_assert_uint_eq(out[0]->packets, 0);
    explain_exact_free(out[0]);
    /* stopped before it starts: nothing handed over */
    {
        int cancel = 1;
        struct explain_reread_job job = {&c->analyses[0], &kl, exs, 1, &file, 1, out, 0};

        file.mtime_ns += 1000000000;
        ck_assert_int_eq(explain_reread_jobs(c, &job, 1, 1, &cancel, &err), DS_ERR_IO);
        ck_assert_ptr_null(out[0]);
    }
    cfg_free(c);
}
END_TEST

static Suite *
explain_suite(void)
{
    Suite *s = suite_create("explain");
    TCase *tc = tcase_create("changes");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_step1_normal_day_changes_nothing);
    tcase_add_test(tc, test_step1_window_majority);
    tcase_add_test(tc, test_step2_ddos_entered_and_left);
    tcase_add_test(tc, test_step2_exact_comparison_at_the_threshold);
    suite_add_tcase(s, tc);

    tc = tcase_create("shown");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_step4_shown_groups_and_lists);
    tcase_add_test(tc, test_step4_single_source_lists_exact);
    suite_add_tcase(s, tc);

    tc = tcase_create("cause");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_step5_ddos);
    tcase_add_test(tc, test_step5_backscatter);
    tcase_add_test(tc, test_step5_scan_across_groups);
    tcase_add_test(tc, test_step5_scan_needs_enough_ports);
    tcase_add_test(tc, test_step5_misconfiguration);
    tcase_add_test(tc, test_step5_noise_is_unknown);
    tcase_add_test(tc, test_step5_ddos_needs_a_burst);
    tcase_add_test(tc, test_names_and_ports);
    tcase_add_test(tc, test_causes_config);
    suite_add_tcase(s, tc);

    tc = tcase_create("reread");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_reread_start_matches_brute_force);
    tcase_add_test(tc, test_reread_spread_matches_brute_force);
    tcase_add_test(tc, test_reread_bound_keeps_memory_lists);
    tcase_add_test(tc, test_reread_compacts_within_bound);
    tcase_add_test(tc, test_reread_maps_side_and_wide);
    tcase_add_test(tc, test_reread_changed_file_is_missed);
    tcase_add_test(tc, test_reread_seeks_past_unwanted_chunks);
    suite_add_tcase(s, tc);

    tc = tcase_create("codec");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_codec_round_trip);
    tcase_add_test(tc, test_codec_damaged_returns_null);
    tcase_add_test(tc, test_json_shape);
    suite_add_tcase(s, tc);

    tc = tcase_create("samples");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_samples_causes);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    return tu_run(explain_suite()) == 0 ? 0 : 1;
}
