/* The INI vocabulary: one table per section kind mapping each key onto a
 * field of config.h's structs, and the parsing of one value into its field.
 * config_load.c walks the file; this file knows what the keys mean. */
#include "config/config_keys.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const parity_names[] = {"none", "even", "odd", NULL};
const char *const sync_names[] = {"normal", "full", NULL};
/* In libmodbus's order: MODBUS_RTU_RTS_NONE, _UP, _DOWN. */
const char *const rts_names[] = {"none", "up", "down", NULL};
const char *const log_level_names[] = {"error", "warning", "info", "debug", NULL};
const char *const point_kind_names[] = {"measurement", "counter", "occupancy", NULL};
const char *const publish_mode_names[] = {"every", "change", "none", NULL};
const char *const mqtt_protocol_names[] = {"5", "3.1.1", NULL};
const char *const mqtt_layout_names[] = {"device", "point", NULL};

#define FIELD(type, member) offsetof(type, member), sizeof(((type *)0)->member)

static const struct key_spec gateway_keys[] = {
    {"id", K_NAME, FIELD(struct gateway_config, id), 0, 0, NULL, true, NULL},
    {"log_level", K_CHOICE, FIELD(struct gateway_config, log_level), 0, 0, log_level_names, false,
     "info"},
    {"health_interval", K_DURATION, FIELD(struct gateway_config, health_interval_ms), 1000, DAY_MS,
     NULL, false, "60s"},
    {"ingest_capacity", K_INT, FIELD(struct gateway_config, ingest_capacity), 64, 1 << 22, NULL,
     false, "65536"},
    {"status_file", K_TEXT, FIELD(struct gateway_config, status_file), 0, 0, NULL, false, NULL},
    {"metrics_file", K_TEXT, FIELD(struct gateway_config, metrics_file), 0, 0, NULL, false, NULL},
    {"timezone", K_TEXT, FIELD(struct gateway_config, timezone), 0, 0, NULL, false, NULL},
};

static const struct key_spec mqtt_keys[] = {
    {"uri", K_URIS, 0, 0, 0, 0, NULL, true, NULL},
    {"client_id", K_PLAIN, FIELD(struct mqtt_config, client_id), 0, 0, NULL, false, NULL},
    {"username", K_TEXT, FIELD(struct mqtt_config, username), 0, 0, NULL, false, NULL},
    {"password", K_TEXT, FIELD(struct mqtt_config, password), 0, 0, NULL, false, NULL},
    {"password_file", K_TEXT, FIELD(struct mqtt_config, password_file), 0, 0, NULL, false, NULL},
    {"topic_prefix", K_PREFIX, FIELD(struct mqtt_config, topic_prefix), 0, 0, NULL, false,
     "smartregion"},
    {"qos", K_INT, FIELD(struct mqtt_config, qos), 0, 2, NULL, false, "1"},
    {"protocol", K_CHOICE, FIELD(struct mqtt_config, protocol), 0, 0, mqtt_protocol_names, false,
     NULL},
    {"layout", K_CHOICE, FIELD(struct mqtt_config, layout), 0, 0, mqtt_layout_names, false, NULL},
    {"keepalive", K_DURATION, FIELD(struct mqtt_config, keepalive_ms), 1000, 3600 * 1000, NULL,
     false, "30s"},
    {"connect_timeout", K_DURATION, FIELD(struct mqtt_config, connect_timeout_ms), 1000, 600 * 1000,
     NULL, false, "10s"},
    {"reconnect_min", K_DURATION, FIELD(struct mqtt_config, reconnect_min_ms), 100, 3600 * 1000,
     NULL, false, "1s"},
    {"reconnect_max", K_DURATION, FIELD(struct mqtt_config, reconnect_max_ms), 100, 3600 * 1000,
     NULL, false, "60s"},
    {"max_inflight", K_INT, FIELD(struct mqtt_config, max_inflight), 1, 65535, NULL, false, "256"},
    {"tls_ca_file", K_TEXT, FIELD(struct mqtt_config, tls_ca_file), 0, 0, NULL, false, NULL},
    {"tls_cert_file", K_TEXT, FIELD(struct mqtt_config, tls_cert_file), 0, 0, NULL, false, NULL},
    {"tls_key_file", K_TEXT, FIELD(struct mqtt_config, tls_key_file), 0, 0, NULL, false, NULL},
    {"tls_verify", K_BOOL, FIELD(struct mqtt_config, tls_verify), 0, 0, NULL, false, "true"},
    {"ha_discovery", K_BOOL, FIELD(struct mqtt_config, ha_discovery), 0, 0, NULL, false, NULL},
    {"ha_discovery_prefix", K_PREFIX, FIELD(struct mqtt_config, ha_discovery_prefix), 0, 0, NULL,
     false, "homeassistant"},
};

