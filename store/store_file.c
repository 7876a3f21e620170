/* The store's SQLite file: creating and upgrading its schema, checking it
 * at start, setting a damaged file aside, loading what a restart needs.
 * Its guard against the outside (the lock, a file removed while running)
 * is store_guard.c. */
#include "core/clock.h"
#include "store/record_codec.h"
#include "store/store_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

/* 1: raw readings only. 2: indicators in the same table (kind and its
 * columns) and the indicator state. 3: records (one row per message, its
 * readings as bytes: store/record_codec.h) instead of a row per reading.
 * Older files are upgraded in place, unsent readings kept. */
#define SCHEMA_VERSION 3

static const char schema_sql[] =
    "CREATE TABLE IF NOT EXISTS points("
    "  id INTEGER PRIMARY KEY, device TEXT NOT NULL, point TEXT NOT NULL,"
    "  unit TEXT NOT NULL, UNIQUE(device, point));"
    "CREATE TABLE IF NOT EXISTS records("
    "  seq INTEGER PRIMARY KEY, ts_ms INTEGER NOT NULL, n INTEGER NOT NULL, body BLOB NOT NULL);"
    "CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS indicator_state(point_id INTEGER PRIMARY KEY, state TEXT NOT "
    "NULL);"
    /* Added without a schema version: older binaries ignore them. */
    "CREATE TABLE IF NOT EXISTS age_marks(seq INTEGER PRIMARY KEY, run_ms INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS set_aside(seq INTEGER PRIMARY KEY, reason INTEGER NOT NULL,"
    "  at_ms INTEGER NOT NULL);";

/* Added by schema version 2 to a version-1 readings table. */
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

int store_fail(struct store *s, const char *what)
{
    s->last_error = sqlite3_errcode(s->db);
    /* What failed can be a whole SQL text: its start is enough to tell. */
    snprintf(s->last_message, sizeof(s->last_message), "%.96s: %.190s", what,
             sqlite3_errmsg(s->db));
    if (!s->opening)
        log_limited(&s->error_log, LOG_ERROR, "store %s: %s", s->cfg.path, s->last_message);
    return s->last_error == SQLITE_FULL ? STORE_FULL : STORE_ERROR;
}

static int exec_sql(struct store *s, const char *sql)
{
    return sqlite3_exec(s->db, sql, NULL, NULL, NULL) == SQLITE_OK ? 0 : store_fail(s, sql);
}

static int query_int64(struct store *s, const char *sql, int64_t *out)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
        return store_fail(s, sql);
    int rc = sqlite3_step(st);
    *out = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    sqlite3_finalize(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : store_fail(s, sql);
}

/* For PRAGMA quick_check: *ok is 1 when the single row says "ok". */
static int query_text_is_ok(struct store *s, const char *sql, int64_t *ok)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
        return store_fail(s, sql);
    int rc = sqlite3_step(st);
    const unsigned char *text = rc == SQLITE_ROW ? sqlite3_column_text(st, 0) : NULL;
    *ok = text && strcmp((const char *)text, "ok") == 0;
    sqlite3_finalize(st);
    return rc == SQLITE_ROW ? 0 : store_fail(s, sql);
}

int store_remember_point(struct store *s, uint32_t id, const char *device, const char *point,
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
        return store_fail(s, "loading points");
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (store_remember_point(s, (uint32_t)sqlite3_column_int64(st, 0),
                                 (const char *)sqlite3_column_text(st, 1),
                                 (const char *)sqlite3_column_text(st, 2),
                                 (const char *)sqlite3_column_text(st, 3)) != 0) {
            sqlite3_finalize(st);
            return -1;
        }
    }
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : store_fail(s, "loading points");
}

/* A store made anew (first install, a wiped or purged state directory, a
 * fresh SD image) starts its seq at 1 again, and no clock can promise a
 * number above the old store's at a Pi's first boot. So each store file
 * gets an identity of its own, published with every message: consumers
 * key on (gateway, store, seq). 32 random bits: two stores of one gateway
 * share one with a chance of 1 in 4 billion. */
static int load_identity(struct store *s)
{
    int64_t id = -1;
    if (query_int64(s, "SELECT coalesce((SELECT value FROM meta WHERE key = 'store_id'), -1)",
                    &id) != 0)
        return -1;
    if (id >= 0) {
        snprintf(s->identity, sizeof(s->identity), "%08x", (unsigned)id);
        return 0;
    }
    uint32_t fresh = 0;
    if (getrandom(&fresh, sizeof(fresh), 0) != (ssize_t)sizeof(fresh))
        fresh = (uint32_t)(clock_wall_ms() ^ (int64_t)getpid() << 16);
    char sql[96];
    snprintf(sql, sizeof(sql), "INSERT INTO meta(key, value) VALUES('store_id', %lld)",
             (long long)fresh);
    if (exec_sql(s, sql) != 0)
        return -1;
    snprintf(s->identity, sizeof(s->identity), "%08x", (unsigned)fresh);
    return 0;
}

