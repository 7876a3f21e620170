/* What the technician's commands share: loading the daemon's file, and
 * polling one device once from the calling thread. */
#include "cli/cmd_common.h"
#include "gateway/daemon.h"
#include "gateway/ingest_queue.h"
#include "core/stats.h"

#include <stdio.h>
#include <stdlib.h>

int command_load_config(const char *path, bool offline, struct gateway_config *cfg,
                        const char *consequence)
{
    struct config_errors errors = {0};
    if (gateway_load_config(path, offline, cfg, &errors) == 0)
        return 0;
    for (size_t i = 0; i < errors.count; i++)
        fprintf(stderr, "%s\n", errors.lines[i]);
    fprintf(stderr, "%s: %zu configuration error%s; %s\n", path, errors.count,
            errors.count == 1 ? "" : "s", consequence);
    config_errors_free(&errors);
    return -1;
}

int technician_poller_open(const struct gateway_config *cfg, int device_index,
                           struct technician_poller *tp)
{
    const struct device_config *d = &cfg->devices[device_index];
    *tp = (struct technician_poller){0};
    tp->ids = calloc(cfg->point_count + 1, sizeof(*tp->ids));
    for (size_t i = 0; tp->ids && i < cfg->point_count; i++)
        tp->ids[i] = (uint32_t)i; /* a reading names its point by config index */
    if (!tp->ids || stats_init(&tp->stats, cfg->device_count, cfg->bus_count) != 0) {
        free(tp->ids);
        return -1;
    }
    if (ingest_queue_init(&tp->queue, 4096, &tp->stats) != 0) {
        stats_free(&tp->stats);
        free(tp->ids);
        return -1;
    }
    if (poller_create(cfg, d->bus_index, tp->ids, &tp->queue, &tp->stats, NULL, &tp->poller) != 0) {
        ingest_queue_free(&tp->queue);
        stats_free(&tp->stats);
        free(tp->ids);
        return -1;
    }
    return 0;
}

void technician_poller_close(struct technician_poller *tp)
{
    poller_destroy(tp->poller);
    ingest_queue_free(&tp->queue);
    stats_free(&tp->stats);
    free(tp->ids);
}

int command_poll_once(const struct gateway_config *cfg, int device_index,
                      const struct source_trace *trace, struct reading *out, size_t max)
{
    struct technician_poller tp;
    if (technician_poller_open(cfg, device_index, &tp) != 0)
        return -1;
    poller_poll_once(tp.poller, cfg->devices[device_index].name, trace);
    int n = (int)ingest_queue_take(&tp.queue, out, max);
    technician_poller_close(&tp);
    return n;
}
