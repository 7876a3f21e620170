/* The SQLite store on a real file: append, claim, acknowledge, restart,
 * bounds. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/log.h"
#include "core/clock.h"
#include "store/store.h"
#include "records_of_one.h"

static char dir[64];
static struct store_config cfg;

static int setup(void **state)
{
    (void)state;
    strcpy(dir, "/tmp/test-store-XXXXXX");
    assert_non_null(mkdtemp(dir));
    memset(&cfg, 0, sizeof(cfg));
    snprintf(cfg.path, sizeof(cfg.path), "%s/store.db", dir);
    cfg.commit_interval_ms = 100;
    cfg.max_readings = 1000;
    cfg.max_age_ms = 3600 * 1000;
    cfg.max_size_bytes = 1LL << 30;
    cfg.sync = 1;
    log_set_level(LOG_ERROR);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    return system(cmd);
}

static struct store *open_store(void)
{
    struct store *s = NULL;
    assert_int_equal(store_open(&cfg, &s), 0);
    return s;
}

static int append_and_ack(struct store *s, struct reading *fresh, size_t n_fresh,
                          const int64_t *acked, size_t n_acked, int64_t *dropped)
{
    struct store_batch b = {.fresh = records_of_one(s, fresh, n_fresh),
                            .n_fresh = n_fresh,
                            .acked = acked,
                            .n_acked = n_acked};
    return store_commit_batch(s, &b, dropped);
}

/* Claims records of one reading and returns their readings. */
static int claim(struct store *s, int64_t after, struct reading *out, size_t max, size_t *n)
{
    static struct record recs[2048];
    static struct reading buf[2048];
    int rc = store_claim(s, after, recs, max, buf, 2048, n);
    for (size_t i = 0; rc == 0 && i < *n; i++) {
        assert_int_equal(recs[i].n, 1);
        out[i] = recs[i].r[0];
    }
    return rc;
}

static void make_readings(struct reading *r, size_t n, uint32_t point, int64_t ts0)
{
    for (size_t i = 0; i < n; i++)
        r[i] = (struct reading){.ts_ms = ts0 + (int64_t)i,
                                .value = (double)i * 1.5,
                                .point_id = point,
                                .quality = QUALITY_GOOD};
}

static void test_append_claim_acknowledge(void **state)
{
    (void)state;
    struct store *s = open_store();
    uint32_t id;
    assert_int_equal(store_register_point(s, "trail", "visitors_in", "visitors", &id), 0);
    struct reading r[10], out[10];
    make_readings(r, 10, id, 1000);
    int64_t dropped = -1;
    assert_int_equal(append_and_ack(s, r, 10, NULL, 0, &dropped), 0);
    assert_int_equal(dropped, 0);
    assert_int_equal(r[0].seq, 1);
    assert_int_equal(r[9].seq, 10);
    size_t n = 0;
    assert_int_equal(claim(s, 0, out, 4, &n), 0);
    assert_int_equal(n, 4);
    assert_int_equal(out[0].seq, 1);
    assert_int_equal(out[3].seq, 4);
    assert_float_equal(out[3].value, 4.5, 0);
    assert_int_equal(out[2].ts_ms, 1002);
    assert_int_equal(claim(s, 8, out, 10, &n), 0); /* after seq 8: 9 and 10 */
    assert_int_equal(n, 2);
    int64_t acked[] = {1, 2, 3, 7};
    assert_int_equal(append_and_ack(s, NULL, 0, acked, 4, &dropped), 0);
    assert_int_equal(store_stats(s).depth, 6);
    assert_int_equal(claim(s, 0, out, 10, &n), 0);
    assert_int_equal(n, 6);
    assert_int_equal(out[0].seq, 4);
    assert_int_equal(out[3].seq, 8); /* 7 is gone */
    assert_string_equal(store_point(s, id)->unit, "visitors");
    store_close(s);
}

