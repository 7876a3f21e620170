/* The store's operations on an open file: one transaction per batch
 * (append, acknowledge, save indicator state), claiming for the broker,
 * the bounds. */
#include "core/clock.h"
#include "store/record_codec.h"
#include "store/store_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Age expiry looks at the oldest rows only: sequence order follows poll
 * order, so no index on the timestamp is needed. */
#define EXPIRE_SCAN_ROWS 10000

/* Seq numbers reserved per write of the high-water mark: at 200 records
 * a second one write every five minutes; at the demo's few a second, one
 * every few hours. */
#define SEQ_BLOCK 65536

/* Deletes that report the readings they removed (a record holds n). */
#define RETURNING_N " RETURNING n"

#define MARK_SPACING_DIVISOR 100

/* A mark (seq, run_ms) says the records from seq up to the next mark were
 * taken in at run_ms: everything below the first mark young enough (?1:
 * the oldest run time kept) is too old. No mark at all (an old store):
 * nothing is; no young mark: everything below ?2 (the next seq) is. */
#define EXPIRED_BELOW                                                                              \
    "coalesce((SELECT min(seq) FROM age_marks WHERE run_ms >= ?1), (SELECT CASE WHEN count(*) > "  \
    "0 THEN ?2 ELSE 0 END FROM age_marks))"

