#include "gateway/pipeline.h"
#include "gateway/clock.h"
#include "gateway/ha_discovery.h"
#include "gateway/health.h"
#include "gateway/indicators.h"
#include "gateway/latest_seq.h"
#include "gateway/log.h"
#include "gateway/payload.h"
#include "gateway/stats.h"

#include <pthread.h>
#include <stdlib.h>

#define BATCH_MAX 16384
#define ACKS_MAX 65536
#define EXPIRE_EVERY_MS 10000
#define SUMMARY_EVERY_MS 60000
/* Scheduling jitter stays far below this; an NTP step or a date command
 * does not. */
#define CLOCK_STEP_MS 2000

struct pipeline {
    const struct gateway_config *cfg;
    struct store *store;
    struct forwarder *fw;
    struct ingest_queue *queue;
    struct stop_signal stop;
    int64_t grace_deadline_ms;
    pthread_t thread;

    struct indicators *indicators;
    struct latest_seq latest;
    struct reading *polled; /* taken from the queue, on its way through the indicators */

    /* Records from the indicator stage not yet committed: kept across a
     * failed commit (disk full, I/O error) and tried again, never thrown
     * away; the indicators' state waits with them. */
    struct reading *pending;
    size_t pending_count;
    int64_t *acks;
    size_t ack_count;
    struct reading_refusal *refusals;
    size_t refusal_count;
    struct reading *claimed;
    int64_t cursor; /* highest seq handed to the broker on this connection */

    struct clock_watch wall_watch;
    int64_t started_ms; /* monotonic, for uptime */
    struct log_limit store_log, drop_log, full_log, orphan_log;
};

/* How much a full store gives up at once: enough that the next rounds fit,
 * not so much that one full moment costs hours of data. */
#define MAKE_ROOM_MIN 1000
#define MAKE_ROOM_DEPTH_DIVISOR 20

/* Commits the acknowledgements and the first n_fresh pending records; the
 * indicator state goes with the whole pending batch only, as it is the
 * state after those records. */
static int commit_pending(struct pipeline *p, size_t n_fresh)
{
    int64_t dropped = 0;
    bool whole = n_fresh == p->pending_count;
    struct store_batch b = {.fresh = p->pending,
                            .n_fresh = n_fresh,
                            .acked = p->acks,
                            .n_acked = p->ack_count,
                            .refused = p->refusals,
                            .n_refused = p->refusal_count};
    if (whole)
        b.n_states = indicators_changed_states(p->indicators, &b.states);
    int rc = store_commit_batch(p->store, &b, &dropped);
    if (rc != STORE_OK)
        return rc;
    stat_add(&gw_stats.readings_stored, n_fresh);
    latest_seq_note(&p->latest, p->pending, n_fresh);
    if (whole)
        indicators_states_saved(p->indicators);
    if (n_fresh)
        p->pending_count = 0;
    p->ack_count = p->refusal_count = 0;
    if (dropped > 0) {
        stat_add(&gw_stats.dropped_store_bound, (uint64_t)dropped);
        log_limited(&p->drop_log, LOG_WARNING,
                    "store: full at %lld readings: dropped the %lld oldest unsent readings "
                    "(%lld dropped in all)",
                    (long long)p->cfg->store.max_readings, (long long)dropped,
                    (long long)store_stats(p->store).dropped_total);
    }
    return STORE_OK;
}

/* The disk or max_size is full. Acknowledged readings free space, so they
 * go first; if fresh readings still do not fit, the oldest unsent ones
 * make room (the same policy as max_readings), counted and logged. */
