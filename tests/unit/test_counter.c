/* Counter maths: wrap, reset, doubtful falls and jumps, and counts per
 * wall-clock interval with baseline, outages and a restart. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "indicators/counter.h"

#include <math.h>
#include <stdlib.h>
#include <time.h>

#define MIN_MS (60 * 1000LL)
#define QUARTER (15 * MIN_MS)
/* 2026-11-25T10:00:00Z */
#define T0 1795600800000LL

static struct counter_limits lim16(void)
{
    return counter_limits_default(16);
}

static void test_defaults(void **state)
{
    (void)state;
    struct counter_limits l = lim16();
    assert_int_equal(l.max_step, 16384);
    assert_int_equal(l.reset_max, 1024);
    l = counter_limits_default(32);
    assert_int_equal(l.max_step, 1UL << 30);
    assert_int_equal(l.reset_max, 1UL << 26);
}

static void test_increase_cases(void **state)
{
    (void)state;
    struct counter_limits l = lim16();
    uint16_t flag;
    assert_int_equal(counter_increase(&l, 100, 107, RESTART_UNKNOWN, &flag), 7);
    assert_int_equal(flag, 0);
    assert_int_equal(counter_increase(&l, 100, 100, RESTART_UNKNOWN, &flag), 0);
    assert_int_equal(flag, 0);
    /* 65530 -> 4: over the top, 6 + 4 = 10 */
    assert_int_equal(counter_increase(&l, 65530, 4, RESTART_UNKNOWN, &flag), 10);
    assert_int_equal(flag, FLAG_COUNT_WRAP);
    /* 40000 -> 50: too far round to be a wrap, small: a restart, 50 since */
    assert_int_equal(counter_increase(&l, 40000, 50, RESTART_UNKNOWN, &flag), 50);
    assert_int_equal(flag, FLAG_COUNT_RESET);
    /* 10000 -> 9000: neither */
    assert_int_equal(counter_increase(&l, 10000, 9000, RESTART_UNKNOWN, &flag), 0);
    assert_int_equal(flag, FLAG_COUNT_DROP);
    /* 100 -> 30000: more than a quarter of the range at once */
    assert_int_equal(counter_increase(&l, 100, 30000, RESTART_UNKNOWN, &flag), 0);
    assert_int_equal(flag, FLAG_COUNT_JUMP);
    /* thresholds are the point's: a tighter max_step makes the wrap a reset */
    struct counter_limits tight = {.bits = 16, .max_step = 5, .reset_max = 100};
    assert_int_equal(counter_increase(&tight, 65530, 4, RESTART_UNKNOWN, &flag), 4);
    assert_int_equal(flag, FLAG_COUNT_RESET);
    /* 32-bit: wraps at 2^32, not at 2^16 */
    struct counter_limits l32 = counter_limits_default(32);
    assert_int_equal(counter_increase(&l32, 4294967290UL, 3, RESTART_UNKNOWN, &flag), 9);
    assert_int_equal(flag, FLAG_COUNT_WRAP);
    assert_int_equal(counter_increase(&l32, 65530, 70000, RESTART_UNKNOWN, &flag), 4470);
    assert_int_equal(flag, 0);
    /* 64-bit: the arithmetic itself wraps */
    struct counter_limits l64 = counter_limits_default(64);
    assert_true(counter_increase(&l64, UINT64_MAX - 1, 2, RESTART_UNKNOWN, &flag) == 4);
    assert_int_equal(flag, FLAG_COUNT_WRAP);
}

static void test_interval_alignment(void **state)
{
    (void)state;
    assert_true(interval_start(T0 + 7 * MIN_MS + 123, QUARTER) == T0);
    assert_true(interval_start(T0 + QUARTER, QUARTER) == T0 + QUARTER);
    assert_true(interval_start(T0 - 1, QUARTER) == T0 - QUARTER);
    assert_true(interval_start(-1, 1000) == -1000);
}

/* Feeds (seconds after T0, counter) pairs; returns the intervals closed. */
static size_t feed_all(struct count_state *st, const struct counter_limits *l, int64_t interval,
                       const int64_t (*pairs)[2], size_t n, struct reading *out)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        k += count_feed(st, l, interval, T0 + pairs[i][0] * 1000, (uint64_t)pairs[i][1],
                        RESTART_UNKNOWN, &out[k], NULL);
    return k;
}