static void test_restart_resumes(void **state)
{
    (void)state;
    struct store *s = open_store();
    uint32_t id_before, id_after;
    assert_int_equal(store_register_point(s, "weather", "temperature", "°C", &id_before), 0);
    struct reading r[5];
    make_readings(r, 5, id_before, 0);
    int64_t dropped, acked_all[] = {1, 2, 3, 4, 5};
    assert_int_equal(append_and_ack(s, r, 5, NULL, 0, &dropped), 0);
    assert_int_equal(append_and_ack(s, NULL, 0, acked_all, 5, &dropped), 0);
    assert_int_equal(store_stats(s).depth, 0);
    make_readings(r, 3, id_before, 0);
    assert_int_equal(append_and_ack(s, r, 3, NULL, 0, &dropped), 0);
    store_close(s);

    s = open_store();
    struct store_stats st = store_stats(s);
    assert_int_equal(st.depth, 3);
    assert_int_equal(st.next_seq, 9); /* never reused, even for readings acknowledged */
    assert_int_equal(store_register_point(s, "weather", "temperature", "°C", &id_after), 0);
    assert_int_equal(id_after, id_before);
    assert_string_equal(store_point(s, id_before)->device, "weather");
    int64_t acked[] = {6, 7, 8};
    assert_int_equal(append_and_ack(s, NULL, 0, acked, 3, &dropped), 0);
    store_close(s);
    s = open_store(); /* an empty store still remembers the last sequence number */
    assert_int_equal(store_stats(s).next_seq, 9);
    store_close(s);
}

static void test_bound_drops_oldest_and_counts(void **state)
{
    (void)state;
    struct store *s = open_store();
    uint32_t id;
    assert_int_equal(store_register_point(s, "d", "p", "", &id), 0);
    static struct reading r[700];
    make_readings(r, 700, id, 0);
    int64_t dropped;
    assert_int_equal(append_and_ack(s, r, 700, NULL, 0, &dropped), 0);
    assert_int_equal(dropped, 0);
    make_readings(r, 700, id, 0);
    assert_int_equal(append_and_ack(s, r, 700, NULL, 0, &dropped), 0);
    assert_int_equal(dropped, 400); /* 1400 into a store of 1000 */
    struct store_stats st = store_stats(s);
    assert_int_equal(st.depth, 1000);
    assert_int_equal(st.dropped_total, 400);
    struct reading out[1];
    size_t n;
    assert_int_equal(claim(s, 0, out, 1, &n), 0);
    assert_int_equal(out[0].seq, 401); /* the oldest 400 went */
    store_close(s);
    s = open_store();
    assert_int_equal(store_stats(s).dropped_total, 400);
    store_close(s);
}

/* Age is counted on the run clock (monotonic, continued across restarts),
 * not by the readings' wall-clock stamps: a Pi whose clock NTP steps by 40
 * days must not lose its backlog, nor keep stale readings for ever. */
static void test_age_expiry(void **state)
{
    (void)state;
    struct store *s = open_store();
    uint32_t id;
    assert_int_equal(store_register_point(s, "d", "p", "", &id), 0);
    struct reading r[10];
    int64_t t = clock_mono_ms(), dropped;
    int64_t forty_days_ago = clock_wall_ms() - 40LL * 24 * 3600 * 1000;
    make_readings(r, 10, id, forty_days_ago);
    struct store_batch old = {.fresh = records_of_one(s, r, 5), .n_fresh = 5, .now_mono_ms = t};
    assert_int_equal(store_commit_batch(s, &old, &dropped), 0);
    struct store_batch young = {.fresh = records_of_one(s, r + 5, 5),
                                .n_fresh = 5,
                                .now_mono_ms = t + cfg.max_age_ms - 1000};
    assert_int_equal(store_commit_batch(s, &young, &dropped), 0);
    assert_int_equal(store_expire(s, clock_mono_ms(), &dropped), 0);
    assert_int_equal(dropped, 0); /* 40 days by the wall clock, seconds by the run clock */
    assert_int_equal(store_expire(s, t + cfg.max_age_ms + 500, &dropped), 0);
    assert_int_equal(dropped, 5);
    assert_int_equal(store_stats(s).depth, 5);
    assert_int_equal(store_stats(s).dropped_total, 5);
    store_close(s);
    /* After a restart the run clock goes on from the newest mark, at
     * which the young readings were taken in. */
    s = open_store();
    assert_int_equal(store_expire(s, clock_mono_ms() + cfg.max_age_ms - 1000, &dropped), 0);
    assert_int_equal(dropped, 0);
    assert_int_equal(store_expire(s, clock_mono_ms() + cfg.max_age_ms + 1000, &dropped), 0);
    assert_int_equal(dropped, 5);
    store_close(s);
}

