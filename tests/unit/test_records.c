/* Records: the store's byte form of readings, grouping a poll's readings
 * into one record, and the write-behind buffer's bookkeeping. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "core/log.h"
#include "store/record_codec.h"
#include "gateway/record_group.h"
#include "store/store.h"
#include "gateway/write_behind.h"

static void test_codec_roundtrip(void **state)
{
    (void)state;
    struct reading in[3] = {
        {.point_id = 7, .value = -11.7, .quality = QUALITY_GOOD, .flags = FLAG_CLOCK_UNSYNCED},
        {.point_id = 70000, .value = NAN, .quality = QUALITY_BAD},
        {.point_id = 9,
         .kind = READING_WINDOW,
         .value = 21.25,
         .start_ms = 1000,
         .samples = 12,
         .excluded = 1,
         .min = -3.5,
         .max = 40,
         .last = 20,
         .flags = FLAG_CLOCK_BACK},
    };
    size_t size = record_encoded_size(in, 3);
    assert_int_equal(size, 2 * RECORD_RAW_BYTES + RECORD_INDICATOR_BYTES);
    uint8_t buf[256];
    record_encode(in, 3, buf);
    assert_int_equal(buf[0], 7); /* little-endian, whatever the machine */
    struct reading out[3];
    assert_int_equal(record_decode(buf, size, 42, 5000, out, 3), 3);
    assert_int_equal(out[0].seq, 42);
    assert_int_equal(out[2].ts_ms, 5000);
    assert_int_equal(out[1].point_id, 70000);
    assert_true(isnan(out[1].value));
    assert_float_equal(out[0].value, -11.7, 0);
    assert_int_equal(out[0].flags, FLAG_CLOCK_UNSYNCED);
    assert_int_equal(out[2].kind, READING_WINDOW);
    assert_int_equal(out[2].samples, 12);
    assert_float_equal(out[2].min, -3.5, 0);
    assert_int_equal(out[2].flags, FLAG_CLOCK_BACK);
    /* Cut short: not a whole record. */
    assert_int_equal(record_decode(buf, size - 1, 42, 5000, out, 3), -1);
}

/* A store left by the version before polls_expected holds 80-byte
 * indicator records: they still decode, their values whole and expected 0
 * (sent as "polls_expected": null). */
static void test_codec_reads_v1_indicators(void **state)
{
    (void)state;
    struct reading in = {.point_id = 3,
                         .kind = READING_COUNT,
                         .value = 41,
                         .start_ms = 60000,
                         .span_from_ms = 61000,
                         .span_to_ms = 119000,
                         .samples = 58,
                         .last = 1041,
                         .expected = 15};
    uint8_t buf[RECORD_INDICATOR_BYTES];
    record_encode(&in, 1, buf);
    struct reading out;
    assert_int_equal(record_decode(buf, RECORD_INDICATOR_BYTES, 1, 2, &out, 1), 1);
    assert_int_equal(out.expected, 15);
    /* The old form is the new one without its last field. */
    assert_int_equal(record_decode(buf, RECORD_INDICATOR_V1_BYTES, 1, 2, &out, 1), 1);
    assert_int_equal(out.kind, READING_COUNT);
    assert_float_equal(out.value, 41, 0);
    assert_int_equal(out.start_ms, 60000);
    assert_int_equal(out.span_to_ms, 119000);
    assert_int_equal(out.samples, 58);
    assert_float_equal(out.last, 1041, 0);
    assert_int_equal(out.expected, 0);
    /* Neither size: not a record. */
    assert_int_equal(record_decode(buf, RECORD_INDICATOR_V1_BYTES + 4, 1, 2, &out, 1), -1);
}

static struct store *store;
static struct store_config cfg;
static uint32_t ids[5];
static char dir[64];

