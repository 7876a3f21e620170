/* `sensor-gateway write`: one write to one point and its read-back, from
 * the technician's laptop or a shell on the box, under the same checks as
 * a command from MQTT (the point must be writable, the value in range)
 * but without [commands] enabled: the person at the device decides. */
#include "commands/command_value.h"
#include "config/config.h"
#include "core/log.h"
#include "cli/cmd_common.h"
#include "cli/subcommands.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* true/false/on/off for a coil, else a number. */
static int parse_value(const char *text, struct command_value *v)
{
    static const char *const yes[] = {"true", "on"}, *const no[] = {"false", "off"};
    for (int i = 0; i < 2; i++) {
        if (strcmp(text, yes[i]) == 0 || strcmp(text, no[i]) == 0) {
            *v = (struct command_value){.is_bool = true, .number = strcmp(text, yes[i]) == 0};
            return 0;
        }
    }
    char *end;
    v->is_bool = false;
    v->number = strtod(text, &end);
    return end != text && *end == '\0' ? 0 : -1;
}

static int find_point(const struct gateway_config *cfg, int device, const char *name)
{
    for (size_t i = 0; i < cfg->point_count; i++)
        if (cfg->points[i].device_index == device && strcmp(cfg->points[i].name, name) == 0)
            return (int)i;
    return -1;
}

static void print_result(const struct point_config *pc, const struct command_result *res)
{
    printf("%s", command_status_names[res->status]);
    if (res->reason != REASON_NONE)
        printf(" (%s)", command_reason_names[res->reason]);
    printf(" in %lld ms", (long long)res->took_ms);
    if (res->has_value)
        printf("; the device holds %.15g%s%s", res->value, pc->unit[0] ? " " : "", pc->unit);
    if (res->message[0])
        printf(": %s", res->message);
    printf("\n");
}

static int write_loaded(const struct gateway_config *cfg, struct command *cmd)
{
    cmd->device_index = config_find_device(cfg, cmd->device);
    cmd->point_index = cmd->device_index < 0 ? -1 : find_point(cfg, cmd->device_index, cmd->point);
    if (cmd->point_index < 0) {
        fprintf(stderr, "%s: no point %s/%s in this file\n", cfg->ini_path, cmd->device,
                cmd->point);
        return EXIT_CONFIG;
    }
    const struct point_config *pc = &cfg->points[cmd->point_index];
    char why[256];
    if (!pc->writable) {
        fprintf(stderr, "%s:%d: [point %s/%s] is not writable (add writable = true)\n",
                pc->file ? pc->file : cfg->ini_path, pc->line, cmd->device, cmd->point);
        return EXIT_CONFIG;
    }
    if (command_to_raw(pc, &cmd->value, &cmd->raw, why, sizeof(why)) != REASON_NONE) {
        fprintf(stderr, "%s/%s: %s\n", cmd->device, cmd->point, why);
        return EXIT_CONFIG;
    }
    char place[64];
    pc->source->name_of(&pc->where, place, sizeof(place));
    printf("write %s/%s = %.15g%s%s (raw %.15g, %s)\n", cmd->device, cmd->point, cmd->value.number,
           pc->unit[0] ? " " : "", pc->unit, cmd->raw, place);
    struct technician_poller tp;
    if (technician_poller_open(cfg, cmd->device_index, &tp) != 0)
        return EXIT_FAILURE;
    struct command_result res;
    cmd->expires_ms = INT64_MAX;
    poller_command_now(tp.poller, cmd, &res);
    technician_poller_close(&tp);
    print_result(pc, &res);
    return res.status == COMMAND_DONE ? EXIT_SUCCESS : EXIT_FAILURE;
}

int command_write(const struct gateway_config *cfg, const char *device, const char *point,
                  const char *value)
{
    struct command cmd = {0};
    if (parse_value(value, &cmd.value) != 0 || strlen(device) >= sizeof(cmd.device) ||
        strlen(point) >= sizeof(cmd.point)) {
        fprintf(stderr, "write: '%s' is not a number, true or false\n", value);
        return EXIT_CONFIG;
    }
    strcpy(cmd.device, device);
    strcpy(cmd.point, point);
    log_set_level(LOG_ERROR);
    return write_loaded(cfg, &cmd);
}
