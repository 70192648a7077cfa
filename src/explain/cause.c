/*
 * The probable cause of an unstable slot (METHOD section 6, the paper's
 * case studies).
 *
 * Method: the pattern of the dominant new group names the cause:
 *
 *   many sources, one port, short burst                    ddos
 *   one source, one port, no known service                 misconfiguration
 *   one source, many ports or many addresses               scan
 *   from source port 53 (or SYN/ACK, RST) to high ports    backscatter
 *
 * Our implementation, with the numbers of struct cfg_causes (causes.*):
 *   1. The candidates are the groups shown that entered the TopN set or
 *      whose share grew against the window, and whose detail was kept
 *      (explain.c).  A group that fell cannot be the event.
 *   2. Each candidate gets the first rule that fits, in this order:
 *      a. backscatter: at least backscatter_share percent of its packets
 *         come from source port 53 or are TCP SYN/ACK or RST, and its
 *         destination port (if the key has one) is at least
 *         backscatter_min_port.  First, because reflected replies come
 *         from one server or from many, to one port or a few: they would
 *         otherwise pass for any of the others;
 *      b. scan: "one source" (its top source sends one_source_share
 *         percent of its packets) reaching scan_min_ports destination
 *         ports or scan_min_addrs destination addresses, counted ACROSS
 *         the candidates with the same top source: a host probing a dozen
 *         ports makes a dozen groups, each small;
 *      c. ddos: at least ddos_min_sources sources, at most ddos_max_ports
 *         destination ports, and ddos_burst_share percent of its packets
 *         within ddos_burst_length percent of the slot (from the packets
 *         per minute; without them, from its first and last packet);
 *      d. misconfiguration: one source, at most misconfig_max_ports
 *         destination ports, and the port of its key no known service
 *         (explain_port_known).
 *   3. The cause is the rule whose groups carry most packets (ties: the
 *      order above); its groups are those groups.  If no candidate fits a
 *      rule, the cause is "unknown" and the evidence describes the largest
 *      candidate anyway.
 */
#include <stdio.h>
#include <string.h>

#include "explain_int.h"

static const char *const cause_names[] = {"unknown", "ddos", "misconfiguration", "scan",
                                          "backscatter"};

#define N_CAUSES (sizeof(cause_names) / sizeof(cause_names[0]))

const char *
explain_cause_name(int cause)
{
    if (cause < 0 || (size_t)cause >= N_CAUSES)
        return cause_names[CAUSE_UNKNOWN];
    return cause_names[cause];
}

int
explain_cause_parse(const char *name)
{
    for (size_t i = 0; i < N_CAUSES; i++)
        if (strcmp(cause_names[i], name) == 0)
            return (int)i;
    return -1;
}

/*
 * Well-known services: every IANA system port (below 1024), and the
 * registered ports of services that are commonly exposed on the Internet
 * and hence scanned for.  A flood from one host to a port outside this
 * table is far more likely a mistyped or stale address than an attack on
 * a service; one to a port in it is left to the other rules (or unknown).
 */
static const uint16_t known_ports[] = {
    1080,  /* SOCKS */
    1194,  /* OpenVPN */
    1433,  /* Microsoft SQL Server */
    1434,  /* SQL Server browser */
    1521,  /* Oracle */
    1701,  /* L2TP */
    1723,  /* PPTP */
    1883,  /* MQTT */
    1900,  /* SSDP */
    2049,  /* NFS */
    2323,  /* telnet, alternative */
    2375,  /* Docker API */
    3128,  /* HTTP proxy */
    3306,  /* MySQL */
    3389,  /* RDP */
    3478,  /* STUN */
    4500,  /* IPsec NAT traversal */
    5060,  /* SIP */
    5061,  /* SIP over TLS */
    5353,  /* mDNS */
    5432,  /* PostgreSQL */
    5555,  /* Android debug bridge */
    5683,  /* CoAP */
    5900,  /* VNC */
    6379,  /* Redis */
    7547,  /* TR-069 */
    8000,  /* HTTP, alternative */
    8080,  /* HTTP, alternative */
    8443,  /* HTTPS, alternative */
    8888,  /* HTTP, alternative */
    9200,  /* Elasticsearch */
    11211, /* memcached */
    27017, /* MongoDB */
    37215, /* Huawei home gateway (UPnP) */
};

bool
explain_port_known(uint16_t port)
{
    if (port < 1024)
        return true;
    for (size_t i = 0; i < sizeof(known_ports) / sizeof(known_ports[0]); i++)
        if (known_ports[i] == port)
            return true;
    return false;
}

/* "92%", "1.3%", "0.04%": two significant digits for small shares */
static const char *
pct(double v, char *buf, size_t len)
{
    if (v >= 9.95 || v == 0)
        snprintf(buf, len, "%.0f%%", v);
    else if (v >= 0.995)
        snprintf(buf, len, "%.1f%%", v);
    else
        snprintf(buf, len, "%.2f%%", v);
    return buf;
}

static double
ratio(uint64_t part, uint64_t whole)
{
    return whole ? 100.0 * (double)part / (double)whole : 0;
}

