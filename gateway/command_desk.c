#include "gateway/command_desk.h"
#include "commands/command_memory.h"
#include "commands/command_value.h"
#include "core/clock.h"
#include "core/log.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct command_desk {
    const struct gateway_config *cfg;
    struct gateway_stats *stats;
    struct command_memory memory;
    /* The pollers, and the configuration while a command is admitted: a
     * reload changes both under it (command_desk_hold). */
    pthread_mutex_t lock;
    struct poller **pollers;
};

bool command_desk_listens(const struct gateway_config *cfg)
{
    for (size_t i = 0; i < cfg->point_count; i++)
        if (cfg->points[i].writable)
            return true;
    return false;
}

int command_desk_create(const struct gateway_config *cfg, struct gateway_stats *stats,
                        struct command_desk **out)
{
    struct command_desk *desk = calloc(1, sizeof(*desk));
    if (!desk)
        return -1;
    desk->cfg = cfg;
    desk->stats = stats;
    command_memory_init(&desk->memory, cfg->commands.remember_ms);
    pthread_mutex_init(&desk->lock, NULL);
    *out = desk;
    return 0;
}

void command_desk_destroy(struct command_desk *desk)
{
    if (!desk)
        return;
    command_memory_destroy(&desk->memory);
    pthread_mutex_destroy(&desk->lock);
    free(desk);
}

void command_desk_attach(struct command_desk *desk, struct poller **pollers)
{
    pthread_mutex_lock(&desk->lock);
    desk->pollers = pollers;
    pthread_mutex_unlock(&desk->lock);
}

void command_desk_hold(struct command_desk *desk)
{
    pthread_mutex_lock(&desk->lock);
}

void command_desk_release(struct command_desk *desk, struct poller **pollers)
{
    desk->pollers = pollers;
    pthread_mutex_unlock(&desk->lock);
}

void command_desk_detach(struct command_desk *desk)
{
    command_desk_attach(desk, NULL);
}

static void count(struct command_desk *desk, const struct command_result *res)
{
    struct gateway_stats *s = desk->stats;
    if (res->reason == REASON_EXPIRED)
        stat_add(&s->commands_expired, 1);
    else
        stat_add(res->status == COMMAND_DONE      ? &s->commands_done
                 : res->status == COMMAND_REFUSED ? &s->commands_refused
                                                  : &s->commands_failed,
                 1);
}

static void format_value(const struct command *cmd, char *buf, size_t size)
{
    if (cmd->parse_error != REASON_NONE)
        snprintf(buf, size, "?");
    else if (cmd->value.is_bool)
        snprintf(buf, size, "%s", cmd->value.number ? "true" : "false");
    else
        snprintf(buf, size, "%.15g", cmd->value.number);
}

/* The audit line: one per command, whatever became of it. */
static void audit(const struct command *cmd, const struct command_result *res)
{
    char value[48], reason[48] = "";
    format_value(cmd, value, sizeof(value));
    if (res->reason != REASON_NONE)
        snprintf(reason, sizeof(reason), " (%s)", command_reason_names[res->reason]);
    log_msg(res->status == COMMAND_DONE ? LOG_INFO : LOG_WARNING,
            "command %s: %s/%s = %s from %s: %s%s%s%s", cmd->id[0] ? cmd->id : "(no id)",
            cmd->device, cmd->point, value, cmd->origin, command_status_names[res->status], reason,
            res->message[0] ? ": " : "", res->message);
}

/* Every command ends here, once: from the poller that ran it, or from
 * submit when it was refused or could not be queued. */
static void finish(void *ctx, const struct command *c, const struct command_result *res)
{
    struct command_desk *desk = ctx;
    struct command *cmd = (struct command *)c;
    audit(cmd, res);
    count(desk, res);
    command_memory_finished(&desk->memory, cmd, res);
    cmd->reply(cmd->reply_ctx, cmd, res);
    free(cmd);
}

static bool refuse(struct command_result *res, enum command_reason reason, const char *message)
{
    command_result_set(res, COMMAND_REFUSED, reason, "%s", message);
    return true;
}

/* The checks that need no bus, in the order an operator reads them: a
 * retained message is never acted on, whatever else it says. */
static bool refused(struct command_desk *desk, struct command *cmd, struct command_result *res)
{
    const struct gateway_config *cfg = desk->cfg;
    char why[256];
    if (cmd->retained)
        return refuse(res, REASON_RETAINED,
                      "a retained message is never carried out: publish commands with retain off");
    if (!cfg->commands.enabled)
        return refuse(res, REASON_DISABLED,
                      "commands are off on this gateway ([commands] "
                      "enabled = false)");
    if (cmd->parse_error != REASON_NONE)
        return refuse(res, cmd->parse_error, cmd->parse_message);
    cmd->device_index = config_find_device(cfg, cmd->device);
    cmd->point_index = config_find_point(cfg, cmd->device, cmd->point);
    if (cmd->point_index < 0)
        return refuse(res, REASON_UNKNOWN_POINT, "no such device and point on this gateway");
    const struct point_config *pc = &cfg->points[cmd->point_index];
    if (!pc->writable)
        return refuse(res, REASON_NOT_WRITABLE, "the point is not declared writable");
    if (clock_mono_ms() > cmd->expires_ms)
        return refuse(res, REASON_EXPIRED, "arrived after its expiry");
    struct command_memory_slot earlier;
    if (command_memory_seen(&desk->memory, cmd, cmd->received_ms, &earlier)) {
        refuse(res, REASON_DUPLICATE,
               earlier.finished ? "carried out already; this is its earlier result"
                                : "the same command is still under way");
        res->has_earlier = earlier.finished;
        res->earlier_status = earlier.status;
        res->earlier_reason = earlier.reason;
        return true;
    }
    enum command_reason r = command_to_raw(pc, &cmd->value, &cmd->raw, why, sizeof(why));
    return r != REASON_NONE && refuse(res, r, why);
}

void command_desk_submit(void *ctx, struct command *cmd)
{
    struct command_desk *desk = ctx;
    struct command_result res = {0};
    cmd->finish = finish;
    cmd->finish_ctx = desk;
    /* A sender that gave no expiry gets the configured one. */
    if (cmd->expires_ms == 0)
        cmd->expires_ms = cmd->received_ms + desk->cfg->commands.max_age_ms;
    pthread_mutex_lock(&desk->lock);
    bool no = refused(desk, cmd, &res);
    int queued = -1, bus = no ? -1 : desk->cfg->devices[cmd->device_index].bus_index;
    bool running = desk->pollers != NULL;
    char bus_name[CFG_NAME_MAX + 1] = "";
    if (bus >= 0) {
        snprintf(bus_name, sizeof(bus_name), "%s", desk->cfg->buses[bus].name);
        queued = running ? poller_command(desk->pollers[bus], cmd) : -1;
    }
    pthread_mutex_unlock(&desk->lock);
    if (no) {
        finish(desk, cmd, &res);
        return;
    }
    if (queued == 0)
        return;
    if (running)
        command_result_set(&res, COMMAND_REFUSED, REASON_BUSY, "too many commands wait for bus %s",
                           bus_name);
    else
        command_result_set(&res, COMMAND_FAILED, REASON_STOPPING,
                           "the gateway is starting or stopping");
    finish(desk, cmd, &res);
}
