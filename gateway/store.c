#include "gateway/store.h"
#include "gateway/clock.h"
#include "gateway/log.h"

#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* 1: raw readings only. 2: indicators in the same table (kind and its
 * columns) and the indicator state. A version-1 file is upgraded in place. */
#define SCHEMA_VERSION 2
/* Age expiry looks at the oldest rows only: sequence order follows poll
 * order, so no index on the timestamp is needed. */
#define EXPIRE_SCAN_ROWS 10000

static const char schema_sql[] =
    "CREATE TABLE IF NOT EXISTS points("
    "  id INTEGER PRIMARY KEY, device TEXT NOT NULL, point TEXT NOT NULL,"
    "  unit TEXT NOT NULL, UNIQUE(device, point));"
    "CREATE TABLE IF NOT EXISTS readings("
    "  seq INTEGER PRIMARY KEY, ts_ms INTEGER NOT NULL, point_id INTEGER NOT NULL,"
    "  value REAL NOT NULL, quality INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS indicator_state(point_id INTEGER PRIMARY KEY, state TEXT NOT "
    "NULL);";

/* Added by schema version 2, to a fresh file as to an old one, so that the
 * upgrade runs every time a store is created. NULL for raw readings, which
 * keeps their rows as small as before. */
static const char *const readings_v2_columns[] = {"kind INTEGER NOT NULL DEFAULT 0",
                                                  "flags INTEGER NOT NULL DEFAULT 0",
                                                  "start_ms INTEGER",
                                                  "span_from_ms INTEGER",
                                                  "span_to_ms INTEGER",
                                                  "samples INTEGER",
                                                  "excluded INTEGER",
                                                  "min REAL",
                                                  "max REAL",
                                                  "last REAL"};

enum statement {
    ST_BEGIN,
    ST_COMMIT,
    ST_ROLLBACK,
    ST_INSERT,
    ST_DELETE_ACKED,
    ST_DROP_OLDEST,
    ST_EXPIRE,
    ST_CLAIM,
    ST_SET_META,
    ST_OLDEST,
    ST_SET_STATE,
    ST_COUNT
};

static const char *const statement_sql[ST_COUNT] = {
    [ST_BEGIN] = "BEGIN IMMEDIATE",
    [ST_COMMIT] = "COMMIT",
    [ST_ROLLBACK] = "ROLLBACK",
    [ST_INSERT] = "INSERT INTO readings(seq, ts_ms, point_id, value, quality, kind, flags, "
                  "start_ms, span_from_ms, span_to_ms, samples, excluded, min, max, last) "
                  "VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
    [ST_DELETE_ACKED] = "DELETE FROM readings WHERE seq = ?",
    [ST_DROP_OLDEST] =
        "DELETE FROM readings WHERE seq IN (SELECT seq FROM readings ORDER BY seq LIMIT ?)",
    [ST_EXPIRE] = "DELETE FROM readings WHERE seq IN (SELECT seq FROM readings ORDER BY seq "
                  "LIMIT ?) AND ts_ms < ?",
    [ST_CLAIM] = "SELECT seq, ts_ms, point_id, value, quality, kind, flags, start_ms, "
                 "span_from_ms, span_to_ms, samples, excluded, min, max, last FROM readings "
                 "WHERE seq > ? ORDER BY seq LIMIT ?",
    [ST_SET_META] = "INSERT OR REPLACE INTO meta(key, value) VALUES(?, ?)",
    [ST_OLDEST] = "SELECT ts_ms FROM readings ORDER BY seq LIMIT 1",
    [ST_SET_STATE] = "INSERT OR REPLACE INTO indicator_state(point_id, state) VALUES(?, ?)",
};

struct store {
    sqlite3 *db;
    sqlite3_stmt *st[ST_COUNT];
    struct store_config cfg;
    struct store_point *points; /* indexed by id */
    size_t point_slots;
    int64_t depth;
    int64_t next_seq;
    int64_t dropped_total;
    int last_error; /* SQLite result code of the last failure */
    char last_message[300];
    bool opening; /* store_open reports failures itself, once */
    /* A full disk fails every commit until space returns: one line per
     * interval says so, not four lines a second. */
    struct log_limit error_log;
};

static int fail(struct store *s, const char *what)
{
    s->last_error = sqlite3_errcode(s->db);
    snprintf(s->last_message, sizeof(s->last_message), "%s: %s", what, sqlite3_errmsg(s->db));
    if (!s->opening)
        log_limited(&s->error_log, LOG_ERROR, "store %s: %s", s->cfg.path, s->last_message);
    return s->last_error == SQLITE_FULL ? STORE_FULL : STORE_ERROR;
}

