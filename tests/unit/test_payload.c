/* The wire format's numbers: the whole-number path writes what "%.15g"
 * writes (docs/mqtt-contract.md), for every kind of value a point gives. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "outputs/mqtt/payload.h"

/* The text after "value": in a raw reading's payload. */
static void value_of(double v, int quality, char *out, size_t size)
{
    struct origin o = {.gateway = "gw", .store = "s1"};
    struct store_point p = {.device = "d", .point = "p", .unit = "count"};
    struct reading r = {.ts_ms = 1, .value = v, .quality = (uint8_t)quality, .kind = READING_RAW};
    char buf[PAYLOAD_MAX];
    assert_true(payload_format_reading(buf, sizeof(buf), &o, &r, &p) > 0);
    const char *at = strstr(buf, "\"value\":");
    assert_non_null(at);
    at += strlen("\"value\":");
    size_t n = strcspn(at, ",");
    assert_true(n < size);
    memcpy(out, at, n);
    out[n] = '\0';
}

static void test_numbers_read_as_printf_writes_them(void **state)
{
    (void)state;
    static const double values[] = {0,
                                    -0.0,
                                    1,
                                    -1,
                                    42,
                                    65535,
                                    -32768,
                                    4294967295.0,
                                    -2147483648.0,
                                    999999999999999.0,
                                    -999999999999999.0,
                                    1e15,
                                    1e16,
                                    -1e17,
                                    0.1,
                                    -11.7,
                                    3.5,
                                    1e-7,
                                    123456789.25,
                                    9007199254740993.0};
    for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
        char want[64], got[64];
        snprintf(want, sizeof(want), "%.15g", values[i]);
        value_of(values[i], QUALITY_GOOD, got, sizeof(got));
        if (strcmp(want, got) != 0)
            fail_msg("value %.17g: payload has %s, %%.15g gives %s", values[i], got, want);
    }
}

static void test_no_value_is_null(void **state)
{
    (void)state;
    char got[64];
    value_of(7, QUALITY_BAD, got, sizeof(got));
    assert_string_equal(got, "null");
    value_of(INFINITY, QUALITY_GOOD, got, sizeof(got));
    assert_string_equal(got, "null");
    value_of(NAN, QUALITY_GOOD, got, sizeof(got));
    assert_string_equal(got, "null");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_numbers_read_as_printf_writes_them),
        cmocka_unit_test(test_no_value_is_null),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
