/* The write-behind buffer: records the pipeline has taken in, held in
 * memory until the broker acknowledges them or their commit deadline
 * comes. A record acknowledged in time is forgotten without ever touching
 * the disk; at the deadline whatever is still unacknowledged goes to the
 * store in one transaction (pipeline.c) and is forgotten here.
 *
 * Records are kept in sequence order with consecutive seqs, so finding one
 * by seq is arithmetic. Pure bookkeeping: no locks, no I/O; owned by the
 * pipeline thread. */
#ifndef GW_WRITE_BEHIND_H
#define GW_WRITE_BEHIND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/reading.h"

enum wb_state {
    WB_UNACKED, /* waiting for the broker (sent or not) */
    WB_REFUSED, /* the broker refused it: to be committed and set aside */
    WB_DONE,    /* acknowledged, or committed to the store */
};

struct wb_record {
    int64_t seq;
    int64_t taken_ms; /* monotonic: the commit deadline counts from here */
    size_t first;     /* its readings: readings[first .. first + n) */
    uint16_t n;
    uint8_t state; /* enum wb_state */
};

struct write_behind {
    struct wb_record *recs;
    size_t head, count, cap; /* live records: recs[head .. count) */
    struct reading *readings;
    size_t used, reading_cap;
    size_t live_readings; /* readings of records not yet done */
};

void wb_init(struct write_behind *wb);
void wb_free(struct write_behind *wb);

/* Appends a record of n readings under seq (one more than the last). */
int wb_append(struct write_behind *wb, int64_t seq, int64_t taken_ms, const struct reading *r,
              uint16_t n);

/* The record with this seq, if it is still held here and not done. */
struct wb_record *wb_find(struct write_behind *wb, int64_t seq);

/* Marks an acknowledged seq done; false when it is not held here (it is
 * in the store, or was already acknowledged). */
bool wb_ack(struct write_behind *wb, int64_t seq);
/* Marks a refused seq; false when it is not held here. */
bool wb_refuse(struct write_behind *wb, int64_t seq);

/* When the oldest record not done must be in the store (monotonic ms), or
 * INT64_MAX when nothing waits. */
int64_t wb_deadline(const struct write_behind *wb, int64_t interval_ms);

/* The records not done, as store records (pointers into the buffer, valid
 * until the next append); returns how many were written to out (max). */
size_t wb_pending(struct write_behind *wb, struct record *out, size_t max);
size_t wb_pending_count(const struct write_behind *wb);

/* Everything held is now in the store. */
void wb_all_committed(struct write_behind *wb);
/* The time of the oldest record still held, or -1 when none is. */
int64_t wb_oldest_ts(const struct write_behind *wb);

/* The first record after seq that waits for the broker, or NULL. */
struct wb_record *wb_next_unacked(struct write_behind *wb, int64_t after_seq);

static inline struct record wb_record_view(struct write_behind *wb, const struct wb_record *w)
{
    return (struct record){.seq = w->seq, .r = wb->readings + w->first, .n = w->n};
}

#endif
