/* The hand-over from the pollers to the pipeline thread: a bounded ring of
 * readings. Pollers never block on it: when it is full (the store has been
 * stuck for a long time) new readings are counted as dropped and logged.
 *
 * The same condition variable wakes the pipeline for news from the broker
 * (a connection, a refusal, room in the in-flight window), so the pipeline
 * sleeps in one place. */
#ifndef GW_INGEST_QUEUE_H
#define GW_INGEST_QUEUE_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/log.h"
#include "core/reading.h"
#include "core/stats.h"

struct ingest_queue {
    pthread_mutex_t lock;
    pthread_cond_t wake; /* on CLOCK_MONOTONIC */
    struct reading *ring;
    size_t capacity, head, count;
    bool woken;                  /* the pipeline has news it has not woken up for yet */
    struct gateway_stats *stats; /* counts what a full queue drops */
    struct log_limit full_log;   /* and says so at most every 10 s */
};

int ingest_queue_init(struct ingest_queue *q, size_t capacity, struct gateway_stats *stats);
void ingest_queue_free(struct ingest_queue *q);

/* Returns how many of n were accepted; the rest are counted as dropped. */
size_t ingest_queue_push(struct ingest_queue *q, const struct reading *readings, size_t n);

/* Moves up to max readings, oldest first, into out. */
size_t ingest_queue_take(struct ingest_queue *q, struct reading *out, size_t max);
size_t ingest_queue_length(struct ingest_queue *q);

/* Waits until woken or until the monotonic deadline. */
void ingest_queue_wait(struct ingest_queue *q, int64_t mono_deadline_ms);
void ingest_queue_wake(struct ingest_queue *q);

#endif