/* Age marks are written at most every max_age/100 of run time: a commit
 * in between ages with the mark before it (expires up to 1 % early), and
 * store_expiry_due tells, without writing, when anything would go. */
static void test_sparse_age_marks(void **state)
{
    (void)state;
    struct store *s = open_store();
    uint32_t id;
    assert_int_equal(store_register_point(s, "d", "p", "", &id), 0);
    struct reading r[15];
    int64_t t = clock_mono_ms(), spacing = cfg.max_age_ms / 100, dropped;
    make_readings(r, 15, id, clock_wall_ms());
    for (int i = 0; i < 3; i++) {
        int64_t at[] = {t, t + spacing / 2, t + spacing * 2};
        struct store_batch b = {
            .fresh = records_of_one(s, r + 5 * i, 5), .n_fresh = 5, .now_mono_ms = at[i]};
        assert_int_equal(store_commit_batch(s, &b, &dropped), 0);
    }
    assert_false(store_expiry_due(s, t + cfg.max_age_ms - 1000));
    assert_true(store_expiry_due(s, t + cfg.max_age_ms + 1));
    assert_int_equal(store_expire(s, t + cfg.max_age_ms + 1, &dropped), 0);
    assert_int_equal(dropped, 10); /* the first two commits shared a mark */
    assert_false(store_expiry_due(s, t + cfg.max_age_ms + spacing));
    assert_true(store_expiry_due(s, t + cfg.max_age_ms + spacing * 2 + 1));
    store_close(s);
}

/* A clean stop saves the run clock: after a restart, readings taken in
 * since the newest mark do not start ageing from it again. */
static void test_run_clock_saved_on_close(void **state)
{
    (void)state;
    struct store *s = open_store();
    uint32_t id;
    assert_int_equal(store_register_point(s, "d", "p", "", &id), 0);
    struct reading r[5];
    int64_t t = clock_mono_ms(), dropped;
    make_readings(r, 5, id, clock_wall_ms());
    struct store_batch b = {.fresh = records_of_one(s, r, 5), .n_fresh = 5, .now_mono_ms = t};
    assert_int_equal(store_commit_batch(s, &b, &dropped), 0);
    usleep(300 * 1000);
    store_close(s);
    s = open_store();
    /* 300 ms ran before the restart: the readings are that much older. */
    assert_true(store_expiry_due(s, clock_mono_ms() + cfg.max_age_ms - 200));
    store_close(s);
}

/* A refused reading is kept, no longer claimed, counted, listed, and
 * claimed again after an operator's resend. */
static void count_set_aside(void *ctx, int64_t seq, int64_t ts_ms, const struct store_point *pt,
                            int n, int reason)
{
    (void)ts_ms;
    assert_int_equal(n, 1);
    assert_string_equal(pt->point, "p");
    assert_int_equal(seq, 2);
    assert_int_equal(reason, 0x87);
    (*(int *)ctx)++;
}

static void test_set_aside_and_resend(void **state)
{
    (void)state;
    struct store *s = open_store();
    uint32_t id;
    assert_int_equal(store_register_point(s, "d", "p", "", &id), 0);
    struct reading r[3], out[3];
    int64_t dropped, n_back;
    make_readings(r, 3, id, 1000);
    assert_int_equal(append_and_ack(s, r, 3, NULL, 0, &dropped), 0);
    struct reading_refusal no = {.seq = 2, .reason = 0x87};
    struct store_batch b = {.refused = &no, .n_refused = 1};
    assert_int_equal(store_commit_batch(s, &b, &dropped), 0);
    assert_int_equal(store_stats(s).set_aside, 1);
    size_t n;
    assert_int_equal(claim(s, 0, out, 3, &n), 0);
    assert_int_equal(n, 2);
    assert_int_equal(out[0].seq, 1);
    assert_int_equal(out[1].seq, 3);
    store_close(s);
    s = open_store();
    assert_int_equal(store_stats(s).set_aside, 1);
    int listed = 0;
    assert_int_equal(store_each_set_aside(s, count_set_aside, &listed), 0);
    assert_int_equal(listed, 1);
    assert_int_equal(store_resend_set_aside(s, &n_back), 0);
    assert_int_equal(n_back, 1);
    assert_int_equal(claim(s, 0, out, 3, &n), 0);
    assert_int_equal(n, 3);
    store_close(s);
}

