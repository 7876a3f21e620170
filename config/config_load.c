/* INI loading: inih tokenises, this file maps sections and keys onto the
 * structs of config.h through one table per section kind.
 *
 * inih as Debian builds it does not pass line numbers to the handler, so the
 * line reader below counts them; every message names file, line, section
 * and key. */
#include "config/config.h"
#include "config/config_values.h"

#include <ini.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const parity_names[] = {"none", "even", "odd", NULL};
const char *const bus_kind_names[] = {"tcp", "rtu", NULL};
const char *const sync_names[] = {"normal", "full", NULL};
const char *const log_level_names[] = {"error", "warning", "info", "debug", NULL};
const char *const point_kind_names[] = {"measurement", "counter", "occupancy", NULL};
const char *const publish_mode_names[] = {"every", "change", "none", NULL};

enum key_kind {
    K_TEXT,
    K_NAME,
    K_PLAIN,
    K_PREFIX,
    K_INT,
    K_REAL,
    K_BOOL,
    K_DURATION,
    K_SIZE,
    K_CHOICE,
    K_URIS,
    K_REAL_LIST
};

struct key_spec {
    const char *key;
    enum key_kind kind;
    size_t offset;
    size_t size; /* buffer size for text, field size for integers */
    long long min, max;
    const char *const *choices;
    bool required;
};

#define FIELD(type, member) offsetof(type, member), sizeof(((type *)0)->member)
#define DAY_MS (86400LL * 1000)

static const struct key_spec gateway_keys[] = {
    {"id", K_NAME, FIELD(struct gateway_config, id), 0, 0, NULL, true},
    {"log_level", K_CHOICE, FIELD(struct gateway_config, log_level), 0, 0, log_level_names, false},
    {"health_interval", K_DURATION, FIELD(struct gateway_config, health_interval_ms), 1000, DAY_MS,
     NULL, false},
    {"ingest_capacity", K_INT, FIELD(struct gateway_config, ingest_capacity), 64, 1 << 22, NULL,
     false},
};

static const struct key_spec mqtt_keys[] = {
    {"uri", K_URIS, 0, 0, 0, 0, NULL, true},
    {"client_id", K_PLAIN, FIELD(struct mqtt_config, client_id), 0, 0, NULL, false},
    {"username", K_TEXT, FIELD(struct mqtt_config, username), 0, 0, NULL, false},
    {"password", K_TEXT, FIELD(struct mqtt_config, password), 0, 0, NULL, false},
    {"topic_prefix", K_PREFIX, FIELD(struct mqtt_config, topic_prefix), 0, 0, NULL, false},
    {"qos", K_INT, FIELD(struct mqtt_config, qos), 0, 2, NULL, false},
    {"keepalive", K_DURATION, FIELD(struct mqtt_config, keepalive_ms), 1000, 3600 * 1000, NULL,
     false},
    {"connect_timeout", K_DURATION, FIELD(struct mqtt_config, connect_timeout_ms), 1000, 600 * 1000,
     NULL, false},
    {"reconnect_min", K_DURATION, FIELD(struct mqtt_config, reconnect_min_ms), 100, 3600 * 1000,
     NULL, false},
    {"reconnect_max", K_DURATION, FIELD(struct mqtt_config, reconnect_max_ms), 100, 3600 * 1000,
     NULL, false},
    {"max_inflight", K_INT, FIELD(struct mqtt_config, max_inflight), 1, 65535, NULL, false},
    {"tls_ca_file", K_TEXT, FIELD(struct mqtt_config, tls_ca_file), 0, 0, NULL, false},
    {"tls_cert_file", K_TEXT, FIELD(struct mqtt_config, tls_cert_file), 0, 0, NULL, false},
    {"tls_key_file", K_TEXT, FIELD(struct mqtt_config, tls_key_file), 0, 0, NULL, false},
    {"tls_verify", K_BOOL, FIELD(struct mqtt_config, tls_verify), 0, 0, NULL, false},
};

