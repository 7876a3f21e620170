/* `sensor-gateway status`: what the health message says, read from the
 * file the daemon keeps, for a technician without a broker. */
#include "config/config.h"
#include "cli/cmd_common.h"
#include "cli/subcommands.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>

static json_object *field(json_object *o, const char *key)
{
    json_object *v = NULL;
    return json_object_object_get_ex(o, key, &v) ? v : NULL;
}

static const char *text(json_object *o, const char *key)
{
    json_object *v = field(o, key);
    return v && json_object_is_type(v, json_type_string) ? json_object_get_string(v) : "-";
}

static long long number(json_object *o, const char *key)
{
    return (long long)json_object_get_int64(field(o, key));
}

static void print_devices(json_object *devices)
{
    printf("%-20s %10s %8s  %-24s %s\n", "device", "polls ok", "failed", "last good poll",
           "last error");
    json_object_object_foreach(devices, name, d)
    {
        printf("%-20s %10lld %8lld  %-24s %s\n", name, number(d, "polls_ok"),
               number(d, "polls_failed"), text(d, "last_ok"), text(d, "last_error"));
    }
}

/* The serial lines: a full one shows here before data goes missing. */
static void print_lines(json_object *lines)
{
    json_object_object_foreach(lines, name, l)
    {
        printf("line %s: busy %.0f %% of the last minute, %lld of %lld polls started late, %lld "
               "stray bytes\n",
               name, json_object_get_double(field(l, "busy_share")) * 100, number(l, "polls_late"),
               number(l, "polls"), number(l, "stray_bytes"));
    }
}

/* Whether the daemon runs on the file as it is now: an operator who
 * reloaded after an edit looks here first. */
static void print_reloads(json_object *config)
{
    json_object *last = field(config, "last_reload");
    if (!config || !last)
        return;
    printf("config: %lld reloads applied, %lld refused; the last at %s %s: %s\n",
           number(config, "reloads_applied"), number(config, "reloads_refused"), text(last, "ts"),
           json_object_get_boolean(field(last, "applied")) ? "applied"
                                                           : "REFUSED (still on the "
                                                             "file before)",
           text(last, "message"));
}

int command_status(const struct gateway_config *cfg)
{
    int rc = EXIT_FAILURE;
    struct stat st;
    json_object *h = NULL;
    if (!cfg->status_file[0]) {
        fprintf(stderr, "%s: [gateway] status_file is not set: the daemon keeps no status file\n",
                cfg->ini_path);
    } else if (stat(cfg->status_file, &st) != 0 || !(h = json_object_from_file(cfg->status_file))) {
        fprintf(stderr, "%s: no status yet (is the daemon running?)\n", cfg->status_file);
    } else {
        long long age = (long long)(time(NULL) - st.st_mtime);
        json_object *store = field(h, "store"), *broker = field(h, "broker");
        printf("gateway %s, version %s, up %llds; status written %llds ago%s\n", text(h, "gateway"),
               text(h, "version"), number(h, "uptime_s"), age,
               age * 1000 > 3 * cfg->health_interval_ms ? " (STALE: is the daemon running?)" : "");
        char oldest[48] = "";
        if (field(store, "oldest_unsent_age_s"))
            snprintf(oldest, sizeof(oldest), ", the oldest %llds old",
                     number(store, "oldest_unsent_age_s"));
        printf("store %s: %lld readings (%lld messages) waiting%s, %lld readings (%lld messages) "
               "set aside, %lld dropped in all, next seq %lld\n",
               text(store, "id"), number(store, "depth"), number(store, "depth_messages"), oldest,
               number(store, "set_aside_readings"), number(store, "set_aside_messages"),
               number(store, "dropped_total"), number(store, "next_seq"));
        printf("broker: %lld connects, %lld connection losses\n", number(broker, "connects"),
               number(broker, "reconnects"));
        json_object *cmds = field(h, "commands");
        if (cmds)
            printf("commands: %lld done, %lld refused, %lld failed, %lld expired\n",
                   number(cmds, "done"), number(cmds, "refused"), number(cmds, "failed"),
                   number(cmds, "expired"));
        print_reloads(field(h, "config"));
        print_lines(field(h, "lines"));
        print_devices(field(h, "devices"));
        json_object_put(h);
        rc = EXIT_SUCCESS;
    }
    return rc;
}