/* A second process on the same store would republish the first's
 * readings: the lock keeps it out. */
static void test_second_open_is_refused(void **state)
{
    (void)state;
    struct store *s = open_store(), *second = NULL;
    assert_int_equal(store_open(&cfg, &second), STORE_ERROR);
    assert_null(second);
    store_close(s);
    second = open_store();
    store_close(second);
}

/* The file removed under a running store: rebuilt at the path from the
 * open copy, with every reading and the sequence numbers going on. */
static void test_removed_file_is_rebuilt(void **state)
{
    (void)state;
    struct store *s = open_store();
    uint32_t id;
    assert_int_equal(store_register_point(s, "d", "p", "", &id), 0);
    struct reading r[4];
    int64_t dropped;
    make_readings(r, 4, id, 1000);
    assert_int_equal(append_and_ack(s, r, 2, NULL, 0, &dropped), 0);
    assert_int_equal(unlink(cfg.path), 0);
    assert_int_equal(append_and_ack(s, r + 2, 2, NULL, 0, &dropped), 0);
    assert_int_equal(access(cfg.path, F_OK), 0);
    store_close(s);
    s = open_store();
    assert_int_equal(store_stats(s).depth, 4);
    assert_int_equal(store_stats(s).next_seq, 5);
    store_close(s);
}

static void test_unwritable_path_fails_cleanly(void **state)
{
    (void)state;
    struct store_config bad = cfg;
    snprintf(bad.path, sizeof(bad.path), "%s/missing-dir/store.db", dir);
    struct store *s = NULL;
    assert_int_equal(store_open(&bad, &s), -1);
    assert_null(s);
}

/* max_size becomes SQLite's page limit: the insert that does not fit fails
 * as on a full disk, changes nothing, and dropping the oldest makes room. */
static void test_full_store_changes_nothing_and_recovers(void **state)
{
    (void)state;
    cfg.max_size_bytes = 128 * 1024;
    cfg.max_readings = 1000000;
    struct store *s = open_store();
    uint32_t id;
    assert_int_equal(store_register_point(s, "d", "p", "", &id), 0);
    static struct reading r[500];
    int64_t dropped;
    int rc = STORE_OK, batches = 0;
    struct record *recs = NULL;
    while (batches < 100) {
        make_readings(r, 500, id, 0);
        recs = records_of_one(s, r, 500);
        struct store_batch b = {.fresh = recs, .n_fresh = 500};
        rc = store_commit_batch(s, &b, &dropped);
        if (rc != STORE_OK)
            break;
        batches++;
    }
    assert_int_equal(rc, STORE_FULL);
    assert_in_range(batches, 1, 99);
    struct store_stats before = store_stats(s);
    assert_int_equal(before.depth, batches * 500);
    assert_int_equal(before.next_seq, batches * 500 + 501); /* the failed batch keeps its numbers */

    assert_int_equal(store_make_room(s, 1000, &dropped), STORE_OK);
    assert_int_equal(dropped, 1000);
    struct store_batch again = {.fresh = recs, .n_fresh = 500}; /* as the pipeline retries */
    assert_int_equal(store_commit_batch(s, &again, &dropped), STORE_OK);
    assert_int_equal(r[0].seq, batches * 500 + 1);
    struct store_stats after = store_stats(s);
    assert_int_equal(after.depth, before.depth - 500);
    assert_int_equal(after.dropped_total, 1000);
    store_close(s);

    s = open_store(); /* passes quick_check: not moved aside, nothing lost */
    assert_int_equal(store_stats(s).depth, after.depth);
    store_close(s);
    char pattern[96];
    glob_t found;
    snprintf(pattern, sizeof(pattern), "%s/store.db.damaged-*", dir);
    assert_int_equal(glob(pattern, 0, NULL, &found), GLOB_NOMATCH);
}

