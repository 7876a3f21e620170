/* Per-device back-off after failed polls, and what a dead unit costs the
 * line it shares. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "gateway/poller.h"

static void test_backoff_doubles_up_to_the_cap(void **state)
{
    (void)state;
    /* A failure that cost the bus nothing (a TCP peer that refuses). */
    assert_int_equal(poller_backoff_ms(1000, 60000, 1, 0), 1000);
    assert_int_equal(poller_backoff_ms(1000, 60000, 2, 0), 2000);
    assert_int_equal(poller_backoff_ms(1000, 60000, 4, 0), 8000);
    assert_int_equal(poller_backoff_ms(1000, 60000, 7, 0), 60000);
    assert_int_equal(poller_backoff_ms(1000, 60000, 500, 0), 60000);
    /* never faster than the device's own interval */
    assert_int_equal(poller_backoff_ms(900000, 60000, 3, 0), 900000);
}

/* A unit polled every 10 ms whose every try holds the line for 200 ms
 * (response timeout and the listening after it): the second try waits four
 * of its costs, and once backed off it keeps to a twentieth of the line
 * even though backoff_max (1280 ms) alone would allow a sixth. */
static void test_backoff_counts_what_a_try_costs_the_line(void **state)
{
    (void)state;
    assert_int_equal(poller_backoff_ms(10, 1280, 1, 200), 10);
    assert_int_equal(poller_backoff_ms(10, 1280, 2, 200), 800);
    assert_int_equal(poller_backoff_ms(10, 1280, 3, 200), 1600);
    assert_int_equal(poller_backoff_ms(10, 1280, 4, 200), 3200);
    assert_int_equal(poller_backoff_ms(10, 1280, 5, 200), 4000);
    assert_int_equal(poller_backoff_ms(10, 1280, 100, 200), 4000);
    for (int64_t cost = 1; cost < 5000; cost = cost * 3 + 1)
        for (int64_t interval = 10; interval < 100000; interval *= 7)
            assert_true(poller_backoff_ms(interval, 100, 60, cost) >= 20 * cost);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_backoff_doubles_up_to_the_cap),
        cmocka_unit_test(test_backoff_counts_what_a_try_costs_the_line),
    };
    return cmocka_run_group_tests_name("backoff", tests, NULL, NULL);
}