/* "1 h 31 min", "45 min", "2 d 3 h", "under 1 min" */
static const char *
span(int64_t s, char *buf, size_t len)
{
    int64_t m = (s + 59) / 60;

    if (s <= 0)
        snprintf(buf, len, "under 1 min");
    else if (m >= 1440)
        snprintf(buf, len, "%lld d %lld h", (long long)(m / 1440), (long long)(m % 1440 / 60));
    else if (m >= 60)
        snprintf(buf, len, "%lld h %lld min", (long long)(m / 60), (long long)(m % 60));
    else
        snprintf(buf, len, "%lld min", (long long)m);
    return buf;
}

static const char *
plural(uint64_t n)
{
    return n == 1 ? "" : "es";
}

static const char *
plural_s(uint64_t n)
{
    return n == 1 ? "" : "s";
}

static bool
one_source(const struct cfg_causes *c, const struct cause_facts *f)
{
    return f->packets > 0 && explain_share_reaches(f->top_src_packets, f->packets,
                                                   &c->one_source_share);
}

static bool
is_backscatter(const struct cfg_causes *c, const struct cause_facts *f)
{
    return f->packets > 0 && explain_share_reaches(f->reply_packets, f->packets,
                                                   &c->backscatter_share) &&
           (f->dst_port < 0 || f->dst_port >= c->backscatter_min_port);
}

/* Is the burst within ddos_burst_length percent of the slot (exact)? */
static bool
is_short(const struct cfg_causes *c, const struct cause_facts *f, int64_t slot_s)
{
    const struct decimal *len = &c->ddos_burst_length;

    if (f->burst_s < 0 || slot_s <= 0)
        return false;
    return (unsigned __int128)f->burst_s * 100u * (uint64_t)len->den <=
           (unsigned __int128)slot_s * (uint64_t)len->num;
}

static bool
is_ddos(const struct cfg_causes *c, const struct cause_facts *f, int64_t slot_s)
{
    return f->sources >= (uint64_t)c->ddos_min_sources &&
           f->dst_ports <= (uint64_t)c->ddos_max_ports && is_short(c, f, slot_s);
}

static bool
is_misconfig(const struct cfg_causes *c, const struct cause_facts *f)
{
    return one_source(c, f) && f->dst_ports >= 1 &&
           f->dst_ports <= (uint64_t)c->misconfig_max_ports && f->dst_port >= 0 &&
           !explain_port_known((uint16_t)f->dst_port);
}

/* The destination ports and (at least) addresses of the candidates from src. */
static void
source_reach(const struct cfg_causes *c, const struct cause_facts *facts, size_t n,
             const struct addr *src, uint64_t *ports, uint64_t *addrs, size_t *groups)
{
    *ports = *addrs = 0;
    *groups = 0;
    for (size_t j = 0; j < n; j++) {
        if (!one_source(c, &facts[j]) || memcmp(&facts[j].top_src, src, sizeof(*src)) != 0)
            continue;
        *ports += facts[j].dst_ports;
        if (facts[j].dst_addrs > *addrs)
            *addrs = facts[j].dst_addrs;
        (*groups)++;
    }
}

static void
evidence_ddos(const struct cause_facts *f, size_t n_groups, double share, char *buf, size_t len)
{
    char a[16], b[16], d[32];

    snprintf(buf, len,
             "%llu sources, %llu destination port%s, %llu destination address%s, "
             "%s of the slot's packets%s, %s of them within %s",
             (unsigned long long)f->sources, (unsigned long long)f->dst_ports,
             plural_s(f->dst_ports), (unsigned long long)f->dst_addrs, plural(f->dst_addrs),
             pct(share, a, sizeof(a)), n_groups > 1 ? " (with the other groups)" : "",
             pct(ratio(f->burst_packets, f->packets), b, sizeof(b)),
             span(f->burst_s, d, sizeof(d)));
}

