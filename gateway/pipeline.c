#include "gateway/pipeline.h"
#include "gateway/clock.h"
#include "gateway/ha_discovery.h"
#include "gateway/health.h"
#include "gateway/indicators.h"
#include "gateway/latest_seq.h"
#include "gateway/log.h"
#include "gateway/payload.h"
#include "gateway/record_group.h"
#include "gateway/stats.h"
#include "gateway/write_behind.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define BATCH_MAX 16384
#define ACKS_MAX 65536
/* Records claimed from the store per query, and their readings. */
#define CLAIM_MAX 1024
#define CLAIM_READINGS 65536
#define EXPIRE_EVERY_MS 10000
/* One stat() of the store file this often, while awake anyway. */
#define FILE_CHECK_EVERY_MS 2000
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
    /* point id -> its device's key (the lowest id among the device's
     * points) with layout = device, else the point id: names a raw
     * record's retained topic (latest_seq.h) and its poll (record_group.h). */
    uint32_t *key_of;
    size_t key_count;
    struct reading *polled;  /* taken from the queue, on its way through the indicators */
    struct reading *derived; /* out of the indicator stage, waiting for sequence numbers */
    size_t derived_count;
    struct reading *grouped; /* the same, each record's readings together */
    uint16_t *sizes;
    uint32_t *scratch;
    bool derived_indicators; /* derived holds counts or windows */

    /* Write-behind: fresh records wait here for the broker; what is still
     * unacknowledged at its deadline is committed. */
    struct write_behind wb;
    struct record *commit_recs;
    size_t commit_cap;
    /* Acknowledgements and refusals of records already in the store: they
     * ride on the next commit, at the latest one interval after the first. */
    int64_t *acks;
    size_t ack_count;
    struct reading_refusal *refusals;
    size_t refusal_count;
    int64_t unsaved_since_ms; /* monotonic; INT64_MAX: nothing unsaved */
    /* A count or window is published only after the state it leaves
     * behind is in the store: a crash can then neither count an interval
     * twice nor lose it. */
    bool state_due;

    struct record *claimed;
    struct reading *claimed_readings;
    int64_t cursor;   /* highest seq handed to the broker on this connection */
    int64_t store_hw; /* no record in the store has a higher seq */
    char *payload;
    size_t payload_cap;

    struct clock_watch wall_watch;
    int64_t started_ms; /* monotonic, for uptime */
    struct log_limit store_log, drop_log, full_log, orphan_log;
};

/* How much a full store gives up at once: enough that the next rounds fit,
 * not so much that one full moment costs hours of data. */
#define MAKE_ROOM_MIN 1000
#define MAKE_ROOM_DEPTH_DIVISOR 20

static void note_unsaved(struct pipeline *p)
{
    if (p->unsaved_since_ms == INT64_MAX)
        p->unsaved_since_ms = clock_mono_ms();
}

/* Commits the acknowledgements and refusals and, with records, every
 * record the broker has not acknowledged, with the indicator state. The
 * state goes only when every record derived with it is among them: not
 * while derived readings still wait for sequence numbers. */
