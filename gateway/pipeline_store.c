/* The pipeline's write side: readings taken in and grouped into records
 * with their sequence numbers, the write-behind commits, and what the
 * broker acknowledged or refused. The loop and forwarding are pipeline.c. */
#include "gateway/pipeline_internal.h"
#include "gateway/record_group.h"
#include "core/stats.h"

#include <stdlib.h>

/* How much a full store gives up at once: enough that the next rounds fit,
 * not so much that one full moment costs hours of data. */
#define MAKE_ROOM_MIN 1000
#define MAKE_ROOM_DEPTH_DIVISOR 20

static void admit_held(struct pipeline *p, int64_t now);

void pipeline_note_unsaved(struct pipeline *p)
{
    if (p->unsaved_since_ms == INT64_MAX)
        p->unsaved_since_ms = clock_mono_ms();
}

/* Commits the acknowledgements and refusals and, with records, every
 * record the broker has not acknowledged, with the indicator state. The
 * state goes only when every record derived with it is among them: not
 * while staged readings or held indicators wait for sequence numbers. */
static int commit_pending(struct pipeline *p, bool records, bool states)
{
    bool with_state = states && p->staged_count == 0 && p->held_count == 0;
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
    stat_add(&p->stats->readings_stored, readings);
    if (records) {
        if (n && p->commit_recs[n - 1].seq > p->store_hw)
            p->store_hw = p->commit_recs[n - 1].seq;
        wb_all_committed(&p->wb);
    }
    if (with_state) {
        indicators_states_saved(p->indicators);
        p->state_due = false;
        p->states_saved_ms = clock_mono_ms();
    }
    p->ack_count = p->refusal_count = 0;
    p->unsaved_since_ms = p->acks_since_ms = INT64_MAX;
    if (dropped > 0) {
        stat_add(&p->stats->dropped_store_bound, (uint64_t)dropped);
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
    if (p->ack_count > 0 && commit_pending(p, false, false) == STORE_OK) {
        int rc = commit_pending(p, true, true);
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
    stat_add(&p->stats->dropped_store_full, (uint64_t)dropped);
    log_limited(&p->full_log, LOG_WARNING,
                "store: no space left (disk or max_size %lld bytes): dropped the %lld oldest "
                "readings to keep polling (%lld dropped in all)",
                (long long)p->cfg->store.max_size_bytes, (long long)dropped,
                (long long)store_stats(p->store).dropped_total);
    return commit_pending(p, true, true);
}

/* Without the records: while no state is owed (state_due) and nothing
 * staged waits for its number, every record derived from the states is
 * in the store already, so the states alone can go ahead of the raw
 * readings the write-behind still holds. */
void pipeline_save_states(struct pipeline *p, int64_t now)
{
    p->states_saved_ms = now;
    if (p->state_due || !indicators_any_changed(p->indicators))
        return;
    if (commit_pending(p, false, true) != STORE_OK) {
        stat_add(&p->stats->store_errors, 1);
        log_limited(&p->store_log, LOG_ERROR,
                    "store: saving the indicator state failed; tried again in %d s",
                    STATE_SAVE_MS / 1000);
    }
}

void pipeline_commit_round(struct pipeline *p)
{
    admit_held(p, clock_mono_ms());
    int rc = commit_pending(p, true, true);
    if (rc == STORE_FULL)
        rc = commit_when_full(p);
    /* A failing disk is tried again once per interval, not in a loop. */
    p->commit_retry_ms = rc == STORE_OK ? 0 : clock_mono_ms() + p->cfg->store.commit_interval_ms;
    if (rc != STORE_OK) {
        stat_add(&p->stats->store_errors, 1);
        log_limited(&p->store_log, LOG_ERROR,
                    "store: commit failed; %zu readings held in memory and retried",
                    p->wb.live_readings + p->staged_count + p->held_count);
    }
}

/* PUBACKs and refusals: a record still in memory is settled there (an
 * acknowledged one is simply forgotten); one in the store waits for the
 * next commit. */
void pipeline_take_broker_news(struct pipeline *p)
{
    int64_t acks[1024];
    size_t n;
    while ((n = p->out.ops->take_acks(p->out.self, acks, 1024)) > 0) {
        for (size_t i = 0; i < n; i++) {
            if (wb_ack(&p->wb, acks[i]) || p->ack_count == ACKS_MAX)
                continue;
            if (p->ack_count == 0)
                p->acks_since_ms = clock_mono_ms();
            p->acks[p->ack_count++] = acks[i];
        }
        if (n < 1024)
            break;
    }
    size_t r = p->out.ops->take_refusals(p->out.self, p->refusals + p->refusal_count,
                                         ACKS_MAX - p->refusal_count);
    for (size_t i = 0; i < r; i++)
        wb_refuse(&p->wb, p->refusals[p->refusal_count + i].seq);
    p->refusal_count += r;
    if (r)
        pipeline_note_unsaved(p);
}

/* Past this many readings waiting in memory (the store failing for a long
 * time) nothing more is taken from the queue: it fills and counts what it
 * drops, as before the write-behind. */
bool pipeline_memory_full(const struct pipeline *p)
{
    return p->wb.live_readings >= (size_t)p->cfg->ingest_capacity;
}

/* Groups n readings into records, gives them sequence numbers and hands
 * them to the write-behind buffer; false when the disk refuses even the
 * numbers (the readings are kept by the caller and tried again). */
static bool admit(struct pipeline *p, const struct reading *in, size_t n, int64_t now)
{
    size_t records = records_group(in, n, p->keys_group ? p->key_of : NULL, p->key_count,
                                   p->grouped, p->sizes, p->scratch);
    int64_t seq;
    if (records == 0)
        return true;
    if (store_take_seqs(p->store, records, &seq) != STORE_OK)
        return false;
    size_t at = 0;
    for (size_t k = 0; k < records; k++) {
        if (wb_append(&p->wb, seq + (int64_t)k, now, p->grouped + at, p->sizes[k]) != 0) {
            log_limited(&p->store_log, LOG_ERROR, "pipeline: out of memory; %zu readings lost",
                        n - at);
            stat_add(&p->stats->dropped_unsaved, n - at);
            break;
        }
        struct record rec = {.seq = seq + (int64_t)k, .r = p->grouped + at, .n = p->sizes[k]};
        latest_seq_note(&p->latest, &rec);
        at += p->sizes[k];
    }
    return true;
}

/* Moves counts and windows out of staged into held; false without memory
 * (they stay, and so does everything behind them). */
static bool hold_indicators(struct pipeline *p, int64_t now)
{
    size_t raw = 0;
    for (size_t i = 0; i < p->staged_count; i++) {
        if (p->staged[i].kind == READING_RAW) {
            p->staged[raw++] = p->staged[i];
            continue;
        }
        if (p->held_count == p->held_cap) {
            size_t cap = p->held_cap ? p->held_cap * 2 : 64;
            struct reading *bigger = realloc(p->held, cap * sizeof(*bigger));
            if (!bigger)
                return false;
            p->held = bigger;
            p->held_cap = cap;
        }
        if (p->held_count == 0)
            p->held_since_ms = now;
        p->held[p->held_count++] = p->staged[i];
    }
    p->staged_count = raw;
    return true;
}

/* Readings that could not get sequence numbers (the disk refused) are
 * tried again before anything new is taken. */
void pipeline_take_new_records(struct pipeline *p, int64_t now)
{
    if (p->staged_count == 0 && !pipeline_memory_full(p)) {
        size_t n = ingest_queue_take(p->queue, p->polled, BATCH_MAX);
        p->staged_count = indicators_feed(p->indicators, p->polled, n, p->staged);
        p->staged_count +=
            indicators_close_due(p->indicators, clock_wall_ms(), p->staged + p->staged_count);
        if (!hold_indicators(p, now))
            return;
    }
    if (p->staged_count > 0 && admit(p, p->staged, p->staged_count, now))
        p->staged_count = 0;
}

/* Counts and windows get their sequence numbers now, to be committed with
 * the state that produced them and only then published. */
static void admit_held(struct pipeline *p, int64_t now)
{
    if (p->held_count == 0 || p->staged_count > 0)
        return;
    int64_t next = store_stats(p->store).next_seq;
    if (!admit(p, p->held, p->held_count, now))
        return;
    if (!p->state_due)
        p->state_seq = next;
    p->state_due = true;
    p->held_count = 0;
}

void pipeline_expire_round(struct pipeline *p)
{
    int64_t dropped = 0, now = clock_mono_ms();
    if (store_stats(p->store).records == 0)
        return;
    /* An acknowledged record must go as delivered, not count as expired. */
    if (p->ack_count > 0 && store_expiry_due(p->store, now) &&
        commit_pending(p, false, false) != STORE_OK)
        return;
    if (store_expire(p->store, now, &dropped) != 0) {
        stat_add(&p->stats->store_errors, 1);
        return;
    }
    if (dropped > 0) {
        stat_add(&p->stats->dropped_store_bound, (uint64_t)dropped);
        log_limited(&p->drop_log, LOG_WARNING,
                    "store: dropped %lld unsent readings older than max_age (%lld dropped in all)",
                    (long long)dropped, (long long)store_stats(p->store).dropped_total);
    }
}

/* Only when the store failed until the end (disk full, I/O error): what is
 * still in memory cannot be kept, and the operator must hear how much. */
void pipeline_report_unsaved(struct pipeline *p)
{
    size_t lost =
        p->wb.live_readings + p->staged_count + p->held_count + ingest_queue_length(p->queue);
    if (lost == 0)
        return;
    stat_add(&p->stats->dropped_unsaved, lost);
    log_msg(LOG_ERROR, "store: %zu readings could not be committed before shutdown and are lost",
            lost);
}