static size_t count_damaged_files(void)
{
    char pattern[96];
    glob_t found;
    snprintf(pattern, sizeof(pattern), "%s/store.db.damaged-*", dir);
    if (glob(pattern, 0, NULL, &found) != 0)
        return 0;
    size_t n = found.gl_pathc;
    globfree(&found);
    return n;
}

static void test_garbage_file_is_moved_aside(void **state)
{
    (void)state;
    FILE *f = fopen(cfg.path, "w");
    assert_non_null(f);
    for (int i = 0; i < 1000; i++)
        fputs("this is not an SQLite database\n", f);
    fclose(f);
    struct store *s = open_store();
    assert_int_equal(count_damaged_files(), 1);
    assert_int_equal(store_stats(s).depth, 0);
    /* Above any sequence number the lost file can have used. */
    assert_true(store_stats(s).next_seq > 1600000000000LL);
    store_close(s);
}

static void test_truncated_file_is_moved_aside(void **state)
{
    (void)state;
    struct store *s = open_store();
    uint32_t id;
    assert_int_equal(store_register_point(s, "d", "p", "", &id), 0);
    static struct reading r[900];
    int64_t dropped;
    make_readings(r, 900, id, 0);
    assert_int_equal(append_and_ack(s, r, 900, NULL, 0, &dropped), STORE_OK);
    store_close(s); /* the last connection checkpoints: everything is in the file */
    FILE *f = fopen(cfg.path, "r+");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fclose(f);
    assert_true(size > 4 * 4096);
    assert_int_equal(truncate(cfg.path, size / 2), 0);

    s = open_store();
    assert_int_equal(count_damaged_files(), 1);
    assert_int_equal(store_stats(s).depth, 0);
    make_readings(r, 10, id, 0); /* the fresh store works */
    assert_int_equal(store_register_point(s, "d", "p", "", &id), 0);
    assert_int_equal(append_and_ack(s, r, 10, NULL, 0, &dropped), STORE_OK);
    store_close(s);
}

static void test_indicators_and_state_roundtrip(void **state)
{
    (void)state;
    struct store *s = open_store();
    uint32_t id;
    assert_int_equal(store_register_point(s, "trail", "visitors_in", "visitors", &id), 0);
    struct reading r[3] = {
        {.ts_ms = 1000, .value = 7, .point_id = id, .flags = FLAG_CLOCK_UNSYNCED},
        {.kind = READING_COUNT,
         .ts_ms = 900000,
         .start_ms = 0,
         .value = 42,
         .point_id = id,
         .span_from_ms = 100,
         .span_to_ms = 899000,
         .flags = FLAG_COUNT_WRAP},
        {.kind = READING_WINDOW,
         .ts_ms = 600000,
         .start_ms = 0,
         .value = 2.5,
         .point_id = id,
         .samples = 4,
         .excluded = 1,
         .min = 1,
         .max = 4,
         .last = 3}};
    struct store_state st = {id, "{\"v\":1}"};
    struct store_batch b = {
        .fresh = records_of_one(s, r, 3), .n_fresh = 3, .states = &st, .n_states = 1};
    int64_t dropped;
    assert_int_equal(store_commit_batch(s, &b, &dropped), STORE_OK);
    store_close(s);

    s = open_store(); /* everything comes back from the file */
    struct reading out[3];
    size_t n = 0;
    assert_int_equal(claim(s, 0, out, 3, &n), 0);
    assert_int_equal(n, 3);
    assert_int_equal(out[0].kind, READING_RAW);
    assert_int_equal(out[0].flags, FLAG_CLOCK_UNSYNCED);
    assert_int_equal(out[1].kind, READING_COUNT);
    assert_int_equal(out[1].span_from_ms, 100);
    assert_int_equal(out[1].span_to_ms, 899000);
    assert_int_equal(out[1].flags, FLAG_COUNT_WRAP);
    assert_true(out[1].value == 42);
    assert_int_equal(out[2].kind, READING_WINDOW);
    assert_int_equal(out[2].samples, 4);
    assert_int_equal(out[2].excluded, 1);
    assert_true(out[2].min == 1 && out[2].max == 4 && out[2].last == 3 && out[2].value == 2.5);
    store_close(s);
}

