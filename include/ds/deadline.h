/*
 * A deadline for pthread_cond_timedwait(): the CLOCK_REALTIME time ms
 * milliseconds from now.
 */
#ifndef DS_DEADLINE_H
#define DS_DEADLINE_H

#include <time.h>

static inline struct timespec
deadline_after_ms(int ms)
{
    struct timespec t;

    clock_gettime(CLOCK_REALTIME, &t);
    t.tv_sec += ms / 1000;
    t.tv_nsec += (long)(ms % 1000) * 1000000;
    if (t.tv_nsec >= 1000000000) {
        t.tv_sec++;
        t.tv_nsec -= 1000000000;
    }
    return t;
}

#endif
