/* The gateway's counters, written from any thread, read for the health
 * message, the periodic summary line and at shutdown: one object the
 * daemon owns (main.c) and hands to the pollers, the pipeline and the
 * output; no global. */
#ifndef GW_STATS_H
#define GW_STATS_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One device's polls, for the health message. */
struct device_stats {
    uint64_t polls_ok, polls_failed;
    int64_t last_ok_ms, last_error_ms; /* wall clock; 0 = never */
    char last_error[256];
};

/* One bus's line, for the health message: written by its poller only. */
struct bus_stats {
    atomic_uint_fast64_t polls;
    atomic_uint_fast64_t polls_late; /* started more than half an interval after due */
    atomic_uint_fast64_t stray_bytes;
    atomic_uint_fast64_t busy_us;       /* polling, waits for the line's silences included */
    atomic_uint_fast64_t busy_permille; /* over the last minute (the first: so far) */
};

struct gateway_stats {
    atomic_uint_fast64_t polls_ok;
    atomic_uint_fast64_t polls_failed;
    atomic_uint_fast64_t readings_polled;
    atomic_uint_fast64_t readings_stored;
    atomic_uint_fast64_t readings_published;
    atomic_uint_fast64_t readings_acknowledged;
    atomic_uint_fast64_t readings_refused; /* by the broker: set aside, not lost */
    /* The same three in messages: with layout = device a message carries a
     * whole poll's readings, so the two units differ. */
    atomic_uint_fast64_t messages_published;
    atomic_uint_fast64_t messages_acknowledged;
    atomic_uint_fast64_t messages_refused;
    atomic_uint_fast64_t dropped_queue_full;
    atomic_uint_fast64_t dropped_store_bound; /* max_readings, max_age */
    atomic_uint_fast64_t dropped_store_full;  /* disk or max_size full */
    atomic_uint_fast64_t dropped_unsaved;     /* store failing at shutdown */
    atomic_uint_fast64_t store_errors;
    atomic_uint_fast64_t broker_connects;
    atomic_uint_fast64_t broker_losses;
    /* Commands by outcome (gateway/command_desk.c); expired ones are not
     * also counted as refused. */
    atomic_uint_fast64_t commands_done;
    atomic_uint_fast64_t commands_refused;
    atomic_uint_fast64_t commands_failed;
    atomic_uint_fast64_t commands_expired;
    /* Reloads of the file (SIGHUP): applied, or refused (errors in the
     * file, a change that needs a restart). The last one's time (wall
     * clock, 0 = none yet) and what it did, under devices_lock. */
    atomic_uint_fast64_t reloads_applied, reloads_refused;
    int64_t last_reload_ms;
    bool last_reload_applied;
    char last_reload[256];
    /* Per device, indexed like gateway_config.devices: written by the
     * device's poller, read by the pipeline. One lock for all devices: a
     * poll takes it once, the health message once a minute. */
    pthread_mutex_t devices_lock;
    struct device_stats *devices;
    size_t device_count;
    struct bus_stats *buses; /* indexed like gateway_config.buses */
    size_t bus_count;
};

/* All counters at 0, room for `devices` devices and `buses` buses. */
int stats_init(struct gateway_stats *s, size_t devices, size_t buses);
void stats_free(struct gateway_stats *s);
/* For a reload, with the pollers parked: room for `devices` devices and
 * `buses` buses, device i carrying the counters of the old device
 * device_from[i] (-1: a new one, from 0), bus i those of bus_from[i]. */
int stats_resize(struct gateway_stats *s, size_t devices, const int *device_from, size_t buses,
                 const int *bus_from);
void stats_reload_done(struct gateway_stats *s, bool applied, int64_t now_wall_ms,
                       const char *what);

static inline void stat_add(atomic_uint_fast64_t *counter, uint64_t n)
{
    atomic_fetch_add_explicit(counter, n, memory_order_relaxed);
}

static inline uint64_t stat_get(atomic_uint_fast64_t *counter)
{
    return atomic_load_explicit(counter, memory_order_relaxed);
}

void stats_log_summary(struct gateway_stats *s, const char *when);
void stats_device_poll(struct gateway_stats *s, int index, bool ok, const char *why);
void stats_device_get(struct gateway_stats *s, int index, struct device_stats *out);

#endif