static const struct key_spec store_keys[] = {
    {"path", K_TEXT, FIELD(struct store_config, path), 0, 0, NULL, true},
    {"commit_interval", K_DURATION, FIELD(struct store_config, commit_interval_ms), 10, 60 * 1000,
     NULL, false},
    {"max_readings", K_INT, FIELD(struct store_config, max_readings), 1000, 1000000000LL, NULL,
     false},
    {"max_age", K_DURATION, FIELD(struct store_config, max_age_ms), 60 * 1000, 3650 * DAY_MS, NULL,
     false},
    {"max_size", K_SIZE, FIELD(struct store_config, max_size_bytes), 128 * 1024, 1LL << 40, NULL,
     false},
    {"sync", K_CHOICE, FIELD(struct store_config, sync), 0, 0, sync_names, false},
};

static const struct key_spec bus_keys[] = {
    {"type", K_CHOICE, FIELD(struct bus_config, kind), 0, 0, bus_kind_names, true},
    {"host", K_TEXT, FIELD(struct bus_config, host), 0, 0, NULL, false},
    {"port", K_INT, FIELD(struct bus_config, port), 1, 65535, NULL, false},
    {"device", K_TEXT, FIELD(struct bus_config, device), 0, 0, NULL, false},
    {"baud", K_INT, FIELD(struct bus_config, baud), 300, 4000000, NULL, false},
    {"parity", K_CHOICE, FIELD(struct bus_config, parity), 0, 0, parity_names, false},
    {"data_bits", K_INT, FIELD(struct bus_config, data_bits), 5, 8, NULL, false},
    {"stop_bits", K_INT, FIELD(struct bus_config, stop_bits), 1, 2, NULL, false},
    {"pause_between_requests", K_DURATION, FIELD(struct bus_config, pause_between_requests_ms), 0,
     10 * 1000, NULL, false},
};

/* Keys a device section and a profile's [profile] section share: the
 * device's quirks, and the serial settings it speaks (in a device section:
 * when reconfigured from its profile's factory settings; checked against
 * the bus either way). */
#define DEVICE_QUIRK_KEYS                                                                            \
    {"response_timeout",                                                                             \
     K_DURATION,                                                                                     \
     FIELD(struct device_config, response_timeout_ms),                                               \
     10,                                                                                             \
     60 * 1000,                                                                                      \
     NULL,                                                                                           \
     false},                                                                                         \
        {"max_registers", K_INT, FIELD(struct device_config, max_registers), 1, 125, NULL, false},   \
        {"max_gap", K_INT, FIELD(struct device_config, max_gap), 0, 125, NULL, false},               \
        {"single_requests",                                                                          \
         K_BOOL,                                                                                     \
         FIELD(struct device_config, single_requests),                                               \
         0,                                                                                          \
         0,                                                                                          \
         NULL,                                                                                       \
         false},                                                                                     \
        {"pause_between_requests",                                                                   \
         K_DURATION,                                                                                 \
         FIELD(struct device_config, pause_between_requests_ms),                                     \
         0,                                                                                          \
         10 * 1000,                                                                                  \
         NULL,                                                                                       \
         false},                                                                                     \
        {"pause_after_connect",                                                                      \
         K_DURATION,                                                                                 \
         FIELD(struct device_config, pause_after_connect_ms),                                        \
         0,                                                                                          \
         60 * 1000,                                                                                  \
         NULL,                                                                                       \
         false},                                                                                     \
        {"baud", K_INT, FIELD(struct device_config, serial_baud), 300, 4000000, NULL, false},        \
        {"parity", K_CHOICE, FIELD(struct device_config, serial_parity), 0, 0, parity_names, false}, \
    {                                                                                                \
        "stop_bits", K_INT, FIELD(struct device_config, serial_stop_bits), 1, 2, NULL, false         \
    }

static const struct key_spec device_keys[] = {
    {"bus", K_NAME, FIELD(struct device_config, bus_name), 0, 0, NULL, true},
    {"unit_id", K_INT, FIELD(struct device_config, unit_id), 0, 255, NULL, true},
    {"interval", K_DURATION, FIELD(struct device_config, interval_ms), 10, DAY_MS, NULL, true},
    {"backoff_max", K_DURATION, FIELD(struct device_config, backoff_max_ms), 100, DAY_MS, NULL,
     false},
    {"profile", K_NAME, FIELD(struct device_config, profile), 0, 0, NULL, false},
    DEVICE_QUIRK_KEYS,
};

/* A profile's [profile] section: what the device is, its factory unit id,
 * and the keys above, which a device section may still override. */
