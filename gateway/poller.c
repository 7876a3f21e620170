#include "gateway/poller.h"
#include "gateway/poller_internal.h"
#include "core/log.h"
#include "core/stats.h"
#include "gateway/point_quality.h"
#include "sources/bus_kind.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int64_t poller_backoff_ms(int64_t interval_ms, int64_t backoff_max_ms, int failures,
                          int64_t cost_ms)
{
    if (failures <= 1)
        return interval_ms; /* one lost frame is common on a line: ask again as usual */
    int shift = failures - 2 > 20 ? 20 : failures - 2;
    int64_t by_interval = interval_ms << (shift + 1);
    int64_t by_cost = (BACKOFF_START_COSTS * cost_ms) << shift;
    int64_t delay = by_interval > by_cost ? by_interval : by_cost;
    int64_t cap =
        backoff_max_ms > BACKOFF_CAP_COSTS * cost_ms ? backoff_max_ms : BACKOFF_CAP_COSTS * cost_ms;
    if (delay > cap)
        delay = cap;
    return delay > interval_ms ? delay : interval_ms;
}

static int local_index(const struct device_state *d, const struct gateway_config *cfg,
                       int config_index)
{
    for (size_t i = 0; config_index >= 0 && i < d->point_count; i++)
        if (d->points[i] == &cfg->points[config_index])
            return (int)i;
    return -1;
}

/* Occupancy points are the indicator stage's: the poller neither reads nor
 * derives them. */
static bool polled_here(const struct point_config *pc, int device_index)
{
    return pc->device_index == device_index && pc->kind != KIND_OCCUPANCY;
}

/* Register points first, derived points after, each in file order. */
void collect_points(struct device_state *d, const struct gateway_config *cfg,
                    const uint32_t *point_ids)
{
    size_t n = 0;
    for (int derived = 0; derived < 2; derived++)
        for (size_t i = 0; i < cfg->point_count; i++) {
            const struct point_config *pc = &cfg->points[i];
            bool reads = config_point_reads(pc, d->index);
            if (!polled_here(pc, d->index) || reads == (derived != 0))
                continue;
            d->points[n] = pc;
            d->point_ids[n] = point_ids[i];
            n += 1;
            d->register_points += !derived;
        }
    for (size_t i = 0; i < d->point_count; i++)
        d->local[i] = local_index(d, cfg,
                                  d->points[i]->derived_from[0] ? d->points[i]->derived_from_index
                                                                : d->points[i]->decimals_index);
}

int device_init(struct poller *p, struct device_state *d, const struct gateway_config *cfg,
                int index, const uint32_t *point_ids)
{
    d->cfg = &cfg->devices[index];
    d->index = index;
    d->fail_log.interval_ms = 60000;
    for (size_t i = 0; i < cfg->point_count; i++)
        d->point_count += polled_here(&cfg->points[i], index);
    d->points = calloc(d->point_count, sizeof(*d->points));
    d->point_ids = calloc(d->point_count, sizeof(*d->point_ids));
    d->local = calloc(d->point_count, sizeof(*d->local));
    d->stale = calloc(d->point_count, sizeof(*d->stale));
    d->result = calloc(d->point_count, sizeof(*d->result));
    struct source_point *sp = calloc(d->point_count + 1, sizeof(*sp));
    if (!d->points || !d->point_ids || !d->local || !d->stale || !d->result || !sp) {
        free(sp);
        return -1;
    }
    collect_points(d, cfg, point_ids);
    for (size_t i = 0; i < d->register_points; i++)
        sp[i] = d->points[i]->where;
    struct source_device sd = config_source_device(d->cfg, p->bus);
    d->source = p->source->add_device(&sd, sp, d->register_points);
    free(sp);
    return d->source ? 0 : -1;
}

void device_free(struct poller *p, struct device_state *d)
{
    if (!d->points && !d->source)
        return; /* moved to the poller's new devices, or never set up */
    if (d->source)
        p->source->remove_device(d->source);
    free(d->points);
    free(d->point_ids);
    free(d->local);
    free(d->stale);
    free(d->result);
}