const char *const store_statement_sql[ST_COUNT] = {
    [ST_BEGIN] = "BEGIN IMMEDIATE",
    [ST_COMMIT] = "COMMIT",
    [ST_ROLLBACK] = "ROLLBACK",
    [ST_INSERT] = "INSERT INTO records(seq, ts_ms, n, body) VALUES(?,?,?,?)",
    [ST_DELETE_ACKED] = "DELETE FROM records WHERE seq = ?" RETURNING_N,
    /* The oldest records holding at least ?1 readings; a record holds one
     * at least, so the first ?1 records are all that need a look. */
    [ST_DROP_OLDEST] = "DELETE FROM records WHERE seq <= coalesce((SELECT seq FROM (SELECT seq, "
                       "sum(n) OVER (ORDER BY seq) AS c FROM (SELECT seq, n FROM records ORDER BY "
                       "seq LIMIT ?1)) WHERE c >= ?1 ORDER BY seq LIMIT 1), (SELECT max(seq) FROM "
                       "(SELECT seq FROM records ORDER BY seq LIMIT ?1)))" RETURNING_N,
    [ST_EXPIRE] =
        "DELETE FROM records WHERE seq IN (SELECT seq FROM records WHERE seq < " EXPIRED_BELOW
        " ORDER BY seq LIMIT ?3)" RETURNING_N,
    [ST_EXPIRY_DUE] = "SELECT EXISTS(SELECT 1 FROM records WHERE seq < " EXPIRED_BELOW ")",
    [ST_CLAIM] = "SELECT seq, ts_ms, n, body FROM records WHERE seq > ? AND seq NOT IN (SELECT "
                 "seq FROM set_aside) ORDER BY seq LIMIT ?",
    [ST_SET_META] = "INSERT OR REPLACE INTO meta(key, value) VALUES(?, ?)",
    [ST_OLDEST] = "SELECT ts_ms FROM records ORDER BY seq LIMIT 1",
    [ST_SET_STATE] = "INSERT OR REPLACE INTO indicator_state(point_id, state) VALUES(?, ?)",
    [ST_MARK_AGE] = "INSERT OR REPLACE INTO age_marks(seq, run_ms) VALUES(?, ?)",
    /* Keeps the mark that covers the oldest record held, and all after. */
    [ST_TRIM_MARKS] = "DELETE FROM age_marks WHERE seq < coalesce((SELECT max(seq) FROM "
                      "age_marks WHERE seq <= coalesce((SELECT min(seq) FROM records), ?1)), 0)",
    [ST_SET_ASIDE] = "INSERT OR REPLACE INTO set_aside(seq, reason, at_ms) SELECT seq, ?2, ?3 "
                     "FROM records WHERE seq = ?1",
    [ST_TRIM_SET_ASIDE] = "DELETE FROM set_aside WHERE seq NOT IN (SELECT seq FROM records)",
    [ST_COUNT_SET_ASIDE] = "SELECT count(*), coalesce(sum(r.n), 0) FROM set_aside a JOIN records "
                           "r USING (seq)",
    [ST_RESERVE] = "INSERT OR REPLACE INTO meta(key, value) VALUES('seq_reserved', ?)",
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

uint32_t store_point_limit(const struct store *s)
{
    return (uint32_t)s->point_slots;
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

/* Runs a prepared delete that returns the n of every record it removed;
 * *readings and *records say how many went. */
static int run_counted(struct store *s, enum statement which, int64_t *readings, int64_t *records)
{
    sqlite3_stmt *st = s->st[which];
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        *readings += sqlite3_column_int64(st, 0);
        *records += 1;
    }
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

static int insert_records(struct store *s, const struct record *fresh, size_t n, int64_t *readings)
{
    sqlite3_stmt *st = s->st[ST_INSERT];
    for (size_t i = 0; i < n; i++) {
        const struct record *rec = &fresh[i];
        size_t size = record_encoded_size(rec->r, rec->n);
        if (size > s->blob_cap) {
            uint8_t *bigger = realloc(s->blob, size * 2);
            if (!bigger)
                return -1;
            s->blob = bigger;
            s->blob_cap = size * 2;
        }
        record_encode(rec->r, rec->n, s->blob);
        sqlite3_bind_int64(st, 1, rec->seq);
        sqlite3_bind_int64(st, 2, rec->r[0].ts_ms);
        sqlite3_bind_int(st, 3, rec->n);
        sqlite3_bind_blob(st, 4, s->blob, (int)size, SQLITE_STATIC);
        if (run(s, ST_INSERT) != 0)
            return -1;
        *readings += rec->n;
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

static int delete_acked(struct store *s, const int64_t *acked, size_t n, int64_t *readings,
                        int64_t *records)
{
    for (size_t i = 0; i < n; i++) {
        sqlite3_bind_int64(s->st[ST_DELETE_ACKED], 1, acked[i]);
        if (run_counted(s, ST_DELETE_ACKED, readings, records) != 0)
            return -1;
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

/* A mark per commit would cost a page written per commit (at the demo's
 * pace half of what it writes in a day). Records without a mark of their
 * own age with the newest mark before them, so they expire early by at
 * most the spacing: max_age / MARK_SPACING_DIVISOR, 1 % of it. */
static int mark_age(struct store *s, int64_t first_seq, int64_t now_mono_ms, int64_t *marked)
{
    int64_t run_ms = store_run_ms(s, now_mono_ms ? now_mono_ms : clock_mono_ms());
    if (s->last_mark_run_ms >= 0 &&
        run_ms - s->last_mark_run_ms < s->cfg.max_age_ms / MARK_SPACING_DIVISOR)
        return 0;
    sqlite3_bind_int64(s->st[ST_MARK_AGE], 1, first_seq);
    sqlite3_bind_int64(s->st[ST_MARK_AGE], 2, run_ms);
    if (run(s, ST_MARK_AGE) != 0)
        return -1;
    *marked = run_ms;
    return 0;
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

static int drop_oldest(struct store *s, int64_t n, int64_t *readings, int64_t *records)
{
    sqlite3_bind_int64(s->st[ST_DROP_OLDEST], 1, n);
    return run_counted(s, ST_DROP_OLDEST, readings, records);
}

int store_take_seqs(struct store *s, size_t n, int64_t *first)
{
    int64_t end = s->next_seq + (int64_t)n;
    if (end > s->reserved_seq) {
        int64_t reserve = end + SEQ_BLOCK;
        sqlite3_bind_int64(s->st[ST_RESERVE], 1, reserve);
        if (run(s, ST_RESERVE) != 0)
            return s->last_error == SQLITE_FULL ? STORE_FULL : STORE_ERROR;
        s->reserved_seq = reserve;
    }
    *first = s->next_seq;
    s->next_seq = end;
    return STORE_OK;
}

int store_commit_batch(struct store *s, const struct store_batch *b, int64_t *dropped)
{
    *dropped = 0;
    if (b->n_fresh == 0 && b->n_acked == 0 && b->n_states == 0 && b->n_refused == 0)
        return 0;
    store_keep_file(s);
    if (run(s, ST_BEGIN) != 0)
        return s->last_error == SQLITE_FULL ? STORE_FULL : STORE_ERROR;
    int64_t gone = 0, gone_records = 0, excess = 0, excess_records = 0, added = 0, aside = 0;
    int64_t fresh_readings = 0, marked = -1;
    int64_t aside_records = s->set_aside, aside_readings = s->set_aside_readings;
    for (size_t i = 0; i < b->n_fresh; i++)
        fresh_readings += b->fresh[i].n;
    if (delete_acked(s, b->acked, b->n_acked, &gone, &gone_records) != 0)
        goto rollback;
    int64_t over = s->depth - gone + fresh_readings - s->cfg.max_readings;
    if (over > 0 && drop_oldest(s, over, &excess, &excess_records) != 0)
        goto rollback;
    if (insert_records(s, b->fresh, b->n_fresh, &added) != 0 ||
        set_aside(s, b->refused, b->n_refused, &aside) != 0 ||
        save_states(s, b->states, b->n_states) != 0)
        goto rollback;
    if (b->n_fresh && mark_age(s, b->fresh[0].seq, b->now_mono_ms, &marked) != 0)
        goto rollback;
    if (excess && set_meta(s, "dropped_total", s->dropped_total + excess) != 0)
        goto rollback;
    /* Set aside is rare: its readings are counted from the file, not
     * carried through the commit. */
    if (aside > 0 && store_count_set_aside(s, &aside_records, &aside_readings) != 0)
        goto rollback;
    if (run(s, ST_COMMIT) != 0)
        goto rollback;
    s->depth += added - gone - excess;
    s->records += (int64_t)b->n_fresh - gone_records - excess_records;
    s->dropped_total += excess;
    s->set_aside = aside_records;
    s->set_aside_readings = aside_readings;
    if (marked >= 0)
        s->last_mark_run_ms = marked;
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
 * by the caller), adds the readings it removed to dropped_total, and with
 * tidy also trims what refers to records no longer held. */
static int delete_counted(struct store *s, enum statement which, bool tidy, int64_t *dropped)
{
    *dropped = 0;
    if (run(s, ST_BEGIN) != 0) {
        sqlite3_clear_bindings(s->st[which]);
        return s->last_error == SQLITE_FULL ? STORE_FULL : STORE_ERROR;
    }
    int64_t gone = 0, gone_records = 0;
    if (run_counted(s, which, &gone, &gone_records) != 0)
        goto rollback;
    if (gone && set_meta(s, "dropped_total", s->dropped_total + gone) != 0)
        goto rollback;
    if (tidy && trim_companions(s) != 0)
        goto rollback;
    if (run(s, ST_COMMIT) != 0)
        goto rollback;
    s->depth -= gone;
    s->records -= gone_records;
    s->dropped_total += gone;
    *dropped = gone;
    return 0;
rollback:
    return roll_back(s);
}

int store_count_set_aside(struct store *s, int64_t *records, int64_t *readings)
{
    sqlite3_stmt *st = s->st[ST_COUNT_SET_ASIDE];
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *records = sqlite3_column_int64(st, 0);
        *readings = sqlite3_column_int64(st, 1);
    }
    sqlite3_reset(st);
    return rc == SQLITE_ROW ? 0 : store_fail(s, "counting readings set aside");
}

bool store_expiry_due(struct store *s, int64_t now_mono_ms)
{
    sqlite3_stmt *st = s->st[ST_EXPIRY_DUE];
    sqlite3_bind_int64(st, 1, store_run_ms(s, now_mono_ms) - s->cfg.max_age_ms);
    sqlite3_bind_int64(st, 2, s->next_seq);
    bool due = sqlite3_step(st) == SQLITE_ROW && sqlite3_column_int(st, 0) != 0;
    sqlite3_reset(st);
    return due;
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
    return store_count_set_aside(s, &s->set_aside, &s->set_aside_readings) == 0 ? STORE_OK
                                                                                : STORE_ERROR;
}

int store_make_room(struct store *s, int64_t n, int64_t *dropped)
{
    sqlite3_bind_int64(s->st[ST_DROP_OLDEST], 1, n);
    return delete_counted(s, ST_DROP_OLDEST, false, dropped);
}

int store_claim(struct store *s, int64_t after_seq, struct record *out, size_t max,
                struct reading *buf, size_t buf_max, size_t *n)
{
    sqlite3_stmt *st = s->st[ST_CLAIM];
    sqlite3_bind_int64(st, 1, after_seq);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)max);
    size_t got = 0, used = 0;
    int rc = SQLITE_DONE;
    while (got < max && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        int64_t seq = sqlite3_column_int64(st, 0), count = sqlite3_column_int64(st, 2);
        bool sane = count >= 1 && count <= UINT16_MAX && (size_t)count <= buf_max;
        if (sane && used + (size_t)count > buf_max)
            break; /* the next claim */
        int decoded = -1;
        if (sane)
            decoded = record_decode(sqlite3_column_blob(st, 3), (size_t)sqlite3_column_bytes(st, 3),
                                    seq, sqlite3_column_int64(st, 1), buf + used, (size_t)count);
        /* A row that does not hold what it says (a hand-edited or damaged
         * file that passed quick_check) comes back empty, for the caller
         * to count and drop: one bad row must not stop the queue. */
        if (decoded != count) {
            out[got++] = (struct record){.seq = seq, .r = NULL, .n = 0};
            continue;
        }
        out[got++] = (struct record){.seq = seq, .r = buf + used, .n = (uint16_t)count};
        used += (size_t)count;
    }
    sqlite3_reset(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE && got == 0)
        return store_fail(s, "claiming records");
    *n = got;
    return 0;
}

struct store_stats store_stats(const struct store *s)
{
    struct store_stats st = {.depth = s->depth,
                             .records = s->records,
                             .set_aside = s->set_aside,
                             .set_aside_readings = s->set_aside_readings,
                             .next_seq = s->next_seq,
                             .first_seq = s->first_seq,
                             .dropped_total = s->dropped_total};
    memcpy(st.identity, s->identity, sizeof(st.identity));
    return st;
}

const char *store_identity(const struct store *s)
{
    return s->identity;
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
    /* The first reading's point id and kind: the first five bytes. */
    const char *sql = "SELECT max(seq), body FROM records GROUP BY substr(body, 1, 5)";
    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL))
        return store_fail(s, "finding the newest readings");
    int rc;
    struct reading first[1];
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        int len = sqlite3_column_bytes(st, 1);
        if (record_decode_first(sqlite3_column_blob(st, 1), (size_t)len, first) == 0)
            fn(ctx, first[0].point_id, first[0].kind, sqlite3_column_int64(st, 0));
    }
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : store_fail(s, "finding the newest readings");
}

int store_each_set_aside(struct store *s, store_set_aside_fn fn, void *ctx)
{
    sqlite3_stmt *st;
    const char *sql = "SELECT r.seq, r.ts_ms, r.body, r.n, a.reason FROM set_aside a "
                      "JOIN records r ON r.seq = a.seq ORDER BY r.seq";
    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL))
        return store_fail(s, "listing readings set aside");
    int rc;
    struct reading first[1];
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        int len = sqlite3_column_bytes(st, 2);
        bool known = record_decode_first(sqlite3_column_blob(st, 2), (size_t)len, first) == 0;
        fn(ctx, sqlite3_column_int64(st, 0), sqlite3_column_int64(st, 1),
           known ? store_point(s, first[0].point_id) : NULL, sqlite3_column_int(st, 3),
           sqlite3_column_int(st, 4));
    }
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : store_fail(s, "listing readings set aside");
}

int store_resend_set_aside(struct store *s, int64_t *n)
{
    *n = 0;
    if (sqlite3_exec(s->db, "DELETE FROM set_aside", NULL, NULL, NULL) != SQLITE_OK)
        return store_fail(s, "putting readings set aside back");
    *n = sqlite3_changes(s->db);
    s->set_aside = s->set_aside_readings = 0;
    return 0;
}

int store_register_points(struct store *s, const struct point_config *points, size_t n,
                          uint32_t *ids)
{
    if (run(s, ST_BEGIN) != 0)
        return STORE_ERROR;
    for (size_t i = 0; i < n; i++) {
        if (store_register_point(s, points[i].device_name, points[i].name, points[i].unit,
                                 &ids[i]) != 0)
            return roll_back(s);
    }
    return run(s, ST_COMMIT) == 0 ? STORE_OK : roll_back(s);
}
