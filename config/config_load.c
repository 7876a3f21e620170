/* INI loading: inih tokenises, this file walks the sections (and the
 * device profiles they name), and config_keys.c maps each key onto the
 * structs of config.h.
 *
 * inih as Debian builds it does not pass line numbers to the handler, so the
 * line reader below counts them; every message names file, line, section
 * and key. */
#include "config/config.h"
#include "config/config_keys.h"
#include "config/config_values.h"

#include <ini.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_KEYS 32

struct loader {
    const char *path;
    FILE *fp;
    struct gateway_config *cfg;
    struct config_errors *errors;
    int line;                       /* line the reader handed to inih last */
    int header_line;                /* line of the newest [section] header */
    int header_count;               /* headers seen by the reader */
    int current_header;             /* the header whose section is open */
    char header_name[CFG_TEXT_MAX]; /* text inside the newest header's brackets */
    /* The section being filled; base is recomputed from kind and index
     * because the arrays move when they grow. */
    char section[CFG_TEXT_MAX];
    int section_line;
    int kind;
    size_t index;
    const struct key_table *table; /* the section kind's keys */
    int key_lines[MAX_KEYS];
    bool skip;
    bool seen_gateway, seen_mqtt, seen_store, seen_commands;
    /* While a device's profile is read: the device, and its [profile]
     * section's values until they are merged. */
    int profile_device; /* -1 while the INI file itself is read */
    const struct builtin_profile *profile;
    struct device_config profile_values;
    int profile_key_lines[MAX_KEYS];
    size_t errors_at_section_start; /* cross-key checks only on clean sections */
    bool offline;                   /* the file only (config_load_as) */
};

enum section_kind {
    SEC_GATEWAY,
    SEC_MQTT,
    SEC_STORE,
    SEC_COMMANDS,
    SEC_BUS,
    SEC_DEVICE,
    SEC_POINT,
    SEC_PROFILE
};

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
    case SEC_COMMANDS:
        return &cfg->commands;
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

/* Before the first header and in a section that failed to open: keys are
 * unknown (or skipped), never looked up in a missing table. */
static const struct key_table no_keys = {NULL, 0};

static int key_line(void *ctx, const char *key)
{
    struct loader *ld = ctx;
    size_t i = key_index(ld->table, key);
    return i < ld->table->count ? ld->key_lines[i] : 0;
}

/* A point with a source has no registers; a device with a profile may
 * take its unit id from the profile (checked once the profile is read). */
static bool reads_no_registers(struct loader *ld)
{
    return key_line(ld, "source") || ld->cfg->points[ld->index].kind == KIND_OCCUPANCY;
}

static bool key_may_be_missing(struct loader *ld, const char *key)
{
    if (ld->kind == SEC_DEVICE && key_line(ld, "profile"))
        return strcmp(key, "unit_id") == 0;
    return false;
}

/* A point that reads nothing of its own (derived, occupancy) has no
 * business with the keys that say where a value is read. */
static void check_source_point(struct loader *ld)
{
    const struct point_config *p = &ld->cfg->points[ld->index];
    const char *why = key_line(ld, "source") ? "a point with a source reads no registers of its own"
                                             : "an occupancy point reads no registers of its own";
    if (key_line(ld, "decimals_from"))
        section_error(ld, key_line(ld, "decimals_from"), "decimals_from", "%s", why);
    for (size_t i = 0; p->source && i < p->source->point_keys->count; i++)
        if (p->source_key_lines[i])
            section_error(ld, p->source_key_lines[i], p->source->point_keys->keys[i].key, "%s",
                          why);
}

/* The keys its source requires, once its keys named the source (a point
 * with none of them is checked against its bus's source, config_validate). */
static void check_source_keys(struct loader *ld)
{
    const struct point_config *p = &ld->cfg->points[ld->index];
    for (size_t i = 0; p->source && i < p->source->point_keys->count; i++)
        if (p->source->point_keys->keys[i].required && !p->source_key_lines[i])
            section_error(ld, ld->section_line, p->source->point_keys->keys[i].key,
                          "missing (this key is required)");
}

