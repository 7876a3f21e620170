/* The store's operations on an open file: one transaction per batch
 * (append, acknowledge, save indicator state), claiming for the broker,
 * the bounds. */
#include "gateway/clock.h"
#include "gateway/store_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Age expiry looks at the oldest rows only: sequence order follows poll
 * order, so no index on the timestamp is needed. */
#define EXPIRE_SCAN_ROWS 10000

const char *const store_statement_sql[ST_COUNT] = {
    [ST_BEGIN] = "BEGIN IMMEDIATE",
    [ST_COMMIT] = "COMMIT",
    [ST_ROLLBACK] = "ROLLBACK",
    [ST_INSERT] = "INSERT INTO readings(seq, ts_ms, point_id, value, quality, kind, flags, "
                  "start_ms, span_from_ms, span_to_ms, samples, excluded, min, max, last) "
                  "VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
    [ST_DELETE_ACKED] = "DELETE FROM readings WHERE seq = ?",
    [ST_DROP_OLDEST] =
        "DELETE FROM readings WHERE seq IN (SELECT seq FROM readings ORDER BY seq LIMIT ?)",
    /* A mark (seq, run_ms) says the readings from seq up to the next mark
     * were taken in at run_ms: everything below the first mark young
     * enough is too old. No mark at all (an old store): nothing is. */
    [ST_EXPIRE] = "DELETE FROM readings WHERE seq IN (SELECT seq FROM readings WHERE seq < "
                  "coalesce((SELECT min(seq) FROM age_marks WHERE run_ms >= ?1), "
                  "(SELECT CASE WHEN count(*) > 0 THEN ?2 ELSE 0 END FROM age_marks)) "
                  "ORDER BY seq LIMIT ?3)",
    [ST_CLAIM] = "SELECT seq, ts_ms, point_id, value, quality, kind, flags, start_ms, "
                 "span_from_ms, span_to_ms, samples, excluded, min, max, last FROM readings "
                 "WHERE seq > ? AND seq NOT IN (SELECT seq FROM set_aside) ORDER BY seq LIMIT ?",
    [ST_SET_META] = "INSERT OR REPLACE INTO meta(key, value) VALUES(?, ?)",
    [ST_OLDEST] = "SELECT ts_ms FROM readings ORDER BY seq LIMIT 1",
    [ST_SET_STATE] = "INSERT OR REPLACE INTO indicator_state(point_id, state) VALUES(?, ?)",
    [ST_MARK_AGE] = "INSERT OR REPLACE INTO age_marks(seq, run_ms) VALUES(?, ?)",
    /* Keeps the mark that covers the oldest reading held, and all after. */
    [ST_TRIM_MARKS] = "DELETE FROM age_marks WHERE seq < coalesce((SELECT max(seq) FROM "
                      "age_marks WHERE seq <= coalesce((SELECT min(seq) FROM readings), ?1)), 0)",
    [ST_SET_ASIDE] = "INSERT OR REPLACE INTO set_aside(seq, reason, at_ms) SELECT seq, ?2, ?3 "
                     "FROM readings WHERE seq = ?1",
    [ST_TRIM_SET_ASIDE] = "DELETE FROM set_aside WHERE seq NOT IN (SELECT seq FROM readings)",
    [ST_COUNT_SET_ASIDE] = "SELECT count(*) FROM set_aside",
};

int64_t store_run_ms(const struct store *s, int64_t now_mono_ms)
{
    return s->run_base_ms + (now_mono_ms - s->mono_open_ms);
}

