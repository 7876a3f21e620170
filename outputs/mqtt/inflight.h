/* The messages of one broker connection that wait for their PUBACK.
 *
 * paho does not promise a callback for every message that was in flight
 * when a connection drops. So each connection gets its own pool of slots;
 * a message's callback context is its slot. When the connection drops the
 * pool is retired: late callbacks still land in it safely (an ack is an
 * ack) and it is freed once its last slot is back, or at the end.
 *
 * Not thread-safe: the forwarder holds its lock around every call. */
#ifndef GW_INFLIGHT_H
#define GW_INFLIGHT_H

#include <stddef.h>
#include <stdint.h>

#include "outputs/mqtt/payload.h"

struct inflight_pool;

struct inflight_slot {
    struct inflight_pool *pool;
    int64_t seq;           /* -1 while free */
    char topic[TOPIC_MAX]; /* for the log line when the broker refuses it */
    int64_t size;          /* of its PUBLISH packet: a refusal as too large says the limit */
    int readings;          /* in the message: health counts both units */
    struct inflight_slot *next_free;
};

struct inflight_pool {
    void *owner; /* the forwarder */
    struct inflight_slot *slots;
    size_t size;
    struct inflight_slot *free_list;
    size_t outstanding;
    /* The oldest message paho gave up on (it fails what was in flight
     * before it reports the connection lost): still the one to blame for
     * the loss. seq -1: none. */
    struct inflight_slot abandoned;
    struct inflight_pool *next_retired;
};

struct inflight {
    struct inflight_pool *current;
    struct inflight_pool *retired;
    size_t size;
    void *owner;
};

int inflight_init(struct inflight *in, size_t size, void *owner);
void inflight_free(struct inflight *in);

/* A free slot of the current pool for seq, or NULL when the window is full. */
struct inflight_slot *inflight_acquire(struct inflight *in, int64_t seq, const char *topic);
/* Gives a slot back, to whichever pool it came from. */
void inflight_release(struct inflight *in, struct inflight_slot *slot);
/* Gives back a slot whose message paho failed without an answer from the
 * broker: inflight_oldest still counts it until the pool is retired. */
void inflight_abandon(struct inflight *in, struct inflight_slot *slot);
/* The connection is gone: a fresh pool for the next one. */
void inflight_retire(struct inflight *in);

/* The slot of the oldest message still waiting on the current connection,
 * or given up on there unanswered; NULL if none. */
const struct inflight_slot *inflight_oldest(const struct inflight *in);

#endif