static void test_baseline_then_counts(void **state)
{
    (void)state;
    struct counter_limits l = lim16();
    struct count_state st = {0};
    /* started at 10:03 with the counter at 5000: a baseline, not 5000 visitors */
    const int64_t pairs[][2] = {{180, 5000}, {600, 5010}, {899, 5012}, {901, 5020}, {1500, 5021}};
    struct reading out[4];
    size_t k = feed_all(&st, &l, QUARTER, pairs, 5, out);
    assert_int_equal(k, 1);
    assert_int_equal(out[0].kind, READING_COUNT);
    assert_true(out[0].start_ms == T0 && out[0].ts_ms == T0 + QUARTER);
    assert_true(out[0].value == 12);
    assert_true(out[0].span_from_ms == T0 + 180000 && out[0].span_to_ms == T0 + 899000);
    assert_int_equal(out[0].flags, FLAG_COUNT_BASELINE);
    assert_int_equal(out[0].quality, QUALITY_GOOD);
    /* the open interval counts from the last reading of the one before */
    assert_true(st.open && st.start_ms == T0 + QUARTER);
    assert_true(st.from_ms == T0 + 899000 && st.to_ms == T0 + 1500000);
    assert_int_equal(st.count, 9);
}

static void test_wrap_and_reset_in_one_interval(void **state)
{
    (void)state;
    struct counter_limits l = lim16();
    struct count_state st = {0};
    const int64_t pairs[][2] = {{0, 65500}, {60, 65530}, {120, 20}, {180, 40},
                                {240, 3},   {300, 10},   {900, 11}};
    struct reading out[2];
    size_t k = feed_all(&st, &l, QUARTER, pairs, 7, out);
    assert_int_equal(k, 1);
    /* 30 + (6 + 20) + 20 + 3 (reset: what the device counted since) + 7 */
    assert_true(out[0].value == 86);
    assert_int_equal(out[0].flags, FLAG_COUNT_BASELINE | FLAG_COUNT_WRAP | FLAG_COUNT_RESET);
    assert_int_equal(out[0].quality, QUALITY_GOOD);
}

static void test_drop_is_flagged_and_rebased(void **state)
{
    (void)state;
    struct counter_limits l = lim16();
    struct count_state st = {.has_last = true, .last = 10000, .last_ts = T0 - 1000};
    const int64_t pairs[][2] = {{10, 10005}, {20, 9000}, {30, 9004}, {900, 9004}};
    struct reading out[2];
    size_t k = feed_all(&st, &l, QUARTER, pairs, 4, out);
    assert_int_equal(k, 1);
    /* 5, then the fall is not counted, then 4 from the new level */
    assert_true(out[0].value == 9);
    assert_int_equal(out[0].flags, FLAG_COUNT_DROP);
    assert_int_equal(out[0].quality, QUALITY_UNCERTAIN);
}

/* The device was silent from 10:07 to 12:03. The intervals the wall
 * clock passes meanwhile go out with no data (as one record when several
 * are due at once); the visitors in between are in the interval of the
 * next reading, which is marked as catching up. */
