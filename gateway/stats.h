/* Gateway-wide counters, written from any thread, read for the periodic
 * summary line and at shutdown. */
#ifndef GW_STATS_H
#define GW_STATS_H

#include <stdatomic.h>
#include <stdint.h>

struct gateway_stats {
    atomic_uint_fast64_t polls_ok;
    atomic_uint_fast64_t polls_failed;
    atomic_uint_fast64_t readings_polled;
    atomic_uint_fast64_t readings_stored;
    atomic_uint_fast64_t readings_published;
    atomic_uint_fast64_t readings_acknowledged;
    atomic_uint_fast64_t dropped_queue_full;
    atomic_uint_fast64_t dropped_store_bound; /* max_readings, max_age */
    atomic_uint_fast64_t dropped_store_full;  /* disk or max_size full */
    atomic_uint_fast64_t dropped_unsaved;     /* store failing at shutdown */
    atomic_uint_fast64_t store_errors;
    atomic_uint_fast64_t broker_connects;
    atomic_uint_fast64_t broker_losses;
};

extern struct gateway_stats gw_stats;

static inline void stat_add(atomic_uint_fast64_t *counter, uint64_t n)
{
    atomic_fetch_add_explicit(counter, n, memory_order_relaxed);
}

static inline uint64_t stat_get(atomic_uint_fast64_t *counter)
{
    return atomic_load_explicit(counter, memory_order_relaxed);
}

void stats_log_summary(const char *when);

#endif