/* A key of the point's source (Modbus: function, address, ...): the first
 * such key names the source, every source of the table of bus kinds
 * declaring its own. False when no source has the key. */
static bool on_source_key(struct loader *ld, const char *key, const char *value)
{
    const struct source_ops *source = NULL;
    size_t i = 0;
    for (int k = 0; k < bus_kind_count && !source; k++) {
        const struct source_keys *t = bus_kinds[k].source->point_keys;
        for (i = 0; t && i < t->count && strcmp(t->keys[i].key, key) != 0;)
            i++;
        if (t && i < t->count)
            source = bus_kinds[k].source;
    }
    if (!source)
        return false;
    struct point_config *p = &ld->cfg->points[ld->index];
    if (p->source && p->source != source) {
        section_error(ld, ld->line, key,
                      "a key of another kind of bus's points than this "
                      "section's other keys");
        return true;
    }
    p->source = source;
    if (p->source_key_lines[i]) {
        section_error(ld, ld->line, key, "set twice (first on line %d)", p->source_key_lines[i]);
        return true;
    }
    p->source_key_lines[i] = ld->line;
    struct key_spec spec = key_spec_of_source(&source->point_keys->keys[i]);
    value_reason why;
    if (key_store_value(&spec, p->where.bytes, value, why) != 0)
        section_error(ld, ld->line, key, "%s", why);
    return true;
}

static void mark_broken(struct loader *ld)
{
    if (ld->kind == SEC_BUS)
        ld->cfg->buses[ld->index].broken = true;
    else if (ld->kind == SEC_DEVICE)
        ld->cfg->devices[ld->index].broken = true;
    else if (ld->kind == SEC_POINT)
        ld->cfg->points[ld->index].broken = true;
}