static void test_silence_sends_no_data_then_catches_up(void **state)
{
    (void)state;
    struct counter_limits l = lim16();
    struct count_state st = {0};
    const int64_t pairs[][2] = {{0, 100}, {420, 110}};
    struct reading out[6];
    size_t k = feed_all(&st, &l, QUARTER, pairs, 2, out);
    assert_int_equal(k, 0);
    /* the wall clock passes 10:15 + grace: the interval is closed alone */
    assert_int_equal(count_close_due(&st, QUARTER, T0 + QUARTER + 1000, 2000, &out[0]), 0);
    assert_int_equal(count_close_due(&st, QUARTER, T0 + QUARTER + 2000, 2000, &out[0]), 1);
    assert_true(out[0].value == 10 && out[0].samples == 2);
    /* 10:30 + grace: [10:15, 10:30) had no reading */
    assert_int_equal(count_close_due(&st, QUARTER, T0 + 2 * QUARTER + 1000, 2000, &out[1]), 0);
    assert_int_equal(count_close_due(&st, QUARTER, T0 + 2 * QUARTER + 2000, 2000, &out[1]), 1);
    assert_int_equal(out[1].quality, QUALITY_NO_DATA);
    assert_true(isnan(out[1].value) && out[1].samples == 0);
    assert_true(out[1].start_ms == T0 + QUARTER && out[1].ts_ms == T0 + 2 * QUARTER);
    /* the gateway was busy until 11:50: 10:30 to 11:45 in one record */
    assert_int_equal(count_close_due(&st, QUARTER, T0 + 7 * QUARTER + 300000, 2000, &out[2]), 1);
    assert_true(out[2].start_ms == T0 + 2 * QUARTER && out[2].ts_ms == T0 + 7 * QUARTER);
    /* 12:03: first [11:45, 12:00) with no data, then counting goes on */
    const int64_t later[][2] = {{2 * 3600 + 180, 410}, {2 * 3600 + 900, 415}};
    k = feed_all(&st, &l, QUARTER, later, 2, &out[3]);
    assert_int_equal(k, 2);
    assert_int_equal(out[3].quality, QUALITY_NO_DATA);
    assert_true(out[3].start_ms == T0 + 7 * QUARTER && out[3].ts_ms == T0 + 8 * QUARTER);
    assert_true(out[4].start_ms == T0 + 8 * QUARTER); /* 12:00 */
    assert_true(out[4].value == 300 && out[4].samples == 1);
    assert_true(out[4].span_from_ms == T0 + 420000); /* 10:07, before the interval */
    assert_true(out[4].span_to_ms == T0 + (2 * 3600 + 180) * 1000LL);
    assert_int_equal(out[4].flags, FLAG_COUNT_CATCH_UP);
    /* nothing is sent twice, nothing before the first interval */
    assert_int_equal(count_close_due(&st, QUARTER, T0 + 9 * QUARTER - 1, 2000, &out[5]), 0);
    struct count_state fresh = {0};
    assert_int_equal(count_close_due(&fresh, QUARTER, T0, 2000, &out[5]), 0);
}

/* An ordinary interval counts from the last reading of the one before:
 * not a catch-up, even with a long poll interval inside one interval. */
static void test_counts_from_previous_interval_are_not_catch_up(void **state)
{
    (void)state;
    struct counter_limits l = lim16();
    struct count_state st = {0};
    const int64_t pairs[][2] = {{0, 1}, {840, 2}, {960, 3}, {1800, 4}};
    struct reading out[2];
    assert_int_equal(feed_all(&st, &l, QUARTER, pairs, 4, out), 2);
    assert_int_equal(out[1].flags, 0);
    assert_true(out[1].span_from_ms == T0 + 840000 && out[1].samples == 1);
}

/* The power-on counter decides what a fall means (docs/mqtt-contract.md,
 * "Wrap or power loss"). */
static void test_power_on_counter_decides_reset_or_wrap(void **state)
{
    (void)state;
    struct counter_limits l = lim16();
    uint16_t flag;
    /* Power lost at 60000, 10 visitors since: by the values a wrap of
     * 5546; the power-on counter says restart. */
    assert_int_equal(counter_increase(&l, 60000, 10, RESTART_UNKNOWN, &flag), 5546);
    assert_int_equal(flag, FLAG_COUNT_WRAP);
    assert_int_equal(counter_increase(&l, 60000, 10, RESTART_SEEN, &flag), 10);
    assert_int_equal(flag, FLAG_COUNT_RESET);
    /* 2000 visitors between the restart and the next poll, more than
     * counter_reset_max: by the values a doubtful fall (lost) */
    assert_int_equal(counter_increase(&l, 5000, 2000, RESTART_UNKNOWN, &flag), 0);
    assert_int_equal(flag, FLAG_COUNT_DROP);
    assert_int_equal(counter_increase(&l, 5000, 2000, RESTART_SEEN, &flag), 2000);
    assert_int_equal(flag, FLAG_COUNT_RESET);
    /* ... or above the value before: by the values an increase of 1900 */
    assert_int_equal(counter_increase(&l, 100, 2000, RESTART_UNKNOWN, &flag), 1900);
    assert_int_equal(flag, 0);
    assert_int_equal(counter_increase(&l, 100, 2000, RESTART_SEEN, &flag), 2000);
    assert_int_equal(flag, FLAG_COUNT_RESET);
    /* No restart: a fall to a small value is never a reset */
    assert_int_equal(counter_increase(&l, 40000, 50, RESTART_NONE, &flag), 0);
    assert_int_equal(flag, FLAG_COUNT_DROP);
    assert_int_equal(counter_increase(&l, 65530, 4, RESTART_NONE, &flag), 10);
    assert_int_equal(flag, FLAG_COUNT_WRAP);
    assert_int_equal(counter_increase(&l, 100, 30000, RESTART_NONE, &flag), 0);
    assert_int_equal(flag, FLAG_COUNT_JUMP);
}