static const struct key_spec store_keys[] = {
    {"path", K_TEXT, FIELD(struct store_config, path), 0, 0, NULL, true, NULL},
    {"commit_interval", K_DURATION, FIELD(struct store_config, commit_interval_ms), 10, 60 * 1000,
     NULL, false, "1s"},
    {"max_readings", K_INT, FIELD(struct store_config, max_readings), 1000, 1000000000LL, NULL,
     false, "5000000"},
    {"max_age", K_DURATION, FIELD(struct store_config, max_age_ms), 60 * 1000, 3650 * DAY_MS, NULL,
     false, "30d"},
    {"max_size", K_SIZE, FIELD(struct store_config, max_size_bytes), 128 * 1024, 1LL << 40, NULL,
     false, "1GiB"},
    {"sync", K_CHOICE, FIELD(struct store_config, sync), 0, 0, sync_names, false, "full"},
};

static const struct key_spec commands_keys[] = {
    {"enabled", K_BOOL, FIELD(struct commands_config, enabled), 0, 0, NULL, false, NULL},
    {"max_age", K_DURATION, FIELD(struct commands_config, max_age_ms), 1000, 3600 * 1000, NULL,
     false, "30s"},
    {"remember", K_DURATION, FIELD(struct commands_config, remember_ms), 1000, DAY_MS, NULL, false,
     "10m"},
};

static const struct key_spec bus_keys[] = {
    {"type", K_CHOICE, FIELD(struct bus_config, kind), 0, 0, bus_kind_names, true, NULL},
    {"host", K_TEXT, FIELD(struct bus_config, host), 0, 0, NULL, false, NULL},
    {"port", K_INT, FIELD(struct bus_config, port), 1, 65535, NULL, false, "502"},
    {"device", K_TEXT, FIELD(struct bus_config, device), 0, 0, NULL, false, NULL},
    {"baud", K_INT, FIELD(struct bus_config, baud), 300, 4000000, NULL, false, "9600"},
    {"parity", K_CHOICE, FIELD(struct bus_config, parity), 0, 0, parity_names, false, NULL},
    {"data_bits", K_INT, FIELD(struct bus_config, data_bits), 5, 8, NULL, false, "8"},
    {"stop_bits", K_INT, FIELD(struct bus_config, stop_bits), 1, 2, NULL, false, "1"},
    {"pause_between_requests", K_DURATION, FIELD(struct bus_config, pause_between_requests_ms), 0,
     10 * 1000, NULL, false, NULL},
    {"echo", K_BOOL, FIELD(struct bus_config, echo), 0, 0, NULL, false, NULL},
    {"kernel_rs485", K_BOOL, FIELD(struct bus_config, kernel_rs485), 0, 0, NULL, false, NULL},
    {"rts", K_CHOICE, FIELD(struct bus_config, rts), 0, 0, rts_names, false, NULL},
};

/* Keys a device section and a profile's [profile] section share: the
 * device's quirks, and the serial settings it speaks (in a device section:
 * when reconfigured from its profile's factory settings; checked against
 * the bus either way). */