static int load_counters(struct store *s)
{
    int64_t last_seq_meta = 0, max_seq = 0, marks = 0, reserved = 0, run_at_close = 0;
    if (query_int64(s, "SELECT value FROM meta WHERE key = 'last_seq'", &last_seq_meta) ||
        query_int64(s, "SELECT value FROM meta WHERE key = 'seq_reserved'", &reserved) ||
        query_int64(s, "SELECT max(seq) FROM records", &max_seq) ||
        query_int64(s, "SELECT coalesce(sum(n), 0) FROM records", &s->depth) ||
        query_int64(s, "SELECT count(*) FROM records", &s->records) ||
        query_int64(s, "SELECT value FROM meta WHERE key = 'dropped_total'", &s->dropped_total) ||
        query_int64(s, "SELECT coalesce(max(run_ms), 0) FROM age_marks", &s->run_base_ms) ||
        query_int64(s, "SELECT value FROM meta WHERE key = 'run_ms'", &run_at_close) ||
        query_int64(s, "SELECT count(*) FROM age_marks", &marks))
        return -1;
    s->last_mark_run_ms = marks ? s->run_base_ms : -1;
    /* After a crash the run clock resumes from the newest mark: expiry
     * comes later by at most the marks' spacing, never earlier. */
    if (run_at_close > s->run_base_ms)
        s->run_base_ms = run_at_close;
    s->next_seq = (last_seq_meta > max_seq ? last_seq_meta : max_seq) + 1;
    if (reserved > s->next_seq)
        s->next_seq = reserved; /* after a crash: the rest of the block is skipped */
    s->reserved_seq = s->next_seq;
    s->first_seq = s->next_seq;
    s->mono_open_ms = clock_mono_ms();
    /* Readings of a store written before age marks existed start ageing now. */
    if (marks == 0 && s->depth > 0) {
        s->last_mark_run_ms = 0;
        return exec_sql(s, "INSERT INTO age_marks(seq, run_ms) SELECT min(seq), 0 FROM records");
    }
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
        if (sqlite3_prepare_v3(s->db, store_statement_sql[i], -1, SQLITE_PREPARE_PERSISTENT,
                               &s->st[i], NULL) != SQLITE_OK)
            return store_fail(s, store_statement_sql[i]);
    }
    return 0;
}

/* Version 1 and 2 kept a row per reading: each becomes a record of one,
 * under its own seq. */
static int move_readings_to_records(struct store *s)
{
    const char *sql = "SELECT seq, ts_ms, point_id, value, quality, kind, flags, start_ms, "
                      "span_from_ms, span_to_ms, samples, excluded, min, max, last FROM readings";
    sqlite3_stmt *st, *ins;
    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
        return store_fail(s, sql);
    if (sqlite3_prepare_v2(s->db, "INSERT INTO records(seq, ts_ms, n, body) VALUES(?,?,1,?)", -1,
                           &ins, NULL) != SQLITE_OK) {
        sqlite3_finalize(st);
        return store_fail(s, "upgrading the store");
    }
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        /* NULL columns read as 0, which is what a raw reading has there. */
        struct reading r = {.point_id = (uint32_t)sqlite3_column_int64(st, 2),
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
        uint8_t body[RECORD_INDICATOR_BYTES];
        record_encode(&r, 1, body);
        sqlite3_bind_int64(ins, 1, sqlite3_column_int64(st, 0));
        sqlite3_bind_int64(ins, 2, sqlite3_column_int64(st, 1));
        sqlite3_bind_blob(ins, 3, body, (int)record_encoded_size(&r, 1), SQLITE_TRANSIENT);
        int done = sqlite3_step(ins);
        sqlite3_reset(ins);
        if (done != SQLITE_DONE) {
            rc = done;
            break;
        }
    }
    sqlite3_finalize(ins);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return store_fail(s, "upgrading the store");
    return exec_sql(s, "DROP TABLE readings");
}

/* Brings the tables from the file's schema version to this one's, in one
 * transaction: unsent readings of an older version are kept. */
static int upgrade_schema(struct store *s)
{
    int64_t version = 0, old_table = 0;
    if (query_int64(s, "PRAGMA user_version", &version) != 0 ||
        query_int64(s, "SELECT count(*) FROM sqlite_master WHERE name = 'readings'", &old_table))
        return -1;
    if (version == SCHEMA_VERSION)
        return 0;
    if (exec_sql(s, "BEGIN IMMEDIATE") != 0)
        return -1;
    for (size_t i = 0; old_table && version < 2 && i < sizeof(readings_v2_columns) / sizeof(char *);
         i++) {
        char sql[128];
        snprintf(sql, sizeof(sql), "ALTER TABLE readings ADD COLUMN %s", readings_v2_columns[i]);
        if (exec_sql(s, sql) != 0)
            goto rollback;
    }
    if (old_table && move_readings_to_records(s) != 0)
        goto rollback;
    char sql[64];
    snprintf(sql, sizeof(sql), "PRAGMA user_version=%d", SCHEMA_VERSION);
    if (exec_sql(s, sql) != 0 || exec_sql(s, "COMMIT") != 0)
        goto rollback;
    return 0;
rollback:
    sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    return -1;
}

