/* The running daemon as one object (no globals): what main.c starts and
 * stops, and what a reload (reload.c) changes in place. */
#ifndef GW_DAEMON_H
#define GW_DAEMON_H

#include <stdbool.h>
#include <stdint.h>

#include "config/config.h"
#include "core/stats.h"
#include "gateway/command_desk.h"
#include "gateway/ingest_queue.h"
#include "gateway/pipeline.h"
#include "gateway/poller.h"
#include "outputs/output.h"
#include "store/store.h"

struct poll_loop;

struct gateway {
    /* Every part holds &cfg: a reload changes the file's buses, devices
     * and points in place, with the parts that read them parked. */
    struct gateway_config cfg;
    int level_override; /* --log-level, -1 when not given: wins over the file's */
    struct gateway_stats stats;
    bool stats_ready;
    struct store *store;
    struct output out; /* ops NULL until created */
    struct ingest_queue queue;
    bool queue_ready;
    struct pipeline *pipeline;
    struct poller **pollers; /* one per cfg.buses */
    struct poll_loop *loop;  /* polls every bus whose source polls in steps */
    struct command_desk *desk;
    uint32_t *point_ids; /* the store's id of each of cfg.points */
};

/* Blocks the signals the daemon waits for (stop, reload), first thing in
 * main(): one that arrives while the file loads then waits for sigwait()
 * instead of killing the process half-way; threads inherit the mask. */
void daemon_block_signals(void);
/* Runs the daemon on cfg (taken over: left empty) until SIGTERM or SIGINT;
 * the process's exit status. */
int daemon_run(struct gateway_config *cfg, int level_override);

/* config_load_as and the checks of what the output makes of the file
 * (Home Assistant's names): the one way a daemon's file is loaded.
 * offline: the file only (--check-config --offline). */
int gateway_load_config(const char *path, bool offline, struct gateway_config *cfg,
                        struct config_errors *errors);

/* SIGHUP: reads the file again and applies what changed, restarting only
 * that (docs/design.md, "Reloading the file"). A file with errors, or one
 * that changes a setting only a restart can apply, is refused as a whole:
 * logged once, counted in health, the daemon goes on as it was. 0 when
 * applied or refused; -1 when it failed half-way (out of memory, the store
 * unreadable) and the daemon must stop. */
int gateway_reload(struct gateway *gw);

#endif
