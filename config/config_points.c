/* What a point's source says of the file: which source reads each point
 * (its device's bus's), the keys that source requires, and its checks of
 * a device's points together, each put on the line of the key it names. */
#include "config/config.h"
#include "sources/bus_kind.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PROBLEMS_MAX 64

/* The line of the point's key named key: a key of its source's, else
 * the section's. */
static int line_of(const struct point_config *p, const char *key)
{
    const struct source_keys *t = p->source ? p->source->point_keys : NULL;
    for (size_t i = 0; key && t && i < t->count; i++)
        if (strcmp(t->keys[i].key, key) == 0 && p->source_key_lines[i])
            return p->source_key_lines[i];
    return p->line;
}

static const char *file_of(const struct gateway_config *cfg, const struct point_config *p)
{
    return p->file ? p->file : cfg->ini_path;
}

/* A point whose keys named no source (none given) takes its bus's and
 * misses that source's required keys, unless it reads nothing; one whose
 * keys belong to another kind of bus is an error. */
static void resolve_one(const struct gateway_config *cfg, struct point_config *p,
                        struct config_errors *e)
{
    const struct device_config *d = &cfg->devices[p->device_index];
    if (d->bus_index < 0)
        return;
    const struct bus_config *bus = &cfg->buses[d->bus_index];
    const struct source_ops *source = bus_kind(bus->kind)->source;
    bool reads = config_point_reads(p, p->device_index);
    if (p->source && p->source != source) {
        for (size_t i = 0; i < p->source->point_keys->count; i++)
            if (p->source_key_lines[i]) {
                config_error_add(e, "%s:%d: [point %s/%s] %s: not a key of a point on bus %s (%s)",
                                 file_of(cfg, p), p->source_key_lines[i], p->device_name, p->name,
                                 p->source->point_keys->keys[i].key, bus->name,
                                 bus_kind_names[bus->kind]);
                break;
            }
        p->broken = true;
        return;
    }
    if (!p->source && reads)
        for (size_t i = 0; i < source->point_keys->count; i++)
            if (source->point_keys->keys[i].required) {
                config_error_add(e, "%s:%d: [point %s/%s] %s: missing (this key is required)",
                                 file_of(cfg, p), p->line, p->device_name, p->name,
                                 source->point_keys->keys[i].key);
                p->broken = true;
            }
    p->source = source;
}

void config_resolve_sources(struct gateway_config *cfg, struct config_errors *e)
{
    for (size_t i = 0; i < cfg->point_count; i++)
        if (cfg->points[i].device_index >= 0 && !cfg->points[i].broken)
            resolve_one(cfg, &cfg->points[i], e);
}

/* One device's points that read, checked by their source. */
static void check_device(const struct gateway_config *cfg, int device, bool warnings,
                         struct config_errors *out, struct source_point *where, bool *writable,
                         const struct point_config **which)
{
    size_t n = 0;
    const struct source_ops *source = NULL;
    for (size_t i = 0; i < cfg->point_count; i++) {
        const struct point_config *p = &cfg->points[i];
        if (p->broken || !p->source || !config_point_reads(p, device))
            continue;
        source = p->source;
        which[n] = p;
        writable[n] = p->writable;
        where[n++] = p->where;
    }
    if (!source || !source->check_points)
        return;
    struct source_problem problems[PROBLEMS_MAX];
    size_t found = source->check_points(where, writable, n, problems, PROBLEMS_MAX);
    for (size_t k = 0; k < found && k < PROBLEMS_MAX; k++) {
        const struct source_problem *pr = &problems[k];
        if (pr->warning != warnings)
            continue;
        const struct point_config *p = which[pr->point], *o = NULL;
        if (pr->other != SIZE_MAX)
            o = which[pr->other];
        char other[CFG_NAME_MAX + 48] = "";
        if (o)
            snprintf(other, sizeof(other), " of point %s (line %d)", o->name, o->line);
        config_error_add(out, "%s:%d: [point %s/%s] %s: %s%s", file_of(cfg, p), line_of(p, pr->key),
                         p->device_name, p->name, pr->key, pr->why, other);
    }
}

void config_check_source_points(const struct gateway_config *cfg, bool warnings,
                                struct config_errors *out)
{
    struct source_point *where = calloc(cfg->point_count + 1, sizeof(*where));
    bool *writable = calloc(cfg->point_count + 1, sizeof(*writable));
    const struct point_config **which = calloc(cfg->point_count + 1, sizeof(*which));
    if (!where || !writable || !which)
        config_error_add(out, "%s: out of memory", cfg->ini_path);
    for (size_t d = 0; where && writable && which && d < cfg->device_count; d++)
        check_device(cfg, (int)d, warnings, out, where, writable, which);
    free(where);
    free(writable);
    free(which);
}

struct source_value config_point_value(const struct point_config *p)
{
    return p->source ? p->source->value_of(&p->where) : (struct source_value){.type = "none"};
}