static int remember_file(struct store *s)
{
    struct stat st;
    if (stat(s->cfg.path, &st) != 0) {
        s->last_error = SQLITE_CANTOPEN;
        snprintf(s->last_message, sizeof(s->last_message), "stat: %s", strerror(errno));
        return -1;
    }
    s->file_dev = st.st_dev;
    s->file_ino = st.st_ino;
    return 0;
}

/* A store written by a newer version is refused before anything here
 * writes to it (the WAL switch, the tables): the newer daemon, put back,
 * finds its file byte for byte as it left it. */
static int refuse_newer(struct store *s)
{
    int64_t version = 0;
    if (query_int64(s, "PRAGMA user_version", &version) != 0)
        return -1;
    if (version <= SCHEMA_VERSION)
        return 0;
    s->last_error = SQLITE_ERROR;
    snprintf(s->last_message, sizeof(s->last_message),
             "written by a newer sensor-gateway (store schema %lld; this one knows up to %d); "
             "left as it is",
             (long long)version, SCHEMA_VERSION);
    return -1;
}

/* Opens and checks the file; on failure s->last_error says why. */
int store_open_database(struct store *s)
{
    if (sqlite3_open_v2(s->cfg.path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL))
        return store_fail(s, "opening");
    sqlite3_busy_timeout(s->db, 5000);
    if (refuse_newer(s) != 0)
        return -1;
    /* With the write-behind, a small fleet's commits are its interval
     * closes: a few rows in two tables, two pages. 1 KiB pages for a fresh
     * file (an existing one keeps its own) make that 2 KiB of WAL instead
     * of 8; the price is a backlog held with about twice the bytes per
     * reading (large records spill into overflow pages).
     * Exclusive locking: one process opens a store anyway (the lock file),
     * so SQLite keeps its WAL index in memory instead of a shared -shm file
     * that each commit would dirty too. Other programs cannot read the file
     * while the daemon runs; the status file shows what is in it. */
    char pragmas[200];
    snprintf(pragmas, sizeof(pragmas),
             "PRAGMA page_size=1024; PRAGMA locking_mode=EXCLUSIVE; PRAGMA journal_mode=WAL; "
             "PRAGMA synchronous=%s;",
             s->cfg.sync ? "FULL" : "NORMAL");
    int64_t healthy = 0;
    /* quick_check reads every page once: a file cut short by a power loss
     * on a bad SD card shows here, at start, not as a failed commit later. */
    if (sqlite3_exec(s->db, pragmas, NULL, NULL, NULL) != SQLITE_OK)
        return store_fail(s, "reading the header");
    if (query_text_is_ok(s, "PRAGMA quick_check(1)", &healthy) != 0)
        return -1;
    if (!healthy) {
        s->last_error = SQLITE_CORRUPT;
        return -1;
    }
    if (exec_sql(s, schema_sql) || upgrade_schema(s) || apply_size_limit(s) || load_points(s) ||
        load_counters(s) || load_identity(s) || prepare_statements(s) ||
        store_count_set_aside(s, &s->set_aside, &s->set_aside_readings) || remember_file(s))
        return -1;
    return 0;
}

void store_close_database(struct store *s)
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
    s->lock_fd = -1;
    if (store_lock(s) != 0) {
        store_close(s);
        return STORE_ERROR;
    }
    if (store_open_database(s) != 0) {
        char aside[CFG_TEXT_MAX + 48];
        int why = s->last_error;
        store_close_database(s);
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
        if (store_open_database(s) != 0) {
            log_msg(LOG_ERROR, "store %s: cannot be opened: %s", cfg->path, s->last_message);
            store_close(s);
            return STORE_ERROR;
        }
        s->next_seq = s->reserved_seq = s->first_seq = sequence_after_damage();
    }
    s->opening = false;
    log_msg(LOG_INFO, "store %s: %lld readings waiting to be forwarded, next sequence number %lld",
            cfg->path, (long long)s->depth, (long long)s->next_seq);
    *out = s;
    return 0;
}

/* A clean stop gives back the unused rest of the block, so that the next
 * run continues without a gap, and saves the run clock (age marks are
 * sparse), in one transaction. */
static void save_on_close(struct store *s)
{
    if (!s->db || !s->st[ST_RESERVE])
        return;
    char sql[200];
    snprintf(sql, sizeof(sql),
             "BEGIN; INSERT OR REPLACE INTO meta(key, value) VALUES('seq_reserved', %lld), "
             "('run_ms', %lld); COMMIT;",
             (long long)s->next_seq, (long long)store_run_ms(s, clock_mono_ms()));
    if (exec_sql(s, sql) != 0 && !sqlite3_get_autocommit(s->db))
        exec_sql(s, "ROLLBACK");
}

void store_close(struct store *s)
{
    if (!s)
        return;
    save_on_close(s);
    store_close_database(s);
    if (s->lock_fd >= 0)
        close(s->lock_fd); /* the file stays: removing it would race a starting daemon */
    free(s->points);
    free(s->blob);
    free(s);
}
