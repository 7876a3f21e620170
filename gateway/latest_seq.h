/* The newest record of every topic in the store. Published with the
 * retain flag, it is what a dashboard that subscribes late receives at
 * once, without replaying the backlog; older records of the same topic go
 * out without it, so that a draining backlog never replaces a retained
 * value with an older one.
 *
 * A topic is named by a key and the kind of record: the point id of a
 * record's first reading, mapped through key_of (with layout = device, a
 * device's points all map to one key). */
#ifndef GW_LATEST_SEQ_H
#define GW_LATEST_SEQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/reading.h"
#include "store/store.h"

struct latest_seq {
    int64_t *seq; /* [key * READING_KINDS + kind] */
    size_t slots;
    const uint32_t *key_of; /* [point_id] for raw records; NULL: the point id */
    size_t key_count;
};

/* Starts from the records the store holds. */
int latest_seq_load(struct latest_seq *l, struct store *s, const uint32_t *key_of,
                    size_t key_count);
void latest_seq_free(struct latest_seq *l);
void latest_seq_note(struct latest_seq *l, const struct record *rec);
bool latest_seq_is_newest(const struct latest_seq *l, const struct record *rec);

#endif
