/* What the technician's commands share: loading the daemon's file, and
 * polling one device once from the calling thread. */
#include "gateway/cmd_common.h"
#include "gateway/ingest_queue.h"
#include "core/stats.h"

#include <stdio.h>
#include <stdlib.h>

int command_load_config(const char *path, struct gateway_config *cfg)
{
    struct config_errors errors = {0};
    if (config_load(path, cfg, &errors) == 0)
        return 0;
    for (size_t i = 0; i < errors.count; i++)
        fprintf(stderr, "%s\n", errors.lines[i]);
    config_errors_free(&errors);
    return -1;
}

int command_poll_once(const struct gateway_config *cfg, int device_index,
                      const struct source_trace *trace, struct reading *out, size_t max)
{
    const struct device_config *d = &cfg->devices[device_index];
    uint32_t *ids = calloc(cfg->point_count + 1, sizeof(*ids));
    struct ingest_queue queue;
    struct gateway_stats stats;
    struct poller *poller = NULL;
    int n = -1;
    for (size_t i = 0; ids && i < cfg->point_count; i++)
        ids[i] = (uint32_t)i; /* a reading names its point by config index */
    if (!ids || stats_init(&stats, cfg->device_count, cfg->bus_count) != 0) {
        free(ids);
        return -1;
    }
    if (ingest_queue_init(&queue, 4096, &stats) != 0) {
        stats_free(&stats);
        free(ids);
        return -1;
    }
    if (poller_create(cfg, d->bus_index, ids, &queue, &stats, &poller) == 0) {
        poller_poll_once(poller, d->name, trace);
        n = (int)ingest_queue_take(&queue, out, max);
        poller_destroy(poller);
    }
    ingest_queue_destroy(&queue);
    stats_free(&stats);
    free(ids);
    return n;
}