/* A local day's count is the same machine with a day for interval: the
 * intervals of a day add up to the day. */
static void test_day_is_the_sum_of_its_intervals(void **state)
{
    (void)state;
    setenv("TZ", "UTC", 1);
    tzset();
    struct counter_limits l = lim16();
    struct count_state quarter = {0}, day = {0};
    struct reading q[200], d[4];
    size_t nq = 0, nd = 0;
    uint64_t counter = 65000;
    /* 10:00 to the next day's 02:00, a poll every 5 min, 7 visitors each,
     * a wrap on the way and a silent hour from 20:00 to 21:00 */
    for (int64_t t = 0; t <= 16 * 3600; t += 300) {
        counter = (counter + 7) & 0xffff;
        if (t >= 10 * 3600 && t < 11 * 3600)
            continue;
        int64_t ts = T0 + t * 1000;
        nq += count_feed(&quarter, &l, QUARTER, ts, counter, RESTART_UNKNOWN, &q[nq], NULL);
        nd += count_feed(&day, &l, 24 * 3600 * 1000LL, ts, counter, RESTART_UNKNOWN, &d[nd], NULL);
    }
    assert_int_equal(nd, 1);
    int64_t midnight = T0 + 14 * 3600 * 1000LL;
    assert_true(d[0].start_ms == midnight - 24 * 3600 * 1000LL && d[0].ts_ms == midnight);
    double sum = 0;
    int no_data = 0;
    for (size_t i = 0; i < nq; i++) {
        if (q[i].ts_ms > midnight)
            continue;
        if (q[i].quality != QUALITY_NO_DATA) {
            sum += q[i].value;
            continue;
        }
        /* 20:00-21:00: the four quarters with no data in one record, sent
         * when the 21:00 reading came (no close_due in between here) */
        no_data++;
        assert_true(q[i].start_ms == T0 + 10 * 3600 * 1000LL);
        assert_true(q[i].ts_ms == T0 + 11 * 3600 * 1000LL);
    }
    assert_true(d[0].value == sum);
    assert_int_equal(no_data, 1);
    assert_true(d[0].samples == 14 * 12 - 12);
    assert_true(d[0].flags & FLAG_COUNT_WRAP);
    unsetenv("TZ");
    tzset();
}

/* A restart carries the state (the store keeps it): no new baseline. */
static void test_restart_keeps_counting(void **state)
{
    (void)state;
    struct counter_limits l = lim16();
    struct count_state before = {0};
    const int64_t first[][2] = {{0, 100}, {100, 150}};
    struct reading out[2];
    feed_all(&before, &l, QUARTER, first, 2, out);
    struct count_state after = before; /* what indicators.c saves and loads */
    const int64_t second[][2] = {{400, 190}, {900, 200}};
    size_t k = feed_all(&after, &l, QUARTER, second, 2, out);
    assert_int_equal(k, 1);
    assert_true(out[0].value == 90);
    assert_int_equal(out[0].flags, FLAG_COUNT_BASELINE);
}

/* The wall clock set back four hours: an interval once sent is never
 * sent again with other numbers. What is counted meanwhile goes to the
 * interval after the last one sent, flagged clock_back. */
