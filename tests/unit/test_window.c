/* Window aggregates: alignment to the wall clock, exact numbers, readings
 * of bad quality left out, empty windows, closing by the clock. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "drivers/window.h"

#define MIN_MS (60 * 1000LL)
#define TEN_MIN (10 * MIN_MS)
#define T0 1795600800000LL /* 2026-11-25T10:00:00Z */

static void test_aggregates_are_exact(void **state)
{
    (void)state;
    struct window_state st = {0};
    struct reading out;
    /* 10:02 .. 10:08, then 10:10 opens the next window */
    assert_false(window_feed(&st, TEN_MIN, T0 + 2 * MIN_MS, 4.5, QUALITY_GOOD, &out));
    assert_false(window_feed(&st, TEN_MIN, T0 + 4 * MIN_MS, -1.0, QUALITY_GOOD, &out));
    assert_false(window_feed(&st, TEN_MIN, T0 + 6 * MIN_MS, 2.0, QUALITY_GOOD, &out));
    assert_false(window_feed(&st, TEN_MIN, T0 + 8 * MIN_MS, 0.5, QUALITY_GOOD, &out));
    assert_true(window_feed(&st, TEN_MIN, T0 + TEN_MIN, 9.0, QUALITY_GOOD, &out));
    assert_int_equal(out.kind, READING_WINDOW);
    assert_true(out.start_ms == T0 && out.ts_ms == T0 + TEN_MIN);
    assert_true(out.value == 1.5); /* (4.5 - 1 + 2 + 0.5) / 4 */
    assert_true(out.min == -1.0 && out.max == 4.5 && out.last == 0.5);
    assert_int_equal(out.samples, 4);
    assert_int_equal(out.excluded, 0);
    assert_int_equal(out.quality, QUALITY_GOOD);
    /* the reading that closed it opened the next, aligned window */
    assert_true(st.open && st.start_ms == T0 + TEN_MIN && st.end_ms == T0 + 2 * TEN_MIN);
    assert_int_equal(st.samples, 1);
}

static void test_bad_quality_is_excluded(void **state)
{
    (void)state;
    struct window_state st = {0};
    struct reading out;
    window_feed(&st, TEN_MIN, T0 + 1000, 20.0, QUALITY_GOOD, &out);
    window_feed(&st, TEN_MIN, T0 + 2000, 3276.7, QUALITY_NO_DATA, &out); /* sentinel */
    window_feed(&st, TEN_MIN, T0 + 3000, 900.0, QUALITY_OUT_OF_RANGE, &out);
    window_feed(&st, TEN_MIN, T0 + 4000, 22.0, QUALITY_STALE, &out);
    window_feed(&st, TEN_MIN, T0 + 5000, 0.0, QUALITY_BAD, &out);
    window_feed(&st, TEN_MIN, T0 + 6000, 21.0, QUALITY_GOOD, &out);
    assert_true(window_close_due(&st, T0 + TEN_MIN + 5000, 5000, &out));
    assert_true(out.value == 20.5);
    assert_true(out.min == 20.0 && out.max == 21.0 && out.last == 21.0);
    assert_int_equal(out.samples, 2);
    assert_int_equal(out.excluded, 4);
    assert_false(st.open);
}

static void test_window_with_only_bad_readings(void **state)
{
    (void)state;
    struct window_state st = {0};
    struct reading out;
    window_feed(&st, TEN_MIN, T0 + 1000, 3276.7, QUALITY_NO_DATA, &out);
    window_feed(&st, TEN_MIN, T0 + 2000, 3276.7, QUALITY_NO_DATA, &out);
    assert_false(window_close_due(&st, T0 + TEN_MIN + 4999, 5000, &out));
    assert_true(window_close_due(&st, T0 + TEN_MIN + 5000, 5000, &out));
    assert_int_equal(out.samples, 0);
    assert_int_equal(out.excluded, 2);
    assert_int_equal(out.quality, QUALITY_NO_DATA);
}

/* No readings at all (device silent): no window is opened, none is sent. */
static void test_silent_windows_are_not_invented(void **state)
{
    (void)state;
    struct window_state st = {0};
    struct reading out;
    window_feed(&st, TEN_MIN, T0 + 1000, 5.0, QUALITY_GOOD, &out);
    assert_true(window_close_due(&st, T0 + TEN_MIN + 5000, 5000, &out));
    for (int i = 2; i < 10; i++)
        assert_false(window_close_due(&st, T0 + i * TEN_MIN + 5000, 5000, &out));
    /* the next reading, an hour later, opens its own window */
    assert_false(window_feed(&st, TEN_MIN, T0 + 6 * TEN_MIN + 1, 6.0, QUALITY_GOOD, &out));
    assert_true(st.start_ms == T0 + 6 * TEN_MIN);
}

static void test_alignment_of_odd_times(void **state)
{
    (void)state;
    struct window_state st = {0};
    struct reading out;
    /* 10:59:59.999 is in [10:50, 11:00); 11:00:00.000 is not */
    window_feed(&st, TEN_MIN, T0 + 6 * TEN_MIN - 1, 1.0, QUALITY_GOOD, &out);
    assert_true(st.start_ms == T0 + 5 * TEN_MIN);
    assert_true(window_feed(&st, TEN_MIN, T0 + 6 * TEN_MIN, 2.0, QUALITY_GOOD, &out));
    assert_true(out.ts_ms == T0 + 6 * TEN_MIN);
    assert_true(st.start_ms == T0 + 6 * TEN_MIN);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_aggregates_are_exact),
        cmocka_unit_test(test_bad_quality_is_excluded),
        cmocka_unit_test(test_window_with_only_bad_readings),
        cmocka_unit_test(test_silent_windows_are_not_invented),
        cmocka_unit_test(test_alignment_of_odd_times),
    };
    return cmocka_run_group_tests_name("window", tests, NULL, NULL);
}
