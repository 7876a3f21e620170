/* Window aggregates: alignment to the wall clock, exact numbers, readings
 * of bad quality left out, empty windows, closing by the clock. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "indicators/window.h"

#define MIN_MS (60 * 1000LL)
#define TEN_MIN (10 * MIN_MS)
#define T0 1795600800000LL /* 2026-11-25T10:00:00Z */

static void test_aggregates_are_exact(void **state)
{
    (void)state;
    struct window_state st = {0};
    struct reading buf[WINDOW_EMITS_MAX], *out = buf;
    /* 10:02 .. 10:08, then 10:10 opens the next window */
    assert_false(window_feed(&st, TEN_MIN, T0 + 2 * MIN_MS, 4.5, QUALITY_GOOD, out));
    assert_false(window_feed(&st, TEN_MIN, T0 + 4 * MIN_MS, -1.0, QUALITY_GOOD, out));
    assert_false(window_feed(&st, TEN_MIN, T0 + 6 * MIN_MS, 2.0, QUALITY_GOOD, out));
    assert_false(window_feed(&st, TEN_MIN, T0 + 8 * MIN_MS, 0.5, QUALITY_GOOD, out));
    assert_true(window_feed(&st, TEN_MIN, T0 + TEN_MIN, 9.0, QUALITY_GOOD, out));
    assert_int_equal(out->kind, READING_WINDOW);
    assert_true(out->start_ms == T0 && out->ts_ms == T0 + TEN_MIN);
    assert_true(out->value == 1.5); /* (4.5 - 1 + 2 + 0.5) / 4 */
    assert_true(out->min == -1.0 && out->max == 4.5 && out->last == 0.5);
    assert_int_equal(out->samples, 4);
    assert_int_equal(out->excluded, 0);
    assert_int_equal(out->quality, QUALITY_GOOD);
    /* the reading that closed it opened the next, aligned window */
    assert_true(st.open && st.start_ms == T0 + TEN_MIN && st.end_ms == T0 + 2 * TEN_MIN);
    assert_int_equal(st.samples, 1);
}

static void test_bad_quality_is_excluded(void **state)
{
    (void)state;
    struct window_state st = {0};
    struct reading buf[WINDOW_EMITS_MAX], *out = buf;
    window_feed(&st, TEN_MIN, T0 + 1000, 20.0, QUALITY_GOOD, out);
    window_feed(&st, TEN_MIN, T0 + 2000, 3276.7, QUALITY_NO_DATA, out); /* sentinel */
    window_feed(&st, TEN_MIN, T0 + 3000, 900.0, QUALITY_OUT_OF_RANGE, out);
    window_feed(&st, TEN_MIN, T0 + 4000, 22.0, QUALITY_STALE, out);
    window_feed(&st, TEN_MIN, T0 + 5000, 0.0, QUALITY_BAD, out);
    window_feed(&st, TEN_MIN, T0 + 6000, 21.0, QUALITY_GOOD, out);
    assert_true(window_close_due(&st, TEN_MIN, T0 + TEN_MIN + 5000, 5000, out));
    assert_true(out->value == 20.5);
    assert_true(out->min == 20.0 && out->max == 21.0 && out->last == 21.0);
    assert_int_equal(out->samples, 2);
    assert_int_equal(out->excluded, 4);
    assert_false(st.open);
}

static void test_window_with_only_bad_readings(void **state)
{
    (void)state;
    struct window_state st = {0};
    struct reading buf[WINDOW_EMITS_MAX], *out = buf;
    window_feed(&st, TEN_MIN, T0 + 1000, 3276.7, QUALITY_NO_DATA, out);
    window_feed(&st, TEN_MIN, T0 + 2000, 3276.7, QUALITY_NO_DATA, out);
    assert_false(window_close_due(&st, TEN_MIN, T0 + TEN_MIN + 4999, 5000, out));
    assert_true(window_close_due(&st, TEN_MIN, T0 + TEN_MIN + 5000, 5000, out));
    assert_int_equal(out->samples, 0);
    assert_int_equal(out->excluded, 2);
    assert_int_equal(out->quality, QUALITY_NO_DATA);
}

/* No readings at all (device silent): the windows the wall clock passes
 * go out with no data, one record for those due at once, so that a
 * consumer tells missing from zero. */
static void test_silent_windows_are_sent_with_no_data(void **state)
{
    (void)state;
    struct window_state st = {0};
    struct reading buf[WINDOW_EMITS_MAX], *out = buf;
    window_feed(&st, TEN_MIN, T0 + 1000, 5.0, QUALITY_GOOD, out);
    assert_int_equal(window_close_due(&st, TEN_MIN, T0 + TEN_MIN + 5000, 5000, out), 1);
    assert_int_equal(window_close_due(&st, TEN_MIN, T0 + 2 * TEN_MIN + 4999, 5000, out), 0);
    assert_int_equal(window_close_due(&st, TEN_MIN, T0 + 2 * TEN_MIN + 5000, 5000, out), 1);
    assert_true(out->start_ms == T0 + TEN_MIN && out->ts_ms == T0 + 2 * TEN_MIN);
    assert_int_equal(out->quality, QUALITY_NO_DATA);
    assert_int_equal(out->samples, 0);
    /* the gateway was stopped from 10:20 to 10:55: one record for it ... */
    assert_int_equal(window_close_due(&st, TEN_MIN, T0 + 5 * TEN_MIN + 5000, 5000, out), 1);
    assert_true(out->start_ms == T0 + 2 * TEN_MIN && out->ts_ms == T0 + 5 * TEN_MIN);
    /* ... and the next reading, at 11:00, first sends [10:50, 11:00) */
    assert_int_equal(window_feed(&st, TEN_MIN, T0 + 6 * TEN_MIN + 1, 6.0, QUALITY_GOOD, out), 1);
    assert_true(out->start_ms == T0 + 5 * TEN_MIN && out->ts_ms == T0 + 6 * TEN_MIN);
    assert_true(st.start_ms == T0 + 6 * TEN_MIN);
    /* a point never read sends nothing */
    struct window_state fresh = {0};
    assert_int_equal(window_close_due(&fresh, TEN_MIN, T0 + 9 * TEN_MIN, 5000, out), 0);
}

static void test_alignment_of_odd_times(void **state)
{
    (void)state;
    struct window_state st = {0};
    struct reading buf[WINDOW_EMITS_MAX], *out = buf;
    /* 10:59:59.999 is in [10:50, 11:00); 11:00:00.000 is not */
    window_feed(&st, TEN_MIN, T0 + 6 * TEN_MIN - 1, 1.0, QUALITY_GOOD, out);
    assert_true(st.start_ms == T0 + 5 * TEN_MIN);
    assert_true(window_feed(&st, TEN_MIN, T0 + 6 * TEN_MIN, 2.0, QUALITY_GOOD, out));
    assert_true(out->ts_ms == T0 + 6 * TEN_MIN);
    assert_true(st.start_ms == T0 + 6 * TEN_MIN);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_aggregates_are_exact),
        cmocka_unit_test(test_bad_quality_is_excluded),
        cmocka_unit_test(test_window_with_only_bad_readings),
        cmocka_unit_test(test_silent_windows_are_sent_with_no_data),
        cmocka_unit_test(test_alignment_of_odd_times),
    };
    return cmocka_run_group_tests_name("window", tests, NULL, NULL);
}