static const struct key_spec profile_keys[] = {
    {"description", K_PLAIN, FIELD(struct device_config, model), 0, 0, NULL, true},
    {"unit_id", K_INT, FIELD(struct device_config, unit_id), 0, 255, NULL, false},
    DEVICE_QUIRK_KEYS,
};

static const struct key_spec point_keys[] = {
    {"function", K_CHOICE, FIELD(struct point_config, function), 0, 0, function_names, true},
    {"address", K_INT, FIELD(struct point_config, address), 0, 65535, NULL, true},
    {"type", K_CHOICE, FIELD(struct point_config, type), 0, 0, data_type_names, true},
    {"word_order", K_CHOICE, FIELD(struct point_config, word_order), 0, 0, word_order_names, false},
    {"scale", K_REAL, FIELD(struct point_config, scale), 0, 0, NULL, false},
    {"offset", K_REAL, FIELD(struct point_config, offset), 0, 0, NULL, false},
    {"unit", K_PLAIN, FIELD(struct point_config, unit), 0, 0, NULL, false},
    {"kind", K_CHOICE, FIELD(struct point_config, kind), 0, 0, point_kind_names, false},
    {"invalid_values", K_REAL_LIST, FIELD(struct point_config, invalid_values), 0,
     CFG_MAX_INVALID_VALUES, NULL, false},
    {"valid_min", K_REAL, FIELD(struct point_config, valid_min), 0, 0, NULL, false},
    {"valid_max", K_REAL, FIELD(struct point_config, valid_max), 0, 0, NULL, false},
    {"stale_after", K_DURATION, FIELD(struct point_config, stale_after_ms), 1000, 3650 * DAY_MS,
     NULL, false},
    {"publish", K_CHOICE, FIELD(struct point_config, publish), 0, 0, publish_mode_names, false},
    {"deadband", K_REAL, FIELD(struct point_config, deadband), 0, 0, NULL, false},
    {"publish_max_interval", K_DURATION, FIELD(struct point_config, publish_max_interval_ms), 1000,
     DAY_MS, NULL, false},
    {"window", K_DURATION, FIELD(struct point_config, window_ms), 1000, DAY_MS, NULL, false},
    {"count_interval", K_DURATION, FIELD(struct point_config, count_interval_ms), 1000, DAY_MS,
     NULL, false},
    {"counter_max_step", K_INT, FIELD(struct point_config, counter_max_step), 1, INT64_MAX, NULL,
     false},
    {"counter_reset_max", K_INT, FIELD(struct point_config, counter_reset_max), 0, INT64_MAX, NULL,
     false},
    {"source", K_NAME, FIELD(struct point_config, source), 0, 0, NULL, false},
    {"decimals_from", K_NAME, FIELD(struct point_config, decimals_from), 0, 0, NULL, false},
    {"occupancy_in", K_NAME, FIELD(struct point_config, occupancy_in), 0, 0, NULL, false},
    {"occupancy_out", K_NAME, FIELD(struct point_config, occupancy_out), 0, 0, NULL, false},
    {"occupancy_reset", K_TEXT, FIELD(struct point_config, occupancy_reset), 0, 0, NULL, false},
};

#define MAX_KEYS 32

struct loader {
    const char *path;
    FILE *fp;
    struct gateway_config *cfg;
    struct config_errors *errors;
    int line;         /* line the reader handed to inih last */
    int header_line;  /* line of the newest [section] header */
    int header_count; /* headers seen by the reader */
    int current_header;
    /* The section being filled; base is recomputed from kind and index
     * because the arrays move when they grow. */
    char section[CFG_TEXT_MAX];
    int section_line;
    int kind;
    size_t index;
    const struct key_spec *keys;
    size_t key_count;
    int key_lines[MAX_KEYS];
    bool skip;
    bool seen_gateway, seen_mqtt, seen_store;
    /* While a device's profile is read: the device, and its [profile]
     * section's values until they are merged. */
    int profile_device; /* -1 while the INI file itself is read */
    const struct builtin_profile *profile;
    struct device_config profile_values;
    int profile_key_lines[MAX_KEYS];
    size_t errors_at_section_start; /* cross-key checks only on clean sections */
};

enum section_kind { SEC_GATEWAY, SEC_MQTT, SEC_STORE, SEC_BUS, SEC_DEVICE, SEC_POINT, SEC_PROFILE };

