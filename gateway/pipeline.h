/* The thread between the pollers and the broker. Each round it
 *   1. passes what the pollers queued through the indicator stage
 *      (indicators) and commits the result, together with what the broker
 *      acknowledged and the indicators' state, in one SQLite transaction
 *      (store),
 *   2. keeps the broker connection up (forwarder_service),
 *   3. publishes the oldest readings not yet in flight (forward);
 * acknowledgements come back through the forwarder and leave the store in
 * the next commit. */
#ifndef GW_PIPELINE_H
#define GW_PIPELINE_H

#include "config/config.h"
#include "gateway/forwarder.h"
#include "gateway/ingest_queue.h"
#include "gateway/store.h"

struct pipeline;

/* point_ids[i] is the store's id of cfg->points[i]. */
int pipeline_start(const struct gateway_config *cfg, const uint32_t *point_ids, struct store *store,
                   struct forwarder *fw, struct ingest_queue *queue, struct pipeline **out);
/* Commits everything still queued, waits up to grace_ms for the broker to
 * acknowledge what is in flight, and joins the thread. Publishes nothing new
 * once called: whatever is unacknowledged stays in the store for next time. */
void pipeline_stop(struct pipeline *p, int64_t grace_ms);

#endif