#define DEVICE_QUIRK_KEYS                                                                           \
    {"response_timeout",                                                                            \
     K_DURATION,                                                                                    \
     FIELD(struct device_config, response_timeout_ms),                                              \
     10,                                                                                            \
     60 * 1000,                                                                                     \
     NULL,                                                                                          \
     false,                                                                                         \
     "1s"},                                                                                         \
        {"max_registers", K_INT, FIELD(struct device_config, max_registers), 1, 125, NULL,          \
         false,           "125"},                                                                   \
        {"max_gap", K_INT, FIELD(struct device_config, max_gap), 0, 125, NULL, false, "8"},         \
        {"single_requests",                                                                         \
         K_BOOL,                                                                                    \
         FIELD(struct device_config, single_requests),                                              \
         0,                                                                                         \
         0,                                                                                         \
         NULL,                                                                                      \
         false,                                                                                     \
         NULL},                                                                                     \
        {"pause_between_requests",                                                                  \
         K_DURATION,                                                                                \
         FIELD(struct device_config, pause_between_requests_ms),                                    \
         0,                                                                                         \
         10 * 1000,                                                                                 \
         NULL,                                                                                      \
         false,                                                                                     \
         NULL},                                                                                     \
        {"pause_after_connect",                                                                     \
         K_DURATION,                                                                                \
         FIELD(struct device_config, pause_after_connect_ms),                                       \
         0,                                                                                         \
         60 * 1000,                                                                                 \
         NULL,                                                                                      \
         false,                                                                                     \
         NULL},                                                                                     \
        {"quiet_after_reply",                                                                       \
         K_DURATION,                                                                                \
         FIELD(struct device_config, quiet_after_reply_ms),                                         \
         0,                                                                                         \
         1000,                                                                                      \
         NULL,                                                                                      \
         false,                                                                                     \
         NULL},                                                                                     \
        {"baud", K_INT, FIELD(struct device_config, serial_baud), 300, 4000000, NULL, false, NULL}, \
        {"parity", K_CHOICE, FIELD(struct device_config, serial_parity), 0, 0, parity_names,        \
         false,    NULL},                                                                           \
    {                                                                                               \
        "stop_bits", K_INT, FIELD(struct device_config, serial_stop_bits), 1, 2, NULL, false, NULL  \
    }

static const struct key_spec device_keys[] = {
    {"bus", K_NAME, FIELD(struct device_config, bus_name), 0, 0, NULL, true, NULL},
    {"unit_id", K_INT, FIELD(struct device_config, unit_id), 0, 255, NULL, false, NULL},
    {"interval", K_DURATION, FIELD(struct device_config, interval_ms), 10, DAY_MS, NULL, true,
     NULL},
    {"backoff_max", K_DURATION, FIELD(struct device_config, backoff_max_ms), 100, DAY_MS, NULL,
     false, "60s"},
    {"profile", K_NAME, FIELD(struct device_config, profile), 0, 0, NULL, false, NULL},
    {"site", K_PLAIN, FIELD(struct device_config, site), 0, 0, NULL, false, NULL},
    {"site_description", K_PLAIN, FIELD(struct device_config, site_description), 0, 0, NULL, false,
     NULL},
    {"latitude", K_REAL, FIELD(struct device_config, latitude), 0, 0, NULL, false, NULL},
    {"longitude", K_REAL, FIELD(struct device_config, longitude), 0, 0, NULL, false, NULL},
    {"direction_in", K_PLAIN, FIELD(struct device_config, direction_in), 0, 0, NULL, false, NULL},
    {"count_interval", K_DURATION, FIELD(struct device_config, count_interval_ms), 1000, DAY_MS,
     NULL, false, NULL},
    {"window", K_DURATION, FIELD(struct device_config, window_ms), 1000, DAY_MS, NULL, false, NULL},
    DEVICE_QUIRK_KEYS,
};

/* A profile's [profile] section: what the device is, its factory unit id,
 * and the keys above, which a device section may still override. */
static const struct key_spec profile_keys[] = {
    {"description", K_PLAIN, FIELD(struct device_config, model), 0, 0, NULL, true, NULL},
    {"unit_id", K_INT, FIELD(struct device_config, unit_id), 0, 255, NULL, false, NULL},
    DEVICE_QUIRK_KEYS,
};

/* Where a point's value is read (Modbus: function, address, type,
 * word_order, write_function) are its source's keys (sources/source.h). */