static void test_clock_set_back_never_resends_an_interval(void **state)
{
    (void)state;
    struct counter_limits l = lim16();
    struct count_state st = {0};
    const int64_t pairs[][2] = {{0, 0}, {60, 5}, {16 * 60, 7}, {-4 * 3600, 9}};
    struct reading out[3];
    size_t k = feed_all(&st, &l, QUARTER, pairs, 4, out);
    assert_int_equal(k, 1); /* [T0, T0+15m) with 5, closed by the reading at 16 min */
    assert_true(out[0].value == 5);
    assert_true(st.start_ms == T0 + QUARTER); /* still open: the set-back reading counts here */
    assert_int_equal(st.count, 4);
    assert_true(st.flags & FLAG_CLOCK_BACK);
    assert_int_equal(count_close_due(&st, QUARTER, T0 + 2 * QUARTER + 5000, 2000, &out[1]), 1);
    assert_true(out[1].start_ms == T0 + QUARTER && out[1].value == 4);
    /* Still four hours behind: the next interval starts where the last sent
     * one ended, not back at T0 - 4h. */
    const int64_t later[][2] = {{-4 * 3600 + 60, 12}};
    k = feed_all(&st, &l, QUARTER, later, 1, &out[2]);
    assert_int_equal(k, 0);
    assert_true(st.start_ms == T0 + 2 * QUARTER);
    assert_true(st.flags & FLAG_CLOCK_BACK);
    assert_int_equal(st.count, 3);
}

#define HOUR (3600 * 1000LL)

/* Local days in Europe/Berlin across both summer-time changes of 2026
 * (29 March: 23 hours; 25 October: 25 hours). */
static void test_local_days_across_summer_time(void **state)
{
    (void)state;
    setenv("TZ", "Europe/Berlin", 1);
    tzset();
    const struct {
        int64_t inside, start, end;
        int hours;
    } days[] = {{1774778400000LL, 1774738800000LL, 1774821600000LL, 23},  /* 2026-03-29 */
                {1792929600000LL, 1792879200000LL, 1792969200000LL, 25}}; /* 2026-10-25 */
    for (int i = 0; i < 2; i++) {
        assert_true(interval_start(days[i].inside, 24 * HOUR) == days[i].start);
        assert_true(interval_end(days[i].start, 24 * HOUR) == days[i].end);
        /* Hours counted from local midnight: 23 or 25 of them, each one
         * real hour, the last ending at the next local midnight. */
        int n = 0;
        for (int64_t t = days[i].start; t < days[i].end; t = interval_end(t, HOUR), n++) {
            assert_true(interval_start(t + 1, HOUR) == t);
            assert_true(interval_end(t, HOUR) - t == HOUR);
        }
        assert_int_equal(n, days[i].hours);
        /* Six-hour blocks: the day's last one is cut at midnight. */
        assert_true(interval_end(days[i].start + 18 * HOUR, 6 * HOUR) ==
                    (days[i].hours == 25 ? days[i].start + 24 * HOUR : days[i].end));
    }
    /* The repeated hour of 25 October (02:00-03:00 twice) is two intervals. */
    assert_true(interval_start(1792888200000LL, HOUR) == 1792886400000LL);
    /* Under an hour: aligned to the epoch as before. */
    assert_true(interval_start(1792888200000LL + 7 * 60000, 15 * 60000) == 1792888200000LL);
    setenv("TZ", "UTC", 1);
    tzset();
    assert_true(interval_start(1774778400000LL, 24 * HOUR) == 1774742400000LL); /* UTC midnight */
    unsetenv("TZ");
    tzset();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_increase_cases),
        cmocka_unit_test(test_interval_alignment),
        cmocka_unit_test(test_local_days_across_summer_time),
        cmocka_unit_test(test_baseline_then_counts),
        cmocka_unit_test(test_wrap_and_reset_in_one_interval),
        cmocka_unit_test(test_drop_is_flagged_and_rebased),
        cmocka_unit_test(test_silence_sends_no_data_then_catches_up),
        cmocka_unit_test(test_counts_from_previous_interval_are_not_catch_up),
        cmocka_unit_test(test_power_on_counter_decides_reset_or_wrap),
        cmocka_unit_test(test_day_is_the_sum_of_its_intervals),
        cmocka_unit_test(test_restart_keeps_counting),
        cmocka_unit_test(test_clock_set_back_never_resends_an_interval),
    };
    return cmocka_run_group_tests_name("counter", tests, NULL, NULL);
}