int store_register_point(struct store *s, const char *device, const char *point, const char *unit,
                         uint32_t *id)
{
    sqlite3_stmt *st;
    const char *sql = "INSERT INTO points(device, point, unit) VALUES(?1, ?2, ?3) "
                      "ON CONFLICT(device, point) DO UPDATE SET unit = ?3 RETURNING id";
    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
        return store_fail(s, "registering a point");
    sqlite3_bind_text(st, 1, device, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, point, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, unit, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        *id = (uint32_t)sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    if (rc != SQLITE_ROW)
        return store_fail(s, "registering a point");
    return store_remember_point(s, *id, device, point, unit);
}

const struct store_point *store_point(const struct store *s, uint32_t id)
{
    return id < s->point_slots ? &s->points[id] : NULL;
}

/* Runs a prepared statement that returns no rows and resets it. */
static int run(struct store *s, enum statement which)
{
    sqlite3_stmt *st = s->st[which];
    int rc = sqlite3_step(st);
    int result = rc == SQLITE_DONE ? 0 : store_fail(s, store_statement_sql[which]);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return result;
}

static int set_meta(struct store *s, const char *key, int64_t value)
{
    sqlite3_bind_text(s->st[ST_SET_META], 1, key, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s->st[ST_SET_META], 2, value);
    return run(s, ST_SET_META);
}

static void bind_int_or_null(sqlite3_stmt *st, int col, bool present, int64_t v)
{
    if (present)
        sqlite3_bind_int64(st, col, v);
    else
        sqlite3_bind_null(st, col);
}

static void bind_real_or_null(sqlite3_stmt *st, int col, bool present, double v)
{
    if (present)
        sqlite3_bind_double(st, col, v);
    else
        sqlite3_bind_null(st, col);
}

static int insert_readings(struct store *s, struct reading *fresh, size_t n, int64_t first_seq)
{
    sqlite3_stmt *st = s->st[ST_INSERT];
    for (size_t i = 0; i < n; i++) {
        struct reading *r = &fresh[i];
        bool count = r->kind == READING_COUNT, window = r->kind == READING_WINDOW;
        bool aggregates = window && r->samples > 0;
        r->seq = first_seq + (int64_t)i;
        sqlite3_bind_int64(st, 1, r->seq);
        sqlite3_bind_int64(st, 2, r->ts_ms);
        sqlite3_bind_int64(st, 3, r->point_id);
        sqlite3_bind_double(st, 4, r->value);
        sqlite3_bind_int(st, 5, r->quality);
        sqlite3_bind_int(st, 6, r->kind);
        sqlite3_bind_int(st, 7, r->flags);
        bind_int_or_null(st, 8, count || window, r->start_ms);
        bind_int_or_null(st, 9, count, r->span_from_ms);
        bind_int_or_null(st, 10, count, r->span_to_ms);
        bind_int_or_null(st, 11, window, r->samples);
        bind_int_or_null(st, 12, window, r->excluded);
        bind_real_or_null(st, 13, aggregates, r->min);
        bind_real_or_null(st, 14, aggregates, r->max);
        bind_real_or_null(st, 15, aggregates, r->last);
        if (run(s, ST_INSERT) != 0)
            return -1;
    }
    return 0;
}

static int save_states(struct store *s, const struct store_state *states, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        sqlite3_bind_int64(s->st[ST_SET_STATE], 1, states[i].point_id);
        sqlite3_bind_text(s->st[ST_SET_STATE], 2, states[i].text, -1, SQLITE_STATIC);
        if (run(s, ST_SET_STATE) != 0)
            return -1;
    }
    return 0;
}

static int delete_acked(struct store *s, const int64_t *acked, size_t n, int64_t *deleted)
{
    *deleted = 0;
    for (size_t i = 0; i < n; i++) {
        sqlite3_bind_int64(s->st[ST_DELETE_ACKED], 1, acked[i]);
        if (run(s, ST_DELETE_ACKED) != 0)
            return -1;
        *deleted += sqlite3_changes(s->db);
    }
    return 0;
}

static int set_aside(struct store *s, const struct reading_refusal *refused, size_t n,
                     int64_t *added)
{
    *added = 0;
    sqlite3_stmt *st = s->st[ST_SET_ASIDE];
    for (size_t i = 0; i < n; i++) {
        sqlite3_bind_int64(st, 1, refused[i].seq);
        sqlite3_bind_int(st, 2, refused[i].reason);
        sqlite3_bind_int64(st, 3, clock_wall_ms());
        if (run(s, ST_SET_ASIDE) != 0)
            return -1;
        *added += sqlite3_changes(s->db);
    }
    return 0;
}

static int mark_age(struct store *s, int64_t first_seq, int64_t now_mono_ms)
{
    sqlite3_bind_int64(s->st[ST_MARK_AGE], 1, first_seq);
    sqlite3_bind_int64(s->st[ST_MARK_AGE], 2,
                       store_run_ms(s, now_mono_ms ? now_mono_ms : clock_mono_ms()));
    return run(s, ST_MARK_AGE);
}

/* Undoes the open transaction and returns the failure of what went wrong.
 * SQLite may already have rolled back by itself (it does on SQLITE_FULL);
 * a second ROLLBACK would only add a confusing error. */
static int roll_back(struct store *s)
{
    int why = s->last_error;
    if (!sqlite3_get_autocommit(s->db))
        run(s, ST_ROLLBACK);
    s->last_error = why;
    return why == SQLITE_FULL ? STORE_FULL : STORE_ERROR;
}