static const struct key_spec point_keys[] = {
    {"scale", K_REAL, FIELD(struct point_config, scale), 0, 0, NULL, false, "1"},
    {"offset", K_REAL, FIELD(struct point_config, offset), 0, 0, NULL, false, NULL},
    {"unit", K_PLAIN, FIELD(struct point_config, unit), 0, 0, NULL, false, NULL},
    {"kind", K_CHOICE, FIELD(struct point_config, kind), 0, 0, point_kind_names, false, NULL},
    {"invalid_values", K_REAL_LIST, FIELD(struct point_config, invalid_values), 0,
     CFG_MAX_INVALID_VALUES, NULL, false, NULL},
    {"valid_min", K_REAL, FIELD(struct point_config, valid_min), 0, 0, NULL, false, NULL},
    {"valid_max", K_REAL, FIELD(struct point_config, valid_max), 0, 0, NULL, false, NULL},
    {"stale_after", K_DURATION, FIELD(struct point_config, stale_after_ms), 1000, 3650 * DAY_MS,
     NULL, false, NULL},
    {"publish", K_CHOICE, FIELD(struct point_config, publish), 0, 0, publish_mode_names, false,
     NULL},
    {"deadband", K_REAL, FIELD(struct point_config, deadband), 0, 0, NULL, false, NULL},
    {"publish_max_interval", K_DURATION, FIELD(struct point_config, publish_max_interval_ms), 1000,
     DAY_MS, NULL, false, "15m"},
    {"window", K_DURATION, FIELD(struct point_config, window_ms), 1000, DAY_MS, NULL, false, NULL},
    {"count_interval", K_DURATION, FIELD(struct point_config, count_interval_ms), 1000, DAY_MS,
     NULL, false, NULL},
    {"counter_max_step", K_INT, FIELD(struct point_config, counter_max_step), 1, INT64_MAX, NULL,
     false, NULL},
    {"counter_reset_max", K_INT, FIELD(struct point_config, counter_reset_max), 0, INT64_MAX, NULL,
     false, NULL},
    {"day_total", K_BOOL, FIELD(struct point_config, day_total), 0, 0, NULL, false, "true"},
    {"power_on_counter", K_NAME, FIELD(struct point_config, power_on_counter), 0, 0, NULL, false,
     NULL},
    {"source", K_NAME, FIELD(struct point_config, derived_from), 0, 0, NULL, false, NULL},
    {"decimals_from", K_NAME, FIELD(struct point_config, decimals_from), 0, 0, NULL, false, NULL},
    {"occupancy_in", K_NAME, FIELD(struct point_config, occupancy_in), 0, 0, NULL, false, NULL},
    {"occupancy_out", K_NAME, FIELD(struct point_config, occupancy_out), 0, 0, NULL, false, NULL},
    {"occupancy_reset", K_TEXT, FIELD(struct point_config, occupancy_reset), 0, 0, NULL, false,
     NULL},
    {"writable", K_BOOL, FIELD(struct point_config, writable), 0, 0, NULL, false, NULL},
    {"write_min", K_REAL, FIELD(struct point_config, write_min), 0, 0, NULL, false, NULL},
    {"write_max", K_REAL, FIELD(struct point_config, write_max), 0, 0, NULL, false, NULL},
    {"read_back", K_BOOL, FIELD(struct point_config, read_back), 0, 0, NULL, false, "true"},
};

const struct key_table gateway_key_table = {gateway_keys,
                                            sizeof(gateway_keys) / sizeof(gateway_keys[0])};
const struct key_table mqtt_key_table = {mqtt_keys, sizeof(mqtt_keys) / sizeof(mqtt_keys[0])};
const struct key_table store_key_table = {store_keys, sizeof(store_keys) / sizeof(store_keys[0])};
const struct key_table commands_key_table = {commands_keys,
                                             sizeof(commands_keys) / sizeof(commands_keys[0])};
const struct key_table bus_key_table = {bus_keys, sizeof(bus_keys) / sizeof(bus_keys[0])};
const struct key_table device_key_table = {device_keys,
                                           sizeof(device_keys) / sizeof(device_keys[0])};
const struct key_table profile_key_table = {profile_keys,
                                            sizeof(profile_keys) / sizeof(profile_keys[0])};
