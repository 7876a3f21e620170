/* The indicator stage's data path: readings in, in poll order; out the
 * raw readings each point publishes and the counts, day totals, windows
 * and occupancy readings they complete. */
#include "gateway/indicator_stage_internal.h"

#include <stdlib.h>

/* The polls the device's interval makes in [start, end): what a
 * consumer needs to tell zero visitors from missing data. */
static int64_t polls_expected(const struct point_indicator *p, const struct reading *r)
{
    int64_t span = r->ts_ms - r->start_ms;
    if (p->poll_ms <= 0 || span <= 0)
        return 0;
    int64_t n = (span + p->poll_ms / 2) / p->poll_ms;
    return n > 0 ? n : 1;
}

/* Names the point in records the stage completed; kind overrides the
 * kind the state machine wrote (a day's count is a count). */
static size_t stamp(const struct point_indicator *p, struct reading *out, size_t n, int kind)
{
    for (size_t i = 0; i < n; i++) {
        out[i].point_id = p->id;
        out[i].kind = (uint8_t)kind;
        out[i].expected = polls_expected(p, &out[i]);
    }
    return n;
}

/* The stage is built bottom-up, without a cycle: a measurement (or an
 * occupancy reading) passes its window and publish mode; a counter passes
 * its counts, feeds its occupancy point (which may complete that point's
 * previous reading, a measurement), and its publish mode. */

/* A measurement's reading, or an occupancy point's: its window, then the
 * reading itself if its publish mode sends it. */
static size_t pass_measurement(struct point_indicator *p, const struct reading *r,
                               struct reading *out)
{
    const struct point_config *pc = p->pc;
    size_t k = 0;
    if (pc->window_ms > 0) {
        k = stamp(p, out,
                  window_feed(&p->window, pc->window_ms, r->ts_ms, r->value, r->quality, out),
                  READING_WINDOW);
        p->window.flags |= r->flags & FLAG_CLOCK_UNSYNCED;
        p->dirty = true;
    }
    if (publish_filter_pass(&p->publish, p->pc, r))
        out[k++] = *r;
    return k;
}

/* The occupancy reading of the poll collected so far, through the same
 * path as a polled measurement (windows, publish mode). */
static size_t flush_occupancy(struct point_indicator *o, struct reading *out)
{
    if (!o->pending)
        return 0;
    o->pending = false;
    occupancy_step(&o->occ, o->pc->occupancy_reset_minute, o->pending_ts, o->pending_in,
                   o->pending_out);
    o->dirty = true;
    struct reading r = {.ts_ms = o->pending_ts,
                        .value = (double)o->occ.level,
                        .point_id = o->id,
                        .flags = o->pending_flags,
                        .quality = QUALITY_GOOD};
    return pass_measurement(o, &r, out);
}

/* A counter's increment goes to the occupancy point it feeds; a reading at
 * a new time first completes the previous poll's occupancy reading. */
static size_t feed_occupancy(struct indicators *ind, const struct point_indicator *counter,
                             const struct reading *r, uint64_t added, struct reading *out)
{
    if (counter->occupancy < 0)
        return 0;
    struct point_indicator *o = &ind->points[counter->occupancy];
    size_t k = o->pending && o->pending_ts != r->ts_ms ? flush_occupancy(o, out) : 0;
    if (!o->pending)
        o->pending_in = o->pending_out = 0, o->pending_flags = 0;
    o->pending = true;
    o->pending_ts = r->ts_ms;
    o->pending_flags |= r->flags & FLAG_CLOCK_UNSYNCED;
    *(counter->occupancy_sign > 0 ? &o->pending_in : &o->pending_out) += added;
    return k;
}

/* What the device's power-on counter, read in the same poll as r (poll:
 * the readings with r's time), says about the time since the counter's
 * last reading. */
static enum restart_hint restart_hint(struct indicators *ind, struct point_indicator *p,
                                      const struct reading *r, const struct reading *poll,
                                      size_t poll_n)
{
    int index = p->pc->power_on_index;
    if (index < 0)
        return RESTART_UNKNOWN;
    uint32_t id = ind->points[index].id;
    for (size_t i = 0; i < poll_n; i++) {
        const struct reading *c = &poll[i];
        if (c->point_id != id || c->ts_ms != r->ts_ms || !quality_is_usable(c->quality))
            continue;
        uint64_t now = (uint64_t)c->value;
        bool known = p->has_power_on;
        bool changed = known && now != p->power_on;
        p->has_power_on = true;
        p->power_on = now;
        return !known ? RESTART_UNKNOWN : changed ? RESTART_SEEN : RESTART_NONE;
    }
    return RESTART_UNKNOWN;
}