static int setup(void **state)
{
    (void)state;
    strcpy(dir, "/tmp/test-records-XXXXXX");
    assert_non_null(mkdtemp(dir));
    cfg = (struct store_config){.max_readings = 1000,
                                .max_age_ms = 3600000,
                                .max_size_bytes = 1 << 30,
                                .commit_interval_ms = 1000};
    snprintf(cfg.path, sizeof(cfg.path), "%s/store.db", dir);
    log_set_level(LOG_ERROR);
    assert_int_equal(store_open(&cfg, &store), 0);
    const char *names[][2] = {{"a", "x"}, {"a", "y"}, {"b", "x"}, {"b", "y"}, {"a", "occ"}};
    for (int i = 0; i < 5; i++)
        assert_int_equal(store_register_point(store, names[i][0], names[i][1], "", &ids[i]), 0);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    store_close(store);
    char cmd[96];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    return system(cmd);
}

static struct reading raw(int point, int64_t ts)
{
    return (struct reading){.point_id = ids[point], .ts_ms = ts, .value = point};
}

/* A poll of a, a poll of b, a's occupancy after b's readings, an indicator:
 * with layout = device three records (a with its occupancy, b, the
 * indicator); with layout = point one per reading. */
static void test_grouping(void **state)
{
    (void)state;
    struct reading in[6] = {raw(0, 100), raw(1, 100), raw(2, 100),
                            raw(3, 100), raw(4, 100), raw(0, 100)};
    in[5].kind = READING_COUNT;
    struct reading out[6];
    uint16_t sizes[6];
    uint32_t scratch[12], device_of[64] = {0};
    assert_true(ids[4] < 64);
    for (int i = 0; i < 5; i++) /* points 0, 1 and 4 are device a's, 2 and 3 b's */
        device_of[ids[i]] = i == 2 || i == 3 ? ids[2] : ids[0];
    size_t k = records_group(in, 6, device_of, 64, out, sizes, scratch);
    assert_int_equal(k, 3);
    assert_int_equal(sizes[0], 3);
    assert_int_equal(sizes[1], 2);
    assert_int_equal(sizes[2], 1);
    assert_int_equal(out[2].point_id, ids[4]); /* a's occupancy joined a's poll */
    assert_int_equal(out[3].point_id, ids[2]);
    assert_int_equal(out[5].kind, READING_COUNT);
    /* Another timestamp is another poll. */
    in[1].ts_ms = 200;
    assert_int_equal(records_group(in, 6, device_of, 64, out, sizes, scratch), 4);
    assert_int_equal(records_group(in, 6, NULL, 64, out, sizes, scratch), 6);
}

/* A device record in the store: listed when set aside and found as the
 * newest of its device by its first reading; a row whose bytes do not
 * decode comes back empty for the pipeline to drop, not stopping the
 * claims behind it. */
static void on_set_aside(void *ctx, int64_t seq, int64_t ts_ms, const struct store_point *pt, int n,
                         int reason)
{
    (void)ts_ms;
    assert_non_null(pt);
    assert_string_equal(pt->device, "a");
    assert_int_equal(n, 3);
    assert_int_equal(reason, 0x87);
    *(int64_t *)ctx = seq;
}

static void on_newest(void *ctx, uint32_t point_id, int kind, int64_t seq)
{
    assert_int_equal(point_id, ids[0]);
    assert_int_equal(kind, READING_RAW);
    *(int64_t *)ctx = seq;
}

