/* One thread for every bus whose source polls in steps that never block
 * (Modbus TCP): epoll watches their connections, a heap of deadlines says
 * when each bus next needs the thread (a device due, a response timeout).
 * A slow device holds only its own bus; a thousand devices cost one
 * thread, and the readings of all polls that end together go to the
 * pipeline in one hand-off. Buses that share a line (RTU) keep a poller
 * thread each: a line carries one transaction at a time anyway.
 *
 * The loop runs the pollers' own logic (poller_internal.h): schedules,
 * back-off, judging and commands are the same whichever drives them. */
#ifndef GW_POLL_LOOP_H
#define GW_POLL_LOOP_H

#include <stdbool.h>
#include <stdint.h>

#include "core/deadline_heap.h"
#include "gateway/ingest_queue.h"
#include "sources/source.h"

struct poller;
struct command;
struct device_state;

/* A poller's place in the loop (in struct poller; the loop's alone once
 * attached). */
struct loop_slot {
    struct deadline due; /* when the bus next needs the thread */
    struct source_step step;
    int watched_fd; /* as registered with epoll: -1 none */
    unsigned watched_conn;
    short watched_events;
    bool attached, detach_wanted; /* under the loop's lock */
    bool departing;               /* the loop's: let go once idle */
    size_t index;                 /* in the loop's pollers */
    /* The operation under way: a poll of device, or command. */
    struct device_state *device;
    struct command *command;
    int command_point;
    struct source_write write;
    int64_t began_us;
    bool commanded; /* under the loop's lock: in its list of buses with commands */
    struct poller *next_arriving, *next_leaving, *next_commanded; /* the loop's news */
};

struct poll_loop;

/* The readings of the loop's polls go to queue. No thread yet. */
int poll_loop_create(struct ingest_queue *queue, struct poll_loop **out);
/* Ends the thread; every poller detached before. */
void poll_loop_destroy(struct poll_loop *l);

/* p starts being polled (its devices due now); starts the thread with
 * the first. -1 when the thread cannot start or out of memory. */
int poll_loop_attach(struct poll_loop *l, struct poller *p);
/* Asks the loop to let p go after the operation under way. */
void poll_loop_detach_begin(struct poll_loop *l, struct poller *p);
/* Waits until it has (then p is the caller's again). */
void poll_loop_detach_wait(struct poll_loop *l, struct poller *p);
/* New work for an attached poller: a command queued, to run as soon as
 * its bus is free. */
void poll_loop_command(struct poll_loop *l, struct poller *p);

/* A reload, as for a poller thread (poller.h): the whole loop parks once
 * no operation is under way; while parked, its pollers may be rebound,
 * attached and detached. */
void poll_loop_park(struct poll_loop *l);
bool poll_loop_parked(struct poll_loop *l, int64_t mono_deadline_ms);
void poll_loop_unpark(struct poll_loop *l);

#endif
