/*
 * Fuzz target: the parsers of values an operator types (config and
 * command line): CIDR prefixes, addresses, endpoints, durations, sizes,
 * integers, decimals, and times (RFC 3339 and local).  Byte 0 picks the
 * parser; a parse that succeeds must format back to something that parses
 * to the same value.
 */
#include <stdlib.h>
#include <string.h>

#include "ds/addr.h"
#include "ds/cfg.h"
#include "ds/parse.h"
#include "ds/tz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char s[512], why[200], buf[128];
    struct cidr c, c2;
    struct addr a;
    struct decimal d;
    int64_t v, v2;
    uint16_t port;

    if (size < 1 || size >= sizeof(s))
        return 0;
    memcpy(s, data + 1, size - 1);
    s[size - 1] = '\0';
    switch (data[0] % 8) {
    case 0:
        if (cidr_parse(s, &c, why, sizeof(why)) == 0) {
            cidr_format(&c, buf);
            if (cidr_parse(buf, &c2, why, sizeof(why)) != 0 || memcmp(&c, &c2, sizeof(c)) != 0)
                abort();
        }
        break;
    case 1:
        if (addr_parse(s, &a) == 0)
            addr_format(&a, buf);
        break;
    case 2:
        cfg_parse_endpoint(s, &a, &port, why, sizeof(why));
        break;
    case 3:
        if (parse_duration(s, &v, why, sizeof(why)) == 0) {
            format_duration(v, buf, sizeof(buf));
            if (parse_duration(buf, &v2, why, sizeof(why)) != 0 || v != v2)
                abort();
        }
        break;
    case 4:
        if (parse_size(s, &v, why, sizeof(why)) == 0) {
            format_size(v, buf, sizeof(buf));
            if (parse_size(buf, &v2, why, sizeof(why)) != 0 || v != v2)
                abort();
        }
        break;
    case 5:
        parse_int64(s, INT64_MIN, INT64_MAX, &v, why, sizeof(why));
        break;
    case 6:
        parse_decimal(s, 3, &d, why, sizeof(why));
        break;
    default:
        if (tz_parse_time(s, &v) == 0)
            tz_format_rfc3339(v, buf);
        break;
    }
    return 0;
}