/* A value scaled by a decimal-places register read earlier in this poll
 * (a QDY30A's level); returns false when that register gave nothing usable. */
static bool apply_decimals(const struct device_state *d, size_t idx, double *raw)
{
    int dec = d->local[idx];
    if (dec < 0)
        return true;
    const struct point_result *r = &d->result[dec];
    if (!r->read || r->quality != QUALITY_GOOD || r->raw < 0 || r->raw > 9)
        return false;
    *raw /= pow(10, r->raw);
    return true;
}

static struct reading judge(struct device_state *d, size_t idx, bool decoded, double raw,
                            double value, int64_t ts_ms, uint16_t flags)
{
    const struct point_config *pc = d->points[idx];
    uint8_t quality = decoded ? point_quality(pc, raw, value, &d->stale[idx], ts_ms) : QUALITY_BAD;
    d->result[idx] =
        (struct point_result){.read = true, .raw = raw, .value = value, .quality = quality};
    return (struct reading){.ts_ms = ts_ms,
                            .value = value,
                            .point_id = d->point_ids[idx],
                            .flags = flags,
                            .quality = quality};
}

/* The register points' engineering values, in the order the source read
 * them, so that a decimal-places register read first scales the rest. */
static size_t judge_samples(struct device_state *d, const struct source_poll *poll, uint16_t flags,
                            struct reading *out)
{
    for (size_t k = 0; k < poll->count; k++) {
        const struct source_sample *s = &poll->samples[k];
        size_t idx = s->point;
        double scaled = s->raw;
        bool ok = s->ok && apply_decimals(d, idx, &scaled);
        double value = ok ? point_scaled(d->points[idx], scaled) : 0;
        out[k] = judge(d, idx, ok, s->raw, value, poll->ts_ms, flags);
    }
    return poll->count;
}

/* Points computed from another point of the same poll (a level from a
 * pressure); nothing when the source was not read. */
static size_t derive_points(struct device_state *d, int64_t ts_ms, uint16_t flags,
                            struct reading *out)
{
    size_t n = 0;
    for (size_t idx = d->register_points; idx < d->point_count; idx++) {
        const struct point_config *pc = d->points[idx];
        if (d->local[idx] < 0 || !d->result[d->local[idx]].read)
            continue;
        const struct point_result *src = &d->result[d->local[idx]];
        bool ok = src->quality == QUALITY_GOOD || src->quality == QUALITY_OUT_OF_RANGE ||
                  src->quality == QUALITY_STALE;
        double value = ok ? point_scaled(pc, src->value) : 0;
        out[n] = judge(d, idx, ok, value, value, ts_ms, flags);
        if (!ok)
            out[n].quality = src->quality; /* no_data stays no_data */
        n++;
    }
    return n;
}

void poll_prepare(struct device_state *d)
{
    for (size_t i = 0; i < d->point_count; i++)
        d->result[i].read = false;
}

size_t poll_judged(struct poller *p, struct device_state *d, enum source_result res,
                   struct reading *out)
{
    uint16_t flags = clock_is_synchronised() ? 0 : FLAG_CLOCK_UNSYNCED;
    /* One timestamp per poll: the device's readings travel as one record
     * with one ts (docs/mqtt-contract.md). */
    size_t n = judge_samples(d, &p->poll, flags, out);
    n += derive_points(d, p->poll.ts_ms, flags, out + n);
    if (n > 0)
        stat_add(&p->stats->readings_polled, n);
    if (res != SOURCE_OK)
        log_limited(&d->fail_log, LOG_WARNING, "device %s: %s", d->cfg->name, p->poll.why);
    stat_add(res == SOURCE_OK ? &p->stats->polls_ok : &p->stats->polls_failed, 1);
    stats_device_poll(p->stats, d->index, res == SOURCE_OK, p->poll.why);
    return n;
}

/* One poll of the device by its source on the calling thread, judged and
 * queued. */
static enum source_result poll_device(struct poller *p, struct device_state *d)
{
    poll_prepare(d);
    enum source_result res = p->source->poll(p->source_bus, d->source, &p->poll, p->trace);
    size_t n = poll_judged(p, d, res, p->batch);
    if (n > 0)
        ingest_queue_push(p->queue, p->batch, n);
    return res;
}