void config_error_add(struct config_errors *errors, const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    char **grown = realloc(errors->lines, (errors->count + 1) * sizeof(*grown));
    char *copy = strdup(buf);
    if (!grown || !copy) {
        free(copy);
        if (grown)
            errors->lines = grown;
        return; /* out of memory: the load still fails on the first error */
    }
    errors->lines = grown;
    errors->lines[errors->count++] = copy;
}

void config_errors_free(struct config_errors *errors)
{
    for (size_t i = 0; i < errors->count; i++)
        free(errors->lines[i]);
    free(errors->lines);
    errors->lines = NULL;
    errors->count = 0;
}

static void set_defaults(struct gateway_config *cfg)
{
    cfg->log_level = 2; /* info */
    cfg->ingest_capacity = 65536;
    cfg->health_interval_ms = 60 * 1000;
    struct mqtt_config *m = &cfg->mqtt;
    strcpy(m->topic_prefix, "smartregion");
    m->qos = 1;
    m->keepalive_ms = 30 * 1000;
    m->connect_timeout_ms = 10 * 1000;
    m->reconnect_min_ms = 1000;
    m->reconnect_max_ms = 60 * 1000;
    m->max_inflight = 256;
    m->tls_verify = true;
    struct store_config *s = &cfg->store;
    s->commit_interval_ms = 250;
    s->max_readings = 5000000;
    s->max_age_ms = 30 * DAY_MS;
    s->max_size_bytes = 1LL << 30;
    s->sync = 1;
}

static void *grow(void **array, size_t *count, size_t elem)
{
    void *bigger = realloc(*array, (*count + 1) * elem);
    if (!bigger)
        return NULL;
    *array = bigger;
    memset((char *)bigger + *count * elem, 0, elem);
    return (char *)bigger + (*count)++ * elem;
}

static void *section_base(struct loader *ld)
{
    struct gateway_config *cfg = ld->cfg;
    switch (ld->kind) {
    case SEC_GATEWAY:
        return cfg;
    case SEC_MQTT:
        return &cfg->mqtt;
    case SEC_STORE:
        return &cfg->store;
    case SEC_BUS:
        return &cfg->buses[ld->index];
    case SEC_DEVICE:
        return &cfg->devices[ld->index];
    case SEC_PROFILE:
        return &ld->profile_values;
    default:
        return &cfg->points[ld->index];
    }
}

