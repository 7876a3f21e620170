#include "outputs/health.h"
#include "sources/bus_kind.h"
#include "core/clock.h"
#include "core/stats.h"
#include "version.h"

#include <json-c/json.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void add_string(json_object *o, const char *key, const char *value)
{
    json_object_object_add(o, key, json_object_new_string(value));
}

static void add_int(json_object *o, const char *key, int64_t value)
{
    json_object_object_add(o, key, json_object_new_int64(value));
}

static void add_time_or_null(json_object *o, const char *key, int64_t wall_ms)
{
    if (wall_ms <= 0) {
        json_object_object_add(o, key, NULL);
        return;
    }
    char ts[40];
    clock_format_utc(wall_ms, ts, sizeof(ts));
    add_string(o, key, ts);
}

static char *finish(json_object *root)
{
    const char *text = json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN);
    char *copy = text ? strdup(text) : NULL;
    json_object_put(root);
    return copy;
}

static json_object *counters_json(struct gateway_stats *stats)
{
    json_object *r = json_object_new_object();
    add_int(r, "polled", (int64_t)stat_get(&stats->readings_polled));
    add_int(r, "stored", (int64_t)stat_get(&stats->readings_stored));
    add_int(r, "published", (int64_t)stat_get(&stats->readings_published));
    add_int(r, "acknowledged", (int64_t)stat_get(&stats->readings_acknowledged));
    add_int(r, "refused", (int64_t)stat_get(&stats->readings_refused));
    add_int(r, "dropped_queue_full", (int64_t)stat_get(&stats->dropped_queue_full));
    add_int(r, "dropped_store_bound", (int64_t)stat_get(&stats->dropped_store_bound));
    add_int(r, "dropped_store_full", (int64_t)stat_get(&stats->dropped_store_full));
    add_int(r, "store_errors", (int64_t)stat_get(&stats->store_errors));
    return r;
}

/* With layout = device a message carries a poll's readings: the same flow
 * in messages, which is what the broker and the set-aside list count. */
static json_object *messages_json(struct gateway_stats *stats)
{
    json_object *m = json_object_new_object();
    add_int(m, "published", (int64_t)stat_get(&stats->messages_published));
    add_int(m, "acknowledged", (int64_t)stat_get(&stats->messages_acknowledged));
    add_int(m, "refused", (int64_t)stat_get(&stats->messages_refused));
    return m;
}

static json_object *devices_json(const struct gateway_config *cfg, struct gateway_stats *stats)
{
    json_object *all = json_object_new_object();
    for (size_t i = 0; i < cfg->device_count; i++) {
        struct device_stats st;
        stats_device_get(stats, (int)i, &st);
        json_object *d = json_object_new_object();
        add_int(d, "polls_ok", (int64_t)st.polls_ok);
        add_int(d, "polls_failed", (int64_t)st.polls_failed);
        add_time_or_null(d, "last_ok", st.last_ok_ms);
        add_time_or_null(d, "last_error_at", st.last_error_ms);
        if (st.last_error_ms > 0)
            add_string(d, "last_error", st.last_error);
        else
            json_object_object_add(d, "last_error", NULL);
        json_object_object_add(all, cfg->devices[i].name, d);
    }
    return all;
}

/* 0.1, not json-c's 0.10000000000000001: 15 digits when they read back the
 * same double, as in the reading payloads. */
static void add_number(json_object *o, const char *key, double v)
{
    char text[40];
    snprintf(text, sizeof(text), "%.15g", v);
    json_object_object_add(o, key,
                           strtod(text, NULL) == v ? json_object_new_double_s(v, text)
                                                   : json_object_new_double(v));
}

