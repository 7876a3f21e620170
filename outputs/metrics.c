/* Names follow Prometheus's conventions: a sensor_gateway_ prefix, base
 * units (seconds, bytes, ratio), counters ending in _total, one family per
 * quantity with labels for what differs (device, bus, outcome). */
/* open_memstream and timegm: the build defines _DEFAULT_SOURCE */
#include "outputs/metrics.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct family {
    const char *name, *type, *help;
};

static json_object *at(json_object *o, const char *key)
{
    json_object *v = NULL;
    return o && json_object_object_get_ex(o, key, &v) ? v : NULL;
}

static void header(FILE *f, const struct family *fam)
{
    fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", fam->name, fam->help, fam->name, fam->type);
}

/* A label value with the three characters the format escapes. */
static void label_value(FILE *f, const char *v)
{
    for (; *v; v++) {
        if (*v == '\\' || *v == '"')
            fprintf(f, "\\%c", *v);
        else if (*v == '\n')
            fputs("\\n", f);
        else
            fputc(*v, f);
    }
}

/* One sample; a JSON null or a missing field writes nothing. */
static void sample(FILE *f, const char *name, const char *label, const char *value_of_label,
                   json_object *v)
{
    if (!v || json_object_is_type(v, json_type_null))
        return;
    fputs(name, f);
    if (label) {
        fprintf(f, "{%s=\"", label);
        label_value(f, value_of_label);
        fputs("\"}", f);
    }
    if (json_object_is_type(v, json_type_double))
        fprintf(f, " %.15g\n", json_object_get_double(v));
    else if (json_object_is_type(v, json_type_boolean))
        fprintf(f, " %d\n", json_object_get_boolean(v) ? 1 : 0);
    else
        fprintf(f, " %lld\n", (long long)json_object_get_int64(v));
}

/* A family of one sample per field of a JSON object, labelled by outcome. */
static void by_outcome(FILE *f, const struct family *fam, json_object *o, const char *const *keys)
{
    header(f, fam);
    for (; *keys; keys++)
        sample(f, fam->name, "outcome", *keys, at(o, *keys));
}

static void scalar(FILE *f, const struct family *fam, json_object *v)
{
    header(f, fam);
    sample(f, fam->name, NULL, NULL, v);
}