static int commit_when_full(struct pipeline *p)
{
    if (p->ack_count > 0 && commit_pending(p, 0) == STORE_OK) {
        int rc = commit_pending(p, p->pending_count);
        if (rc != STORE_FULL)
            return rc;
    }
    int64_t room = store_stats(p->store).depth / MAKE_ROOM_DEPTH_DIVISOR, dropped = 0;
    if (room < (int64_t)p->pending_count)
        room = (int64_t)p->pending_count;
    if (room < MAKE_ROOM_MIN)
        room = MAKE_ROOM_MIN;
    if (store_make_room(p->store, room, &dropped) != STORE_OK)
        return STORE_FULL;
    stat_add(&gw_stats.dropped_store_full, (uint64_t)dropped);
    log_limited(&p->full_log, LOG_WARNING,
                "store: no space left (disk or max_size %lld bytes): dropped the %lld oldest "
                "readings to keep polling (%lld dropped in all)",
                (long long)p->cfg->store.max_size_bytes, (long long)dropped,
                (long long)store_stats(p->store).dropped_total);
    return commit_pending(p, p->pending_count);
}

/* A batch that failed to commit is tried again as it is before anything
 * new is taken. */
static void take_new_records(struct pipeline *p)
{
    if (p->pending_count > 0)
        return;
    size_t n = ingest_queue_take(p->queue, p->polled, BATCH_MAX);
    p->pending_count = indicators_feed(p->indicators, p->polled, n, p->pending);
    p->pending_count +=
        indicators_close_due(p->indicators, clock_wall_ms(), p->pending + p->pending_count);
}

static void commit_round(struct pipeline *p)
{
    take_new_records(p);
    p->ack_count += forwarder_take_acks(p->fw, p->acks + p->ack_count, ACKS_MAX - p->ack_count);
    p->refusal_count += forwarder_take_refusals(p->fw, p->refusals + p->refusal_count,
                                                ACKS_MAX - p->refusal_count);
    int rc = commit_pending(p, p->pending_count);
    if (rc == STORE_FULL)
        rc = commit_when_full(p);
    if (rc != STORE_OK) {
        stat_add(&gw_stats.store_errors, 1);
        log_limited(&p->store_log, LOG_ERROR,
                    "store: commit failed; %zu readings held in memory and retried",
                    p->pending_count);
    }
}

static void expire_round(struct pipeline *p)
{
    int64_t dropped = 0;
    if (store_expire(p->store, clock_mono_ms(), &dropped) != 0) {
        stat_add(&gw_stats.store_errors, 1);
        return;
    }
    if (dropped > 0) {
        stat_add(&gw_stats.dropped_store_bound, (uint64_t)dropped);
        log_limited(&p->drop_log, LOG_WARNING,
                    "store: dropped %lld unsent readings older than max_age (%lld dropped in all)",
                    (long long)dropped, (long long)store_stats(p->store).dropped_total);
    }
}

static bool publish_one(struct pipeline *p, const struct reading *r)
{
    char topic[TOPIC_MAX], payload[PAYLOAD_MAX];
    const struct store_point *pt = store_point(p->store, r->point_id);
    int len = -1;
    if (pt && topic_format_reading(topic, sizeof(topic), p->cfg->mqtt.topic_prefix, p->cfg->id, r,
                                   pt) > 0)
        len = payload_format_reading(payload, sizeof(payload), p->cfg->id, r, pt);
    if (len < 0) {
        /* Cannot happen for rows this code wrote; a hand-edited store could
         * hold one. Count it and let it go rather than block the queue. */
        log_limited(&p->orphan_log, LOG_ERROR, "store: reading %lld has unknown point id %u",
                    (long long)r->seq, r->point_id);
        stat_add(&gw_stats.store_errors, 1);
        if (p->ack_count < ACKS_MAX)
            p->acks[p->ack_count++] = r->seq;
        return true;
    }
    return forwarder_publish(p->fw, topic, payload, len, r->seq,
                             latest_seq_is_newest(&p->latest, r)) != FW_NOT_NOW;
}

