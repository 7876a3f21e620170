/* Where commands from the output meet the pollers. The desk admits or
 * refuses each command (retained, disabled, unknown, not writable,
 * malformed, expired, a repeat, out of range), hands an admitted one to
 * the poller of its device's bus, and when it ends, however it ends, logs
 * it once, counts it, remembers it against repeats and has it answered.
 *
 * Threads: commands arrive on the output's thread (command_desk_submit)
 * and end on a poller's or right there; every command ends exactly once. */
#ifndef GW_COMMAND_DESK_H
#define GW_COMMAND_DESK_H

#include "commands/command.h"
#include "config/config.h"
#include "core/stats.h"
#include "gateway/poller.h"

struct command_desk;

int command_desk_create(const struct gateway_config *cfg, struct gateway_stats *stats,
                        struct command_desk **out);
/* Frees; call after the output that submits and the pollers are gone. */
void command_desk_destroy(struct command_desk *desk);

/* Until attached (and after detach) admitted commands fail as "stopping". */
void command_desk_attach(struct command_desk *desk, struct poller **pollers);
void command_desk_detach(struct command_desk *desk);
/* A reload: hold keeps commands from being admitted while the
 * configuration and the pollers change (they wait; none is refused for
 * it); release attaches the new pollers and lets them through. */
void command_desk_hold(struct command_desk *desk);
void command_desk_release(struct command_desk *desk, struct poller **pollers);

/* Takes cmd (malloc'ed, with reply set) and sees it through: the desk owns
 * it from here and frees it once answered. For the output's use; the
 * signature fits struct command_sink (outputs/output.h). */
void command_desk_submit(void *desk, struct command *cmd);

/* Whether the configuration has a point commands may write at all: else
 * the output need not listen for commands. */
bool command_desk_listens(const struct gateway_config *cfg);

#endif
