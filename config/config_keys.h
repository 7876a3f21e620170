/* The INI vocabulary shared by the loader: key tables per section kind and
 * the parsing of one value into the field a key names. */
#ifndef GW_CONFIG_KEYS_H
#define GW_CONFIG_KEYS_H

#include <stdbool.h>
#include <stddef.h>

#include "config/config.h"
#include "config/config_values.h"

#define DAY_MS (86400LL * 1000)

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
    /* The value before the file sets one, written as in the file (NULL:
     * zero, or a value that depends on other keys, set by the checks). */
    const char *def;
};

struct key_table {
    const struct key_spec *keys;
    size_t count;
};

extern const struct key_table gateway_key_table, mqtt_key_table, store_key_table,
    commands_key_table, bus_key_table,
    device_key_table, profile_key_table, point_key_table;

/* The index of key in t, or t->count when it is not there. */
size_t key_index(const struct key_table *t, const char *key);

/* Parses value into the field k describes inside section, the struct of
 * the section's kind (gateway_config for [gateway], mqtt_config for
 * [mqtt], ...). Returns 0, or -1 with a reason. */
int key_store_value(const struct key_spec *k, void *section, const char *value, value_reason why);

/* Every key of the table with a default set to it in section. */
void key_table_defaults(const struct key_table *t, void *section);

/* A key a source declares for its points, as the loader parses it (into
 * the point's source_point bytes). */
struct key_spec key_spec_of_source(const struct source_key *k);

#endif