static void schedule_next(struct device_state *d, bool io_ok, int64_t now, int64_t cost_ms)
{
    int64_t interval = d->cfg->interval_ms;
    if (!io_ok) {
        d->failures++;
        int64_t delay = poller_backoff_ms(interval, d->cfg->backoff_max_ms, d->failures, cost_ms);
        /* 1, 2, 4, 8, ... failures: a device that stays broken for a day
         * writes a few dozen lines, not one per poll. */
        if ((d->failures & (d->failures - 1)) == 0)
            log_msg(LOG_WARNING, "device %s: %d failed poll(s) in a row, next try in %lldms",
                    d->cfg->name, d->failures, (long long)delay);
        d->next_due_ms = now + delay;
        return;
    }
    if (d->failures > 0)
        log_msg(LOG_INFO, "device %s: answers again after %d failed poll(s)", d->cfg->name,
                d->failures);
    d->failures = 0;
    /* Keep the cadence without drift; if the bus fell behind, skip the
     * missed slots rather than polling in a burst. */
    d->next_due_ms += interval;
    if (d->next_due_ms <= now)
        d->next_due_ms = now + interval;
}

/* What one poll cost the bus: its time, lateness and stray bytes, and the
 * busy share of the current minute. */
static void account_poll(struct poller *p, const struct device_state *d, int64_t began_us,
                         int64_t ended_us)
{
    struct bus_stats *line = p->line;
    int64_t took = ended_us - began_us;
    stat_add(&line->polls, 1);
    stat_add(&line->busy_us, (uint64_t)took);
    stat_add(&line->stray_bytes, p->poll.stray_bytes);
    if (began_us / 1000 - d->next_due_ms > d->cfg->interval_ms / 2)
        stat_add(&line->polls_late, 1);
    p->window_busy_us += took;
    int64_t span = ended_us - p->window_start_us;
    atomic_store_explicit(&line->busy_permille,
                          span > 0 ? (uint64_t)(p->window_busy_us * 1000 / span) : 0,
                          memory_order_relaxed);
    if (span >= BUSY_WINDOW_MS * 1000) {
        p->window_start_us = ended_us;
        p->window_busy_us = 0;
    }
}

void poll_ended(struct poller *p, struct device_state *d, enum source_result res,
                int64_t began_us, int64_t ended_us)
{
    account_poll(p, d, began_us, ended_us);
    /* What a failed try cost matters to the neighbours on the bus; a
     * device alone on its bus is backed off by its interval only. */
    int64_t cost_ms = p->device_count > 1 ? (ended_us - began_us) / 1000 : 0;
    schedule_next(d, res != SOURCE_IO, ended_us / 1000, cost_ms);
}

struct device_state *first_due(struct poller *p)
{
    struct device_state *next = &p->devices[0];
    for (size_t i = 1; i < p->device_count; i++)
        if (p->devices[i].next_due_ms < next->next_due_ms)
            next = &p->devices[i];
    return next;
}

struct device_state *device_of(struct poller *p, int config_index)
{
    for (size_t i = 0; i < p->device_count; i++)
        if (p->devices[i].index == config_index)
            return &p->devices[i];
    return NULL;
}

static void *poller_thread(void *arg)
{
    struct poller *p = arg;
    int64_t start = clock_mono_ms();
    p->window_start_us = clock_mono_us();
    for (size_t i = 0; i < p->device_count; i++)
        p->devices[i].next_due_ms = start;
    for (;;) {
        if (stop_signal_park_point(&p->stop))
            break;
        run_commands(p);
        struct device_state *next = first_due(p);
        if (stop_signal_wait_until(&p->stop, next->next_due_ms))
            break;
        /* Woken early (a command, a pause): back to the top, not a poll
         * before its time. */
        if (clock_mono_ms() < next->next_due_ms)
            continue;
        int64_t began = clock_mono_us();
        enum source_result res = poll_device(p, next);
        poll_ended(p, next, res, began, clock_mono_us());
    }
    return NULL;
}