static void remember_state(void *ctx, uint32_t point_id, const char *text)
{
    snprintf(ctx, 64, "%u=%s", point_id, text);
}

static void remember_newest(void *ctx, uint32_t point_id, int kind, int64_t seq)
{
    int64_t *newest = ctx;
    if (point_id == 1)
        newest[kind] = seq;
}

static void test_state_and_newest_survive_restart(void **state)
{
    (void)state;
    struct store *s = open_store();
    uint32_t id;
    assert_int_equal(store_register_point(s, "d", "p", "", &id), 0);
    assert_int_equal(id, 1);
    struct reading r[4] = {{.point_id = id},
                           {.point_id = id, .kind = READING_COUNT},
                           {.point_id = id},
                           {.point_id = id, .kind = READING_WINDOW}};
    struct store_state st[2] = {{id, "first"}, {id, "second"}};
    struct store_batch b = {
        .fresh = records_of_one(s, r, 4), .n_fresh = 4, .states = st, .n_states = 2};
    int64_t dropped;
    assert_int_equal(store_commit_batch(s, &b, &dropped), STORE_OK);
    store_close(s);
    s = open_store();
    char text[64] = "";
    assert_int_equal(store_each_state(s, remember_state, text), 0);
    assert_string_equal(text, "1=second");
    int64_t newest[READING_KINDS] = {0};
    assert_int_equal(store_each_newest(s, remember_newest, newest), 0);
    assert_int_equal(newest[READING_RAW], 3);
    assert_int_equal(newest[READING_COUNT], 2);
    assert_int_equal(newest[READING_WINDOW], 4);
    store_close(s);
}

/* A store written by schema version 1 (raw readings only) keeps its unsent
 * readings across the upgrade. */
static void test_version_1_file_is_upgraded(void **state)
{
    (void)state;
    char cmd[1024];
    snprintf(cmd, sizeof(cmd),
             "sqlite3 %s \"CREATE TABLE points(id INTEGER PRIMARY KEY, device TEXT NOT NULL, "
             "point TEXT NOT NULL, unit TEXT NOT NULL, UNIQUE(device, point)); "
             "CREATE TABLE readings(seq INTEGER PRIMARY KEY, ts_ms INTEGER NOT NULL, "
             "point_id INTEGER NOT NULL, value REAL NOT NULL, quality INTEGER NOT NULL); "
             "INSERT INTO points VALUES(1, 'd', 'p', 'u'); "
             "INSERT INTO readings VALUES(41, 5000, 1, 2.5, 0); PRAGMA user_version=1;\"",
             cfg.path);
    if (system(cmd) != 0)
        skip(); /* no sqlite3 command-line tool */
    struct store *s = open_store();
    struct reading out[2];
    size_t n = 0;
    assert_int_equal(claim(s, 0, out, 2, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(out[0].seq, 41);
    assert_true(out[0].value == 2.5);
    assert_int_equal(out[0].kind, READING_RAW);
    assert_int_equal(store_stats(s).next_seq, 42);
    store_close(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_append_claim_acknowledge, setup, teardown),
        cmocka_unit_test_setup_teardown(test_restart_resumes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bound_drops_oldest_and_counts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_age_expiry, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sparse_age_marks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_run_clock_saved_on_close, setup, teardown),
        cmocka_unit_test_setup_teardown(test_set_aside_and_resend, setup, teardown),
        cmocka_unit_test_setup_teardown(test_second_open_is_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_removed_file_is_rebuilt, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unwritable_path_fails_cleanly, setup, teardown),
        cmocka_unit_test_setup_teardown(test_full_store_changes_nothing_and_recovers, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_garbage_file_is_moved_aside, setup, teardown),
        cmocka_unit_test_setup_teardown(test_truncated_file_is_moved_aside, setup, teardown),
        cmocka_unit_test_setup_teardown(test_indicators_and_state_roundtrip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_state_and_newest_survive_restart, setup, teardown),
        cmocka_unit_test_setup_teardown(test_version_1_file_is_upgraded, setup, teardown),
    };
    return cmocka_run_group_tests_name("store", tests, NULL, NULL);
}
