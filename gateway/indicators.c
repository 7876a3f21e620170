#include "gateway/indicators.h"
#include "indicators/counter.h"
#include "indicators/occupancy.h"
#include "indicators/window.h"
#include "core/log.h"

#include <json-c/json.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Readings reach this stage within a commit interval of their poll; past
 * this the wall clock, not the next reading, closes a window. */
#define CLOSE_GRACE_MS 2000
#define STATE_VERSION 1

struct point_indicator {
    const struct point_config *pc;
    uint32_t id;
    struct counter_limits limits;
    struct count_state count;
    struct count_state day; /* the same counter per local day */
    /* The device's power-on count at the last reading (has_power_on). */
    bool has_power_on;
    uint64_t power_on;
    int64_t poll_ms;  /* the device's poll interval: polls expected */
    size_t emits_max; /* records one reading of this point can complete */
    struct window_state window;
    /* A counter that feeds an occupancy point: which one, +1 in, -1 out. */
    int occupancy, occupancy_sign;
    /* An occupancy point: its level, and the visitors of the poll being
     * collected (in and out arrive as two readings with one timestamp). */
    struct occupancy_state occ;
    bool pending;
    int64_t pending_ts;
    uint64_t pending_in, pending_out;
    uint16_t pending_flags;
    /* publish = change: what was published last. */
    bool published;
    double published_value;
    uint8_t published_quality;
    int64_t published_ts;
    bool dirty;
};

struct indicators {
    struct point_indicator *points;
    size_t point_count;
    int *by_id; /* store id -> index into points, or -1 */
    size_t id_slots;
    int64_t grace_ms;
    struct store_state *changed;
    char **texts; /* the changed states' text, owned */
    size_t n_changed;
};

static bool has_state(const struct point_indicator *p)
{
    return p->pc->kind != KIND_MEASUREMENT || p->pc->window_ms > 0;
}

static struct point_indicator *find(struct indicators *ind, uint32_t id)
{
    return id < ind->id_slots && ind->by_id[id] >= 0 ? &ind->points[ind->by_id[id]] : NULL;
}

/* --- the state as text in the store: JSON, readable with the sqlite3 tool --- */

static void add_int(json_object *o, const char *key, int64_t v)
{
    json_object_object_add(o, key, json_object_new_int64(v));
}

static json_object *count_to_json(const struct count_state *c)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "has_last", json_object_new_boolean(c->has_last));
    json_object_object_add(o, "last", json_object_new_uint64(c->last));
    add_int(o, "last_ts", c->last_ts);
    json_object_object_add(o, "open", json_object_new_boolean(c->open));
    add_int(o, "start", c->start_ms), add_int(o, "end", c->end_ms);
    add_int(o, "from", c->from_ms), add_int(o, "to", c->to_ms);
    json_object_object_add(o, "count", json_object_new_uint64(c->count));
    add_int(o, "polls", c->polls);
    add_int(o, "flags", c->flags);
    add_int(o, "sent_end", c->sent_end_ms);
    return o;
}

/* NULL when absent; json-c's getters read NULL as 0 / false. */
static json_object *field(json_object *o, const char *key)
{
    json_object *v = NULL;
    json_object_object_get_ex(o, key, &v);
    return v;
}

static struct count_state count_from_json(json_object *o)
{
    return (struct count_state){.has_last = json_object_get_boolean(field(o, "has_last")),
                                .last = json_object_get_uint64(field(o, "last")),
                                .last_ts = json_object_get_int64(field(o, "last_ts")),
                                .open = json_object_get_boolean(field(o, "open")),
                                .start_ms = json_object_get_int64(field(o, "start")),
                                .end_ms = json_object_get_int64(field(o, "end")),
                                .from_ms = json_object_get_int64(field(o, "from")),
                                .to_ms = json_object_get_int64(field(o, "to")),
                                .count = json_object_get_uint64(field(o, "count")),
                                .polls = json_object_get_int64(field(o, "polls")),
                                .flags = (uint16_t)json_object_get_int64(field(o, "flags")),
                                .sent_end_ms = json_object_get_int64(field(o, "sent_end"))};
}