static int exec_sql(struct store *s, const char *sql)
{
    return sqlite3_exec(s->db, sql, NULL, NULL, NULL) == SQLITE_OK ? 0 : fail(s, sql);
}

static int query_int64(struct store *s, const char *sql, int64_t *out)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
        return fail(s, sql);
    int rc = sqlite3_step(st);
    *out = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    sqlite3_finalize(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : fail(s, sql);
}

/* For PRAGMA quick_check: *ok is 1 when the single row says "ok". */
static int query_text_is_ok(struct store *s, const char *sql, int64_t *ok)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
        return fail(s, sql);
    int rc = sqlite3_step(st);
    const unsigned char *text = rc == SQLITE_ROW ? sqlite3_column_text(st, 0) : NULL;
    *ok = text && strcmp((const char *)text, "ok") == 0;
    sqlite3_finalize(st);
    return rc == SQLITE_ROW ? 0 : fail(s, sql);
}

static int remember_point(struct store *s, uint32_t id, const char *device, const char *point,
                          const char *unit)
{
    if (id >= s->point_slots) {
        size_t slots = (size_t)id * 2 + 16;
        struct store_point *bigger = realloc(s->points, slots * sizeof(*bigger));
        if (!bigger)
            return -1;
        memset(bigger + s->point_slots, 0, (slots - s->point_slots) * sizeof(*bigger));
        s->points = bigger;
        s->point_slots = slots;
    }
    struct store_point *p = &s->points[id];
    snprintf(p->device, sizeof(p->device), "%s", device);
    snprintf(p->point, sizeof(p->point), "%s", point);
    snprintf(p->unit, sizeof(p->unit), "%s", unit);
    return 0;
}

static int load_points(struct store *s)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db, "SELECT id, device, point, unit FROM points", -1, &st, NULL))
        return fail(s, "loading points");
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (remember_point(s, (uint32_t)sqlite3_column_int64(st, 0),
                           (const char *)sqlite3_column_text(st, 1),
                           (const char *)sqlite3_column_text(st, 2),
                           (const char *)sqlite3_column_text(st, 3)) != 0) {
            sqlite3_finalize(st);
            return -1;
        }
    }
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : fail(s, "loading points");
}

static int load_counters(struct store *s)
{
    int64_t last_seq_meta = 0, max_seq = 0;
    if (query_int64(s, "SELECT value FROM meta WHERE key = 'last_seq'", &last_seq_meta) ||
        query_int64(s, "SELECT max(seq) FROM readings", &max_seq) ||
        query_int64(s, "SELECT count(*) FROM readings", &s->depth) ||
        query_int64(s, "SELECT value FROM meta WHERE key = 'dropped_total'", &s->dropped_total))
        return -1;
    s->next_seq = (last_seq_meta > max_seq ? last_seq_meta : max_seq) + 1;
    return 0;
}

/* The byte bound becomes SQLite's page limit: past it an insert fails with
 * SQLITE_FULL exactly as on a full disk, so both take the same path. */
static int apply_size_limit(struct store *s)
{
    int64_t page_size = 0;
    if (query_int64(s, "PRAGMA page_size", &page_size) != 0 || page_size <= 0)
        return -1;
    char sql[64];
    snprintf(sql, sizeof(sql), "PRAGMA max_page_count=%lld",
             (long long)(s->cfg.max_size_bytes / page_size));
    return exec_sql(s, sql);
}

static int prepare_statements(struct store *s)
{
    for (int i = 0; i < ST_COUNT; i++) {
        if (sqlite3_prepare_v3(s->db, statement_sql[i], -1, SQLITE_PREPARE_PERSISTENT, &s->st[i],
                               NULL) != SQLITE_OK)
            return fail(s, statement_sql[i]);
    }
    return 0;
}

/* Brings the tables from the file's schema version to this one's, in one
 * transaction: unsent readings of an older version are kept. */
static int upgrade_schema(struct store *s)
{
    int64_t version = 0;
    if (query_int64(s, "PRAGMA user_version", &version) != 0)
        return -1;
    if (version > SCHEMA_VERSION) {
        s->last_error = SQLITE_ERROR;
        snprintf(s->last_message, sizeof(s->last_message),
                 "written by a newer sensor-gateway (store schema %lld; this one knows up to %d)",
                 (long long)version, SCHEMA_VERSION);
        return -1;
    }
    if (version == SCHEMA_VERSION)
        return 0;
    if (exec_sql(s, "BEGIN IMMEDIATE") != 0)
        return -1;
    for (size_t i = 0; version < 2 && i < sizeof(readings_v2_columns) / sizeof(char *); i++) {
        char sql[128];
        snprintf(sql, sizeof(sql), "ALTER TABLE readings ADD COLUMN %s", readings_v2_columns[i]);
        if (exec_sql(s, sql) != 0)
            goto rollback;
    }
    char sql[64];
    snprintf(sql, sizeof(sql), "PRAGMA user_version=%d", SCHEMA_VERSION);
    if (exec_sql(s, sql) != 0 || exec_sql(s, "COMMIT") != 0)
        goto rollback;
    return 0;
rollback:
    sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    return -1;
}

