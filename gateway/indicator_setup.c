/* The indicator stage set up from the file: one state per point, loaded
 * from the store; and carried over a reload. */
#include "core/log.h"
#include "gateway/indicator_stage_internal.h"

#include <stdlib.h>

static void load_state(void *ctx, uint32_t id, const char *text)
{
    struct indicators *ind = ctx;
    struct point_indicator *p = find(ind, id);
    if (!p || !has_state(p))
        return; /* a point removed from the config, or no longer aggregated */
    if (!state_from_text(p, text))
        log_msg(LOG_WARNING, "indicators %s/%s: saved state unreadable, starting afresh",
                p->pc->device_name, p->pc->name);
}

/* What one reading of the point can complete in indicators_feed: itself,
 * its interval and day (or window), and the occupancy reading it finishes,
 * which does the same. */
static size_t emits_max(const struct point_indicator *p)
{
    const size_t occupancy = 1 + WINDOW_EMITS_MAX;
    if (p->pc->kind == KIND_COUNTER)
        return 1 + 2 * COUNT_EMITS_MAX + (p->occupancy >= 0 ? occupancy : 0);
    return 1 + (p->pc->window_ms > 0 ? WINDOW_EMITS_MAX : 0);
}

int indicators_create(const struct gateway_config *cfg, const uint32_t *point_ids,
                      struct store *store, struct indicators **out)
{
    struct indicators *ind = calloc(1, sizeof(*ind));
    if (!ind)
        return -1;
    ind->point_count = cfg->point_count;
    ind->grace_ms = CLOSE_GRACE_MS + 2 * cfg->store.commit_interval_ms;
    for (size_t i = 0; i < cfg->point_count; i++)
        if (point_ids[i] >= ind->id_slots)
            ind->id_slots = point_ids[i] + 1;
    ind->points = calloc(cfg->point_count + 1, sizeof(*ind->points));
    ind->by_id = malloc((ind->id_slots + 1) * sizeof(*ind->by_id));
    ind->changed = calloc(cfg->point_count + 1, sizeof(*ind->changed));
    ind->texts = calloc(cfg->point_count + 1, sizeof(*ind->texts));
    if (!ind->points || !ind->by_id || !ind->changed || !ind->texts) {
        indicators_destroy(ind);
        return -1;
    }
    for (size_t i = 0; i < ind->id_slots; i++)
        ind->by_id[i] = -1;
    for (size_t i = 0; i < cfg->point_count; i++) {
        const struct point_config *pc = &cfg->points[i];
        struct point_indicator *p = &ind->points[i];
        p->pc = pc;
        p->id = point_ids[i];
        if (pc->kind == KIND_COUNTER) {
            p->limits = counter_limits_default(config_point_value(pc).bits);
            p->limits.max_step = (uint64_t)pc->counter_max_step;
            p->limits.reset_max = (uint64_t)pc->counter_reset_max;
        }
        p->poll_ms = cfg->devices[pc->device_index].interval_ms;
        ind->by_id[point_ids[i]] = (int)i;
        p->occupancy = -1;
    }
    for (size_t i = 0; i < cfg->point_count; i++) {
        const struct point_config *pc = &cfg->points[i];
        if (pc->kind != KIND_OCCUPANCY)
            continue;
        ind->points[pc->occupancy_in_index].occupancy = (int)i;
        ind->points[pc->occupancy_in_index].occupancy_sign = 1;
        ind->points[pc->occupancy_out_index].occupancy = (int)i;
        ind->points[pc->occupancy_out_index].occupancy_sign = -1;
    }
    for (size_t i = 0; i < cfg->point_count; i++)
        ind->points[i].emits_max = emits_max(&ind->points[i]);
    if (store_each_state(store, load_state, ind) != 0) {
        indicators_destroy(ind);
        return -1;
    }
    *out = ind;
    return 0;
}

void indicators_carry(struct indicators *to, const struct indicators *from, const int *point_from)
{
    for (size_t i = 0; i < to->point_count; i++) {
        int k = point_from[i];
        if (k < 0 || (size_t)k >= from->point_count)
            continue;
        struct point_indicator *p = &to->points[i];
        struct point_indicator keep = *p;
        *p = from->points[k];
        /* What the new file says of the point and where it sits now. */
        p->pc = keep.pc;
        p->id = keep.id;
        p->limits = keep.limits;
        p->poll_ms = keep.poll_ms;
        p->emits_max = keep.emits_max;
        p->occupancy = keep.occupancy;
        p->occupancy_sign = keep.occupancy_sign;
    }
}

void indicator_texts_free(struct indicators *ind)
{
    for (size_t i = 0; i < ind->n_changed; i++)
        free(ind->texts[i]);
    ind->n_changed = 0;
}

void indicators_destroy(struct indicators *ind)
{
    if (!ind)
        return;
    if (ind->texts)
        indicator_texts_free(ind);
    free(ind->points);
    free(ind->by_id);
    free(ind->changed);
    free(ind->texts);
    free(ind);
}

size_t indicators_room(const struct indicators *ind, size_t n)
{
    /* indicators_feed: emits_max per reading; the end of the batch
     * completes at most one occupancy reading per point. close_due: a
     * counter's interval and day, or a window, per point. */
    size_t per_reading = 1;
    for (size_t i = 0; i < ind->point_count; i++)
        if (ind->points[i].emits_max > per_reading)
            per_reading = ind->points[i].emits_max;
    return per_reading * n + (1 + WINDOW_EMITS_MAX + 2 * COUNT_EMITS_MAX) * ind->point_count;
}
