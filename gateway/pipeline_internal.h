/* Inside the pipeline: what pipeline.c (the thread's loop, forwarding to
 * the broker) and pipeline_store.c (taking readings in, the write-behind
 * commits, acknowledgements) share. Not for use outside these two. */
#ifndef GW_PIPELINE_INTERNAL_H
#define GW_PIPELINE_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "core/clock.h"
#include "gateway/indicator_stage.h"
#include "gateway/latest_seq.h"
#include "core/log.h"
#include "gateway/pipeline.h"
#include "gateway/write_behind.h"

#define BATCH_MAX 16384
#define ACKS_MAX 65536
/* Records claimed from the store per query, and their readings. */
#define CLAIM_MAX 1024
#define CLAIM_READINGS 65536
#define EXPIRE_EVERY_MS 10000
/* One stat() of the store file this often, while awake anyway. */
#define FILE_CHECK_EVERY_MS 2000
#define SUMMARY_EVERY_MS 900000
/* Scheduling jitter stays far below this; an NTP step or a date command
 * does not. */
#define CLOCK_STEP_MS 2000
/* Acknowledgements of stored records ride on the next commit that happens
 * anyway (the next interval's counts): deleting them has no deadline, and
 * a commit of its own would double what a small fleet writes. At most this
 * long, or this many, or before the connection is replayed. */
#define ACK_SAVE_MS 120000
#define ACK_SAVE_COUNT (ACKS_MAX / 2)
/* How long counts and windows wait for the others of their boundary. */
#define INDICATOR_LINGER_MS 5000
/* Indicator state changed since it was last saved is saved at least this
 * often, alone, even while the broker keeps up and no interval closes: a
 * crash then costs an open window (or count) at most this much of its
 * samples, for one small write (the states' rows) per period. */
#define STATE_SAVE_MS 60000

struct pipeline {
    const struct gateway_config *cfg;
    struct store *store;
    struct output out; /* where records go: outputs/output.h */
    struct ingest_queue *queue;
    struct gateway_stats *stats;
    struct stop_signal stop;
    int64_t grace_deadline_ms;
    pthread_t thread;
    bool started; /* the thread runs: pipeline_destroy joins it */

    struct indicators *indicators;
    struct latest_seq latest;
    /* point id -> its message key (outputs/output.h): names a raw
     * record's retained topic (latest_seq.h) and its poll (record_group.h);
     * keys_group: some points share a key, so polls are grouped. */
    uint32_t *key_of;
    size_t key_count;
    bool keys_group;
    size_t room;             /* staged, grouped and sizes hold this many (indicators_room) */
    bool announce_due;       /* a reload changed the devices: describe them again */
    struct reading *polled;  /* taken from the queue, on its way through the indicators */
    /* Out of the indicator stage, raw readings and indicators alike,
     * waiting for sequence numbers. */
    struct reading *staged;
    size_t staged_count;
    struct reading *grouped; /* the same, each record's readings together */
    uint16_t *sizes;
    uint32_t *scratch;
    /* Counts and windows wait here, without sequence numbers, until the
     * next commit: the state that produced them is saved in the same
     * transaction before they are published, and the closes of one
     * interval boundary (several devices' polls) share that commit. Raw
     * readings flow on meanwhile. */
    struct reading *held;
    size_t held_count, held_cap;
    int64_t held_since_ms; /* monotonic */

    /* Write-behind: fresh records wait here for the broker; what is still
     * unacknowledged at its deadline is committed. */
    struct write_behind wb;
    struct record *commit_recs;
    size_t commit_cap;
    /* Acknowledgements and refusals of records already in the store: they
     * ride on the next commit; a refusal at the latest one interval after
     * the first, an acknowledgement after ACK_SAVE_MS. */
    int64_t *acks;
    size_t ack_count;
    int64_t acks_since_ms; /* monotonic; INT64_MAX: none waiting */
    struct reading_refusal *refusals;
    size_t refusal_count;
    int64_t unsaved_since_ms; /* monotonic, refusals; INT64_MAX: none waiting */
    int64_t commit_retry_ms;  /* monotonic: after a failed commit, not before */
    /* A count or window is published only after the state it leaves
     * behind is in the store: a crash can then neither count an interval
     * twice nor lose it. While state_due, records from state_seq on wait
     * in memory unpublished (their commit failed and is retried). */
    bool state_due;
    int64_t state_seq;
    int64_t states_saved_ms; /* monotonic: the last commit with the states */

    struct record *claimed;
    struct reading *claimed_readings;
    int64_t cursor;   /* highest seq handed to the broker on this connection */
    int64_t store_hw; /* no record in the store has a higher seq */

    struct clock_watch wall_watch;
    int64_t started_ms;               /* monotonic, for uptime */
    _Atomic int64_t round_started_ms; /* monotonic; 0 while waiting (pipeline_busy_ms) */
    struct log_limit store_log, drop_log, full_log, orphan_log, status_log, metrics_log;
};

/* Refusals wait for a commit from now on. */
void pipeline_note_unsaved(struct pipeline *p);
/* PUBACKs and refusals: a record still in memory is settled there; one in
 * the store waits for the next commit. */
void pipeline_take_broker_news(struct pipeline *p);
/* Readings from the queue through the indicator stage into records in the
 * write-behind buffer. */
void pipeline_take_new_records(struct pipeline *p, int64_t now);
/* Whether so much waits in memory that nothing more is taken in. */
bool pipeline_memory_full(const struct pipeline *p);
/* One transaction: what is unacknowledged, acknowledgements, refusals,
 * indicator state; a full store makes room first. */
void pipeline_commit_round(struct pipeline *p);
/* The indicator states changed since the last save, alone (STATE_SAVE_MS). */
void pipeline_save_states(struct pipeline *p, int64_t now);
void pipeline_expire_round(struct pipeline *p);
/* At the end: what could not be committed, counted and logged. */
void pipeline_report_unsaved(struct pipeline *p);

#endif
