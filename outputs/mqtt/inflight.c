#include "outputs/mqtt/inflight.h"

#include <stdio.h>
#include <stdlib.h>

static struct inflight_pool *pool_new(size_t n, void *owner)
{
    struct inflight_pool *pool = calloc(1, sizeof(*pool));
    if (!pool)
        return NULL;
    pool->slots = calloc(n, sizeof(*pool->slots));
    if (!pool->slots) {
        free(pool);
        return NULL;
    }
    pool->owner = owner;
    pool->size = n;
    pool->abandoned.seq = -1;
    for (size_t i = 0; i < n; i++) {
        pool->slots[i].pool = pool;
        pool->slots[i].seq = -1;
        pool->slots[i].next_free = i + 1 < n ? &pool->slots[i + 1] : NULL;
    }
    pool->free_list = &pool->slots[0];
    return pool;
}

static void pool_free(struct inflight_pool *pool)
{
    if (pool) {
        free(pool->slots);
        free(pool);
    }
}

int inflight_init(struct inflight *in, size_t size, void *owner)
{
    *in = (struct inflight){.size = size, .owner = owner};
    in->current = pool_new(size, owner);
    return in->current ? 0 : -1;
}

void inflight_free(struct inflight *in)
{
    pool_free(in->current);
    while (in->retired) {
        struct inflight_pool *next = in->retired->next_retired;
        pool_free(in->retired);
        in->retired = next;
    }
    in->current = NULL;
}

struct inflight_slot *inflight_acquire(struct inflight *in, int64_t seq, const char *topic)
{
    struct inflight_slot *slot = in->current->free_list;
    if (!slot)
        return NULL;
    in->current->free_list = slot->next_free;
    in->current->outstanding++;
    slot->seq = seq;
    snprintf(slot->topic, sizeof(slot->topic), "%s", topic);
    return slot;
}

void inflight_release(struct inflight *in, struct inflight_slot *slot)
{
    struct inflight_pool *pool = slot->pool;
    slot->seq = -1;
    slot->next_free = pool->free_list;
    pool->free_list = slot;
    pool->outstanding--;
    if (pool == in->current || pool->outstanding > 0)
        return;
    for (struct inflight_pool **p = &in->retired; *p; p = &(*p)->next_retired) {
        if (*p == pool) {
            *p = pool->next_retired;
            pool_free(pool);
            return;
        }
    }
}

void inflight_abandon(struct inflight *in, struct inflight_slot *slot)
{
    struct inflight_pool *pool = slot->pool;
    if (pool == in->current && (pool->abandoned.seq < 0 || slot->seq < pool->abandoned.seq)) {
        pool->abandoned = *slot;
        pool->abandoned.next_free = NULL;
    }
    inflight_release(in, slot);
}

void inflight_retire(struct inflight *in)
{
    struct inflight_pool *old = in->current;
    struct inflight_pool *fresh = pool_new(in->size, in->owner);
    if (!fresh)
        return; /* keep the old pool: at worst the window stays smaller */
    in->current = fresh;
    if (old->outstanding == 0) {
        pool_free(old);
    } else {
        old->next_retired = in->retired;
        in->retired = old;
    }
}

const struct inflight_slot *inflight_oldest(const struct inflight *in)
{
    const struct inflight_pool *pool = in->current;
    const struct inflight_slot *oldest = pool->abandoned.seq >= 0 ? &pool->abandoned : NULL;
    for (size_t i = 0; pool->outstanding > 0 && i < pool->size; i++) {
        const struct inflight_slot *s = &pool->slots[i];
        if (s->seq >= 0 && (!oldest || s->seq < oldest->seq))
            oldest = s;
    }
    return oldest;
}
