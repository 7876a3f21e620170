#include "config/config_diff.h"
#include "config/config_keys.h"

#include <string.h>

/* [gateway] keys a running daemon takes as they come. */
static const char *const gateway_live_keys[] = {"log_level", "health_interval", "status_file",
                                                "metrics_file", NULL};

static bool is_live(const char *key)
{
    for (int i = 0; gateway_live_keys[i]; i++)
        if (strcmp(gateway_live_keys[i], key) == 0)
            return true;
    return false;
}

/* Names each key of the table whose field differs; a section whose bytes
 * differ where no key names a field (the broker URIs, a password read
 * from password_file) is named as a whole. */
static void name_changes(const char *section, const struct key_table *t, const void *a,
                         const void *b, size_t size, bool gateway, struct config_errors *out)
{
    bool named = false;
    for (size_t i = 0; i < t->count; i++) {
        const struct key_spec *k = &t->keys[i];
        if (k->size == 0 || (gateway && is_live(k->key)))
            continue;
        if (memcmp((const char *)a + k->offset, (const char *)b + k->offset, k->size) != 0) {
            config_error_add(out, "[%s] %s changed: the daemon applies it at a restart only",
                             section, k->key);
            named = true;
        }
    }
    if (!named && !gateway && memcmp(a, b, size) != 0)
        config_error_add(out,
                         "[%s] changed (uri, or a file it reads): the daemon applies it at a "
                         "restart only",
                         section);
}

void config_restart_only_changes(const struct gateway_config *running,
                                 const struct gateway_config *next, struct config_errors *out)
{
    name_changes("gateway", &gateway_key_table, running, next, sizeof(*running), true, out);
    name_changes("store", &store_key_table, &running->store, &next->store, sizeof(running->store),
                 false, out);
    name_changes("mqtt", &mqtt_key_table, &running->mqtt, &next->mqtt, sizeof(running->mqtt), false,
                 out);
    name_changes("commands", &commands_key_table, &running->commands, &next->commands,
                 sizeof(running->commands), false, out);
}

bool config_bus_same(const struct bus_config *a, const struct bus_config *b)
{
    struct bus_config x = *a, y = *b;
    x.line = y.line = 0;
    return memcmp(&x, &y, sizeof(x)) == 0;
}

bool config_point_same(const struct point_config *a, const struct point_config *b)
{
    struct point_config x = *a, y = *b;
    x.line = y.line = 0;
    x.device_index = y.device_index = 0;
    x.derived_from_index = y.derived_from_index = 0;
    x.decimals_index = y.decimals_index = 0;
    x.power_on_index = y.power_on_index = 0;
    x.occupancy_in_index = y.occupancy_in_index = 0;
    x.occupancy_out_index = y.occupancy_out_index = 0;
    memset(x.source_key_lines, 0, sizeof(x.source_key_lines));
    memset(y.source_key_lines, 0, sizeof(y.source_key_lines));
    return memcmp(&x, &y, sizeof(x)) == 0;
}

/* The device's next point from *from on, or NULL. */
static const struct point_config *next_point(const struct gateway_config *cfg, int device,
                                             size_t *from)
{
    for (; *from < cfg->point_count; (*from)++)
        if (cfg->points[*from].device_index == device)
            return &cfg->points[(*from)++];
    return NULL;
}

bool config_device_same(const struct gateway_config *a, int a_index, const struct gateway_config *b,
                        int b_index)
{
    struct device_config x = a->devices[a_index], y = b->devices[b_index];
    x.line = y.line = 0;
    x.bus_index = y.bus_index = 0;
    x.keys_set = y.keys_set = 0; /* where a value came from, not the value */
    if (memcmp(&x, &y, sizeof(x)) != 0 ||
        !config_bus_same(&a->buses[a->devices[a_index].bus_index],
                         &b->buses[b->devices[b_index].bus_index]))
        return false;
    size_t i = 0, j = 0;
    for (;;) {
        const struct point_config *p = next_point(a, a_index, &i), *q = next_point(b, b_index, &j);
        if (!p || !q)
            return p == q;
        if (!config_point_same(p, q))
            return false;
    }
}

static void swap_bytes(void *a, void *b, size_t n)
{
    unsigned char *x = a, *y = b;
    for (size_t i = 0; i < n; i++) {
        unsigned char keep = x[i];
        x[i] = y[i];
        y[i] = keep;
    }
}

#define SWAP(field) swap_bytes(&running->field, &next->field, sizeof(running->field))

void config_swap_live(struct gateway_config *running, struct gateway_config *next)
{
    SWAP(log_level);
    SWAP(health_interval_ms);
    SWAP(status_file);
    SWAP(metrics_file);
    SWAP(buses);
    SWAP(bus_count);
    SWAP(devices);
    SWAP(device_count);
    SWAP(points);
    SWAP(point_count);
}
