/* Per-device back-off after failed polls. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "gateway/poller.h"

static void test_backoff_doubles_up_to_the_cap(void **state)
{
    (void)state;
    assert_int_equal(poller_backoff_ms(1000, 60000, 1), 1000);
    assert_int_equal(poller_backoff_ms(1000, 60000, 2), 2000);
    assert_int_equal(poller_backoff_ms(1000, 60000, 4), 8000);
    assert_int_equal(poller_backoff_ms(1000, 60000, 7), 60000);
    assert_int_equal(poller_backoff_ms(1000, 60000, 500), 60000);
    /* never faster than the device's own interval */
    assert_int_equal(poller_backoff_ms(900000, 60000, 3), 900000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_backoff_doubles_up_to_the_cap)};
    return cmocka_run_group_tests_name("backoff", tests, NULL, NULL);
}
