/* The commands seen lately, by key (command_key: the id or the MQTT 5
 * correlation data), so that a repeat (a QoS 1 redelivery, a dashboard
 * that sends again) is answered with the first one's result instead of
 * being carried out twice. A fixed ring: the oldest is forgotten first,
 * and anything older than `remember` is forgotten anyway. Thread-safe:
 * commands arrive on the MQTT client's thread and end on the pollers'. */
#ifndef GW_COMMAND_MEMORY_H
#define GW_COMMAND_MEMORY_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "commands/command.h"

#define COMMAND_MEMORY_SLOTS 256
#define COMMAND_KEY_MAX (4 + 2 * COMMAND_CORRELATION_MAX)

struct command_memory_slot {
    char key[COMMAND_KEY_MAX];
    char device[CFG_NAME_MAX + 1], point[CFG_NAME_MAX + 1];
    int64_t seen_ms; /* monotonic */
    bool finished;   /* false while it waits for or is on the bus */
    enum command_status status;
    enum command_reason reason;
};

struct command_memory {
    pthread_mutex_t lock;
    int64_t remember_ms;
    struct command_memory_slot slots[COMMAND_MEMORY_SLOTS];
    size_t next;
};

void command_memory_init(struct command_memory *m, int64_t remember_ms);
void command_memory_destroy(struct command_memory *m);

/* Takes note of a command about to be carried out and returns false; or,
 * when one with its key was seen lately, returns true with that one's
 * outcome in *earlier (finished false: it is still under way). A command
 * without a key is never a repeat. */
bool command_memory_seen(struct command_memory *m, const struct command *cmd, int64_t now_ms,
                         struct command_memory_slot *earlier);

/* Records the outcome of a command taken note of by command_memory_seen. */
void command_memory_finished(struct command_memory *m, const struct command *cmd,
                             const struct command_result *res);

#endif
