/* The newest record of every point and kind in the store. Published with
 * the retain flag, it is what a dashboard that subscribes late receives at
 * once, without replaying the backlog; older records of the same topic go
 * out without it, so that a draining backlog never replaces a retained
 * value with an older one. */
#ifndef GW_LATEST_SEQ_H
#define GW_LATEST_SEQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gateway/reading.h"
#include "gateway/store.h"

struct latest_seq {
    int64_t *seq; /* [point_id * READING_KINDS + kind] */
    size_t slots;
};

/* Starts from the records the store holds. */
int latest_seq_load(struct latest_seq *l, struct store *s);
void latest_seq_free(struct latest_seq *l);
void latest_seq_note(struct latest_seq *l, const struct reading *r, size_t n);
bool latest_seq_is_newest(const struct latest_seq *l, const struct reading *r);

#endif
