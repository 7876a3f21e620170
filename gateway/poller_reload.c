/* A reload seen from one poller: it parks between two polls, and while
 * parked moves to the changed file, keeping what did not change. */
#include "gateway/poll_loop.h"
#include "gateway/poller_internal.h"

#include <stdlib.h>
#include <string.h>

/* A device the reload left as it was: its connection, schedule, back-off
 * and stale watches go on; only where its settings live changes. */
static void carry_device(struct device_state *to, struct device_state *from,
                         const struct gateway_config *cfg, int index, const uint32_t *point_ids)
{
    *to = *from;
    from->source = NULL;
    from->points = NULL; /* moved: device_free leaves it alone */
    to->cfg = &cfg->devices[index];
    to->index = index;
    to->register_points = 0;
    collect_points(to, cfg, point_ids);
}

/* Queued commands name their device and point by index: indexes of the
 * file before the reload. */
static void renumber_commands(struct poller *p)
{
    const struct gateway_config *cfg = p->cfg;
    pthread_mutex_lock(&p->commands_lock);
    for (struct command *cmd = p->commands; cmd; cmd = cmd->next) {
        cmd->device_index = config_find_device(cfg, cmd->device);
        cmd->point_index = config_find_point(cfg, cmd->device, cmd->point);
    }
    pthread_mutex_unlock(&p->commands_lock);
}

int poller_rebind(struct poller *p, int bus_index, const uint32_t *point_ids,
                  const int *device_from, struct gateway_stats *stats)
{
    const struct gateway_config *cfg = p->cfg;
    size_t n = 0;
    for (size_t i = 0; i < cfg->device_count; i++)
        n += cfg->devices[i].bus_index == bus_index;
    struct device_state *devices = calloc(n + 1, sizeof(*devices));
    if (!devices)
        return -1;
    int64_t now = clock_mono_ms();
    size_t k = 0;
    int rc = 0;
    /* The bus is unchanged but moved: its new place, before any device is
     * set up on it. */
    p->bus = &cfg->buses[bus_index];
    p->line = &stats->buses[bus_index];
    for (size_t i = 0; i < cfg->device_count && rc == 0; i++) {
        if (cfg->devices[i].bus_index != bus_index)
            continue;
        struct device_state *old = device_from[i] >= 0 ? device_of(p, device_from[i]) : NULL;
        if (old && old->points) {
            carry_device(&devices[k++], old, cfg, (int)i, point_ids);
            continue;
        }
        rc = device_init(p, &devices[k], cfg, (int)i, point_ids);
        devices[k++].next_due_ms = now;
    }
    for (size_t i = 0; i < p->device_count; i++)
        device_free(p, &p->devices[i]);
    free(p->devices);
    p->devices = devices;
    p->device_count = k;
    renumber_commands(p);
    return rc == 0 ? size_buffers(p) : -1;
}

/* A poller in the event loop parks with the whole loop. */
void poller_park(struct poller *p)
{
    if (p->loop)
        poll_loop_park(p->loop);
    else
        stop_signal_park(&p->stop);
}

bool poller_parked(struct poller *p, int64_t mono_deadline_ms)
{
    if (p->loop)
        return poll_loop_parked(p->loop, mono_deadline_ms);
    return !p->started || stop_signal_parked(&p->stop, mono_deadline_ms);
}

void poller_unpark(struct poller *p)
{
    if (p->loop)
        poll_loop_unpark(p->loop);
    else
        stop_signal_unpark(&p->stop);
}
