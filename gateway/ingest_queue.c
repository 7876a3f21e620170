#include "gateway/ingest_queue.h"
#include "core/clock.h"
#include "core/log.h"
#include "core/stats.h"

#include <stdlib.h>

int ingest_queue_init(struct ingest_queue *q, size_t capacity, struct gateway_stats *stats)
{
    q->ring = calloc(capacity, sizeof(*q->ring));
    if (!q->ring)
        return -1;
    q->capacity = capacity;
    q->head = q->count = 0;
    q->woken = false;
    q->stats = stats;
    q->full_log = (struct log_limit){.interval_ms = 10000};
    pthread_mutex_init(&q->lock, NULL);
    cond_init_monotonic(&q->wake);
    return 0;
}

void ingest_queue_free(struct ingest_queue *q)
{
    free(q->ring);
    q->ring = NULL;
    pthread_mutex_destroy(&q->lock);
    pthread_cond_destroy(&q->wake);
}

size_t ingest_queue_push(struct ingest_queue *q, const struct reading *readings, size_t n)
{
    pthread_mutex_lock(&q->lock);
    size_t accepted = 0;
    while (accepted < n && q->count < q->capacity) {
        q->ring[(q->head + q->count) % q->capacity] = readings[accepted++];
        q->count++;
    }
    /* One wake-up per batch the pipeline has not seen yet, not per push:
     * while it is awake it takes whatever has arrived. */
    if (accepted > 0 && !q->woken) {
        q->woken = true;
        pthread_cond_signal(&q->wake);
    }
    pthread_mutex_unlock(&q->lock);
    if (accepted < n) {
        stat_add(&q->stats->dropped_queue_full, n - accepted);
        log_limited(&q->full_log, LOG_ERROR,
                    "ingest queue full (%zu readings): dropped %zu readings; the store is not "
                    "keeping up",
                    q->capacity, n - accepted);
    }
    return accepted;
}

size_t ingest_queue_take(struct ingest_queue *q, struct reading *out, size_t max)
{
    pthread_mutex_lock(&q->lock);
    size_t n = 0;
    while (n < max && q->count > 0) {
        out[n++] = q->ring[q->head];
        q->head = (q->head + 1) % q->capacity;
        q->count--;
    }
    /* Emptied: start again at the front, so that the ring's memory in use
     * (its resident pages) is what the largest backlog needed, not all of
     * it once the head has gone round. */
    if (q->count == 0)
        q->head = 0;
    pthread_mutex_unlock(&q->lock);
    return n;
}

size_t ingest_queue_length(struct ingest_queue *q)
{
    pthread_mutex_lock(&q->lock);
    size_t n = q->count;
    pthread_mutex_unlock(&q->lock);
    return n;
}

void ingest_queue_wait(struct ingest_queue *q, int64_t mono_deadline_ms)
{
    pthread_mutex_lock(&q->lock);
    cond_wait_flag_until(&q->wake, &q->lock, &q->woken, mono_deadline_ms);
    q->woken = false;
    pthread_mutex_unlock(&q->lock);
}

void ingest_queue_wake(struct ingest_queue *q)
{
    pthread_mutex_lock(&q->lock);
    q->woken = true;
    pthread_cond_signal(&q->wake);
    pthread_mutex_unlock(&q->lock);
}
