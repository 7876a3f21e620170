/* Net occupancy: in minus out, never below zero, back to zero at the daily
 * reset time of the gateway's local clock, summer time included. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <time.h>

#include "indicators/occupancy.h"

#define MIN_MS (60 * 1000LL)
#define HOUR_MS (60 * MIN_MS)
#define T0 1795600800000LL /* 2026-11-25T10:00:00Z */

/* POSIX rules rather than a zoneinfo name: no tzdata needed. */
#define BERLIN "CET-1CEST,M3.5.0,M10.5.0/3"

static void use_zone(const char *tz)
{
    setenv("TZ", tz, 1);
    tzset();
}

static void test_next_reset_utc(void **state)
{
    (void)state;
    use_zone("UTC0");
    /* 10:00 -> the next 04:00 is tomorrow's */
    assert_true(occupancy_next_reset(T0, 4 * 60) == T0 + 18 * HOUR_MS);
    /* 03:59 -> today's 04:00 */
    assert_true(occupancy_next_reset(T0 - 6 * HOUR_MS - MIN_MS, 4 * 60) == T0 - 6 * HOUR_MS);
    /* exactly at 04:00 -> tomorrow's */
    assert_true(occupancy_next_reset(T0 - 6 * HOUR_MS, 4 * 60) == T0 + 18 * HOUR_MS);
}

static void test_next_reset_follows_local_time(void **state)
{
    (void)state;
    use_zone(BERLIN);
    /* 25 Nov, CET (UTC+1): 10:00Z is 11:00 local; 04:00 local tomorrow is 03:00Z */
    assert_true(occupancy_next_reset(T0, 4 * 60) == T0 + 17 * HOUR_MS);
    /* 29 Mar 2026, the night summer time starts: 04:00 CEST is 02:00Z */
    int64_t mar28_noon = 1774699200000LL; /* 2026-03-28T12:00:00Z */
    assert_true(occupancy_next_reset(mar28_noon, 4 * 60) == mar28_noon + 14 * HOUR_MS);
    use_zone("UTC0");
}

static void test_level_is_in_minus_out(void **state)
{
    (void)state;
    use_zone("UTC0");
    struct occupancy_state st = {0};
    occupancy_step(&st, 4 * 60, T0, 0, 0);
    occupancy_step(&st, 4 * 60, T0 + MIN_MS, 12, 3);
    assert_int_equal(st.level, 9);
    occupancy_step(&st, 4 * 60, T0 + 2 * MIN_MS, 1, 4);
    assert_int_equal(st.level, 6);
    /* more out than in (a missed entry): zero, not minus */
    occupancy_step(&st, 4 * 60, T0 + 3 * MIN_MS, 0, 10);
    assert_int_equal(st.level, 0);
    occupancy_step(&st, 4 * 60, T0 + 4 * MIN_MS, 5, 0);
    assert_int_equal(st.level, 5);
}

static void test_daily_reset(void **state)
{
    (void)state;
    use_zone("UTC0");
    struct occupancy_state st = {0};
    occupancy_step(&st, 4 * 60, T0, 40, 0); /* 10:00: 40 inside, never counted out */
    occupancy_step(&st, 4 * 60, T0 + 17 * HOUR_MS, 0, 2);
    assert_int_equal(st.level, 38); /* 03:00 next day */
    occupancy_step(&st, 4 * 60, T0 + 18 * HOUR_MS + MIN_MS, 3, 0);
    assert_int_equal(st.level, 3); /* 04:01: from zero, plus the 3 since */
    /* a gateway that was off over the reset time resets on its next reading */
    occupancy_step(&st, 4 * 60, T0 + 3 * 24 * HOUR_MS, 1, 0);
    assert_int_equal(st.level, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_next_reset_utc),
        cmocka_unit_test(test_next_reset_follows_local_time),
        cmocka_unit_test(test_level_is_in_minus_out),
        cmocka_unit_test(test_daily_reset),
    };
    return cmocka_run_group_tests_name("occupancy", tests, NULL, NULL);
}
