#include "gateway/store.h"
#include "gateway/log.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define SCHEMA_VERSION 1
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
    "CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value INTEGER NOT NULL);";

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
    ST_COUNT
};

static const char *const statement_sql[ST_COUNT] = {
    [ST_BEGIN] = "BEGIN IMMEDIATE",
    [ST_COMMIT] = "COMMIT",
    [ST_ROLLBACK] = "ROLLBACK",
    [ST_INSERT] = "INSERT INTO readings(seq, ts_ms, point_id, value, quality) VALUES(?,?,?,?,?)",
    [ST_DELETE_ACKED] = "DELETE FROM readings WHERE seq = ?",
    [ST_DROP_OLDEST] =
        "DELETE FROM readings WHERE seq IN (SELECT seq FROM readings ORDER BY seq LIMIT ?)",
    [ST_EXPIRE] = "DELETE FROM readings WHERE seq IN (SELECT seq FROM readings ORDER BY seq "
                  "LIMIT ?) AND ts_ms < ?",
    [ST_CLAIM] = "SELECT seq, ts_ms, point_id, value, quality FROM readings WHERE seq > ? "
                 "ORDER BY seq LIMIT ?",
    [ST_SET_META] = "INSERT OR REPLACE INTO meta(key, value) VALUES(?, ?)",
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
};

static int fail(struct store *s, const char *what)
{
    log_msg(LOG_ERROR, "store %s: %s: %s", s->cfg.path, what, sqlite3_errmsg(s->db));
    return -1;
}

static int exec_sql(struct store *s, const char *sql)
{
    char *err = NULL;
    if (sqlite3_exec(s->db, sql, NULL, NULL, &err) != SQLITE_OK) {
        log_msg(LOG_ERROR, "store %s: %s: %s", s->cfg.path, sql, err ? err : "?");
        sqlite3_free(err);
        return -1;
    }
    return 0;
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

int store_open(const struct store_config *cfg, struct store **out)
{
    struct store *s = calloc(1, sizeof(*s));
    if (!s)
        return -1;
    s->cfg = *cfg;
    if (sqlite3_open_v2(cfg->path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL)) {
        log_msg(LOG_ERROR, "store %s: cannot open: %s", cfg->path, sqlite3_errmsg(s->db));
        store_close(s);
        return -1;
    }
    sqlite3_busy_timeout(s->db, 5000);
    char pragmas[200];
    snprintf(pragmas, sizeof(pragmas),
             "PRAGMA journal_mode=WAL; PRAGMA synchronous=%s; PRAGMA user_version=%d;",
             cfg->sync ? "FULL" : "NORMAL", SCHEMA_VERSION);
    if (exec_sql(s, pragmas) || exec_sql(s, schema_sql) || load_points(s) || load_counters(s)) {
        store_close(s);
        return -1;
    }
    for (int i = 0; i < ST_COUNT; i++) {
        if (sqlite3_prepare_v3(s->db, statement_sql[i], -1, SQLITE_PREPARE_PERSISTENT, &s->st[i],
                               NULL) != SQLITE_OK) {
            fail(s, statement_sql[i]);
            store_close(s);
            return -1;
        }
    }
    log_msg(LOG_INFO, "store %s: %lld readings waiting to be forwarded, next sequence number %lld",
            cfg->path, (long long)s->depth, (long long)s->next_seq);
    *out = s;
    return 0;
}

void store_close(struct store *s)
{
    if (!s)
        return;
    for (int i = 0; i < ST_COUNT; i++)
        sqlite3_finalize(s->st[i]);
    sqlite3_close(s->db);
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
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return rc == SQLITE_DONE ? 0 : fail(s, statement_sql[which]);
}

static int set_meta(struct store *s, const char *key, int64_t value)
{
    sqlite3_bind_text(s->st[ST_SET_META], 1, key, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s->st[ST_SET_META], 2, value);
    return run(s, ST_SET_META);
}

static int insert_readings(struct store *s, struct reading *fresh, size_t n, int64_t first_seq)
{
    sqlite3_stmt *st = s->st[ST_INSERT];
    for (size_t i = 0; i < n; i++) {
        fresh[i].seq = first_seq + (int64_t)i;
        sqlite3_bind_int64(st, 1, fresh[i].seq);
        sqlite3_bind_int64(st, 2, fresh[i].ts_ms);
        sqlite3_bind_int64(st, 3, fresh[i].point_id);
        sqlite3_bind_double(st, 4, fresh[i].value);
        sqlite3_bind_int(st, 5, fresh[i].quality);
        if (run(s, ST_INSERT) != 0)
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

int store_append_and_acknowledge(struct store *s, struct reading *fresh, size_t n_fresh,
                                 const int64_t *acked, size_t n_acked, int64_t *dropped)
{
    *dropped = 0;
    if (n_fresh == 0 && n_acked == 0)
        return 0;
    if (run(s, ST_BEGIN) != 0)
        return -1;
    int64_t deleted = 0, excess = 0;
    if (delete_acked(s, acked, n_acked, &deleted) != 0)
        goto rollback;
    excess = s->depth - deleted + (int64_t)n_fresh - s->cfg.max_readings;
    if (excess > 0) {
        sqlite3_bind_int64(s->st[ST_DROP_OLDEST], 1, excess);
        if (run(s, ST_DROP_OLDEST) != 0)
            goto rollback;
        excess = sqlite3_changes(s->db);
    } else {
        excess = 0;
    }
    if (insert_readings(s, fresh, n_fresh, s->next_seq) != 0)
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
    run(s, ST_ROLLBACK);
    return -1;
}

int store_expire(struct store *s, int64_t now_wall_ms, int64_t *dropped)
{
    *dropped = 0;
    if (run(s, ST_BEGIN) != 0)
        return -1;
    sqlite3_bind_int64(s->st[ST_EXPIRE], 1, EXPIRE_SCAN_ROWS);
    sqlite3_bind_int64(s->st[ST_EXPIRE], 2, now_wall_ms - s->cfg.max_age_ms);
    if (run(s, ST_EXPIRE) != 0)
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
    run(s, ST_ROLLBACK);
    return -1;
}

int store_claim(struct store *s, int64_t after_seq, struct reading *out, size_t max, size_t *n)
{
    sqlite3_stmt *st = s->st[ST_CLAIM];
    sqlite3_bind_int64(st, 1, after_seq);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)max);
    size_t got = 0;
    int rc = SQLITE_DONE;
    while (got < max && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        out[got++] = (struct reading){.seq = sqlite3_column_int64(st, 0),
                                      .ts_ms = sqlite3_column_int64(st, 1),
                                      .point_id = (uint32_t)sqlite3_column_int64(st, 2),
                                      .value = sqlite3_column_double(st, 3),
                                      .quality = (uint8_t)sqlite3_column_int(st, 4)};
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
