#ifndef GW_CLI_CMD_COMMON_H
#define GW_CLI_CMD_COMMON_H

#include <stddef.h>

#include "config/config.h"
#include "gateway/poller.h"
#include "core/reading.h"
#include "core/stats.h"
#include "gateway/ingest_queue.h"

#define EXIT_CONFIG 2

/* The daemon's file loaded and checked as the daemon does
 * (gateway_load_config), each error printed to stderr and then how many,
 * with the consequence ("not starting"): 0, or -1. */
int command_load_config(const char *path, bool offline, struct gateway_config *cfg,
                        const char *consequence);
/* A poller for a device's bus that is never started (its work runs on the
 * calling thread), with the queue and counters it needs. */
struct technician_poller {
    uint32_t *ids;
    struct ingest_queue queue;
    struct gateway_stats stats;
    struct poller *poller;
};
int technician_poller_open(const struct gateway_config *cfg, int device_index,
                           struct technician_poller *tp);
void technician_poller_close(struct technician_poller *tp);

/* Polls cfg's device device_index once, now, from this thread (a poller of
 * its own that is never started); its requests go to trace, up to max
 * readings to out, each reading's point_id the index of its point in cfg.
 * Returns how many readings, or -1 without memory. */
int command_poll_once(const struct gateway_config *cfg, int device_index,
                      const struct source_trace *trace, struct reading *out, size_t max);

#endif