static json_object *window_to_json(const struct window_state *w, json_object *o)
{
    json_object_object_add(o, "open", json_object_new_boolean(w->open));
    add_int(o, "start", w->start_ms), add_int(o, "end", w->end_ms);
    add_int(o, "samples", w->samples), add_int(o, "excluded", w->excluded);
    json_object_object_add(o, "sum", json_object_new_double(w->sum));
    json_object_object_add(o, "min", json_object_new_double(w->min));
    json_object_object_add(o, "max", json_object_new_double(w->max));
    json_object_object_add(o, "last", json_object_new_double(w->last));
    add_int(o, "flags", w->flags);
    add_int(o, "sent_end", w->sent_end_ms);
    return o;
}

static struct window_state window_from_json(json_object *o)
{
    return (struct window_state){.open = json_object_get_boolean(field(o, "open")),
                                 .start_ms = json_object_get_int64(field(o, "start")),
                                 .end_ms = json_object_get_int64(field(o, "end")),
                                 .samples = json_object_get_int64(field(o, "samples")),
                                 .excluded = json_object_get_int64(field(o, "excluded")),
                                 .sum = json_object_get_double(field(o, "sum")),
                                 .min = json_object_get_double(field(o, "min")),
                                 .max = json_object_get_double(field(o, "max")),
                                 .last = json_object_get_double(field(o, "last")),
                                 .flags = (uint16_t)json_object_get_int64(field(o, "flags")),
                                 .sent_end_ms = json_object_get_int64(field(o, "sent_end"))};
}

/* The one writer of a point's saved state; state_from_text is its reader.
 * A counter's state is its interval's fields at the top level (as version
 * 1 always had them), its day under "day" and its power-on count. */
static char *state_to_text(const struct point_indicator *p)
{
    json_object *o;
    if (p->pc->kind == KIND_COUNTER) {
        o = count_to_json(&p->count);
        json_object_object_add(o, "day", count_to_json(&p->day));
        if (p->has_power_on)
            json_object_object_add(o, "power_on", json_object_new_uint64(p->power_on));
    } else {
        o = window_to_json(&p->window, json_object_new_object());
        if (p->pc->kind == KIND_OCCUPANCY) {
            add_int(o, "level", p->occ.level);
            add_int(o, "level_ts", p->occ.known ? p->occ.last_ts : -1);
        }
    }
    add_int(o, "version", STATE_VERSION);
    char *text = strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
    json_object_put(o);
    return text;
}

/* Fields added since version 1 (polls, day, power_on) read as absent from
 * an older state: the day then counts on from the interval's last reading. */
static bool state_from_text(struct point_indicator *p, const char *text)
{
    json_object *o = json_tokener_parse(text);
    if (!o || json_object_get_int64(field(o, "version")) != STATE_VERSION) {
        json_object_put(o);
        return false;
    }
    bool is_count = field(o, "has_last") != NULL;
    if (p->pc->kind == KIND_COUNTER && is_count) {
        p->count = count_from_json(o);
        json_object *day = field(o, "day");
        if (day) {
            p->day = count_from_json(day);
        } else {
            p->day = (struct count_state){
                .has_last = p->count.has_last, .last = p->count.last, .last_ts = p->count.last_ts};
        }
        p->has_power_on = field(o, "power_on") != NULL;
        p->power_on = json_object_get_uint64(field(o, "power_on"));
    } else if (p->pc->kind != KIND_COUNTER && !is_count) {
        int64_t level_ts = json_object_get_int64(field(o, "level_ts"));
        if (p->pc->kind == KIND_OCCUPANCY && field(o, "level") && level_ts >= 0)
            p->occ = (struct occupancy_state){.level = json_object_get_int64(field(o, "level")),
                                              .last_ts = level_ts,
                                              .known = true};
        p->window = window_from_json(o);
    }
    json_object_put(o);
    return true;
}

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

/* --- setup --- */

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
            p->limits = counter_limits_default(data_type_width(pc->where.type) * 16);
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

static void free_texts(struct indicators *ind)
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
        free_texts(ind);
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
/* --- the data path --- */

static bool should_publish(struct point_indicator *p, const struct reading *r)
{
    const struct point_config *pc = p->pc;
    if (pc->publish == PUBLISH_NONE)
        return false;
    if (pc->publish == PUBLISH_CHANGE && p->published && r->quality == p->published_quality &&
        fabs(r->value - p->published_value) <= pc->deadband &&
        r->ts_ms - p->published_ts < pc->publish_max_interval_ms)
        return false;
    p->published = true;
    p->published_value = r->value;
    p->published_quality = r->quality;
    p->published_ts = r->ts_ms;
    return true;
}

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
    if (should_publish(p, r))
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
    if (should_publish(p, r))
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
    free_texts(ind);
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
