/* The built-in device profiles (sources/modbus/profiles/NAME.ini, compiled
 * in) a device names: read as if their sections were in the file, the
 * device's own keys winning. */
#include "config/config_keys.h"
#include "config/config_loader.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* In a profile: [profile] and [point NAME], the point belonging to the
 * device that names the profile. A point the INI file defines itself for
 * that device replaces the profile's. */
void start_profile_section(struct loader *ld, const char *section)
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

void read_profiles(struct loader *ld)
{
    const char *ini_path = ld->path;
    for (size_t i = 0; i < ld->cfg->device_count; i++)
        if (ld->cfg->devices[i].profile[0]) {
            read_profile(ld, (int)i);
            ld->path = ini_path;
        }
}