/* The health's "ts" as seconds since the epoch: when these figures held. */
static void timestamp(FILE *f, json_object *health)
{
    static const struct family fam = {"sensor_gateway_health_timestamp_seconds", "gauge",
                                      "When the gateway took these figures (its health message)."};
    struct tm tm = {0};
    int ms = 0;
    const char *ts = json_object_get_string(at(health, "ts"));
    if (!ts || sscanf(ts, "%4d-%2d-%2dT%2d:%2d:%2d.%3dZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                      &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &ms) != 7)
        return;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    header(f, &fam);
    fprintf(f, "%s %lld.%03d\n", fam.name, (long long)timegm(&tm), ms);
}

static void gateway_part(FILE *f, json_object *h)
{
    static const struct family info = {"sensor_gateway_info", "gauge",
                                       "The gateway, its version and its store's identity."};
    header(f, &info);
    fputs("sensor_gateway_info{gateway=\"", f);
    label_value(f, json_object_get_string(at(h, "gateway")));
    fputs("\",version=\"", f);
    label_value(f, json_object_get_string(at(h, "version")));
    fputs("\",store=\"", f);
    label_value(f, json_object_get_string(at(at(h, "store"), "id")));
    fputs("\"} 1\n", f);
    timestamp(f, h);
    static const struct family up = {"sensor_gateway_uptime_seconds", "gauge",
                                     "Seconds since the daemon started."},
                               synced = {
                                   "sensor_gateway_clock_synced", "gauge",
                                   "1 when the kernel considers the wall clock synchronised."};
    scalar(f, &up, at(h, "uptime_s"));
    scalar(f, &synced, at(h, "clock_synced"));
}

static void store_part(FILE *f, json_object *s)
{
    static const struct {
        struct family fam;
        const char *key;
    } gauges[] = {
        {{"sensor_gateway_store_depth_readings", "gauge",
          "Readings waiting to be acknowledged by the broker."},
         "depth"},
        {{"sensor_gateway_store_depth_messages", "gauge", "The same, in messages."},
         "depth_messages"},
        {{"sensor_gateway_store_set_aside_readings", "gauge",
          "Readings the broker refused, kept aside."},
         "set_aside_readings"},
        {{"sensor_gateway_store_set_aside_messages", "gauge", "The same, in messages."},
         "set_aside_messages"},
        {{"sensor_gateway_store_oldest_unsent_age_seconds", "gauge",
          "Age of the oldest reading not yet acknowledged (absent when none waits)."},
         "oldest_unsent_age_s"},
        {{"sensor_gateway_store_dropped_readings_total", "counter",
          "Readings the store's bounds dropped, over the store's life."},
         "dropped_total"},
        {{"sensor_gateway_store_next_seq", "gauge", "The sequence number of the next reading."},
         "next_seq"},
    };
    for (size_t i = 0; i < sizeof(gauges) / sizeof(gauges[0]); i++)
        scalar(f, &gauges[i].fam, at(s, gauges[i].key));
}

static void flow_part(FILE *f, json_object *h)
{
    static const struct family readings = {"sensor_gateway_readings_total", "counter",
                                           "Readings by what happened to them."},
                               messages = {"sensor_gateway_messages_total", "counter",
                                           "MQTT messages of readings by what happened to them."},
                               errors = {"sensor_gateway_store_errors_total", "counter",
                                         "Store operations that failed."},
                               connects = {"sensor_gateway_broker_connects_total", "counter",
                                           "Connections to the broker made."},
                               losses = {"sensor_gateway_broker_losses_total", "counter",
                                         "Connections to the broker lost."},
                               commands = {"sensor_gateway_commands_total", "counter",
                                           "Commands to devices by outcome."};
    static const char *const reading_outcomes[] = {"polled",
                                                   "stored",
                                                   "published",
                                                   "acknowledged",
                                                   "refused",
                                                   "dropped_queue_full",
                                                   "dropped_store_bound",
                                                   "dropped_store_full",
                                                   NULL};
    static const char *const message_outcomes[] = {"published", "acknowledged", "refused", NULL};
    static const char *const command_outcomes[] = {"done", "refused", "failed", "expired", NULL};
    by_outcome(f, &readings, at(h, "readings"), reading_outcomes);
    scalar(f, &errors, at(at(h, "readings"), "store_errors"));
    by_outcome(f, &messages, at(h, "messages"), message_outcomes);
    scalar(f, &connects, at(at(h, "broker"), "connects"));
    scalar(f, &losses, at(at(h, "broker"), "reconnects"));
    by_outcome(f, &commands, at(h, "commands"), command_outcomes);
}

/* Reloads of the file, and whether the daemon runs on the file as it now
 * is: the alert a fleet wants after pushing a file (Prometheus's own
 * prometheus_config_last_reload_successful). */
static void config_part(FILE *f, json_object *config)
{
    static const struct family reloads = {"sensor_gateway_config_reloads_total", "counter",
                                          "Reloads of the configuration file by outcome."},
                               last = {"sensor_gateway_config_last_reload_successful", "gauge",
                                       "1 unless the last reload was refused."};
    header(f, &reloads);
    sample(f, reloads.name, "outcome", "applied", at(config, "reloads_applied"));
    sample(f, reloads.name, "outcome", "refused", at(config, "reloads_refused"));
    json_object *l = at(config, "last_reload");
    json_object *ok = json_object_new_boolean(!l || json_object_is_type(l, json_type_null) ||
                                              json_object_get_boolean(at(l, "applied")));
    scalar(f, &last, config ? ok : NULL);
    json_object_put(ok);
}

/* One family per field of the per-device or per-line objects. */
static void per_name(FILE *f, json_object *all, const char *label, const struct family *fam,
                     const char *key)
{
    header(f, fam);
    json_object_object_foreach(all, name, o) sample(f, fam->name, label, name, at(o, key));
}

static void devices_part(FILE *f, json_object *devices)
{
    static const struct family polls = {"sensor_gateway_device_polls_total", "counter",
                                        "Polls of a device by result."};
    header(f, &polls);
    json_object_object_foreach(devices, name, d)
    {
        fputs("sensor_gateway_device_polls_total{device=\"", f);
        label_value(f, name);
        fprintf(f, "\",result=\"ok\"} %lld\n", (long long)json_object_get_int64(at(d, "polls_ok")));
        fputs("sensor_gateway_device_polls_total{device=\"", f);
        label_value(f, name);
        fprintf(f, "\",result=\"failed\"} %lld\n",
                (long long)json_object_get_int64(at(d, "polls_failed")));
    }
}

static void lines_part(FILE *f, json_object *lines)
{
    static const struct {
        struct family fam;
        const char *key;
    } fields[] = {
        {{"sensor_gateway_line_busy_ratio", "gauge",
          "Share of the last minute the gateway held the serial line."},
         "busy_share"},
        {{"sensor_gateway_line_busy_seconds_total", "counter", "Seconds the line was held."},
         "busy_s"},
        {{"sensor_gateway_line_polls_total", "counter", "Polls on the line."}, "polls"},
        {{"sensor_gateway_line_polls_late_total", "counter",
          "Polls that started more than half their interval late."},
         "polls_late"},
        {{"sensor_gateway_line_stray_bytes_total", "counter",
          "Bytes heard on the line that answered no request."},
         "stray_bytes"},
    };
    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
        per_name(f, lines, "bus", &fields[i].fam, fields[i].key);
}

char *metrics_from_health(const char *health_json)
{
    json_object *h = json_tokener_parse(health_json);
    if (!h)
        return NULL;
    char *text = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&text, &size);
    if (f) {
        gateway_part(f, h);
        store_part(f, at(h, "store"));
        flow_part(f, h);
        config_part(f, at(h, "config"));
        devices_part(f, at(h, "devices"));
        lines_part(f, at(h, "lines"));
        if (fclose(f) != 0) {
            free(text);
            text = NULL;
        }
    }
    json_object_put(h);
    return text;
}