/* A counter's reading: its interval and its day (a good reading only),
 * its occupancy point, then the reading itself if its publish mode sends
 * it. poll: the readings r came with, for the power-on count. */
static size_t pass_counter(struct indicators *ind, struct point_indicator *p,
                           const struct reading *r, const struct reading *poll, size_t poll_n,
                           struct reading *out)
{
    const struct point_config *pc = p->pc;
    size_t k = 0;
    if (quality_is_usable(r->quality) && r->value >= 0) {
        enum restart_hint restart = restart_hint(ind, p, r, poll, poll_n);
        uint16_t unsynced = r->flags & FLAG_CLOCK_UNSYNCED;
        uint64_t now = (uint64_t)r->value, added = 0;
        k = stamp(p, out,
                  count_feed(&p->count, &p->limits, pc->count_interval_ms, r->ts_ms, now, restart,
                             out, &added),
                  READING_COUNT);
        p->count.flags |= unsynced;
        if (pc->day_total) {
            k += stamp(p, out + k,
                       count_feed(&p->day, &p->limits, INTERVAL_DAY_MS, r->ts_ms, now, restart,
                                  out + k, NULL),
                       READING_DAY);
            p->day.flags |= unsynced;
        }
        p->dirty = true;
        k += feed_occupancy(ind, p, r, added, out + k);
    }
    if (publish_filter_pass(&p->publish, p->pc, r))
        out[k++] = *r;
    return k;
}

size_t indicators_feed(struct indicators *ind, const struct reading *in, size_t n,
                       struct reading *out)
{
    size_t k = 0, poll = 0, poll_end = 0;
    for (size_t i = 0; i < n; i++) {
        /* The readings of one poll are next to each other with one time:
         * a counter looks for its power-on count among them only, so a
         * large batch costs no more per reading than a small one. */
        if (i >= poll_end) {
            poll = i;
            for (poll_end = i + 1; poll_end < n && in[poll_end].ts_ms == in[i].ts_ms;)
                poll_end++;
        }
        struct point_indicator *p = find(ind, in[i].point_id);
        if (!p)
            out[k++] = in[i];
        else if (p->pc->kind == KIND_COUNTER)
            k += pass_counter(ind, p, &in[i], in + poll, poll_end - poll, &out[k]);
        else
            k += pass_measurement(p, &in[i], &out[k]);
    }
    /* A poll's readings arrive together: its occupancy is complete here. */
    for (size_t i = 0; i < ind->point_count; i++)
        k += flush_occupancy(&ind->points[i], &out[k]);
    return k;
}

size_t indicators_close_due(struct indicators *ind, int64_t now_wall_ms, struct reading *out)
{
    size_t k = 0;
    int64_t grace = ind->grace_ms;
    for (size_t i = 0; i < ind->point_count; i++) {
        struct point_indicator *p = &ind->points[i];
        const struct point_config *pc = p->pc;
        size_t before = k;
        if (pc->kind == KIND_COUNTER) {
            k += stamp(
                p, out + k,
                count_close_due(&p->count, pc->count_interval_ms, now_wall_ms, grace, out + k),
                READING_COUNT);
            if (pc->day_total)
                k += stamp(p, out + k,
                           count_close_due(&p->day, INTERVAL_DAY_MS, now_wall_ms, grace, out + k),
                           READING_DAY);
        } else if (pc->window_ms > 0) {
            k += stamp(p, out + k,
                       window_close_due(&p->window, pc->window_ms, now_wall_ms, grace, out + k),
                       READING_WINDOW);
        }
        if (k > before)
            p->dirty = true;
    }
    return k;
}

bool indicators_any_changed(const struct indicators *ind)
{
    for (size_t i = 0; i < ind->point_count; i++)
        if (ind->points[i].dirty && has_state(&ind->points[i]))
            return true;
    return false;
}

size_t indicators_changed_states(struct indicators *ind, const struct store_state **out)
{
    indicator_texts_free(ind);
    for (size_t i = 0; i < ind->point_count; i++) {
        struct point_indicator *p = &ind->points[i];
        if (!p->dirty || !has_state(p))
            continue;
        char *text = state_to_text(p);
        if (!text)
            continue; /* out of memory: stays dirty, saved next time */
        ind->texts[ind->n_changed] = text;
        ind->changed[ind->n_changed++] = (struct store_state){p->id, text};
    }
    *out = ind->changed;
    return ind->n_changed;
}

void indicators_states_saved(struct indicators *ind)
{
    /* Only the states that went into the batch: one that could not be
     * written out (out of memory) stays dirty for the next commit. */
    for (size_t i = 0; i < ind->n_changed; i++)
        find(ind, ind->changed[i].point_id)->dirty = false;
}
