/* INI loading: inih tokenises, this file walks the sections (a point's
 * records and its source's keys: config_load_point.c; the device profiles
 * they name: config_profiles.c), and config_keys.c maps each key onto the
 * structs of config.h.
 *
 * inih as Debian builds it does not pass line numbers to the handler, so the
 * line reader below counts them; every message names file, line, section
 * and key. */
#include "config/config.h"
#include "config/config_keys.h"
#include "config/config_loader.h"
#include "config/config_values.h"

#include <ini.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void *grow(void **array, size_t *count, size_t elem)
{
    void *bigger = realloc(*array, (*count + 1) * elem);
    if (!bigger)
        return NULL;
    *array = bigger;
    memset((char *)bigger + *count * elem, 0, elem);
    return (char *)bigger + (*count)++ * elem;
}

void *section_base(struct loader *ld)
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

void section_error(struct loader *ld, int line, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

void section_error(struct loader *ld, int line, const char *key, const char *fmt, ...)
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
const struct key_table no_keys = {NULL, 0};

int key_line(void *ctx, const char *key)
{
    struct loader *ld = ctx;
    size_t i = key_index(ld->table, key);
    return i < ld->table->count ? ld->key_lines[i] : 0;
}

static bool key_may_be_missing(struct loader *ld, const char *key)
{
    if (ld->kind == SEC_DEVICE && key_line(ld, "profile"))
        return strcmp(key, "unit_id") == 0;
    return false;
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

bool section_exists(struct loader *ld, int kind, const char *a, const char *b)
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
void start_section(struct loader *ld, const char *section)
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
    static const struct key_table *const tables[] = {[SEC_GATEWAY] = &gateway_key_table,
                                                     [SEC_MQTT] = &mqtt_key_table,
                                                     [SEC_STORE] = &store_key_table,
                                                     [SEC_COMMANDS] = &commands_key_table};
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
int parse_sections(struct loader *ld)
{
    int syntax_line = ini_parse_stream(read_line, ld, on_key, ld);
    open_keyless_section(ld);
    finish_section(ld);
    return syntax_line;
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