static void forward_round(struct pipeline *p)
{
    size_t window;
    while ((window = forwarder_window(p->fw)) > 0) {
        size_t n = 0;
        if (window > BATCH_MAX)
            window = BATCH_MAX;
        if (store_claim(p->store, p->cursor, p->claimed, window, &n) != 0 || n == 0)
            return;
        for (size_t i = 0; i < n; i++) {
            if (!publish_one(p, &p->claimed[i]))
                return;
            p->cursor = p->claimed[i].seq;
        }
    }
}

/* Only when the store failed until the end (disk full, I/O error): what is
 * still in memory cannot be kept, and the operator must hear how much. */
static void report_unsaved(struct pipeline *p)
{
    size_t lost = p->pending_count + ingest_queue_length(p->queue);
    if (lost == 0)
        return;
    stat_add(&gw_stats.dropped_unsaved, lost);
    log_msg(LOG_ERROR, "store: %zu readings could not be committed before shutdown and are lost",
            lost);
}

static void report_clock_step(struct pipeline *p)
{
    int64_t step = clock_watch_step(&p->wall_watch, CLOCK_STEP_MS);
    if (step == 0)
        return;
    char now[32];
    clock_format_utc(clock_wall_ms(), now, sizeof(now));
    log_msg(LOG_WARNING,
            "clock: the wall clock jumped by %+.1fs (now %s); polling follows the monotonic "
            "clock and is unaffected, timestamps follow the new time",
            (double)step / 1000.0, now);
}

/* Health and metadata are retained: a dashboard that subscribes late gets
 * the latest at once. Lost ones are simply sent again next time. */
static void publish_health(struct pipeline *p, int64_t now_mono)
{
    struct health_inputs in = {.now_wall_ms = clock_wall_ms(),
                               .uptime_ms = now_mono - p->started_ms,
                               .clock_synced = clock_is_synchronised(),
                               .store = store_stats(p->store),
                               .oldest_unsent_ts_ms = store_oldest_ts(p->store)};
    char topic[TOPIC_MAX];
    char *json = health_json(p->cfg, &in);
    if (json &&
        topic_format_health(topic, sizeof(topic), p->cfg->mqtt.topic_prefix, p->cfg->id) > 0)
        forwarder_publish_retained(p->fw, topic, json);
    free(json);
}

static void publish_device_meta(struct pipeline *p)
{
    for (size_t i = 0; i < p->cfg->device_count; i++) {
        char topic[TOPIC_MAX];
        char *json = device_meta_json(p->cfg, (int)i);
        if (json && topic_format_device_meta(topic, sizeof(topic), p->cfg->mqtt.topic_prefix,
                                             p->cfg->id, p->cfg->devices[i].name) > 0)
            forwarder_publish_retained(p->fw, topic, json);
        free(json);
    }
}

/* Retained too, and sent on every connect: Home Assistant may have
 * started after the gateway, or the broker lost its retained store. */
static void publish_ha_discovery(struct pipeline *p)
{
    if (!p->cfg->mqtt.ha_discovery)
        return;
    for (size_t i = 0; i < p->cfg->point_count; i++) {
        for (int s = HA_READINGS; s <= HA_INDICATOR; s++) {
            const struct point_config *pc = &p->cfg->points[i];
            char topic[TOPIC_MAX];
            if (!ha_entity_exists(pc, (enum ha_stream)s) ||
                ha_discovery_topic(topic, sizeof(topic), p->cfg, pc, (enum ha_stream)s) < 0)
                continue;
            char *json = ha_discovery_json(p->cfg, pc, (enum ha_stream)s);
            if (json)
                forwarder_publish_retained(p->fw, topic, json);
            free(json);
        }
    }
}

