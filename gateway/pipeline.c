/* The pipeline's thread: its loop and deadlines, forwarding records to
 * the broker (the store's first, then those in memory), start and stop.
 * Taking readings in and committing them is pipeline_store.c. */
#include "gateway/pipeline_internal.h"
#include "outputs/health.h"
#include "core/stats.h"
#include "outputs/metrics.h"
#include "outputs/status_file.h"

#include <stdlib.h>
#include <string.h>

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
    stat_add(&p->stats->store_errors, 1);
    if (!wb_ack(&p->wb, rec->seq) && p->ack_count < ACKS_MAX) {
        p->acks[p->ack_count++] = rec->seq;
        pipeline_note_unsaved(p);
    }
}

static bool publish_record(struct pipeline *p, const struct record *rec)
{
    enum output_result r = OUTPUT_UNWRITABLE;
    if (rec->n > 0)
        r = p->out.ops->publish(p->out.self, rec, latest_seq_is_newest(&p->latest, rec));
    if (r == OUTPUT_UNWRITABLE)
        drop_orphan(p, rec);
    return r != OUTPUT_NOT_NOW;
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
    while ((window = p->out.ops->window(p->out.self)) > 0) {
        if (p->cursor < p->store_hw && store_stats(p->store).records > 0) {
            if (!forward_from_store(p, window))
                return;
            continue;
        }
        struct wb_record *w = wb_next_unacked(&p->wb, p->cursor);
        if (!w || (p->state_due && w->seq >= p->state_seq))
            return;
        struct record rec = wb_record_view(&p->wb, w);
        if (!publish_record(p, &rec))
            return;
        p->cursor = rec.seq;
    }
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

/* The health written locally too: as JSON for a technician (status_file)
 * and as Prometheus text for the fleet's node_exporter (metrics_file),
 * both from the one message, so they always agree with it. */
static void write_local_files(struct pipeline *p, const struct health_inputs *in)
{
    const struct gateway_config *cfg = p->cfg;
    if (!cfg->status_file[0] && !cfg->metrics_file[0])
        return;
    char why[300];
    char *json = health_json(cfg, in);
    if (cfg->status_file[0] &&
        (!json || status_file_write(cfg->status_file, json, why, sizeof(why)) != 0))
        log_limited(&p->status_log, LOG_WARNING, "status file %s: cannot be written: %s",
                    cfg->status_file, json ? why : "out of memory");
    char *metrics = json && cfg->metrics_file[0] ? metrics_from_health(json) : NULL;
    if (metrics) {
        size_t n = strlen(metrics);
        if (n > 0 && metrics[n - 1] == '\n')
            metrics[n - 1] = '\0'; /* status_file_write ends the file with one */
    }
    if (cfg->metrics_file[0] &&
        (!metrics || status_file_write(cfg->metrics_file, metrics, why, sizeof(why)) != 0))
        log_limited(&p->metrics_log, LOG_WARNING, "metrics file %s: cannot be written: %s",
                    cfg->metrics_file, metrics ? why : "out of memory");
    free(metrics);
    free(json);
}

/* Health counts what waits in memory for its commit deadline as held, and
 * a store whose records are all acknowledged (their deletion waits for the
 * next commit) as empty. */
static void publish_health(struct pipeline *p, int64_t now_mono)
{
    struct health_inputs in = {.stats = p->stats,
                               .now_wall_ms = clock_wall_ms(),
                               .uptime_ms = now_mono - p->started_ms,
                               .clock_synced = clock_is_synchronised(),
                               .store = store_stats(p->store),
                               .oldest_unsent_ts_ms = store_oldest_ts(p->store)};
    if (in.store.records <= (int64_t)p->ack_count) {
        in.store.records = in.store.depth = 0;
        in.oldest_unsent_ts_ms = -1;
    }
    in.store.depth += (int64_t)p->wb.live_readings;
    if (in.oldest_unsent_ts_ms < 0)
        in.oldest_unsent_ts_ms = wb_oldest_ts(&p->wb);
    p->out.ops->announce_health(p->out.self, &in);
    write_local_files(p, &in);
}

int64_t pipeline_busy_ms(const struct pipeline *p, int64_t now_mono_ms)
{
    int64_t since = atomic_load(&p->round_started_ms);
    return since ? now_mono_ms - since : 0;
}

static int64_t earliest(int64_t a, int64_t b)
{
    return a < b ? a : b;
}

/* When the next commit is due: the oldest record in memory or the oldest
 * refusal reaching commit_interval, acknowledgements ACK_SAVE_MS, held
 * indicators their linger; at once for state owed, many acknowledgements
 * or memory full; never before a failed commit's retry time. */
static int64_t commit_due(const struct pipeline *p)
{
    int64_t interval = p->cfg->store.commit_interval_ms, due = INT64_MAX;
    if (p->state_due || pipeline_memory_full(p))
        due = 0;
    due = earliest(due, wb_deadline(&p->wb, interval));
    if (p->unsaved_since_ms != INT64_MAX)
        due = earliest(due, p->unsaved_since_ms + interval);
    if (p->ack_count >= ACK_SAVE_COUNT)
        due = 0;
    else if (p->ack_count > 0)
        due = earliest(due, p->acks_since_ms + ACK_SAVE_MS);
    if (p->held_count > 0)
        due = earliest(due, p->held_since_ms + INDICATOR_LINGER_MS);
    return due > p->commit_retry_ms ? due : p->commit_retry_ms;
}

/* Stopping: what the broker acknowledges within the grace period never
 * needs writing; the rest is committed once at the end. */
static bool stop_round(struct pipeline *p, int64_t now)
{
    bool drained = ingest_queue_length(p->queue) == 0 && p->staged_count == 0;
    bool grace_over = now >= p->grace_deadline_ms;
    if (!(drained && p->out.ops->in_flight(p->out.self) == 0) && !grace_over) {
        forward_round(p);
        ingest_queue_wait(p->queue, now + 20);
        return false;
    }
    pipeline_take_broker_news(p);
    pipeline_commit_round(p);
    pipeline_report_unsaved(p);
    return true;
}

/* A reload: what the parked pollers left in the queue goes through the
 * indicators of the file it was polled under, the states are saved (a
 * changed point starts from them), and the thread waits for
 * pipeline_reconfigure and the unpark. */
static void park(struct pipeline *p, int64_t now)
{
    for (int rounds = 0; rounds < 64 && ingest_queue_length(p->queue) > 0; rounds++)
        pipeline_take_new_records(p, now);
    pipeline_save_states(p, now);
    atomic_store(&p->round_started_ms, 0);
    stop_signal_park_point(&p->stop);
}

static void *pipeline_thread(void *arg)
{
    struct pipeline *p = arg;
    int64_t now = clock_mono_ms();
    int64_t next_expire = now, next_summary = now + SUMMARY_EVERY_MS, next_file_check = now;
    int64_t next_health = now + p->cfg->health_interval_ms;
    p->started_ms = p->states_saved_ms = now;
    for (;;) {
        bool stopping = stop_signal_raised(&p->stop);
        now = clock_mono_ms();
        atomic_store(&p->round_started_ms, now);
        pipeline_take_broker_news(p);
        pipeline_take_new_records(p, now);
        if (now >= commit_due(p))
            pipeline_commit_round(p);
        if (now >= p->states_saved_ms + STATE_SAVE_MS)
            pipeline_save_states(p, now);
        if (now >= next_expire) {
            pipeline_expire_round(p);
            next_expire = now + EXPIRE_EVERY_MS;
        }
        if (now >= next_file_check) {
            store_keep_file(p->store);
            next_file_check = now + FILE_CHECK_EVERY_MS;
        }
        report_clock_step(p);
        if (now >= next_summary) {
            stats_log_summary(p->stats, "running");
            next_summary = now + SUMMARY_EVERY_MS;
        }
        if (stopping) {
            if (stop_round(p, now))
                break;
            continue;
        }
        if (stop_signal_park_wanted(&p->stop)) {
            park(p, now);
            continue;
        }
        if (p->announce_due) {
            p->announce_due = false;
            p->out.ops->announce_devices(p->out.self);
            next_health = now;
        }
        p->out.ops->service(p->out.self, now);
        if (p->out.ops->take_resend(p->out.self)) { /* a fresh connection */
            /* What the broker refused on the last connection is set aside,
             * and what it acknowledged deleted, before the oldest is
             * claimed again. */
            pipeline_take_broker_news(p);
            if (p->refusal_count || p->ack_count)
                pipeline_commit_round(p);
            p->cursor = 0;
            p->out.ops->announce_devices(p->out.self);
            next_health = now;
        }
        if (now >= next_health) {
            publish_health(p, now);
            next_health = now + p->cfg->health_interval_ms;
        }
        forward_round(p);
        int64_t wake = earliest(commit_due(p), earliest(next_health, next_summary));
        wake = earliest(wake, p->out.ops->next_service_ms(p->out.self));
        wake = earliest(wake, p->states_saved_ms + STATE_SAVE_MS);
        if (store_stats(p->store).records > 0)
            wake = earliest(wake, next_expire);
        atomic_store(&p->round_started_ms, 0);
        ingest_queue_wait(p->queue, wake);
    }
    return NULL;
}

static void pipeline_free(struct pipeline *p)
{
    indicators_destroy(p->indicators);
    latest_seq_free(&p->latest);
    wb_free(&p->wb);
    free(p->key_of);
    free(p->polled);
    free(p->staged);
    free(p->held);
    free(p->grouped);
    free(p->sizes);
    free(p->scratch);
    free(p->commit_recs);
    free(p->claimed);
    free(p->claimed_readings);
    free(p->acks);
    free(p->refusals);
    stop_signal_destroy(&p->stop);
    free(p);
}

/* Each point's message key, as the output has it (outputs/output.h):
 * names a raw record's retained topic (latest_seq.h) and its poll
 * (record_group.h). Extends the map to ids the store has named since (a
 * reload's new points). */
static int map_message_keys(struct pipeline *p)
{
    uint32_t limit = store_point_limit(p->store), from = (uint32_t)p->key_count;
    uint32_t *key_of = realloc(p->key_of, (limit ? limit : 1) * sizeof(*key_of));
    if (!key_of)
        return -1;
    p->key_of = key_of;
    for (uint32_t id = from; id < limit; id++) {
        key_of[id] = p->out.ops->message_key(p->out.self, id);
        p->keys_group |= key_of[id] != id;
    }
    p->key_count = limit;
    p->latest.key_of = key_of;
    p->latest.key_count = limit;
    return 0;
}

/* Room for what the indicator stage can make of a full batch. */
static int size_buffers(struct pipeline *p, size_t room)
{
    if (room <= p->room)
        return 0;
    struct reading *staged = realloc(p->staged, room * sizeof(*staged));
    if (staged)
        p->staged = staged;
    struct reading *grouped = realloc(p->grouped, room * sizeof(*grouped));
    if (grouped)
        p->grouped = grouped;
    uint16_t *sizes = realloc(p->sizes, room * sizeof(*sizes));
    if (sizes)
        p->sizes = sizes;
    uint32_t *scratch = realloc(p->scratch, room * 2 * sizeof(*scratch));
    if (scratch)
        p->scratch = scratch;
    if (!staged || !grouped || !sizes || !scratch)
        return -1;
    p->room = room;
    return 0;
}

int pipeline_create(const struct gateway_config *cfg, const uint32_t *point_ids,
                    struct store *store, struct output out_to, struct ingest_queue *queue,
                    struct gateway_stats *stats, struct pipeline **out)
{
    struct pipeline *p = calloc(1, sizeof(*p));
    if (!p)
        return -1;
    *p = (struct pipeline){
        .cfg = cfg, .store = store, .out = out_to, .queue = queue, .stats = stats};
    p->store_log.interval_ms = p->drop_log.interval_ms = p->full_log.interval_ms = 30000;
    p->orphan_log.interval_ms = p->status_log.interval_ms = p->metrics_log.interval_ms = 30000;
    p->unsaved_since_ms = p->acks_since_ms = INT64_MAX;
    p->store_hw = store_stats(store).next_seq - 1;
    wb_init(&p->wb);
    stop_signal_init(&p->stop);
    if (indicators_create(cfg, point_ids, store, &p->indicators) != 0 || map_message_keys(p) != 0 ||
        latest_seq_load(&p->latest, store, p->key_of, p->key_count) != 0) {
        log_msg(LOG_ERROR, "indicators: cannot load their state from the store");
        pipeline_free(p);
        return -1;
    }
    int sized = size_buffers(p, indicators_room(p->indicators, BATCH_MAX));
    p->polled = calloc(BATCH_MAX, sizeof(*p->polled));
    p->claimed = calloc(CLAIM_MAX, sizeof(*p->claimed));
    p->claimed_readings = calloc(CLAIM_READINGS, sizeof(*p->claimed_readings));
    p->acks = calloc(ACKS_MAX, sizeof(*p->acks));
    p->refusals = calloc(ACKS_MAX, sizeof(*p->refusals));
    if (sized != 0 || !p->polled || !p->claimed || !p->claimed_readings || !p->acks ||
        !p->refusals) {
        pipeline_free(p);
        return -1;
    }
    *out = p;
    return 0;
}

void pipeline_park(struct pipeline *p)
{
    stop_signal_park(&p->stop);
    ingest_queue_wake(p->queue);
}

bool pipeline_parked(struct pipeline *p, int64_t mono_deadline_ms)
{
    return stop_signal_parked(&p->stop, mono_deadline_ms);
}

void pipeline_unpark(struct pipeline *p)
{
    stop_signal_unpark(&p->stop);
}

int pipeline_reconfigure(struct pipeline *p, const uint32_t *point_ids, const int *point_from)
{
    struct indicators *ind = NULL;
    if (indicators_create(p->cfg, point_ids, p->store, &ind) != 0)
        return -1;
    indicators_carry(ind, p->indicators, point_from);
    if (size_buffers(p, indicators_room(ind, BATCH_MAX)) != 0 || map_message_keys(p) != 0) {
        indicators_destroy(ind);
        return -1;
    }
    indicators_destroy(p->indicators);
    p->indicators = ind;
    p->announce_due = true;
    return 0;
}

int pipeline_start(struct pipeline *p)
{
    if (pthread_create(&p->thread, NULL, pipeline_thread, p) != 0)
        return -1;
    p->started = true;
    return 0;
}

void pipeline_stop(struct pipeline *p, int64_t grace_ms)
{
    if (!p)
        return;
    p->grace_deadline_ms = clock_mono_ms() + grace_ms;
    stop_signal_raise(&p->stop);
    ingest_queue_wake(p->queue);
}

void pipeline_destroy(struct pipeline *p)
{
    if (!p)
        return;
    if (p->started)
        pthread_join(p->thread, NULL);
    pipeline_free(p);
}
