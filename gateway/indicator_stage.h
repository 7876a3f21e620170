/* The indicator stage, between the ingest queue and the store: raw
 * readings in, in poll order; out come the raw readings each point
 * publishes (every one, on change beyond a deadband, or none) and the
 * indicators the readings complete (counts per interval, aggregates per
 * window). The state behind the indicators is saved in the same store
 * transaction as the records it produced. Runs on the pipeline thread. */
#ifndef GW_INDICATOR_STAGE_H
#define GW_INDICATOR_STAGE_H

#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "core/reading.h"
#include "store/store.h"

struct indicators;

/* point_ids[i] is the store's id of cfg->points[i]; saved state is loaded
 * from the store. */
int indicators_create(const struct gateway_config *cfg, const uint32_t *point_ids,
                      struct store *store, struct indicators **out);
void indicators_destroy(struct indicators *ind);
/* A reload: point i of `to` (made by indicators_create for the new file)
 * goes on with the state in memory of point point_from[i] of `from` (-1:
 * a new or changed point keeps what the store gave it): open intervals
 * and windows, a counter's last reading, publish-on-change's last value. */
void indicators_carry(struct indicators *to, const struct indicators *from, const int *point_from);

/* The most records indicators_feed for n readings and indicators_close_due
 * after it can write together. */
size_t indicators_room(const struct indicators *ind, size_t n);

size_t indicators_feed(struct indicators *ind, const struct reading *in, size_t n,
                       struct reading *out);

/* Windows and intervals the wall clock has left behind (a device that went
 * quiet, a long poll interval). */
size_t indicators_close_due(struct indicators *ind, int64_t now_wall_ms, struct reading *out);

/* Whether any state changed since the last indicators_states_saved(). */
bool indicators_any_changed(const struct indicators *ind);
/* The states changed since the last indicators_states_saved(). The
 * returned array stays valid until the next call. */
size_t indicators_changed_states(struct indicators *ind, const struct store_state **out);
void indicators_states_saved(struct indicators *ind);

#endif
