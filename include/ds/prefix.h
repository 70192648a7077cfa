/*
 * The darknet filter (METHOD section 1): a record counts only if its
 * destination lies in a darknet prefix and not in an excluded prefix.
 *
 * The prefix lists are compiled into sorted, disjoint address ranges, each
 * labelled darknet, excluded or outside, so that a lookup is one binary
 * search whatever the number and nesting of prefixes.  An IPv4 address is
 * looked up first in a table of the /16 blocks (256 KB), and of the /24s
 * of each block a prefix end cuts (256 bytes each): one or two loads, and
 * the search only for a /24 that a prefix end cuts too.
 */
#ifndef DS_PREFIX_H
#define DS_PREFIX_H

#include <stddef.h>

#include "ds/addr.h"

enum prefix_class {
    PREFIX_OUTSIDE = 0,     /* not in any darknet prefix */
    PREFIX_DARK = 1,        /* in the darknet and not excluded */
    PREFIX_EXCLUDED = 2,    /* in the darknet, but in an excluded prefix */
};

struct prefix_set;

/* Returns an owned set (free with prefix_set_free()); lists are borrowed. */
struct prefix_set *prefix_set_new(const struct cidr *dark, size_t n_dark,
                                  const struct cidr *exclude, size_t n_exclude);
void prefix_set_free(struct prefix_set *set);
enum prefix_class prefix_set_classify(const struct prefix_set *set, const struct addr *a);
/* Number of ranges after compilation (for tests). */
size_t prefix_set_ranges(const struct prefix_set *set);

#endif