/* Opens and checks the file; on failure s->last_error says why. */
static int open_database(struct store *s)
{
    if (sqlite3_open_v2(s->cfg.path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL))
        return fail(s, "opening");
    sqlite3_busy_timeout(s->db, 5000);
    char pragmas[200];
    snprintf(pragmas, sizeof(pragmas), "PRAGMA journal_mode=WAL; PRAGMA synchronous=%s;",
             s->cfg.sync ? "FULL" : "NORMAL");
    int64_t healthy = 0;
    /* quick_check reads every page once: a file cut short by a power loss
     * on a bad SD card shows here, at start, not as a failed commit later. */
    if (sqlite3_exec(s->db, pragmas, NULL, NULL, NULL) != SQLITE_OK)
        return fail(s, "reading the header");
    if (query_text_is_ok(s, "PRAGMA quick_check(1)", &healthy) != 0)
        return -1;
    if (!healthy) {
        s->last_error = SQLITE_CORRUPT;
        return -1;
    }
    if (exec_sql(s, schema_sql) || upgrade_schema(s) || apply_size_limit(s) || load_points(s) ||
        load_counters(s) || prepare_statements(s))
        return -1;
    return 0;
}

static void close_database(struct store *s)
{
    for (int i = 0; i < ST_COUNT; i++) {
        sqlite3_finalize(s->st[i]);
        s->st[i] = NULL;
    }
    sqlite3_close(s->db);
    s->db = NULL;
}

static bool is_damage(int sqlite_code)
{
    int primary = sqlite_code & 0xff;
    return primary == SQLITE_CORRUPT || primary == SQLITE_NOTADB;
}

/* Keeps the damaged file (and its WAL) for a post-mortem under a name that
 * says when it was set aside. */
static int move_aside(const char *path, char *aside, size_t size)
{
    char stamp[32];
    clock_format_utc(clock_wall_ms(), stamp, sizeof(stamp));
    snprintf(aside, size, "%s.damaged-%s", path, stamp);
    if (rename(path, aside) != 0)
        return -1;
    static const char *const companions[] = {"-wal", "-shm"};
    for (size_t i = 0; i < 2; i++) {
        char from[CFG_TEXT_MAX + 8], to[CFG_TEXT_MAX + 48];
        snprintf(from, sizeof(from), "%s%s", path, companions[i]);
        snprintf(to, sizeof(to), "%s%s", aside, companions[i]);
        if (rename(from, to) != 0 && errno != ENOENT)
            return -1;
    }
    return 0;
}

/* A fresh store after a damaged one cannot know the last sequence number;
 * starting again at 1 would make subscribers drop new readings as
 * duplicates. The wall clock in milliseconds is above any count this
 * gateway reached at its rate, and the jump shows subscribers the gap. */
static int64_t sequence_after_damage(void)
{
    int64_t now = clock_wall_ms();
    return now > 0 ? now : 1;
}

int store_open(const struct store_config *cfg, struct store **out)
{
    struct store *s = calloc(1, sizeof(*s));
    if (!s)
        return STORE_ERROR;
    s->cfg = *cfg;
    s->error_log.interval_ms = 30000;
    s->opening = true;
    if (open_database(s) != 0) {
        char aside[CFG_TEXT_MAX + 48];
        int why = s->last_error;
        close_database(s);
        if (!is_damage(why) || move_aside(cfg->path, aside, sizeof(aside)) != 0) {
            log_msg(LOG_ERROR, "store %s: cannot be opened: %s%s%s", cfg->path, s->last_message,
                    is_damage(why) ? "; moving it aside failed: " : "",
                    is_damage(why) ? strerror(errno) : "");
            store_close(s);
            return STORE_ERROR;
        }
        log_msg(LOG_ERROR,
                "store %s is damaged (%s): moved aside to %s; starting a fresh store, the "
                "readings in the damaged file are not forwarded",
                cfg->path, s->last_message, aside);
        free(s->points);
        s->points = NULL;
        s->point_slots = 0;
        if (open_database(s) != 0) {
            log_msg(LOG_ERROR, "store %s: cannot be opened: %s", cfg->path, s->last_message);
            store_close(s);
            return STORE_ERROR;
        }
        s->next_seq = sequence_after_damage();
    }
    s->opening = false;
    log_msg(LOG_INFO, "store %s: %lld readings waiting to be forwarded, next sequence number %lld",
            cfg->path, (long long)s->depth, (long long)s->next_seq);
    *out = s;
    return 0;
}

