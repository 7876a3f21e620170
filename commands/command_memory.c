#include "commands/command_memory.h"

#include <stdio.h>
#include <string.h>

void command_memory_init(struct command_memory *m, int64_t remember_ms)
{
    memset(m->slots, 0, sizeof(m->slots));
    m->next = 0;
    m->remember_ms = remember_ms;
    pthread_mutex_init(&m->lock, NULL);
}

void command_memory_destroy(struct command_memory *m)
{
    pthread_mutex_destroy(&m->lock);
}

/* Called with the lock held. */
static struct command_memory_slot *find(struct command_memory *m, const struct command *cmd,
                                        const char *key, int64_t now_ms, int64_t max_age_ms)
{
    for (size_t i = 0; i < COMMAND_MEMORY_SLOTS; i++) {
        struct command_memory_slot *s = &m->slots[i];
        if (s->key[0] && now_ms - s->seen_ms <= max_age_ms && strcmp(s->key, key) == 0 &&
            strcmp(s->device, cmd->device) == 0 && strcmp(s->point, cmd->point) == 0)
            return s;
    }
    return NULL;
}

bool command_memory_seen(struct command_memory *m, const struct command *cmd, int64_t now_ms,
                         struct command_memory_slot *earlier)
{
    char key[COMMAND_KEY_MAX];
    if (!command_key(cmd, key, sizeof(key)))
        return false;
    pthread_mutex_lock(&m->lock);
    struct command_memory_slot *s = find(m, cmd, key, now_ms, m->remember_ms);
    bool repeat = s != NULL;
    if (repeat) {
        *earlier = *s;
    } else {
        s = &m->slots[m->next];
        m->next = (m->next + 1) % COMMAND_MEMORY_SLOTS;
        *s = (struct command_memory_slot){.seen_ms = now_ms};
        snprintf(s->key, sizeof(s->key), "%s", key);
        snprintf(s->device, sizeof(s->device), "%s", cmd->device);
        snprintf(s->point, sizeof(s->point), "%s", cmd->point);
    }
    pthread_mutex_unlock(&m->lock);
    return repeat;
}

void command_memory_finished(struct command_memory *m, const struct command *cmd,
                             const struct command_result *res)
{
    char key[COMMAND_KEY_MAX];
    if (!command_key(cmd, key, sizeof(key)))
        return;
    pthread_mutex_lock(&m->lock);
    /* However long it took: the outcome belongs to the slot it was noted
     * in, the one of its key still unfinished. */
    for (size_t i = 0; i < COMMAND_MEMORY_SLOTS; i++) {
        struct command_memory_slot *s = &m->slots[i];
        if (s->finished || strcmp(s->key, key) != 0 || strcmp(s->device, cmd->device) != 0 ||
            strcmp(s->point, cmd->point) != 0)
            continue;
        s->finished = true;
        s->status = res->status;
        s->reason = res->reason;
        break;
    }
    pthread_mutex_unlock(&m->lock);
}
