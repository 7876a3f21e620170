/* The thread between the pollers and the output. Each round it
 *   1. takes what the pollers queued through the indicator stage into
 *      records, each with its seq, held in memory (write-behind),
 *   2. keeps the output's connection up,
 *   3. publishes the oldest records not yet in flight, the store's first,
 *   4. commits, when due, what the output has not acknowledged, with the
 *      indicators' state and the deletions of acknowledged stored records.
 * It knows records, sequence numbers and acknowledgements; the output
 * (outputs/output.h) knows topics, payloads and the client library. */
#ifndef GW_PIPELINE_H
#define GW_PIPELINE_H

#include <stdbool.h>
#include <stdint.h>

#include "config/config.h"
#include "outputs/output.h"
#include "gateway/ingest_queue.h"
#include "store/store.h"

struct pipeline;

/* point_ids[i] is the store's id of cfg->points[i]. Loads the indicator
 * state from the store; no thread yet. */
int pipeline_create(const struct gateway_config *cfg, const uint32_t *point_ids,
                    struct store *store, struct output out_to, struct ingest_queue *queue,
                    struct gateway_stats *stats, struct pipeline **out);
int pipeline_start(struct pipeline *p);
/* Asks the thread to end: it commits everything still queued, waits up to
 * grace_ms for the broker to acknowledge what is in flight, and publishes
 * nothing new; whatever is unacknowledged stays in the store for next
 * time. Returns at once; pipeline_destroy waits for it. */
void pipeline_stop(struct pipeline *p, int64_t grace_ms);
/* Waits for the thread (if started) and frees. */
void pipeline_destroy(struct pipeline *p);

/* A reload (gateway/reload.c), with the pollers parked first: park asks
 * the thread to take in what the queue holds, save the indicator state and
 * wait; parked waits until it does (false at the deadline). While parked,
 * reconfigure moves the stage to the file now in cfg (changed in place):
 * point_ids as registered for it, point i carrying the state in memory of
 * old point point_from[i] (-1: a new or changed point, from the store);
 * the devices are described again after the unpark. -1 when out of memory
 * or the store cannot be read: the old stage stays. */
void pipeline_park(struct pipeline *p);
bool pipeline_parked(struct pipeline *p, int64_t mono_deadline_ms);
int pipeline_reconfigure(struct pipeline *p, const uint32_t *point_ids, const int *point_from);
void pipeline_unpark(struct pipeline *p);
/* How long the pipeline has been inside one round (a commit, a publish, a
 * store call), monotonic milliseconds; 0 while it waits for work. A round
 * takes milliseconds: one that lasts seconds means a stuck disk or thread
 * (the watchdog stops vouching for the daemon then). Any thread may ask. */
int64_t pipeline_busy_ms(const struct pipeline *p, int64_t now_mono_ms);

#endif