static void *pipeline_thread(void *arg)
{
    struct pipeline *p = arg;
    int64_t interval = p->cfg->store.commit_interval_ms;
    int64_t now = clock_mono_ms();
    int64_t next_commit = now + interval, next_expire = now, next_summary = now + SUMMARY_EVERY_MS;
    int64_t next_health = now + p->cfg->health_interval_ms;
    p->started_ms = now;
    for (;;) {
        bool stopping = stop_signal_raised(&p->stop);
        now = clock_mono_ms();
        if (stopping || now >= next_commit ||
            ingest_queue_length(p->queue) >= p->queue->wake_threshold) {
            commit_round(p);
            next_commit = now + interval;
        }
        if (now >= next_expire) {
            expire_round(p);
            next_expire = now + EXPIRE_EVERY_MS;
        }
        report_clock_step(p);
        if (now >= next_summary) {
            stats_log_summary("running");
            next_summary = now + SUMMARY_EVERY_MS;
        }
        if (stopping) {
            bool drained = ingest_queue_length(p->queue) == 0 && p->pending_count == 0;
            bool grace_over = now >= p->grace_deadline_ms;
            if ((drained && forwarder_in_flight(p->fw) == 0) || grace_over) {
                commit_round(p); /* the last acknowledgements */
                report_unsaved(p);
                break;
            }
            ingest_queue_wait(p->queue, now + 20);
            continue;
        }
        forwarder_service(p->fw, now);
        if (forwarder_take_resend(p->fw)) { /* a fresh connection */
            /* What the broker refused on the last connection is set aside
             * before the oldest is claimed again. */
            commit_round(p);
            next_commit = now + interval;
            p->cursor = 0;
            publish_device_meta(p);
            publish_ha_discovery(p);
            next_health = now;
        }
        if (now >= next_health) {
            publish_health(p, now);
            next_health = now + p->cfg->health_interval_ms;
        }
        forward_round(p);
        ingest_queue_wait(p->queue, next_commit);
    }
    return NULL;
}

static void pipeline_free(struct pipeline *p)
{
    indicators_free(p->indicators);
    latest_seq_free(&p->latest);
    free(p->polled);
    free(p->pending);
    free(p->claimed);
    free(p->acks);
    free(p->refusals);
    stop_signal_destroy(&p->stop);
    free(p);
}

int pipeline_start(const struct gateway_config *cfg, const uint32_t *point_ids, struct store *store,
                   struct forwarder *fw, struct ingest_queue *queue, struct pipeline **out)
{
    struct pipeline *p = calloc(1, sizeof(*p));
    if (!p)
        return -1;
    *p = (struct pipeline){.cfg = cfg, .store = store, .fw = fw, .queue = queue};
    p->store_log.interval_ms = p->drop_log.interval_ms = p->full_log.interval_ms = 30000;
    p->orphan_log.interval_ms = 30000;
    stop_signal_init(&p->stop);
    if (indicators_create(cfg, point_ids, store, &p->indicators) != 0 ||
        latest_seq_load(&p->latest, store) != 0) {
        log_msg(LOG_ERROR, "indicators: cannot load their state from the store");
        pipeline_free(p);
        return -1;
    }
    p->polled = calloc(BATCH_MAX, sizeof(*p->polled));
    p->pending = calloc(indicators_room(p->indicators, BATCH_MAX), sizeof(*p->pending));
    p->claimed = calloc(BATCH_MAX, sizeof(*p->claimed));
    p->acks = calloc(ACKS_MAX, sizeof(*p->acks));
    p->refusals = calloc(ACKS_MAX, sizeof(*p->refusals));
    if (!p->polled || !p->pending || !p->claimed || !p->acks || !p->refusals ||
        pthread_create(&p->thread, NULL, pipeline_thread, p) != 0) {
        pipeline_free(p);
        return -1;
    }
    *out = p;
    return 0;
}

void pipeline_stop(struct pipeline *p, int64_t grace_ms)
{
    p->grace_deadline_ms = clock_mono_ms() + grace_ms;
    stop_signal_raise(&p->stop);
    ingest_queue_wake(p->queue);
    pthread_join(p->thread, NULL);
    pipeline_free(p);
}
