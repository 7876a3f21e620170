/* A poller per bus. An RTU line carries one transaction at a time, so its
 * devices take turns on the line's own thread; TCP buses are all polled by
 * one event loop (poll_loop.h), where no device waits for another's. A device that fails is backed off on
 * its own schedule and costs the others on its line at most one response
 * timeout per back-off period. */
#ifndef GW_POLLER_H
#define GW_POLLER_H

#include <stdint.h>

#include "commands/command.h"
#include "config/config.h"
#include "core/clock.h"
#include "gateway/ingest_queue.h"
#include "sources/source.h"

struct poller;

struct poll_loop;

/* point_ids maps each config point (by index) to its store id. With a
 * loop, a bus whose source polls in steps is polled there once started;
 * any other gets a thread (NULL: always a thread, the probe's way). */
int poller_create(const struct gateway_config *cfg, int bus_index, const uint32_t *point_ids,
                  struct ingest_queue *queue, struct gateway_stats *stats, struct poll_loop *loop,
                  struct poller **out);
int poller_start(struct poller *p);
/* Asks the thread to end after its current poll. Each poller sleeps on a
 * stop signal of its own: a hundred pollers timing out on one shared
 * condition variable and its mutex contend for it at every poll. */
void poller_stop(struct poller *p);
/* Waits for the thread (after poller_stop) and frees. */
void poller_destroy(struct poller *p);

/* A reload (gateway/reload.c). park asks the thread to stop between two
 * polls, parked waits until it has (true; false at the deadline: a poll
 * still under way), unpark lets it go on. While parked, rebind moves it
 * to the file now in cfg (the one it was created with, changed in place;
 * the bus itself unchanged): device i of the new file carries on from
 * device_from[i] of the old one (-1: a new or changed device, set up
 * afresh and polled at once), devices gone are let go. -1 when out of
 * memory or a device cannot be set up: the poller is to be replaced. */
void poller_park(struct poller *p);
bool poller_parked(struct poller *p, int64_t mono_deadline_ms);
void poller_unpark(struct poller *p);
int poller_rebind(struct poller *p, int bus_index, const uint32_t *point_ids,
                  const int *device_from, struct gateway_stats *stats);

/* Polls the device named device, which is on this poller's bus, once and
 * now, from the calling thread (the poller is not started), reporting its
 * requests to trace; its readings go to the queue as in a running poller.
 * -1 when the device is not on this bus. */
int poller_poll_once(struct poller *p, const char *device, const struct source_trace *trace);

/* Queues a command the desk admitted (device_index, point_index and raw
 * set) for the poller's thread, which runs it before its next poll and
 * then calls cmd->finish. -1 when the poller is not running or too many
 * wait already: the caller still owns cmd then. */
int poller_command(struct poller *p, struct command *cmd);
/* The same from the calling thread, now (the poller is not started): the
 * technician's write. res is filled; cmd->finish is not called. */
void poller_command_now(struct poller *p, struct command *cmd, struct command_result *res);

/* The next back-off delay after `failures` failed polls in a row, the last
 * of which held the bus for cost_ms. After one failure the device is asked
 * again at its interval. From the second on the delay doubles from the
 * larger of twice the interval and BACKOFF_START_COSTS times the cost, up to
 * backoff_max or BACKOFF_CAP_COSTS times the cost, whichever is longer: a
 * unit that never answers takes at most 1/20 (5 %) of its line once backed
 * off, however short its interval or backoff_max, and a bounded share
 * before (docs/design.md, "A dead unit on a line"). */
#define BACKOFF_START_COSTS 4
#define BACKOFF_CAP_COSTS 20
int64_t poller_backoff_ms(int64_t interval_ms, int64_t backoff_max_ms, int failures,
                          int64_t cost_ms);

#endif