static int drop_oldest(struct store *s, int64_t n, int64_t *dropped)
{
    sqlite3_bind_int64(s->st[ST_DROP_OLDEST], 1, n);
    if (run(s, ST_DROP_OLDEST) != 0)
        return -1;
    *dropped = sqlite3_changes(s->db);
    return 0;
}

int store_commit_batch(struct store *s, const struct store_batch *b, int64_t *dropped)
{
    struct reading *fresh = b->fresh;
    size_t n_fresh = b->n_fresh, n_acked = b->n_acked;
    const int64_t *acked = b->acked;
    *dropped = 0;
    if (n_fresh == 0 && n_acked == 0 && b->n_states == 0 && b->n_refused == 0)
        return 0;
    store_keep_file(s);
    if (run(s, ST_BEGIN) != 0)
        return s->last_error == SQLITE_FULL ? STORE_FULL : STORE_ERROR;
    int64_t deleted = 0, excess = 0, aside = 0;
    if (delete_acked(s, acked, n_acked, &deleted) != 0 ||
        set_aside(s, b->refused, b->n_refused, &aside) != 0)
        goto rollback;
    excess = s->depth - deleted + (int64_t)n_fresh - s->cfg.max_readings;
    if (excess > 0 && drop_oldest(s, excess, &excess) != 0)
        goto rollback;
    if (excess < 0)
        excess = 0;
    if (insert_readings(s, fresh, n_fresh, s->next_seq) != 0 ||
        save_states(s, b->states, b->n_states) != 0)
        goto rollback;
    if (n_fresh && (set_meta(s, "last_seq", s->next_seq + (int64_t)n_fresh - 1) != 0 ||
                    mark_age(s, s->next_seq, b->now_mono_ms) != 0))
        goto rollback;
    if (excess && set_meta(s, "dropped_total", s->dropped_total + excess) != 0)
        goto rollback;
    if (run(s, ST_COMMIT) != 0)
        goto rollback;
    s->next_seq += (int64_t)n_fresh;
    s->depth += (int64_t)n_fresh - deleted - excess;
    s->dropped_total += excess;
    s->set_aside += aside;
    *dropped = excess;
    return 0;
rollback:
    return roll_back(s);
}

/* Marks and set-aside entries of readings that are gone (acknowledged or
 * dropped) go too; called inside a transaction. */
static int trim_companions(struct store *s)
{
    sqlite3_bind_int64(s->st[ST_TRIM_MARKS], 1, s->next_seq);
    return run(s, ST_TRIM_MARKS) != 0 || run(s, ST_TRIM_SET_ASIDE) != 0 ? -1 : 0;
}

/* One transaction: runs the prepared delete `which` (its parameters bound
 * by the caller), adds the rows it removed to dropped_total, and with tidy
 * also trims what refers to readings no longer held. */
static int delete_counted(struct store *s, enum statement which, bool tidy, int64_t *dropped)
{
    *dropped = 0;
    if (run(s, ST_BEGIN) != 0) {
        sqlite3_clear_bindings(s->st[which]);
        return s->last_error == SQLITE_FULL ? STORE_FULL : STORE_ERROR;
    }
    if (run(s, which) != 0)
        goto rollback;
    int64_t gone = sqlite3_changes(s->db);
    if (gone && set_meta(s, "dropped_total", s->dropped_total + gone) != 0)
        goto rollback;
    if (tidy && trim_companions(s) != 0)
        goto rollback;
    if (run(s, ST_COMMIT) != 0)
        goto rollback;
    s->depth -= gone;
    s->dropped_total += gone;
    *dropped = gone;
    return 0;
rollback:
    return roll_back(s);
}

static int count_set_aside(struct store *s)
{
    sqlite3_stmt *st = s->st[ST_COUNT_SET_ASIDE];
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        s->set_aside = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    return rc == SQLITE_ROW ? 0 : store_fail(s, "counting readings set aside");
}

/* The periodic tidy-up rides on the same transaction: one sync at most. */
int store_expire(struct store *s, int64_t now_mono_ms, int64_t *dropped)
{
    sqlite3_bind_int64(s->st[ST_EXPIRE], 1, store_run_ms(s, now_mono_ms) - s->cfg.max_age_ms);
    sqlite3_bind_int64(s->st[ST_EXPIRE], 2, s->next_seq);
    sqlite3_bind_int64(s->st[ST_EXPIRE], 3, EXPIRE_SCAN_ROWS);
    int rc = delete_counted(s, ST_EXPIRE, true, dropped);
    if (rc != STORE_OK)
        return rc;
    return count_set_aside(s) == 0 ? STORE_OK : STORE_ERROR;
}