static void section_error(struct loader *ld, int line, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void section_error(struct loader *ld, int line, const char *key, const char *fmt, ...)
{
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (key)
        config_error_add(ld->errors, "%s:%d: [%s] %s: %s", ld->path, line, ld->section, key, msg);
    else
        config_error_add(ld->errors, "%s:%d: [%s]: %s", ld->path, line, ld->section, msg);
}

static int key_line(void *ctx, const char *key)
{
    struct loader *ld = ctx;
    for (size_t i = 0; i < ld->key_count; i++)
        if (strcmp(ld->keys[i].key, key) == 0)
            return ld->key_lines[i];
    return 0;
}

/* A point with a source has no registers; a device with a profile may
 * take its unit id from the profile (checked once the profile is read). */
static bool reads_no_registers(struct loader *ld)
{
    return key_line(ld, "source") || ld->cfg->points[ld->index].kind == KIND_OCCUPANCY;
}

static bool key_may_be_missing(struct loader *ld, const char *key)
{
    if (ld->kind == SEC_POINT && reads_no_registers(ld))
        return strcmp(key, "function") == 0 || strcmp(key, "address") == 0 ||
               strcmp(key, "type") == 0;
    if (ld->kind == SEC_DEVICE && key_line(ld, "profile"))
        return strcmp(key, "unit_id") == 0;
    return false;
}

static void check_source_point(struct loader *ld)
{
    static const char *const register_keys[] = {"function", "address", "type", "word_order",
                                                "decimals_from"};
    for (size_t i = 0; i < sizeof(register_keys) / sizeof(register_keys[0]); i++) {
        int line = key_line(ld, register_keys[i]);
        if (line)
            section_error(ld, line, register_keys[i],
                          key_line(ld, "source")
                              ? "a point with a source reads no registers of its own"
                              : "an occupancy point reads no registers of its own");
    }
}

static void finish_section(struct loader *ld)
{
    if (ld->skip || !ld->keys)
        return;
    for (size_t i = 0; i < ld->key_count; i++) {
        if (ld->keys[i].required && ld->key_lines[i] == 0 &&
            !key_may_be_missing(ld, ld->keys[i].key))
            section_error(ld, ld->section_line, ld->keys[i].key, "missing (this key is required)");
    }
    if (ld->kind == SEC_DEVICE)
        for (size_t i = 0; i < ld->key_count; i++)
            if (ld->key_lines[i])
                ld->cfg->devices[ld->index].keys_set |= 1u << i;
    if (ld->kind == SEC_PROFILE)
        memcpy(ld->profile_key_lines, ld->key_lines, sizeof(ld->key_lines));
    if (ld->kind == SEC_POINT && reads_no_registers(ld))
        check_source_point(ld);
    /* A value that did not parse has its own message; checks against the
     * other keys would only add confusing ones. */
    if (ld->kind == SEC_POINT && ld->errors->count == ld->errors_at_section_start) {
        struct point_check c = {ld->path, ld->errors, key_line, ld};
        config_check_point(&c, &ld->cfg->points[ld->index]);
    }
}

static bool section_exists(struct loader *ld, int kind, const char *a, const char *b)
{
    struct gateway_config *cfg = ld->cfg;
    if (kind == SEC_BUS) {
        for (size_t i = 0; i < cfg->bus_count; i++)
            if (strcmp(cfg->buses[i].name, a) == 0)
                return true;
    } else if (kind == SEC_DEVICE) {
        for (size_t i = 0; i < cfg->device_count; i++)
            if (strcmp(cfg->devices[i].name, a) == 0)
                return true;
    } else {
        for (size_t i = 0; i < cfg->point_count; i++)
            if (strcmp(cfg->points[i].device_name, a) == 0 && strcmp(cfg->points[i].name, b) == 0)
                return true;
    }
    return false;
}

static struct point_config *add_point(struct loader *ld, const char *device, const char *point)
{
    struct gateway_config *cfg = ld->cfg;
    struct point_config *p = grow((void **)&cfg->points, &cfg->point_count, sizeof(*p));
    if (!p)
        return NULL;
    ld->index = cfg->point_count - 1;
    strcpy(p->device_name, device);
    strcpy(p->name, point);
    p->scale = 1.0, p->line = ld->section_line, p->device_index = -1;
    p->file = ld->profile ? ld->profile->path : NULL;
    p->source_index = p->decimals_index = -1;
    p->occupancy_in_index = p->occupancy_out_index = -1;
    p->occupancy_reset_minute = 4 * 60; /* 04:00, before anything opens */
    p->valid_min = -INFINITY, p->valid_max = INFINITY;
    p->publish_max_interval_ms = 15 * 60 * 1000;
    p->counter_reset_max = -1; /* unset: the default for the counter's width */
    ld->keys = point_keys, ld->key_count = sizeof(point_keys) / sizeof(point_keys[0]);
    return p;
}

/* In a profile: [profile] and [point NAME], the point belonging to the
 * device that names the profile. A point the INI file defines itself for
 * that device replaces the profile's. */
static void start_profile_section(struct loader *ld, const char *section)
{
    const char *device = ld->cfg->devices[ld->profile_device].name;
    if (strcmp(section, "profile") == 0) {
        ld->kind = SEC_PROFILE;
        ld->keys = profile_keys, ld->key_count = sizeof(profile_keys) / sizeof(profile_keys[0]);
        ld->skip = false;
        return;
    }
    value_reason why;
    const char *name = strncmp(section, "point ", 6) == 0 ? section + 6 : NULL;
    if (!name || check_topic_name(name, CFG_NAME_MAX, why) != 0) {
        section_error(ld, ld->section_line, NULL,
                      "a profile has [profile] and [point NAME] sections only");
        return;
    }
    ld->kind = SEC_POINT;
    if (section_exists(ld, SEC_POINT, device, name))
        return; /* replaced by the INI file's own section */
    if (!add_point(ld, device, name)) {
        section_error(ld, ld->section_line, NULL, "out of memory");
        return;
    }
    ld->skip = false;
}

/* Opens the section named by the header; on any problem the section's keys
 * are skipped so that one bad header gives one message, not one per key. */
static void start_section(struct loader *ld, const char *section)
{
    finish_section(ld);
    snprintf(ld->section, sizeof(ld->section), "%s", section);
    ld->section_line = ld->header_line;
    ld->skip = true;
    ld->keys = NULL;
    memset(ld->key_lines, 0, sizeof(ld->key_lines));
    ld->errors_at_section_start = ld->errors->count;
    if (ld->profile_device >= 0) {
        start_profile_section(ld, section);
        return;
    }

    static const struct {
        const char *word;
        int kind;
        bool named;
    } kinds[] = {{"gateway", SEC_GATEWAY, false}, {"mqtt", SEC_MQTT, false},
                 {"store", SEC_STORE, false},     {"bus", SEC_BUS, true},
                 {"device", SEC_DEVICE, true},    {"point", SEC_POINT, true}};
    char word[32] = "";
    const char *name = strchr(section, ' ');
    size_t wlen = name ? (size_t)(name - section) : strlen(section);
    if (wlen < sizeof(word))
        memcpy(word, section, wlen), word[wlen] = '\0';
    while (name && *name == ' ')
        name++;

    int found = -1;
    for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
        if (strcmp(word, kinds[i].word) == 0)
            found = (int)i;
    if (found < 0) {
        section_error(ld, ld->section_line, NULL,
                      "unknown section (expected [gateway], [mqtt], [store], [bus NAME], "
                      "[device NAME] or [point DEVICE/NAME])");
        return;
    }
    ld->kind = kinds[found].kind;
    if (kinds[found].named != (name != NULL && *name)) {
        section_error(ld, ld->section_line, NULL,
                      kinds[found].named ? "this section needs a name, e.g. [%s NAME]"
                                         : "this section takes no name: write [%s]",
                      word);
        return;
    }

    value_reason why;
    char device[CFG_NAME_MAX + 1] = "", point[CFG_NAME_MAX + 1] = "";
    if (ld->kind == SEC_POINT) {
        const char *slash = strchr(name, '/');
        size_t dlen = slash ? (size_t)(slash - name) : 0;
        if (!slash || dlen > CFG_NAME_MAX || strlen(slash + 1) > CFG_NAME_MAX) {
            section_error(ld, ld->section_line, NULL,
                          "a point is named DEVICE/POINT, e.g. [point trail_north/visitors_in]");
            return;
        }
        memcpy(device, name, dlen);
        strcpy(point, slash + 1);
        if (check_topic_name(device, CFG_NAME_MAX, why) != 0 ||
            check_topic_name(point, CFG_NAME_MAX, why) != 0) {
            section_error(ld, ld->section_line, NULL, "%s", why);
            return;
        }
    } else if (name) {
        if (check_topic_name(name, CFG_NAME_MAX, why) != 0) {
            section_error(ld, ld->section_line, NULL, "%s", why);
            return;
        }
        strcpy(device, name);
    }

    struct gateway_config *cfg = ld->cfg;
    bool *seen = ld->kind == SEC_GATEWAY ? &ld->seen_gateway
                 : ld->kind == SEC_MQTT  ? &ld->seen_mqtt
                 : ld->kind == SEC_STORE ? &ld->seen_store
                                         : NULL;
    if ((seen && *seen) || (!seen && section_exists(ld, ld->kind, device, point))) {
        section_error(ld, ld->section_line, NULL, "duplicate section");
        return;
    }
    if (seen)
        *seen = true;

    void *rec = NULL;
    switch (ld->kind) {
    case SEC_GATEWAY:
        ld->keys = gateway_keys, ld->key_count = sizeof(gateway_keys) / sizeof(gateway_keys[0]);
        break;
    case SEC_MQTT:
        ld->keys = mqtt_keys, ld->key_count = sizeof(mqtt_keys) / sizeof(mqtt_keys[0]);
        break;
    case SEC_STORE:
        ld->keys = store_keys, ld->key_count = sizeof(store_keys) / sizeof(store_keys[0]);
        break;
    case SEC_BUS: {
        struct bus_config *b = rec = grow((void **)&cfg->buses, &cfg->bus_count, sizeof(*b));
        if (!b)
            break;
        ld->index = cfg->bus_count - 1;
        strcpy(b->name, device);
        b->port = 502, b->baud = 9600, b->data_bits = 8, b->stop_bits = 1,
        b->line = ld->section_line;
        ld->keys = bus_keys, ld->key_count = sizeof(bus_keys) / sizeof(bus_keys[0]);
        break;
    }
    case SEC_DEVICE: {
        struct device_config *d = rec =
            grow((void **)&cfg->devices, &cfg->device_count, sizeof(*d));
        if (!d)
            break;
        ld->index = cfg->device_count - 1;
        strcpy(d->name, device);
        d->response_timeout_ms = 1000, d->backoff_max_ms = 60 * 1000, d->max_registers = 125,
        d->max_gap = 8, d->line = ld->section_line, d->bus_index = -1, d->serial_parity = -1;
        ld->keys = device_keys, ld->key_count = sizeof(device_keys) / sizeof(device_keys[0]);
        break;
    }
    default:
        rec = add_point(ld, device, point);
        break;
    }
    if (ld->kind >= SEC_BUS && ld->kind != SEC_PROFILE && !rec) {
        section_error(ld, ld->section_line, NULL, "out of memory");
        return;
    }
    ld->skip = false;
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

static int store_value(struct loader *ld, const struct key_spec *k, const char *value,
                       value_reason why)
{
    char *field = (char *)section_base(ld) + k->offset;
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
        return parse_uris(&ld->cfg->mqtt, value, why);
    case K_REAL_LIST:
        return parse_real_list(value, (double *)field, (int)k->max,
                               &((struct point_config *)section_base(ld))->invalid_value_count,
                               why);
    }
    return -1;
}

static int on_key(void *user, const char *section, const char *key, const char *value)
{
    struct loader *ld = user;
    if (ld->current_header != ld->header_count) {
        ld->current_header = ld->header_count;
        start_section(ld, section);
    }
    if (ld->skip)
        return 1;
    size_t i = 0;
    while (i < ld->key_count && strcmp(ld->keys[i].key, key) != 0)
        i++;
    if (i == ld->key_count) {
        section_error(ld, ld->line, key, "unknown key");
        return 1;
    }
    if (ld->key_lines[i]) {
        section_error(ld, ld->line, key, "set twice (first on line %d)", ld->key_lines[i]);
        return 1;
    }
    ld->key_lines[i] = ld->line;
    value_reason why;
    if (store_value(ld, &ld->keys[i], value, why) != 0)
        section_error(ld, ld->line, key, "%s", why);
    return 1;
}

/* fgets for inih that counts lines and notices section headers. */
static char *read_line(char *buf, int size, void *user)
{
    struct loader *ld = user;
    if (!fgets(buf, size, ld->fp))
        return NULL;
    ld->line++;
    size_t len = strlen(buf);
    if (len == (size_t)size - 1 && buf[len - 1] != '\n' && !feof(ld->fp)) {
        int c;
        while ((c = fgetc(ld->fp)) != EOF && c != '\n')
            ;
        config_error_add(ld->errors, "%s:%d: line is longer than %d characters", ld->path, ld->line,
                         size - 2);
        buf[0] = '\0';
        return buf;
    }
    const char *p = buf;
    while (*p == ' ' || *p == '\t')
        p++;
    if (*p == '[') {
        ld->header_line = ld->line;
        ld->header_count++;
    }
    return buf;
}

static const struct builtin_profile *find_profile(const char *name)
{
    for (size_t i = 0; i < builtin_profile_count; i++)
        if (strcmp(builtin_profiles[i].name, name) == 0)
            return &builtin_profiles[i];
    return NULL;
}

static void profile_unknown(struct loader *ld, const struct device_config *d)
{
    char known[512] = "";
    size_t used = 0;
    for (size_t i = 0; i < builtin_profile_count && used < sizeof(known); i++)
        used += (size_t)snprintf(known + used, sizeof(known) - used, "%s%s", i ? ", " : "",
                                 builtin_profiles[i].name);
    config_error_add(ld->errors, "%s:%d: [device %s] profile: no profile '%s' (built in: %s)",
                     ld->path, d->line, d->name, d->profile, known);
}

static size_t key_index(const struct key_spec *keys, size_t n, const char *key)
{
    size_t i = 0;
    while (i < n && strcmp(keys[i].key, key) != 0)
        i++;
    return i;
}

/* Takes the [profile] values the device's own section did not set. */
static void merge_profile_values(struct loader *ld, struct device_config *d)
{
    for (size_t i = 0; i < sizeof(profile_keys) / sizeof(profile_keys[0]); i++) {
        const struct key_spec *k = &profile_keys[i];
        if (!ld->profile_key_lines[i])
            continue;
        size_t n_device = sizeof(device_keys) / sizeof(device_keys[0]);
        size_t j = key_index(device_keys, n_device, k->key);
        bool set_by_device = j < n_device && (d->keys_set & (1u << j));
        if (!set_by_device)
            memcpy((char *)d + k->offset, (char *)&ld->profile_values + k->offset, k->size);
    }
}

/* Reads the profile a device names, as if its sections were in the file. */
static void read_profile(struct loader *ld, int device_index)
{
    struct device_config *d = &ld->cfg->devices[device_index];
    const struct builtin_profile *prof = find_profile(d->profile);
    if (!prof) {
        profile_unknown(ld, d);
        return;
    }
    const char *ini_path = ld->path;
    *ld = (struct loader){.path = prof->path,
                          .cfg = ld->cfg,
                          .errors = ld->errors,
                          .profile_device = device_index,
                          .profile = prof};
    ld->profile_values = (struct device_config){.serial_parity = -1};
    ld->fp = fmemopen((void *)prof->text, strlen(prof->text), "r");
    if (!ld->fp) {
        config_error_add(ld->errors, "%s: cannot read: %m", prof->path);
        return;
    }
    int syntax_line = ini_parse_stream(read_line, ld, on_key, ld);
    finish_section(ld);
    fclose(ld->fp);
    if (syntax_line > 0)
        config_error_add(ld->errors, "%s:%d: syntax error", prof->path, syntax_line);
    d = &ld->cfg->devices[device_index];
    merge_profile_values(ld, d);
    size_t in_device =
        key_index(device_keys, sizeof(device_keys) / sizeof(device_keys[0]), "unit_id");
    size_t in_profile =
        key_index(profile_keys, sizeof(profile_keys) / sizeof(profile_keys[0]), "unit_id");
    if (!(d->keys_set & (1u << in_device)) && !ld->profile_key_lines[in_profile])
        config_error_add(ld->errors,
                         "%s:%d: [device %s] unit_id: missing (neither the section nor profile "
                         "%s gives one)",
                         ini_path, d->line, d->name, prof->name);
}

static void read_profiles(struct loader *ld)
{
    const char *ini_path = ld->path;
    for (size_t i = 0; i < ld->cfg->device_count; i++)
        if (ld->cfg->devices[i].profile[0]) {
            read_profile(ld, (int)i);
            ld->path = ini_path;
        }
}

int config_load(const char *path, struct gateway_config *cfg, struct config_errors *errors)
{
    memset(cfg, 0, sizeof(*cfg));
    set_defaults(cfg);
    snprintf(cfg->source_path, sizeof(cfg->source_path), "%s", path);
    struct loader ld = {.path = path, .cfg = cfg, .errors = errors, .profile_device = -1};
    ld.fp = fopen(path, "r");
    if (!ld.fp) {
        config_error_add(errors, "%s: cannot open: %m", path);
        return -1;
    }
    size_t before = errors->count;
    int syntax_line = ini_parse_stream(read_line, &ld, on_key, &ld);
    finish_section(&ld);
    fclose(ld.fp);
    if (syntax_line > 0)
        config_error_add(errors, "%s:%d: syntax error: expected '[section]' or 'key = value'", path,
                         syntax_line);

    static const char *const needed[] = {"gateway", "mqtt", "store"};
    bool seen[] = {ld.seen_gateway, ld.seen_mqtt, ld.seen_store};
    for (int i = 0; i < 3; i++)
        if (!seen[i])
            config_error_add(errors, "%s: [%s]: missing section", path, needed[i]);
    if (errors->count == before)
        read_profiles(&ld);
    if (errors->count == before)
        config_validate(cfg, errors);
    if (errors->count != before) {
        config_free(cfg);
        return -1;
    }
    return 0;
}

void config_free(struct gateway_config *cfg)
{
    free(cfg->buses);
    free(cfg->devices);
    free(cfg->points);
    cfg->buses = NULL, cfg->devices = NULL, cfg->points = NULL;
    cfg->bus_count = cfg->device_count = cfg->point_count = 0;
}

int config_find_device(const struct gateway_config *cfg, const char *name)
{
    for (size_t i = 0; i < cfg->device_count; i++)
        if (strcmp(cfg->devices[i].name, name) == 0)
            return (int)i;
    return -1;
}
