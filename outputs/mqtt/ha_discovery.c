#include "outputs/mqtt/ha_discovery.h"
#include "outputs/mqtt/payload.h"
#include "version.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Home Assistant checks a device class against its unit, so the unit
 * travels with the class: %RH is humidity in Home Assistant's "%".
 * Units not listed (visitors, ppm, °) get no class: a wrong class is worse
 * than none, and the entity still shows value and unit. */
static const struct unit_class {
    const char *unit;
    const char *device_class;
    const char *ha_unit;
} unit_classes[] = {
    {"°C", "temperature", "°C"},  {"%RH", "humidity", "%"},     {"hPa", "pressure", "hPa"},
    {"Pa", "pressure", "Pa"},     {"kPa", "pressure", "kPa"},   {"bar", "pressure", "bar"},
    {"mbar", "pressure", "mbar"}, {"lx", "illuminance", "lx"},  {"W", "power", "W"},
    {"kW", "power", "kW"},        {"Wh", "energy", "Wh"},       {"kWh", "energy", "kWh"},
    {"V", "voltage", "V"},        {"A", "current", "A"},        {"Hz", "frequency", "Hz"},
    {"m", "distance", "m"},       {"m/s", "wind_speed", "m/s"},
};

static const struct unit_class *class_for_unit(const char *unit)
{
    for (size_t i = 0; i < sizeof(unit_classes) / sizeof(unit_classes[0]); i++)
        if (strcmp(unit_classes[i].unit, unit) == 0)
            return &unit_classes[i];
    return NULL;
}

bool ha_entity_exists(const struct point_config *p, enum ha_stream stream)
{
    if (stream == HA_READINGS)
        return p->publish != PUBLISH_NONE;
    return p->kind == KIND_COUNTER || (p->kind == KIND_MEASUREMENT && p->window_ms > 0);
}

static bool is_binary(const struct point_config *p, enum ha_stream stream)
{
    return stream == HA_READINGS && p->kind == KIND_MEASUREMENT && config_point_value(p).binary &&
           !p->derived_from[0];
}

static const char *object_suffix(const struct point_config *p, enum ha_stream stream)
{
    if (stream == HA_READINGS)
        return "";
    return p->kind == KIND_COUNTER ? "_count" : "_avg";
}

static int fits(int n, size_t size)
{
    return n >= 0 && (size_t)n < size ? n : -1;
}

static int object_id(char *buf, size_t size, const struct point_config *p, enum ha_stream stream)
{
    return fits(snprintf(buf, size, "%s_%s%s", p->device_name, p->name, object_suffix(p, stream)),
                size);
}

int ha_discovery_topic(char *buf, size_t size, const struct gateway_config *cfg,
                       const struct point_config *p, enum ha_stream stream)
{
    char id[2 * CFG_NAME_MAX + 16];
    if (object_id(id, sizeof(id), p, stream) < 0)
        return -1;
    return fits(snprintf(buf, size, "%s/%s/%s/%s/config", cfg->mqtt.ha_discovery_prefix,
                         is_binary(p, stream) ? "binary_sensor" : "sensor", cfg->id, id),
                size);
}

/* "15 min", "1 h", "30 s": for entity names. */
static void format_span(char *buf, size_t size, int64_t ms)
{
    if (ms % 3600000 == 0)
        snprintf(buf, size, "%lld h", (long long)(ms / 3600000));
    else if (ms % 60000 == 0)
        snprintf(buf, size, "%lld min", (long long)(ms / 60000));
    else if (ms % 1000 == 0)
        snprintf(buf, size, "%lld s", (long long)(ms / 1000));
    else
        snprintf(buf, size, "%lld ms", (long long)ms);
}

static void add_string(json_object *o, const char *key, const char *value)
{
    json_object_object_add(o, key, json_object_new_string(value));
}

/* Only values the gateway vouches for become a state; anything else
 * renders None, which Home Assistant shows as unknown. The reading's own
 * fields (quality, ts, seq) arrive as attributes through
 * json_attributes_topic. */
static const char *point_template(const struct point_config *p, enum ha_stream stream)
{
    if (is_binary(p, stream))
        return "{{ ('ON' if value_json.value else 'OFF') if value_json.quality == 'good' "
               "else None }}";
    if (stream == HA_READINGS)
        return "{{ value_json.value if value_json.quality == 'good' else None }}";
    if (p->kind == KIND_COUNTER) /* an uncertain count may miss visitors; still a count */
        return "{{ value_json.count if value_json.quality in ('good', 'uncertain') else None }}";
    return "{{ value_json.avg if value_json.quality == 'good' else None }}";
}

/* With layout = device a device's points share its topic: the template
 * picks the point out, and a poll that did not carry it (publish = change)
 * leaves the state as it was. */
static void value_template(char *buf, size_t size, const struct gateway_config *cfg,
                           const struct point_config *p, enum ha_stream stream)
{
    if (stream != HA_READINGS || cfg->mqtt.layout != MQTT_LAYOUT_DEVICE) {
        snprintf(buf, size, "%s", point_template(p, stream));
        return;
    }
    const char *state = is_binary(p, stream) ? "('ON' if v.value else 'OFF')" : "v.value";
    snprintf(buf, size,
             "{%% set v = value_json.points['%s'] | default(none) %%}"
             "{{ this.state if v is none else (%s if v.quality == 'good' else None) }}",
             p->name, state);
}

static void entity_name(char *buf, size_t size, const struct point_config *p, enum ha_stream stream)
{
    char span[32];
    if (stream == HA_READINGS) {
        snprintf(buf, size, "%s", p->name);
    } else if (p->kind == KIND_COUNTER) {
        format_span(span, sizeof(span), p->count_interval_ms);
        snprintf(buf, size, "%s per %s", p->name, span);
    } else {
        format_span(span, sizeof(span), p->window_ms);
        snprintf(buf, size, "%s %s average", p->name, span);
    }
}

