/* A point's indicator state as the store keeps it: JSON, readable with
 * the sqlite3 tool; written in the same transaction as the records it
 * produced (gateway/pipeline_store.c). */
#include "gateway/indicator_stage_internal.h"

#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

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
char *state_to_text(const struct point_indicator *p)
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
bool state_from_text(struct point_indicator *p, const char *text)
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