int store_make_room(struct store *s, int64_t n, int64_t *dropped)
{
    sqlite3_bind_int64(s->st[ST_DROP_OLDEST], 1, n);
    return delete_counted(s, ST_DROP_OLDEST, false, dropped);
}

int store_claim(struct store *s, int64_t after_seq, struct reading *out, size_t max, size_t *n)
{
    sqlite3_stmt *st = s->st[ST_CLAIM];
    sqlite3_bind_int64(st, 1, after_seq);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)max);
    size_t got = 0;
    int rc = SQLITE_DONE;
    while (got < max && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        /* NULL columns read as 0, which is what a raw reading has there. */
        out[got++] = (struct reading){.seq = sqlite3_column_int64(st, 0),
                                      .ts_ms = sqlite3_column_int64(st, 1),
                                      .point_id = (uint32_t)sqlite3_column_int64(st, 2),
                                      .value = sqlite3_column_double(st, 3),
                                      .quality = (uint8_t)sqlite3_column_int(st, 4),
                                      .kind = (uint8_t)sqlite3_column_int(st, 5),
                                      .flags = (uint16_t)sqlite3_column_int(st, 6),
                                      .start_ms = sqlite3_column_int64(st, 7),
                                      .span_from_ms = sqlite3_column_int64(st, 8),
                                      .span_to_ms = sqlite3_column_int64(st, 9),
                                      .samples = sqlite3_column_int64(st, 10),
                                      .excluded = sqlite3_column_int64(st, 11),
                                      .min = sqlite3_column_double(st, 12),
                                      .max = sqlite3_column_double(st, 13),
                                      .last = sqlite3_column_double(st, 14)};
    }
    if (got < max && rc != SQLITE_DONE) {
        sqlite3_reset(st);
        return store_fail(s, "claiming readings");
    }
    sqlite3_reset(st);
    *n = got;
    return 0;
}

struct store_stats store_stats(const struct store *s)
{
    return (struct store_stats){.depth = s->depth,
                                .set_aside = s->set_aside,
                                .next_seq = s->next_seq,
                                .dropped_total = s->dropped_total};
}

int64_t store_oldest_ts(struct store *s)
{
    sqlite3_stmt *st = s->st[ST_OLDEST];
    int64_t ts = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
    sqlite3_reset(st);
    return ts;
}

int store_each_state(struct store *s, store_state_fn fn, void *ctx)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db, "SELECT point_id, state FROM indicator_state", -1, &st, NULL))
        return store_fail(s, "loading indicator state");
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        fn(ctx, (uint32_t)sqlite3_column_int64(st, 0), (const char *)sqlite3_column_text(st, 1));
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : store_fail(s, "loading indicator state");
}

int store_each_newest(struct store *s, store_newest_fn fn, void *ctx)
{
    sqlite3_stmt *st;
    const char *sql = "SELECT point_id, kind, max(seq) FROM readings GROUP BY point_id, kind";
    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL))
        return store_fail(s, "finding the newest readings");
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        fn(ctx, (uint32_t)sqlite3_column_int64(st, 0), sqlite3_column_int(st, 1),
           sqlite3_column_int64(st, 2));
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : store_fail(s, "finding the newest readings");
}

int store_each_set_aside(struct store *s, store_set_aside_fn fn, void *ctx)
{
    sqlite3_stmt *st;
    const char *sql = "SELECT r.seq, r.ts_ms, r.point_id, a.reason FROM set_aside a "
                      "JOIN readings r ON r.seq = a.seq ORDER BY r.seq";
    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL))
        return store_fail(s, "listing readings set aside");
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        fn(ctx, sqlite3_column_int64(st, 0), sqlite3_column_int64(st, 1),
           store_point(s, (uint32_t)sqlite3_column_int64(st, 2)), sqlite3_column_int(st, 3));
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : store_fail(s, "listing readings set aside");
}

int store_resend_set_aside(struct store *s, int64_t *n)
{
    *n = 0;
    if (sqlite3_exec(s->db, "DELETE FROM set_aside", NULL, NULL, NULL) != SQLITE_OK)
        return store_fail(s, "putting readings set aside back");
    *n = sqlite3_changes(s->db);
    s->set_aside = 0;
    return 0;
}