/* Buses whose devices take turns on one line: how full each line is. */
static json_object *lines_json(const struct gateway_config *cfg, struct gateway_stats *stats)
{
    json_object *all = json_object_new_object();
    for (size_t i = 0; i < cfg->bus_count && i < stats->bus_count; i++) {
        if (!bus_kind(cfg->buses[i].kind)->shared_line)
            continue;
        struct bus_stats *b = &stats->buses[i];
        json_object *l = json_object_new_object();
        uint64_t permille = atomic_load_explicit(&b->busy_permille, memory_order_relaxed);
        add_number(l, "busy_share", (double)(permille > 1000 ? 1000 : permille) / 1000.0);
        add_int(l, "busy_s", (int64_t)(stat_get(&b->busy_us) / 1000000));
        add_int(l, "polls", (int64_t)stat_get(&b->polls));
        add_int(l, "polls_late", (int64_t)stat_get(&b->polls_late));
        add_int(l, "stray_bytes", (int64_t)stat_get(&b->stray_bytes));
        json_object_object_add(all, cfg->buses[i].name, l);
    }
    return all;
}

/* Reloads of the file (SIGHUP) and how the last one went: an operator who
 * pushed a file sees here whether the daemon runs on it. */
static json_object *config_json(struct gateway_stats *stats)
{
    json_object *config = json_object_new_object();
    add_int(config, "reloads_applied", (int64_t)stat_get(&stats->reloads_applied));
    add_int(config, "reloads_refused", (int64_t)stat_get(&stats->reloads_refused));
    json_object *last = NULL;
    pthread_mutex_lock(&stats->devices_lock);
    if (stats->last_reload_ms > 0) {
        last = json_object_new_object();
        add_time_or_null(last, "ts", stats->last_reload_ms);
        json_object_object_add(last, "applied",
                               json_object_new_boolean(stats->last_reload_applied));
        add_string(last, "message", stats->last_reload);
    }
    pthread_mutex_unlock(&stats->devices_lock);
    json_object_object_add(config, "last_reload", last);
    return config;
}

char *health_json(const struct gateway_config *cfg, const struct health_inputs *in)
{
    json_object *root = json_object_new_object();
    add_int(root, "schema_version", GW_SCHEMA_VERSION);
    add_time_or_null(root, "ts", in->now_wall_ms);
    add_string(root, "gateway", cfg->id);
    add_string(root, "version", GW_VERSION);
    add_int(root, "uptime_s", in->uptime_ms / 1000);
    json_object_object_add(root, "clock_synced", json_object_new_boolean(in->clock_synced));

    json_object *store = json_object_new_object();
    add_string(store, "id", in->store.identity);
    add_int(store, "depth", in->store.depth);
    add_int(store, "depth_messages", in->store.records);
    add_int(store, "set_aside_readings", in->store.set_aside_readings);
    add_int(store, "set_aside_messages", in->store.set_aside);
    if (in->oldest_unsent_ts_ms >= 0) {
        int64_t age = in->now_wall_ms - in->oldest_unsent_ts_ms;
        add_int(store, "oldest_unsent_age_s", (age > 0 ? age : 0) / 1000);
    } else {
        json_object_object_add(store, "oldest_unsent_age_s", NULL);
    }
    add_int(store, "dropped_total", in->store.dropped_total);
    add_int(store, "next_seq", in->store.next_seq);
    add_int(store, "first_seq", in->store.first_seq);
    json_object_object_add(root, "store", store);

    json_object_object_add(root, "readings", counters_json(in->stats));
    json_object_object_add(root, "messages", messages_json(in->stats));
    json_object *broker = json_object_new_object();
    add_int(broker, "connects", (int64_t)stat_get(&in->stats->broker_connects));
    add_int(broker, "reconnects", (int64_t)stat_get(&in->stats->broker_losses));
    json_object_object_add(root, "broker", broker);
    json_object *commands = json_object_new_object();
    add_int(commands, "done", (int64_t)stat_get(&in->stats->commands_done));
    add_int(commands, "refused", (int64_t)stat_get(&in->stats->commands_refused));
    add_int(commands, "failed", (int64_t)stat_get(&in->stats->commands_failed));
    add_int(commands, "expired", (int64_t)stat_get(&in->stats->commands_expired));
    json_object_object_add(root, "commands", commands);
    json_object_object_add(root, "config", config_json(in->stats));
    json_object_object_add(root, "lines", lines_json(cfg, in->stats));
    json_object_object_add(root, "devices", devices_json(cfg, in->stats));
    return finish(root);
}