/* A cumulative counter only grows; its wraps and resets look to Home
 * Assistant like a meter replaced, which total_increasing handles. */
static const char *state_class(const struct point_config *p, enum ha_stream stream,
                               const struct unit_class *uc)
{
    if (stream == HA_READINGS && p->kind == KIND_COUNTER)
        return "total_increasing";
    if (stream == HA_READINGS && uc && strcmp(uc->device_class, "energy") == 0)
        return "total_increasing";
    return "measurement";
}

static json_object *device_json(const struct gateway_config *cfg, const struct point_config *p)
{
    char id[2 * CFG_NAME_MAX + 2];
    snprintf(id, sizeof(id), "%s_%s", cfg->id, p->device_name);
    json_object *d = json_object_new_object();
    json_object *ids = json_object_new_array();
    json_object_array_add(ids, json_object_new_string(id));
    json_object_object_add(d, "identifiers", ids);
    add_string(d, "name", p->device_name);
    const struct device_config *dc = &cfg->devices[p->device_index];
    add_string(d, "model", dc->model[0] ? dc->model : "Modbus device");
    add_string(d, "sw_version", GW_VERSION);
    if (dc->site[0]) /* Home Assistant files the device under this area */
        add_string(d, "suggested_area", dc->site);
    return d;
}

static void add_state(json_object *root, const struct gateway_config *cfg,
                      const struct point_config *p, enum ha_stream stream)
{
    char topic[TOPIC_MAX], template[CFG_NAME_MAX + 256];
    if (topic_format_data(topic, sizeof(topic), cfg->mqtt.topic_prefix, cfg->id, cfg->mqtt.layout,
                          stream == HA_INDICATOR ? READING_COUNT : READING_RAW, p->device_name,
                          p->name) > 0) {
        add_string(root, "state_topic", topic);
        add_string(root, "json_attributes_topic", topic);
    }
    value_template(template, sizeof(template), cfg, p, stream);
    add_string(root, "value_template", template);
    if (topic_format_status(topic, sizeof(topic), cfg->mqtt.topic_prefix, cfg->id) > 0)
        add_string(root, "availability_topic", topic);
    add_string(root, "payload_available", "online");
    add_string(root, "payload_not_available", "offline");
}

char *ha_discovery_json(const struct gateway_config *cfg, const struct point_config *p,
                        enum ha_stream stream)
{
    json_object *root = json_object_new_object();
    char name[CFG_NAME_MAX + 64];
    entity_name(name, sizeof(name), p, stream);
    add_string(root, "name", name);
    char id[2 * CFG_NAME_MAX + 16], unique[sizeof(id) + CFG_NAME_MAX + 2];
    object_id(id, sizeof(id), p, stream);
    snprintf(unique, sizeof(unique), "%s_%s", cfg->id, id);
    add_string(root, "unique_id", unique);
    add_state(root, cfg, p, stream);
    json_object_object_add(root, "qos", json_object_new_int(cfg->mqtt.qos));
    if (!is_binary(p, stream)) {
        const struct unit_class *uc = class_for_unit(p->unit);
        if (uc && p->kind != KIND_COUNTER)
            add_string(root, "device_class", uc->device_class);
        if (p->unit[0])
            add_string(root, "unit_of_measurement",
                       uc && p->kind != KIND_COUNTER ? uc->ha_unit : p->unit);
        add_string(root, "state_class", state_class(p, stream, uc));
    }
    json_object_object_add(root, "device", device_json(cfg, p));
    json_object *origin = json_object_new_object();
    add_string(origin, "name", "sensor-gateway");
    add_string(origin, "sw_version", GW_VERSION);
    json_object_object_add(root, "origin", origin);

    const char *json = json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN);
    char *copy = json ? strdup(json) : NULL;
    json_object_put(root);
    return copy;
}

/* A point from a profile has no line in the INI file; its device has. */
static int ini_line(const struct gateway_config *cfg, const struct point_config *p)
{
    return p->file ? cfg->devices[p->device_index].line : p->line;
}

struct entity_id {
    char id[2 * CFG_NAME_MAX + 16];
    const struct point_config *point;
};

size_t ha_discovery_check(const struct gateway_config *cfg, struct config_errors *errors)
{
    struct entity_id *ids = calloc(2 * cfg->point_count + 1, sizeof(*ids));
    if (!ids) {
        config_error_add(errors, "%s: out of memory", cfg->ini_path);
        return 1;
    }
    size_t n = 0, clashes = 0;
    for (size_t i = 0; i < cfg->point_count; i++)
        for (int s = HA_READINGS; s <= HA_INDICATOR; s++)
            if (ha_entity_exists(&cfg->points[i], (enum ha_stream)s) &&
                object_id(ids[n].id, sizeof(ids[n].id), &cfg->points[i], (enum ha_stream)s) > 0)
                ids[n++].point = &cfg->points[i];
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < i; j++) {
            if (strcmp(ids[i].id, ids[j].id) != 0)
                continue;
            const struct point_config *a = ids[i].point, *b = ids[j].point;
            config_error_add(errors,
                             "%s:%d: [point %s/%s]: its Home Assistant object id '%s' is also "
                             "that of point %s/%s (line %d); rename one, or set [mqtt] "
                             "ha_discovery = false",
                             cfg->ini_path, ini_line(cfg, a), a->device_name, a->name, ids[i].id,
                             b->device_name, b->name, ini_line(cfg, b));
            clashes++;
        }
    }
    free(ids);
    return clashes;
}