void store_close(struct store *s)
{
    if (!s)
        return;
    close_database(s);
    free(s->points);
    free(s);
}

int store_register_point(struct store *s, const char *device, const char *point, const char *unit,
                         uint32_t *id)
{
    sqlite3_stmt *st;
    const char *sql = "INSERT INTO points(device, point, unit) VALUES(?1, ?2, ?3) "
                      "ON CONFLICT(device, point) DO UPDATE SET unit = ?3 RETURNING id";
    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
        return fail(s, "registering a point");
    sqlite3_bind_text(st, 1, device, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, point, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, unit, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        *id = (uint32_t)sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    if (rc != SQLITE_ROW)
        return fail(s, "registering a point");
    return remember_point(s, *id, device, point, unit);
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
    int result = rc == SQLITE_DONE ? 0 : fail(s, statement_sql[which]);
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
    if (n_fresh == 0 && n_acked == 0 && b->n_states == 0)
        return 0;
    if (run(s, ST_BEGIN) != 0)
        return s->last_error == SQLITE_FULL ? STORE_FULL : STORE_ERROR;
    int64_t deleted = 0, excess = 0;
    if (delete_acked(s, acked, n_acked, &deleted) != 0)
        goto rollback;
    excess = s->depth - deleted + (int64_t)n_fresh - s->cfg.max_readings;
    if (excess > 0 && drop_oldest(s, excess, &excess) != 0)
        goto rollback;
    if (excess < 0)
        excess = 0;
    if (insert_readings(s, fresh, n_fresh, s->next_seq) != 0 ||
        save_states(s, b->states, b->n_states) != 0)
        goto rollback;
    if (n_fresh && set_meta(s, "last_seq", s->next_seq + (int64_t)n_fresh - 1) != 0)
        goto rollback;
    if (excess && set_meta(s, "dropped_total", s->dropped_total + excess) != 0)
        goto rollback;
    if (run(s, ST_COMMIT) != 0)
        goto rollback;
    s->next_seq += (int64_t)n_fresh;
    s->depth += (int64_t)n_fresh - deleted - excess;
    s->dropped_total += excess;
    *dropped = excess;
    return 0;
rollback:
    return roll_back(s);
}

/* One transaction: runs the prepared delete `which` (its parameters bound
 * by the caller) and adds the rows it removed to dropped_total. */
static int delete_counted(struct store *s, enum statement which, int64_t *dropped)
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
    if (run(s, ST_COMMIT) != 0)
        goto rollback;
    s->depth -= gone;
    s->dropped_total += gone;
    *dropped = gone;
    return 0;
rollback:
    return roll_back(s);
}

int store_expire(struct store *s, int64_t now_wall_ms, int64_t *dropped)
{
    sqlite3_bind_int64(s->st[ST_EXPIRE], 1, EXPIRE_SCAN_ROWS);
    sqlite3_bind_int64(s->st[ST_EXPIRE], 2, now_wall_ms - s->cfg.max_age_ms);
    return delete_counted(s, ST_EXPIRE, dropped);
}

int store_make_room(struct store *s, int64_t n, int64_t *dropped)
{
    sqlite3_bind_int64(s->st[ST_DROP_OLDEST], 1, n);
    return delete_counted(s, ST_DROP_OLDEST, dropped);
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
        return fail(s, "claiming readings");
    }
    sqlite3_reset(st);
    *n = got;
    return 0;
}

struct store_stats store_stats(const struct store *s)
{
    return (struct store_stats){
        .depth = s->depth, .next_seq = s->next_seq, .dropped_total = s->dropped_total};
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
        return fail(s, "loading indicator state");
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        fn(ctx, (uint32_t)sqlite3_column_int64(st, 0), (const char *)sqlite3_column_text(st, 1));
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : fail(s, "loading indicator state");
}

int store_each_newest(struct store *s, store_newest_fn fn, void *ctx)
{
    sqlite3_stmt *st;
    const char *sql = "SELECT point_id, kind, max(seq) FROM readings GROUP BY point_id, kind";
    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL))
        return fail(s, "finding the newest readings");
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        fn(ctx, (uint32_t)sqlite3_column_int64(st, 0), sqlite3_column_int(st, 1),
           sqlite3_column_int64(st, 2));
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : fail(s, "finding the newest readings");
}