static json_object *point_json(const struct point_config *pc)
{
    json_object *p = json_object_new_object();
    add_string(p, "name", pc->name);
    add_string(p, "unit", pc->unit);
    add_string(p, "kind", point_kind_names[pc->kind]);
    bool reads = pc->kind != KIND_OCCUPANCY && !pc->derived_from[0];
    struct source_field place[SOURCE_FIELDS_MAX];
    size_t n = reads && pc->source ? pc->source->describe(&pc->where, place) : 0;
    for (size_t i = 0; i < n; i++) /* where its source reads it, in the source's words */
        if (place[i].text)
            add_string(p, place[i].name, place[i].text);
        else
            add_int(p, place[i].name, place[i].number);
    if (pc->derived_from[0])
        add_string(p, "source", pc->derived_from);
    add_number(p, "scale", pc->scale);
    add_number(p, "offset", pc->offset);
    add_string(p, "publish", publish_mode_names[pc->publish]);
    if (pc->publish == PUBLISH_CHANGE) {
        add_number(p, "deadband", pc->deadband);
        add_int(p, "publish_max_interval_ms", pc->publish_max_interval_ms);
    }
    if (pc->kind == KIND_COUNTER) {
        add_int(p, "count_interval_ms", pc->count_interval_ms);
        json_object_object_add(p, "day_total", json_object_new_boolean(pc->day_total));
        if (pc->power_on_counter[0])
            add_string(p, "power_on_counter", pc->power_on_counter);
    }
    if (pc->kind == KIND_OCCUPANCY) {
        add_string(p, "occupancy_in", pc->occupancy_in);
        add_string(p, "occupancy_out", pc->occupancy_out);
        char reset[32];
        snprintf(reset, sizeof(reset), "%02d:%02d", pc->occupancy_reset_minute / 60,
                 pc->occupancy_reset_minute % 60);
        add_string(p, "occupancy_reset", reset);
    }
    if (pc->window_ms > 0)
        add_int(p, "window_ms", pc->window_ms);
    if (isfinite(pc->valid_min))
        add_number(p, "valid_min", pc->valid_min);
    if (isfinite(pc->valid_max))
        add_number(p, "valid_max", pc->valid_max);
    if (pc->stale_after_ms > 0)
        add_int(p, "stale_after_ms", pc->stale_after_ms);
    return p;
}

/* Where the device stands, as the operator described it; NULL when the
 * file says nothing about it. */
static json_object *site_json(const struct device_config *dc)
{
    bool located = !isnan(dc->latitude);
    if (!dc->site[0] && !dc->site_description[0] && !located && !dc->direction_in[0])
        return NULL;
    json_object *s = json_object_new_object();
    const struct {
        const char *key, *value;
    } texts[] = {{"name", dc->site},
                 {"description", dc->site_description},
                 {"direction_in", dc->direction_in}};
    for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++)
        if (texts[i].value[0])
            add_string(s, texts[i].key, texts[i].value);
    if (located) {
        add_number(s, "latitude", dc->latitude);
        add_number(s, "longitude", dc->longitude);
    }
    return s;
}

char *device_meta_json(const struct gateway_config *cfg, int device_index)
{
    const struct device_config *dc = &cfg->devices[device_index];
    const struct bus_config *bus = &cfg->buses[dc->bus_index];
    json_object *root = json_object_new_object();
    add_int(root, "schema_version", GW_SCHEMA_VERSION);
    add_string(root, "gateway", cfg->id);
    add_string(root, "device", dc->name);
    add_string(root, "bus", bus->name);
    add_string(root, "transport", bus_kind(bus->kind)->transport);
    add_int(root, "unit_id", dc->unit_id);
    add_int(root, "interval_ms", dc->interval_ms);
    if (dc->profile[0]) {
        add_string(root, "profile", dc->profile);
        add_string(root, "model", dc->model);
    }
    json_object *site = site_json(dc);
    if (site)
        json_object_object_add(root, "site", site);
    json_object *points = json_object_new_array();
    for (size_t i = 0; i < cfg->point_count; i++) {
        if (cfg->points[i].device_index == device_index)
            json_object_array_add(points, point_json(&cfg->points[i]));
    }
    json_object_object_add(root, "points", points);
    return finish(root);
}