/* The room a poll of the bus's largest device needs. */
int size_buffers(struct poller *p)
{
    size_t most = 0;
    for (size_t i = 0; i < p->device_count; i++)
        if (p->devices[i].point_count > most)
            most = p->devices[i].point_count;
    struct reading *batch = calloc(most + 1, sizeof(*batch));
    struct source_sample *samples = calloc(most + 1, sizeof(*samples));
    if (!batch || !samples) {
        free(batch);
        free(samples);
        return -1;
    }
    free(p->batch);
    free(p->poll.samples);
    p->batch = batch;
    p->poll.samples = samples;
    return 0;
}

int poller_create(const struct gateway_config *cfg, int bus_index, const uint32_t *point_ids,
                  struct ingest_queue *queue, struct gateway_stats *stats, struct poll_loop *loop,
                  struct poller **out)
{
    struct poller *p = calloc(1, sizeof(*p));
    if (!p)
        return -1;
    p->cfg = cfg;
    p->bus = &cfg->buses[bus_index];
    pthread_mutex_init(&p->commands_lock, NULL);
    p->commands_tail = &p->commands;
    p->line = &stats->buses[bus_index];
    p->queue = queue;
    p->stats = stats;
    stop_signal_init(&p->stop);
    for (size_t i = 0; i < cfg->device_count; i++)
        p->device_count += cfg->devices[i].bus_index == bus_index;
    p->devices = calloc(p->device_count + 1, sizeof(*p->devices));
    const struct bus_kind *kind = bus_kind(p->bus->kind);
    p->source = kind->source;
    p->source_bus = p->source->open(p->bus, kind);
    /* Buses that share a line keep a thread: one transaction at a time. */
    p->steps = loop && !kind->shared_line && p->source->steps ? p->source->steps(kind) : NULL;
    p->loop = p->steps ? loop : NULL;
    deadline_init(&p->slot.due);
    p->slot.watched_fd = -1;
    if (!p->devices || !p->source_bus)
        goto fail;
    size_t n = 0;
    for (size_t i = 0; i < cfg->device_count; i++) {
        if (cfg->devices[i].bus_index != bus_index)
            continue;
        if (device_init(p, &p->devices[n++], cfg, (int)i, point_ids) != 0)
            goto fail;
    }
    if (size_buffers(p) != 0)
        goto fail;
    *out = p;
    return 0;
fail:
    log_msg(LOG_ERROR, "bus %s: cannot set up the poller (out of memory or bad serial settings)",
            p->bus->name);
    poller_destroy(p);
    return -1;
}

int poller_poll_once(struct poller *p, const char *device, const struct source_trace *trace)
{
    for (size_t i = 0; i < p->device_count; i++) {
        struct device_state *d = &p->devices[i];
        if (strcmp(d->cfg->name, device) != 0)
            continue;
        p->trace = trace;
        poll_device(p, d);
        p->trace = NULL;
        return 0;
    }
    return -1;
}

int poller_start(struct poller *p)
{
    if (p->started || p->device_count == 0)
        return 0;
    if (p->loop) {
        if (poll_loop_attach(p->loop, p) != 0)
            return -1;
        p->started = true;
        return 0;
    }
    if (pthread_create(&p->thread, NULL, poller_thread, p) != 0)
        return -1;
    p->started = true;
    return 0;
}

void poller_stop(struct poller *p)
{
    if (p && p->loop && p->started)
        poll_loop_detach_begin(p->loop, p);
    else if (p)
        stop_signal_raise(&p->stop);
}

void poller_destroy(struct poller *p)
{
    if (!p)
        return;
    if (p->started && p->loop) {
        poll_loop_detach_begin(p->loop, p);
        poll_loop_detach_wait(p->loop, p);
    } else if (p->started) {
        pthread_join(p->thread, NULL);
    }
    commands_refuse_all(p);
    pthread_mutex_destroy(&p->commands_lock);
    for (size_t i = 0; p->devices && i < p->device_count; i++)
        device_free(p, &p->devices[i]);
    free(p->devices);
    free(p->batch);
    free(p->poll.samples);
    if (p->source_bus)
        p->source->close(p->source_bus);
    stop_signal_destroy(&p->stop);
    free(p);
}
