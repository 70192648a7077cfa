/*
 * The floor of decoding cost: a bare libfixbuf loop that reads every record
 * of an IPFIX file into a struct with the fields an analysis needs, and does
 * nothing else.  make bench puts darkstab's rate beside this one.
 *
 *   fixbuf_floor FILE
 */
#include <fixbuf/public.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

struct rec {
    uint64_t start_ms;
    uint64_t packets;
    uint32_t src;
    uint32_t dst;
    uint16_t sport;
    uint16_t dport;
    uint8_t proto;
    uint8_t flags;
    uint8_t pad[2];
};

static fbInfoElementSpec_t spec[] = {
    {"flowStartMilliseconds", 8, 0},     {"packetDeltaCount", 8, 0},
    {"sourceIPv4Address", 4, 0},         {"destinationIPv4Address", 4, 0},
    {"sourceTransportPort", 2, 0},       {"destinationTransportPort", 2, 0},
    {"protocolIdentifier", 1, 0},        {"tcpControlBits", 1, 0},
    {"paddingOctets", 2, 0},             FB_IESPEC_NULL,
};

int
main(int argc, char **argv)
{
    fbInfoModel_t *model;
    fbSession_t *session;
    fbTemplate_t *tmpl;
    fbCollector_t *coll;
    fBuf_t *fbuf;
    GError *err = NULL;
    struct rec r;
    struct timespec t0, t1;
    uint64_t n = 0, sum = 0;
    double dt;

    if (argc != 2) {
        fprintf(stderr, "usage: fixbuf_floor FILE\n");
        return 2;
    }
    model = fbInfoModelAlloc();
    session = fbSessionAlloc(model);
    tmpl = fbTemplateAlloc(model);
    if (!fbTemplateAppendSpecArray(tmpl, spec, 0, &err) ||
        !fbSessionAddTemplate(session, TRUE, 256, tmpl, &err)) {
        fprintf(stderr, "fixbuf_floor: %s\n", err->message);
        return 1;
    }
    coll = fbCollectorAllocFile(NULL, argv[1], &err);
    if (coll == NULL) {
        fprintf(stderr, "fixbuf_floor: %s\n", err->message);
        return 1;
    }
    fbuf = fBufAllocForCollection(session, coll);
    if (!fBufSetInternalTemplate(fbuf, 256, &err)) {
        fprintf(stderr, "fixbuf_floor: %s\n", err->message);
        return 1;
    }
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        size_t len = sizeof(r);

        if (!fBufNext(fbuf, (uint8_t *)&r, &len, &err))
            break;
        n++;
        sum += r.packets;
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    dt = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    printf("fixbuf_floor: %llu records (%llu packets) in %.3f s: %.2f million records/s\n",
           (unsigned long long)n, (unsigned long long)sum, dt, (double)n / dt / 1e6);
    fBufFree(fbuf);
    fbInfoModelFree(model);
    return 0;
}
