/* A [point] section's records and the keys its source declares (Modbus:
 * function, address, ...), parsed like the loader's own keys into the
 * point's source_point. */
#include "config/config_keys.h"
#include "config/config_loader.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* A point with a source has no registers; a device with a profile may
 * take its unit id from the profile (checked once the profile is read). */
bool reads_no_registers(struct loader *ld)
{
    return key_line(ld, "source") || ld->cfg->points[ld->index].kind == KIND_OCCUPANCY;
}

/* A point that reads nothing of its own (derived, occupancy) has no
 * business with the keys that say where a value is read. */
void check_source_point(struct loader *ld)
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
void check_source_keys(struct loader *ld)
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
bool on_source_key(struct loader *ld, const char *key, const char *value)
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

struct point_config *add_point(struct loader *ld, const char *device, const char *point)
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
