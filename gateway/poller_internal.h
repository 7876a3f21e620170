/* Inside the poller: what poller.c (setting up, polling, commands) and
 * poller_reload.c (a reload's park and rebind) share. Not for use outside
 * these two. */
#ifndef GW_POLLER_INTERNAL_H
#define GW_POLLER_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/clock.h"
#include "core/log.h"
#include "gateway/point_quality.h"
#include "gateway/poll_loop.h"
#include "gateway/poller.h"

/* What one point gave in the current poll, for the points that depend on
 * it (a decimal-places register, the source of a derived value). */
struct point_result {
    bool read;
    double raw, value;
    uint8_t quality;
};

struct device_state {
    const struct device_config *cfg;
    int index; /* into gateway_config.devices */
    /* This device's points: the ones that read registers first (the read
     * plan's indexes refer to them), then the derived ones. */
    const struct point_config **points;
    uint32_t *point_ids;
    int *local;                /* per point: its decimals_from or source, as an index here, or -1 */
    struct stale_watch *stale; /* per point */
    struct point_result *result;
    size_t point_count, register_points;
    void *source; /* the source's side of this device */
    int64_t next_due_ms;
    int failures;
    struct log_limit fail_log;
};

/* The line's busy share over a minute, for the health message. */
#define BUSY_WINDOW_MS 60000

/* Commands waiting for the bus; more are refused as busy. */
#define COMMAND_QUEUE_MAX 32

struct poller {
    const struct gateway_config *cfg;
    const struct bus_config *bus;
    struct bus_stats *line;
    int64_t window_start_us, window_busy_us;
    const struct source_ops *source;
    void *source_bus;
    struct device_state *devices;
    size_t device_count;
    struct ingest_queue *queue;
    struct gateway_stats *stats;
    /* Driven by the event loop (its bus polls in steps), or by a thread. */
    struct poll_loop *loop;
    const struct source_steps *steps;
    struct loop_slot slot;
    struct stop_signal stop;
    pthread_t thread;
    bool started;
    struct reading *batch;
    struct source_poll poll;          /* room for the most points of a device */
    const struct source_trace *trace; /* only while a probe polls */
    /* Commands handed over by the desk, run between polls in order. */
    pthread_mutex_t commands_lock;
    struct command *commands, **commands_tail;
    size_t commands_waiting;
};

/* Sets up device d, config device index, on the poller's bus. */
int device_init(struct poller *p, struct device_state *d, const struct gateway_config *cfg,
                int index, const uint32_t *point_ids);
/* Lets it go (a device moved elsewhere is skipped). */
void device_free(struct poller *p, struct device_state *d);
/* Fills d's points from the file (d->point_count already counted). */
void collect_points(struct device_state *d, const struct gateway_config *cfg,
                    const uint32_t *point_ids);
/* The poller's device that is config device config_index, or NULL. */
struct device_state *device_of(struct poller *p, int config_index);
/* The room a poll of the bus's largest device needs; -1 out of memory. */
int size_buffers(struct poller *p);

/* A poll, by whichever drives the poller: prepare, the source's poll into
 * p->poll, judged (readings into out, room for d->point_count; how
 * many), ended (what it cost the bus, d's next poll). */
void poll_prepare(struct device_state *d);
size_t poll_judged(struct poller *p, struct device_state *d, enum source_result res,
                   struct reading *out);
void poll_ended(struct poller *p, struct device_state *d, enum source_result res,
                int64_t began_us, int64_t ended_us);
/* The device due first. */
struct device_state *first_due(struct poller *p);

/* Commands (poller_commands.c): the next one queued, or NULL; whether it
 * may go to the bus (its device, its point's index there and the write
 * set up) or not (NULL, res filled); what the write did. */
struct command *command_next(struct poller *p);
struct device_state *command_admit(struct poller *p, const struct command *cmd, int *point,
                                   struct source_write *io, struct command_result *res);
void command_judge(struct poller *p, const struct command *cmd, const struct device_state *d,
                   int point, enum source_result r, const struct source_write *io,
                   struct command_result *res);
void run_commands(struct poller *p);
void commands_refuse_all(struct poller *p);

#endif