static void test_device_records_in_the_store(void **state)
{
    (void)state;
    struct reading r[3] = {raw(0, 100), raw(1, 100), raw(4, 100)};
    int64_t seq, dropped, listed = 0, newest = 0;
    assert_int_equal(store_take_seqs(store, 2, &seq), STORE_OK);
    struct record recs[2] = {{.seq = seq, .r = r, .n = 3}, {.seq = seq + 1, .r = r, .n = 3}};
    struct store_batch b = {.fresh = recs, .n_fresh = 2};
    assert_int_equal(store_commit_batch(store, &b, &dropped), STORE_OK);
    assert_int_equal(store_stats(store).depth, 6);
    assert_int_equal(store_each_newest(store, on_newest, &newest), 0);
    assert_int_equal(newest, seq + 1);
    struct reading_refusal no = {.seq = seq, .reason = 0x87};
    struct store_batch refuse = {.refused = &no, .n_refused = 1};
    assert_int_equal(store_commit_batch(store, &refuse, &dropped), STORE_OK);
    assert_int_equal(store_each_set_aside(store, on_set_aside, &listed), 0);
    assert_int_equal(listed, seq);

    /* Damage a row behind the store's back (the store holds its file
     * exclusively while open). */
    store_close(store);
    char path[96];
    snprintf(path, sizeof(path), "%s/store.db", dir);
    sqlite3 *db;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db,
                                  "UPDATE records SET body = x'0102' WHERE seq = (SELECT "
                                  "max(seq) FROM records)",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(db);
    assert_int_equal(store_open(&cfg, &store), 0);
    int64_t bad = seq + 1;
    assert_int_equal(store_take_seqs(store, 1, &seq), STORE_OK);
    struct record good = {.seq = seq, .r = r, .n = 2};
    struct store_batch more = {.fresh = &good, .n_fresh = 1};
    assert_int_equal(store_commit_batch(store, &more, &dropped), STORE_OK);
    struct record out[4];
    struct reading buf[8];
    size_t n = 0;
    assert_int_equal(store_claim(store, 0, out, 4, buf, 8, &n), 0);
    assert_int_equal(n, 2); /* the one set aside is not claimed */
    assert_int_equal(out[0].seq, bad);
    assert_int_equal(out[0].n, 0);
    assert_null(out[0].r);
    assert_int_equal(out[1].seq, seq);
    assert_int_equal(out[1].n, 2);
    assert_int_equal(out[1].r[1].point_id, ids[1]);
}

static void test_write_behind(void **state)
{
    (void)state;
    struct write_behind wb;
    wb_init(&wb);
    struct reading r[3] = {raw(0, 1), raw(1, 1), raw(2, 1)};
    assert_int_equal(wb_deadline(&wb, 1000), INT64_MAX);
    assert_int_equal(wb_append(&wb, 10, 500, r, 2), 0);
    assert_int_equal(wb_append(&wb, 11, 700, r + 2, 1), 0);
    assert_int_equal(wb_deadline(&wb, 1000), 1500);
    assert_int_equal(wb.live_readings, 3);
    /* Sent in order; the first acknowledged in time is forgotten. */
    assert_int_equal(wb_next_unacked(&wb, 0)->seq, 10);
    assert_int_equal(wb_next_unacked(&wb, 10)->seq, 11);
    assert_null(wb_next_unacked(&wb, 11));
    assert_true(wb_ack(&wb, 10));
    assert_false(wb_ack(&wb, 10)); /* a second PUBACK: no longer here */
    assert_false(wb_ack(&wb, 9));  /* in the store: the caller deletes it there */
    assert_int_equal(wb_deadline(&wb, 1000), 1700);
    assert_int_equal(wb.live_readings, 1);
    /* A refusal keeps it for the commit; it is not sent again. */
    assert_int_equal(wb_append(&wb, 12, 800, r, 1), 0);
    assert_true(wb_refuse(&wb, 11));
    assert_int_equal(wb_next_unacked(&wb, 0)->seq, 12);
    struct record pending[4];
    assert_int_equal(wb_pending(&wb, pending, 4), 2);
    assert_int_equal(pending[0].seq, 11);
    assert_int_equal(pending[0].r[0].seq, 11);
    assert_int_equal(pending[0].r[0].point_id, ids[2]);
    wb_all_committed(&wb);
    assert_int_equal(wb_pending_count(&wb), 0);
    assert_false(wb_ack(&wb, 12)); /* committed: acknowledged in the store */
    /* Many records acknowledged out of order: memory stays bounded. */
    for (int64_t s = 100; s < 5100; s++)
        assert_int_equal(wb_append(&wb, s, s, r, 3), 0);
    for (int64_t s = 5099; s >= 100; s--)
        assert_true(wb_ack(&wb, s));
    assert_int_equal(wb.count, 0);
    assert_int_equal(wb.used, 0);
    wb_free(&wb);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_codec_roundtrip),
        cmocka_unit_test(test_codec_reads_v1_indicators),
        cmocka_unit_test_setup_teardown(test_grouping, setup, teardown),
        cmocka_unit_test_setup_teardown(test_device_records_in_the_store, setup, teardown),
        cmocka_unit_test(test_write_behind),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
