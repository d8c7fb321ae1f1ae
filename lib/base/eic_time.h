/* Clocks. Deadlines are absolute CLOCK_MONOTONIC milliseconds so that a wall-clock
 * jump can neither extend nor cut short an operation. */
#ifndef EIC_TIME_H
#define EIC_TIME_H

#include <stdint.h>
#include <time.h>

static inline uint64_t eic_monotonic_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Milliseconds left until deadline (0 when it has passed). */
static inline uint64_t eic_ms_left(uint64_t deadline_ms)
{
    uint64_t now = eic_monotonic_ms();

    return deadline_ms > now ? deadline_ms - now : 0;
}

#endif