static int commit_pending(struct pipeline *p, bool records)
{
    bool with_state = records && p->derived_count == 0;
    int64_t dropped = 0;
    size_t n = 0;
    if (records) {
        size_t want = wb_pending_count(&p->wb);
        if (want > p->commit_cap) {
            struct record *bigger = realloc(p->commit_recs, want * 2 * sizeof(*bigger));
            if (!bigger)
                return STORE_ERROR;
            p->commit_recs = bigger;
            p->commit_cap = want * 2;
        }
        n = wb_pending(&p->wb, p->commit_recs, p->commit_cap);
    }
    struct store_batch b = {.fresh = p->commit_recs,
                            .n_fresh = n,
                            .acked = p->acks,
                            .n_acked = p->ack_count,
                            .refused = p->refusals,
                            .n_refused = p->refusal_count,
                            .now_mono_ms = n ? p->wb.recs[p->wb.head].taken_ms : 0};
    if (with_state)
        b.n_states = indicators_changed_states(p->indicators, &b.states);
    int rc = store_commit_batch(p->store, &b, &dropped);
    if (rc != STORE_OK)
        return rc;
    size_t readings = 0;
    for (size_t i = 0; i < n; i++)
        readings += p->commit_recs[i].n;
    stat_add(&gw_stats.readings_stored, readings);
    if (records) {
        if (n && p->commit_recs[n - 1].seq > p->store_hw)
            p->store_hw = p->commit_recs[n - 1].seq;
        wb_all_committed(&p->wb);
    }
    if (with_state) {
        indicators_states_saved(p->indicators);
        p->state_due = false;
    }
    p->ack_count = p->refusal_count = 0;
    p->unsaved_since_ms = INT64_MAX;
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

/* The disk or max_size is full. Acknowledged records free space, so they
 * go first; if fresh records still do not fit, the oldest unsent ones make
 * room (the same policy as max_readings), counted and logged. */
static int commit_when_full(struct pipeline *p)
{
    if (p->ack_count > 0 && commit_pending(p, false) == STORE_OK) {
        int rc = commit_pending(p, true);
        if (rc != STORE_FULL)
            return rc;
    }
    int64_t room = store_stats(p->store).depth / MAKE_ROOM_DEPTH_DIVISOR, dropped = 0;
    if (room < (int64_t)p->wb.live_readings)
        room = (int64_t)p->wb.live_readings;
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
    return commit_pending(p, true);
}

static void commit_round(struct pipeline *p)
{
    int rc = commit_pending(p, true);
    if (rc == STORE_FULL)
        rc = commit_when_full(p);
    if (rc != STORE_OK) {
        stat_add(&gw_stats.store_errors, 1);
        log_limited(&p->store_log, LOG_ERROR,
                    "store: commit failed; %zu readings held in memory and retried",
                    p->wb.live_readings + p->derived_count);
    }
}

/* PUBACKs and refusals: a record still in memory is settled there (an
 * acknowledged one is simply forgotten); one in the store waits for the
 * next commit. */
static void take_broker_news(struct pipeline *p)
{
    int64_t acks[1024];
    size_t n;
    while ((n = forwarder_take_acks(p->fw, acks, 1024)) > 0) {
        for (size_t i = 0; i < n; i++) {
            if (wb_ack(&p->wb, acks[i]) || p->ack_count == ACKS_MAX)
                continue;
            p->acks[p->ack_count++] = acks[i];
            note_unsaved(p);
        }
        if (n < 1024)
            break;
    }
    size_t r = forwarder_take_refusals(p->fw, p->refusals + p->refusal_count,
                                       ACKS_MAX - p->refusal_count);
    for (size_t i = 0; i < r; i++)
        wb_refuse(&p->wb, p->refusals[p->refusal_count + i].seq);
    p->refusal_count += r;
    if (r)
        note_unsaved(p);
}

/* Past this many readings waiting in memory (the store failing for a long
 * time) nothing more is taken from the queue: it fills and counts what it
 * drops, as before the write-behind. */
static bool memory_full(const struct pipeline *p)
{
    return p->wb.live_readings >= (size_t)p->cfg->ingest_capacity;
}

/* Gives the derived readings, grouped into records, their sequence
 * numbers and hands them to the write-behind buffer. */
static void admit_derived(struct pipeline *p, int64_t now)
{
    bool by_device = p->cfg->mqtt.layout == MQTT_LAYOUT_DEVICE;
    size_t records = records_group(p->derived, p->derived_count, by_device ? p->key_of : NULL,
                                   p->key_count, p->grouped, p->sizes, p->scratch);
    int64_t seq;
    if (records == 0) {
        p->derived_count = 0;
        return;
    }
    if (store_take_seqs(p->store, records, &seq) != STORE_OK)
        return; /* the disk refuses even that: kept, tried again */
    size_t at = 0;
    for (size_t k = 0; k < records; k++) {
        if (wb_append(&p->wb, seq + (int64_t)k, now, p->grouped + at, p->sizes[k]) != 0) {
            log_limited(&p->store_log, LOG_ERROR, "pipeline: out of memory; %zu readings lost",
                        p->derived_count - at);
            stat_add(&gw_stats.dropped_unsaved, p->derived_count - at);
            break;
        }
        struct record rec = {.seq = seq + (int64_t)k, .r = p->grouped + at, .n = p->sizes[k]};
        latest_seq_note(&p->latest, &rec);
        at += p->sizes[k];
    }
    if (p->derived_indicators)
        p->state_due = true;
    p->derived_count = 0;
    p->derived_indicators = false;
}

/* Readings that could not get sequence numbers (the disk refused) are
 * tried again before anything new is taken. */
static void take_new_records(struct pipeline *p, int64_t now)
{
    if (p->derived_count == 0 && !memory_full(p)) {
        size_t n = ingest_queue_take(p->queue, p->polled, BATCH_MAX);
        p->derived_count = indicators_feed(p->indicators, p->polled, n, p->derived);
        p->derived_count +=
            indicators_close_due(p->indicators, clock_wall_ms(), p->derived + p->derived_count);
        for (size_t i = 0; i < p->derived_count && !p->derived_indicators; i++)
            p->derived_indicators = p->derived[i].kind != READING_RAW;
    }
    if (p->derived_count > 0)
        admit_derived(p, now);
}

static void expire_round(struct pipeline *p)
{
    int64_t dropped = 0;
    if (store_stats(p->store).records == 0)
        return;
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

/* A record that cannot be written out: cannot happen for records this
 * code made; a hand-edited store could hold one. Counted and let go
 * rather than block the queue. */
static void drop_orphan(struct pipeline *p, const struct record *rec)
{
    if (rec->n == 0)
        log_limited(&p->orphan_log, LOG_ERROR, "store: record %lld does not decode: dropped",
                    (long long)rec->seq);
    else
        log_limited(&p->orphan_log, LOG_ERROR,
                    "store: record %lld has an unknown point id %u: dropped", (long long)rec->seq,
                    rec->r[0].point_id);
    stat_add(&gw_stats.store_errors, 1);
    if (!wb_ack(&p->wb, rec->seq) && p->ack_count < ACKS_MAX) {
        p->acks[p->ack_count++] = rec->seq;
        note_unsaved(p);
    }
}

static bool publish_record(struct pipeline *p, const struct record *rec)
{
    char topic[TOPIC_MAX];
    if (rec->n == 0) {
        drop_orphan(p, rec);
        return true;
    }
    size_t need = payload_record_max(rec);
    if (need > p->payload_cap) {
        char *bigger = realloc(p->payload, need);
        if (!bigger)
            return false;
        p->payload = bigger;
        p->payload_cap = need;
    }
    const struct mqtt_config *m = &p->cfg->mqtt;
    int len = -1;
    if (topic_format_record(topic, sizeof(topic), m->topic_prefix, p->cfg->id, m->layout, rec,
                            p->store) > 0)
        len = payload_format_record(p->payload, p->payload_cap, p->cfg->id, m->layout, rec,
                                    p->store);
    if (len < 0) {
        drop_orphan(p, rec);
        return true;
    }
    return forwarder_publish(p->fw, topic, p->payload, len, rec->seq,
                             latest_seq_is_newest(&p->latest, rec)) != FW_NOT_NOW;
}

/* The store's records first (they are older), then those in memory. */
static bool forward_from_store(struct pipeline *p, size_t window)
{
    size_t n = 0;
    if (window > CLAIM_MAX)
        window = CLAIM_MAX;
    if (store_claim(p->store, p->cursor, p->claimed, window, p->claimed_readings, CLAIM_READINGS,
                    &n) != 0)
        return false;
    if (n == 0) {
        p->cursor = p->store_hw;
        return true;
    }
    for (size_t i = 0; i < n; i++) {
        if (!publish_record(p, &p->claimed[i]))
            return false;
        p->cursor = p->claimed[i].seq;
    }
    return true;
}

static void forward_round(struct pipeline *p)
{
    size_t window;
    while ((window = forwarder_window(p->fw)) > 0) {
        if (p->cursor < p->store_hw && store_stats(p->store).records > 0) {
            if (!forward_from_store(p, window))
                return;
            continue;
        }
        if (p->state_due)
            return;
        struct wb_record *w = wb_next_unacked(&p->wb, p->cursor);
        if (!w)
            return;
        struct record rec = wb_record_view(&p->wb, w);
        if (!publish_record(p, &rec))
            return;
        p->cursor = rec.seq;
    }
}

/* Only when the store failed until the end (disk full, I/O error): what is
 * still in memory cannot be kept, and the operator must hear how much. */
static void report_unsaved(struct pipeline *p)
{
    size_t lost = p->wb.live_readings + p->derived_count + ingest_queue_length(p->queue);
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
    /* What waits in memory for its commit deadline is held too. */
    in.store.depth += (int64_t)p->wb.live_readings;
    if (in.oldest_unsent_ts_ms < 0 && p->wb.head < p->wb.count)
        in.oldest_unsent_ts_ms = p->wb.readings[p->wb.recs[p->wb.head].first].ts_ms;
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

static int64_t earliest(int64_t a, int64_t b)
{
    return a < b ? a : b;
}

/* When the next commit is due: the oldest record in memory or the oldest
 * unsaved acknowledgement reaching commit_interval, or at once. */
static int64_t commit_due(const struct pipeline *p)
{
    int64_t interval = p->cfg->store.commit_interval_ms;
    if (p->state_due || memory_full(p))
        return 0;
    int64_t due = wb_deadline(&p->wb, interval);
    if (p->unsaved_since_ms != INT64_MAX)
        due = earliest(due, p->unsaved_since_ms + interval);
    return due;
}

/* Stopping: what the broker acknowledges within the grace period never
 * needs writing; the rest is committed once at the end. */
static bool stop_round(struct pipeline *p, int64_t now)
{
    bool drained = ingest_queue_length(p->queue) == 0 && p->derived_count == 0;
    bool grace_over = now >= p->grace_deadline_ms;
    if (!(drained && forwarder_in_flight(p->fw) == 0) && !grace_over) {
        forward_round(p);
        ingest_queue_wait(p->queue, now + 20);
        return false;
    }
    take_broker_news(p);
    commit_round(p);
    report_unsaved(p);
    return true;
}

static void *pipeline_thread(void *arg)
{
    struct pipeline *p = arg;
    int64_t now = clock_mono_ms();
    int64_t next_expire = now, next_summary = now + SUMMARY_EVERY_MS, next_file_check = now;
    int64_t next_health = now + p->cfg->health_interval_ms;
    p->started_ms = now;
    for (;;) {
        bool stopping = stop_signal_raised(&p->stop);
        now = clock_mono_ms();
        take_broker_news(p);
        take_new_records(p, now);
        if (now >= commit_due(p))
            commit_round(p);
        if (now >= next_expire) {
            expire_round(p);
            next_expire = now + EXPIRE_EVERY_MS;
        }
        if (now >= next_file_check) {
            store_keep_file(p->store);
            next_file_check = now + FILE_CHECK_EVERY_MS;
        }
        report_clock_step(p);
        if (now >= next_summary) {
            stats_log_summary("running");
            next_summary = now + SUMMARY_EVERY_MS;
        }
        if (stopping) {
            if (stop_round(p, now))
                break;
            continue;
        }
        forwarder_service(p->fw, now);
        if (forwarder_take_resend(p->fw)) { /* a fresh connection */
            /* What the broker refused on the last connection is set aside
             * before the oldest is claimed again. */
            take_broker_news(p);
            if (p->refusal_count)
                commit_round(p);
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
        int64_t wake = earliest(commit_due(p), earliest(next_health, next_summary));
        wake = earliest(wake, forwarder_next_service_ms(p->fw));
        if (store_stats(p->store).records > 0)
            wake = earliest(wake, next_expire);
        ingest_queue_wait(p->queue, wake);
    }
    return NULL;
}

static void pipeline_free(struct pipeline *p)
{
    indicators_free(p->indicators);
    latest_seq_free(&p->latest);
    wb_free(&p->wb);
    free(p->key_of);
    free(p->polled);
    free(p->derived);
    free(p->grouped);
    free(p->sizes);
    free(p->scratch);
    free(p->commit_recs);
    free(p->claimed);
    free(p->claimed_readings);
    free(p->acks);
    free(p->refusals);
    free(p->payload);
    stop_signal_destroy(&p->stop);
    free(p);
}

/* With layout = device a raw record's retained topic is its device's: all
 * points of a device map to the lowest id among them. */
static int map_topic_keys(struct pipeline *p)
{
    uint32_t limit = store_point_limit(p->store);
    p->key_count = limit;
    p->key_of = calloc(limit ? limit : 1, sizeof(*p->key_of));
    if (!p->key_of)
        return -1;
    for (uint32_t id = 0; id < limit; id++) {
        p->key_of[id] = id;
        if (p->cfg->mqtt.layout != MQTT_LAYOUT_DEVICE)
            continue;
        const struct store_point *pt = store_point(p->store, id);
        for (uint32_t other = 0; other < id; other++) {
            const struct store_point *o = store_point(p->store, other);
            if (pt->device[0] && strcmp(o->device, pt->device) == 0) {
                p->key_of[id] = p->key_of[other];
                break;
            }
        }
    }
    return latest_seq_load(&p->latest, p->store, p->key_of, limit);
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
    p->unsaved_since_ms = INT64_MAX;
    p->store_hw = store_stats(store).next_seq - 1;
    wb_init(&p->wb);
    stop_signal_init(&p->stop);
    if (indicators_create(cfg, point_ids, store, &p->indicators) != 0 || map_topic_keys(p) != 0) {
        log_msg(LOG_ERROR, "indicators: cannot load their state from the store");
        pipeline_free(p);
        return -1;
    }
    size_t room = indicators_room(p->indicators, BATCH_MAX);
    p->polled = calloc(BATCH_MAX, sizeof(*p->polled));
    p->derived = calloc(room, sizeof(*p->derived));
    p->grouped = calloc(room, sizeof(*p->grouped));
    p->sizes = calloc(room, sizeof(*p->sizes));
    p->scratch = calloc(room * 2, sizeof(*p->scratch));
    p->claimed = calloc(CLAIM_MAX, sizeof(*p->claimed));
    p->claimed_readings = calloc(CLAIM_READINGS, sizeof(*p->claimed_readings));
    p->acks = calloc(ACKS_MAX, sizeof(*p->acks));
    p->refusals = calloc(ACKS_MAX, sizeof(*p->refusals));
    if (!p->polled || !p->derived || !p->grouped || !p->sizes || !p->scratch || !p->claimed ||
        !p->claimed_readings || !p->acks || !p->refusals ||
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