static void finish_section(struct loader *ld)
{
    if (ld->skip)
        return;
    for (size_t i = 0; i < ld->table->count; i++) {
        if (ld->table->keys[i].required && ld->key_lines[i] == 0 &&
            !key_may_be_missing(ld, ld->table->keys[i].key))
            section_error(ld, ld->section_line, ld->table->keys[i].key,
                          "missing (this key is required)");
    }
    if (ld->kind == SEC_DEVICE)
        for (size_t i = 0; i < ld->table->count; i++)
            if (ld->key_lines[i])
                ld->cfg->devices[ld->index].keys_set |= 1u << i;
    if (ld->kind == SEC_PROFILE)
        memcpy(ld->profile_key_lines, ld->key_lines, sizeof(ld->key_lines));
    if (ld->kind == SEC_POINT && reads_no_registers(ld))
        check_source_point(ld);
    else if (ld->kind == SEC_POINT)
        check_source_keys(ld);
    if (ld->kind == SEC_MQTT && ld->errors->count == ld->errors_at_section_start) {
        struct section_check c = {ld->path, ld->errors, key_line, ld, ld->offline};
        config_check_mqtt(&c, &ld->cfg->mqtt);
    }
    /* A value that did not parse has its own message; checks against the
     * other keys would only add confusing ones. */
    if (ld->kind == SEC_POINT && ld->errors->count == ld->errors_at_section_start) {
        struct section_check c = {ld->path, ld->errors, key_line, ld, ld->offline};
        config_check_point(&c, &ld->cfg->points[ld->index]);
    }
    /* The checks across sections would only repeat its mistakes in other
     * words (a function that did not parse makes a wrong type, too). */
    if (ld->errors->count != ld->errors_at_section_start)
        mark_broken(ld);
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
    key_table_defaults(&point_key_table, p);
    p->line = ld->section_line, p->device_index = -1;
    p->file = ld->profile ? ld->profile->path : NULL;
    p->derived_from_index = p->decimals_index = -1;
    p->occupancy_in_index = p->occupancy_out_index = p->power_on_index = -1;
    p->occupancy_reset_minute = 4 * 60; /* 04:00, before anything opens */
    /* Not given: marks. A range or write limit not set is open; a counter's
     * reset limit not set takes its width's (config_check_point). */
    p->valid_min = -INFINITY, p->valid_max = INFINITY;
    p->write_min = -INFINITY, p->write_max = INFINITY;
    p->counter_reset_max = -1;
    ld->table = &point_key_table;
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
        ld->table = &profile_key_table;
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

/* The kinds of section and whether they carry a name: [bus NAME]. */
static const struct {
    const char *word;
    int kind;
    bool named;
} section_kinds[] = {{"gateway", SEC_GATEWAY, false}, {"mqtt", SEC_MQTT, false},
                     {"store", SEC_STORE, false},     {"commands", SEC_COMMANDS, false},
                     {"bus", SEC_BUS, true},          {"device", SEC_DEVICE, true},
                     {"point", SEC_POINT, true}};

/* The header's kind into ld->kind and its name into device (and point,
 * for [point DEVICE/POINT]); false, said, when the header is wrong. */
static bool parse_header(struct loader *ld, const char *section, char *device, char *point)
{
    char word[32] = "";
    const char *name = strchr(section, ' ');
    size_t wlen = name ? (size_t)(name - section) : strlen(section);
    if (wlen < sizeof(word))
        memcpy(word, section, wlen), word[wlen] = '\0';
    while (name && *name == ' ')
        name++;
    int found = -1;
    for (size_t i = 0; i < sizeof(section_kinds) / sizeof(section_kinds[0]); i++)
        if (strcmp(word, section_kinds[i].word) == 0)
            found = (int)i;
    if (found < 0) {
        section_error(ld, ld->section_line, NULL,
                      "unknown section (expected [gateway], [mqtt], [store], [commands], "
                      "[bus NAME], [device NAME] or [point DEVICE/NAME])");
        return false;
    }
    ld->kind = section_kinds[found].kind;
    if (section_kinds[found].named != (name != NULL && *name)) {
        section_error(ld, ld->section_line, NULL,
                      section_kinds[found].named ? "this section needs a name, e.g. [%s NAME]"
                                                 : "this section takes no name: write [%s]",
                      word);
        return false;
    }
    value_reason why;
    if (ld->kind == SEC_POINT) {
        const char *slash = strchr(name, '/');
        size_t dlen = slash ? (size_t)(slash - name) : 0;
        if (!slash || dlen > CFG_NAME_MAX || strlen(slash + 1) > CFG_NAME_MAX) {
            section_error(ld, ld->section_line, NULL,
                          "a point is named DEVICE/POINT, e.g. [point trail_north/visitors_in]");
            return false;
        }
        memcpy(device, name, dlen);
        strcpy(point, slash + 1);
        if (check_topic_name(device, CFG_NAME_MAX, why) != 0 ||
            check_topic_name(point, CFG_NAME_MAX, why) != 0) {
            section_error(ld, ld->section_line, NULL, "%s", why);
            return false;
        }
    } else if (name) {
        if (check_topic_name(name, CFG_NAME_MAX, why) != 0) {
            section_error(ld, ld->section_line, NULL, "%s", why);
            return false;
        }
        strcpy(device, name);
    }
    return true;
}

/* Each section once: false, said, for a second [mqtt] or [bus b]. */
static bool claim_section(struct loader *ld, const char *device, const char *point)
{
    bool *seen = ld->kind == SEC_GATEWAY    ? &ld->seen_gateway
                 : ld->kind == SEC_MQTT     ? &ld->seen_mqtt
                 : ld->kind == SEC_STORE    ? &ld->seen_store
                 : ld->kind == SEC_COMMANDS ? &ld->seen_commands
                                            : NULL;
    if ((seen && *seen) || (!seen && section_exists(ld, ld->kind, device, point))) {
        section_error(ld, ld->section_line, NULL, "duplicate section");
        return false;
    }
    if (seen)
        *seen = true;
    return true;
}

/* The record a [bus], [device] or [point] section fills, with the values
 * its keys start from; NULL when out of memory. */
static void *add_record(struct loader *ld, const char *device, const char *point)
{
    struct gateway_config *cfg = ld->cfg;
    if (ld->kind == SEC_POINT)
        return add_point(ld, device, point);
    if (ld->kind == SEC_BUS) {
        struct bus_config *b = grow((void **)&cfg->buses, &cfg->bus_count, sizeof(*b));
        if (!b)
            return NULL;
        ld->index = cfg->bus_count - 1;
        strcpy(b->name, device);
        b->line = ld->section_line;
        ld->table = &bus_key_table;
        key_table_defaults(ld->table, b);
        return b;
    }
    struct device_config *d = grow((void **)&cfg->devices, &cfg->device_count, sizeof(*d));
    if (!d)
        return NULL;
    ld->index = cfg->device_count - 1;
    strcpy(d->name, device);
    ld->table = &device_key_table;
    key_table_defaults(ld->table, d);
    /* Not given: marks, not defaults. unit_id is required unless the bus
     * is on the box itself (config_validate). */
    d->unit_id = -1, d->serial_parity = -1, d->latitude = d->longitude = NAN;
    d->line = ld->section_line, d->bus_index = -1;
    return d;
}

/* Opens the section named by the header; on any problem the section's keys
 * are skipped so that one bad header gives one message, not one per key. */
static void start_section(struct loader *ld, const char *section)
{
    finish_section(ld);
    snprintf(ld->section, sizeof(ld->section), "%s", section);
    ld->section_line = ld->header_line;
    ld->skip = true;
    ld->table = &no_keys;
    memset(ld->key_lines, 0, sizeof(ld->key_lines));
    ld->errors_at_section_start = ld->errors->count;
    if (ld->profile_device >= 0) {
        start_profile_section(ld, section);
        return;
    }
    char device[CFG_NAME_MAX + 1] = "", point[CFG_NAME_MAX + 1] = "";
    if (!parse_header(ld, section, device, point) || !claim_section(ld, device, point))
        return;
    static const struct key_table *const tables[] = {
        [SEC_GATEWAY] = &gateway_key_table, [SEC_MQTT] = &mqtt_key_table,
        [SEC_STORE] = &store_key_table, [SEC_COMMANDS] = &commands_key_table};
    if (ld->kind < SEC_BUS)
        ld->table = tables[ld->kind];
    else if (!add_record(ld, device, point)) {
        section_error(ld, ld->section_line, NULL, "out of memory");
        return;
    }
    ld->skip = false;
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
    size_t i = key_index(ld->table, key);
    if (i == ld->table->count && ld->kind == SEC_POINT && on_source_key(ld, key, value))
        return 1;
    if (i == ld->table->count) {
        section_error(ld, ld->line, key, "unknown key");
        return 1;
    }
    if (ld->key_lines[i]) {
        section_error(ld, ld->line, key, "set twice (first on line %d)", ld->key_lines[i]);
        return 1;
    }
    ld->key_lines[i] = ld->line;
    value_reason why;
    if (key_store_value(&ld->table->keys[i], section_base(ld), value, why) != 0)
        section_error(ld, ld->line, key, "%s", why);
    return 1;
}

/* inih calls back only for keys, so a header with no key under it would
 * pass unseen: an empty [bus rs485], a misspelt empty section. When the
 * next header or the end of the file shows that no key came, the section
 * is opened here, so that its missing keys are reported like any other. */
static void open_keyless_section(struct loader *ld)
{
    if (ld->header_count == 0 || ld->current_header == ld->header_count)
        return;
    ld->current_header = ld->header_count;
    start_section(ld, ld->header_name);
}

/* Checks what inih would pass over or misread: a UTF-8 byte order mark,
 * bytes that are not UTF-8 (they would reach the JSON payloads), a
 * password with an inline comment. */
static void check_line_text(struct loader *ld, char *buf)
{
    if (ld->line == 1 && strncmp(buf, "\xEF\xBB\xBF", 3) == 0)
        memmove(buf, buf + 3, strlen(buf + 3) + 1);
    if (!text_is_utf8(buf))
        config_error_add(ld->errors,
                         "%s:%d: not valid UTF-8 (a file saved as Latin-1 or Windows-1252?): "
                         "save it as UTF-8",
                         ld->path, ld->line);
    if (line_cuts_password(buf))
        config_error_add(ld->errors,
                         "%s:%d: password: ' ;' starts a comment in an INI file, so the password "
                         "would be cut short there; choose one without a space before ';'",
                         ld->path, ld->line);
}

/* fgets for inih that counts lines and notices section headers. */
static char *read_line(char *buf, int size, void *user)
{
    struct loader *ld = user;
    if (!fgets(buf, size, ld->fp))
        return NULL;
    ld->line++;
    check_line_text(ld, buf);
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
    const char *close = *p == '[' ? strchr(p, ']') : NULL;
    if (close) { /* without the bracket inih reports a syntax error */
        open_keyless_section(ld);
        ld->header_line = ld->line;
        ld->header_count++;
        int len = (int)(close - p - 1);
        snprintf(ld->header_name, sizeof(ld->header_name), "%.*s", len, p + 1);
    }
    return buf;
}

/* Parses the open file; returns inih's first syntax error line, or 0. */
static int parse_sections(struct loader *ld)
{
    int syntax_line = ini_parse_stream(read_line, ld, on_key, ld);
    open_keyless_section(ld);
    finish_section(ld);
    return syntax_line;
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

/* Takes the [profile] values the device's own section did not set. */
static void merge_profile_values(struct loader *ld, struct device_config *d)
{
    for (size_t i = 0; i < profile_key_table.count; i++) {
        const struct key_spec *k = &profile_key_table.keys[i];
        if (!ld->profile_key_lines[i])
            continue;
        size_t j = key_index(&device_key_table, k->key);
        bool set_by_device = j < device_key_table.count && (d->keys_set & (1u << j));
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
                          .profile = prof,
                          .offline = ld->offline,
                          .table = &no_keys};
    ld->profile_values = (struct device_config){.serial_parity = -1};
    ld->fp = fmemopen((void *)prof->text, strlen(prof->text), "r");
    if (!ld->fp) {
        config_error_add(ld->errors, "%s: cannot read: %m", prof->path);
        return;
    }
    int syntax_line = parse_sections(ld);
    fclose(ld->fp);
    if (syntax_line > 0)
        config_error_add(ld->errors, "%s:%d: syntax error", prof->path, syntax_line);
    d = &ld->cfg->devices[device_index];
    merge_profile_values(ld, d);
    size_t in_device = key_index(&device_key_table, "unit_id");
    size_t in_profile = key_index(&profile_key_table, "unit_id");
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
    return config_load_as(path, false, cfg, errors);
}

int config_load_as(const char *path, bool offline, struct gateway_config *cfg,
                   struct config_errors *errors)
{
    memset(cfg, 0, sizeof(*cfg));
    config_set_defaults(cfg);
    snprintf(cfg->ini_path, sizeof(cfg->ini_path), "%s", path);
    struct loader ld = {.path = path,
                        .cfg = cfg,
                        .errors = errors,
                        .profile_device = -1,
                        .table = &no_keys,
                        .offline = offline};
    ld.fp = fopen(path, "r");
    if (!ld.fp) {
        config_error_add(errors, "%s: cannot open: %m", path);
        return -1;
    }
    size_t before = errors->count;
    int syntax_line = parse_sections(&ld);
    fclose(ld.fp);
    if (syntax_line > 0)
        config_error_add(errors, "%s:%d: syntax error: expected '[section]' or 'key = value'", path,
                         syntax_line);

    static const char *const needed[] = {"gateway", "mqtt", "store"};
    bool seen[] = {ld.seen_gateway, ld.seen_mqtt, ld.seen_store};
    for (int i = 0; i < 3; i++)
        if (!seen[i])
            config_error_add(errors, "%s: [%s]: missing section", path, needed[i]);
    /* Every stage runs, so that one run reports every mistake of a file. */
    read_profiles(&ld);
    config_resolve(cfg, errors);
    config_validate(cfg, offline, errors);
    if (errors->count != before) {
        config_free(cfg);
        return -1;
    }
    return 0;
}
