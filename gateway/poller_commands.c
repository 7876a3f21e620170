/* Commands on a poller's bus: queued by the desk, run between polls, by
 * the poller's thread or the event loop, and judged against what the
 * device holds afterwards. */
#include "commands/command_value.h"
#include "core/stats.h"
#include "gateway/poll_loop.h"
#include "gateway/poller_internal.h"

#include <stdlib.h>

/* The device's register point that is config point index, or -1. */
static int register_point_of(const struct poller *p, const struct device_state *d, int index)
{
    for (size_t i = 0; i < d->register_points; i++)
        if (d->points[i] == &p->cfg->points[index])
            return (int)i;
    return -1;
}

/* What the device holds after the write, judged against what was written. */
static void judge_write(const struct point_config *pc, const struct command *cmd,
                        const struct source_write *io, struct command_result *res)
{
    if (!pc->read_back) {
        command_result_set(res, COMMAND_DONE, REASON_NONE,
                           "written; not read back (read_back = false)");
        return;
    }
    if (io->have_value) {
        res->has_value = true;
        res->value = point_scaled(pc, io->value_raw);
    }
    if (!io->have_value || !command_raw_matches(pc, cmd->raw, io->value_raw))
        command_result_set(res, COMMAND_FAILED, REASON_READ_BACK_DIFFERS,
                           "the device confirmed the write but holds %.15g%s%s (raw %.15g, "
                           "written %.15g)",
                           res->value, pc->unit[0] ? " " : "", pc->unit, io->value_raw, cmd->raw);
    else
        command_result_set(res, COMMAND_DONE, REASON_NONE, NULL);
}

struct device_state *command_admit(struct poller *p, const struct command *cmd, int *point,
                                   struct source_write *io, struct command_result *res)
{
    struct device_state *d = device_of(p, cmd->device_index);
    int idx = d ? register_point_of(p, d, cmd->point_index) : -1;
    *res = (struct command_result){0};
    if (idx < 0) {
        command_result_set(res, COMMAND_REFUSED, REASON_UNKNOWN_POINT, "not polled on bus %s",
                           p->bus->name);
        return NULL;
    }
    if (clock_mono_ms() > cmd->expires_ms) {
        command_result_set(res, COMMAND_REFUSED, REASON_EXPIRED, "expired while waiting for bus %s",
                           p->bus->name);
        return NULL;
    }
    /* A device that is backed off would cost the line a full timeout for
     * a command that most likely fails too. */
    if (d->failures >= 2) {
        command_result_set(res, COMMAND_FAILED, REASON_BACKED_OFF,
                           "device %s failed its last %d polls; it is asked again in %lld ms",
                           d->cfg->name, d->failures,
                           (long long)(d->next_due_ms - clock_mono_ms()));
        return NULL;
    }
    *point = idx;
    *io = (struct source_write){.read_back = d->points[idx]->read_back};
    return d;
}

void command_judge(struct poller *p, const struct command *cmd, const struct device_state *d,
                   int point, enum source_result r, const struct source_write *io,
                   struct command_result *res)
{
    res->took_ms = io->took_us / 1000;
    stat_add(&p->line->busy_us, (uint64_t)io->took_us);
    p->window_busy_us += io->took_us;
    if (r == SOURCE_OK)
        judge_write(d->points[point], cmd, io, res);
    else
        command_result_set(res, COMMAND_FAILED,
                           r == SOURCE_REFUSED ? REASON_EXCEPTION : REASON_NO_ANSWER, "%s",
                           io->why);
}

/* One command on the bus, from the calling thread: the line is ours, its
 * silences are the link's as for a poll. */
static void execute(struct poller *p, struct command *cmd, struct command_result *res)
{
    int point;
    struct source_write io;
    struct device_state *d = command_admit(p, cmd, &point, &io, res);
    if (!d)
        return;
    enum source_result r = p->source->write(p->source_bus, d->source, (size_t)point, cmd->raw, &io);
    command_judge(p, cmd, d, point, r, &io, res);
}

struct command *command_next(struct poller *p)
{
    pthread_mutex_lock(&p->commands_lock);
    struct command *cmd = p->commands;
    if (cmd) {
        p->commands = cmd->next;
        if (!p->commands)
            p->commands_tail = &p->commands;
        p->commands_waiting--;
    }
    pthread_mutex_unlock(&p->commands_lock);
    return cmd;
}

void run_commands(struct poller *p)
{
    for (struct command *cmd; (cmd = command_next(p));) {
        struct command_result res;
        execute(p, cmd, &res);
        cmd->finish(cmd->finish_ctx, cmd, &res);
    }
}

int poller_command(struct poller *p, struct command *cmd)
{
    pthread_mutex_lock(&p->commands_lock);
    bool room = p->started && p->commands_waiting < COMMAND_QUEUE_MAX;
    if (room) {
        cmd->next = NULL;
        *p->commands_tail = cmd;
        p->commands_tail = &cmd->next;
        p->commands_waiting++;
    }
    pthread_mutex_unlock(&p->commands_lock);
    if (!room)
        return -1;
    if (p->loop)
        poll_loop_command(p->loop, p);
    else
        stop_signal_poke(&p->stop);
    return 0;
}

void poller_command_now(struct poller *p, struct command *cmd, struct command_result *res)
{
    execute(p, cmd, res);
}

/* Commands that came after the last round end here, answered. */
void commands_refuse_all(struct poller *p)
{
    for (struct command *cmd; (cmd = command_next(p));) {
        struct command_result res = {0};
        command_result_set(&res, COMMAND_FAILED, REASON_STOPPING, "the gateway is stopping");
        cmd->finish(cmd->finish_ctx, cmd, &res);
    }
}