const struct key_table point_key_table = {point_keys, sizeof(point_keys) / sizeof(point_keys[0])};

size_t key_index(const struct key_table *t, const char *key)
{
    size_t i = 0;
    while (i < t->count && strcmp(t->keys[i].key, key) != 0)
        i++;
    return i;
}

static int parse_uris(struct mqtt_config *m, const char *value, value_reason why)
{
    char copy[CFG_MAX_URIS * CFG_TEXT_MAX];
    if (copy_text(copy, sizeof(copy), value, why) != 0)
        return -1;
    m->uri_count = 0;
    char *save = NULL;
    for (char *u = strtok_r(copy, ", ", &save); u; u = strtok_r(NULL, ", ", &save)) {
        if (m->uri_count == CFG_MAX_URIS) {
            snprintf(why, sizeof(value_reason), "at most %d broker URIs", CFG_MAX_URIS);
            return -1;
        }
        if (strncmp(u, "tcp://", 6) != 0 && strncmp(u, "ssl://", 6) != 0 &&
            strncmp(u, "mqtt://", 7) != 0 && strncmp(u, "mqtts://", 8) != 0) {
            snprintf(why, sizeof(value_reason),
                     "'%s' must start with tcp://, mqtt://, ssl:// or mqtts://", u);
            return -1;
        }
        if (copy_text(m->uris[m->uri_count++], CFG_TEXT_MAX, u, why) != 0)
            return -1;
    }
    if (m->uri_count == 0) {
        snprintf(why, sizeof(value_reason), "give at least one broker URI");
        return -1;
    }
    return 0;
}

int key_store_value(const struct key_spec *k, void *section, const char *value, value_reason why)
{
    char *field = (char *)section + k->offset;
    long long n;
    int64_t ms;
    switch (k->kind) {
    case K_TEXT:
        return copy_text(field, k->size, value, why);
    case K_NAME:
        if (check_topic_name(value, k->size - 1, why) != 0)
            return -1;
        return copy_text(field, k->size, value, why);
    case K_PLAIN:
        if (check_plain_text(value, k->size, why) != 0)
            return -1;
        return copy_text(field, k->size, value, why);
    case K_PREFIX:
        if (check_topic_prefix(value, why) != 0)
            return -1;
        return copy_text(field, k->size, value, why);
    case K_INT:
        if (parse_integer(value, k->min, k->max, &n, why) != 0)
            return -1;
        if (k->size == sizeof(int64_t))
            *(int64_t *)field = n;
        else
            *(int *)field = (int)n;
        return 0;
    case K_REAL:
        return parse_real(value, (double *)field, why);
    case K_BOOL:
        return parse_boolean(value, (bool *)field, why);
    case K_DURATION:
        if (parse_duration_ms(value, k->min, k->max, &ms, why) != 0)
            return -1;
        *(int64_t *)field = ms;
        return 0;
    case K_SIZE:
        return parse_size_bytes(value, k->min, k->max, (int64_t *)field, why);
    case K_CHOICE:
        return parse_choice(value, k->choices, (int *)field, why);
    case K_URIS:
        return parse_uris(section, value, why); /* a [mqtt] key: section is the mqtt_config */
    case K_REAL_LIST:
        return parse_real_list(value, (double *)field, (int)k->max,
                               &((struct point_config *)section)->invalid_value_count, why);
    }
    return -1;
}

struct key_spec key_spec_of_source(const struct source_key *k)
{
    static const enum key_kind kinds[] = {
        [SOURCE_KEY_INT] = K_INT, [SOURCE_KEY_CHOICE] = K_CHOICE, [SOURCE_KEY_TEXT] = K_TEXT};
    return (struct key_spec){k->key, kinds[k->kind], k->offset,   k->size, k->min,
                             k->max, k->choices,     k->required, NULL};
}

void key_table_defaults(const struct key_table *t, void *section)
{
    for (size_t i = 0; i < t->count; i++) {
        value_reason why;
        if (t->keys[i].def && key_store_value(&t->keys[i], section, t->keys[i].def, why) != 0)
            abort(); /* a default the table's own parser refuses: a bug, caught by every test */
    }
}
