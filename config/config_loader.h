/* Inside the INI loader: what config_load.c (walking the sections),
 * config_load_point.c (a point's records and its source's keys) and
 * config_profiles.c (the profiles devices name) share. Not for use
 * outside these three. */
#ifndef GW_CONFIG_LOADER_H
#define GW_CONFIG_LOADER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "config/config.h"
#include "config/config_keys.h"

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

extern const struct key_table no_keys; /* before the first header; a section that failed */

void *grow(void **array, size_t *count, size_t elem);
/* The struct the open section's keys fill. */
void *section_base(struct loader *ld);
void section_error(struct loader *ld, int line, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* The line of key in the open section, 0 when not set. */
int key_line(void *ctx, const char *key);
bool section_exists(struct loader *ld, int kind, const char *a, const char *b);
void start_section(struct loader *ld, const char *section);
/* inih over ld->fp; the line of a syntax error, or 0. */
int parse_sections(struct loader *ld);

/* config_load_point.c */
bool reads_no_registers(struct loader *ld);
void check_source_point(struct loader *ld);
void check_source_keys(struct loader *ld);
bool on_source_key(struct loader *ld, const char *key, const char *value);
struct point_config *add_point(struct loader *ld, const char *device, const char *point);

/* config_profiles.c */
void start_profile_section(struct loader *ld, const char *section);
void read_profiles(struct loader *ld);

#endif