void
cause_classify(const struct cfg_causes *c, int64_t slot_s, const struct cause_facts *facts,
               size_t n, struct slot_explain *e)
{
    int verdict[EXPLAIN_GROUPS_MAX];
    uint64_t packets[N_CAUSES] = {0};
    double share[N_CAUSES] = {0};
    const struct cause_facts *big = NULL;
    int kind = CAUSE_UNKNOWN;
    char a[16], b[16], d[16], sp[32], addr[ADDR_STRLEN];

    if (n > EXPLAIN_GROUPS_MAX)
        n = EXPLAIN_GROUPS_MAX;
    /* 2. the first rule that fits each candidate */
    for (size_t i = 0; i < n; i++) {
        const struct cause_facts *f = &facts[i];
        uint64_t ports, addrs;
        size_t groups;

        source_reach(c, facts, n, &f->top_src, &ports, &addrs, &groups);
        if (is_backscatter(c, f))
            verdict[i] = CAUSE_BACKSCATTER;
        else if (one_source(c, f) &&
                 (ports >= (uint64_t)c->scan_min_ports || addrs >= (uint64_t)c->scan_min_addrs))
            verdict[i] = CAUSE_SCAN;
        else if (is_ddos(c, f, slot_s))
            verdict[i] = CAUSE_DDOS;
        else if (is_misconfig(c, f))
            verdict[i] = CAUSE_MISCONFIGURATION;
        else
            verdict[i] = CAUSE_UNKNOWN;
        packets[verdict[i]] += f->packets;
        share[verdict[i]] += f->share;
    }
    /* 3. the rule with most packets; ties in the order of the rules */
    {
        static const int order[] = {CAUSE_BACKSCATTER, CAUSE_SCAN, CAUSE_DDOS,
                                    CAUSE_MISCONFIGURATION};

        for (size_t k = 0; k < sizeof(order) / sizeof(order[0]); k++)
            if (packets[order[k]] > 0 &&
                (kind == CAUSE_UNKNOWN || packets[order[k]] > packets[kind]))
                kind = order[k];
    }
    e->cause = kind;
    e->n_cause_groups = 0;
    for (size_t i = 0; i < n; i++) {
        if (verdict[i] != kind)
            continue;
        if (big == NULL || facts[i].packets > big->packets)
            big = &facts[i];
        if (kind != CAUSE_UNKNOWN)
            e->cause_groups[e->n_cause_groups++] = facts[i].group;
    }
    if (big == NULL) {
        bool grown = false;

        for (size_t i = 0; i < e->n_groups; i++)
            grown |= e->groups[i].changed && e->groups[i].share > e->groups[i].window_share;
        snprintf(e->evidence, sizeof(e->evidence), "%s",
                 e->window_slots == 0 ? "no window to compare with, and no detail kept"
                 : grown              ? "the groups that entered or grew kept no detail"
                                      : "no group entered or grew against the window");
        return;
    }
    addr_format(&big->top_src, addr);
    switch (kind) {
    case CAUSE_DDOS:
        evidence_ddos(big, e->n_cause_groups, share[kind], e->evidence, sizeof(e->evidence));
        break;
    case CAUSE_MISCONFIGURATION:
        snprintf(e->evidence, sizeof(e->evidence),
                 "1 source (%s, %s of the group's packets), destination port %d "
                 "(no known service), %llu destination address%s, %s of the slot's packets",
                 addr, pct(ratio(big->top_src_packets, big->packets), a, sizeof(a)),
                 (int)big->dst_port, (unsigned long long)big->dst_addrs, plural(big->dst_addrs),
                 pct(share[kind], b, sizeof(b)));
        break;
    case CAUSE_SCAN: {
        uint64_t ports, addrs;
        size_t groups;

        source_reach(c, facts, n, &big->top_src, &ports, &addrs, &groups);
        snprintf(e->evidence, sizeof(e->evidence),
                 "1 source (%s), %llu destination port%s in %zu group%s, at least %llu "
                 "destination address%s, %s of the slot's packets",
                 addr, (unsigned long long)ports, plural_s(ports), groups, plural_s(groups),
                 (unsigned long long)addrs, plural(addrs), pct(share[kind], a, sizeof(a)));
        break;
    }
    case CAUSE_BACKSCATTER: {
        size_t len;

        snprintf(e->evidence, sizeof(e->evidence),
                 "%s of the packets are replies (source port 53, SYN/ACK or RST) to "
                 "destination port", pct(ratio(big->reply_packets, big->packets), a, sizeof(a)));
        for (size_t i = 0, k = 0; i < n; i++) {
            len = strlen(e->evidence);
            if (verdict[i] != kind || facts[i].dst_port < 0 || len + 16 >= sizeof(e->evidence))
                continue;
            snprintf(e->evidence + len, sizeof(e->evidence) - len, "%s %d",
                     k++ == 0 ? (e->n_cause_groups > 1 ? "s" : "") : ",", (int)facts[i].dst_port);
        }
        len = strlen(e->evidence);
        snprintf(e->evidence + len, sizeof(e->evidence) - len,
                 ", %llu source%s, %s of the slot's packets", (unsigned long long)big->sources,
                 plural_s(big->sources), pct(share[kind], b, sizeof(b)));
        break;
    }
    default:
        snprintf(e->evidence, sizeof(e->evidence),
                 "no rule fits: %llu source%s (the top one %s of the packets), %llu destination "
                 "port%s, %llu destination address%s, %s of the slot's packets, %s of them "
                 "within %s",
                 (unsigned long long)big->sources, plural_s(big->sources),
                 pct(ratio(big->top_src_packets, big->packets), a, sizeof(a)),
                 (unsigned long long)big->dst_ports, plural_s(big->dst_ports),
                 (unsigned long long)big->dst_addrs, plural(big->dst_addrs),
                 pct(big->share, b, sizeof(b)),
                 pct(ratio(big->burst_packets, big->packets), d, sizeof(d)),
                 big->burst_s >= 0 ? span(big->burst_s, sp, sizeof(sp)) : "an unknown time");
        e->cause_groups[e->n_cause_groups++] = big->group;
        break;
    }
}
