/* The Modbus serial line's clock: character times, t3.5, frame lengths. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "sources/modbus/line_timing.h"
#include "sources/modbus/point_types.h"

static void test_character_and_silence(void **state)
{
    (void)state;
    /* 8E1 and 8N2 are 11 bits a character: 1.146 ms and 4.01 ms at 9600. */
    struct line_timing t = line_timing_of(9600, 1, 8, 1);
    assert_int_equal(t.char_us, 1145);
    assert_int_equal(t.t35_us, 4007);
    assert_int_equal(line_timing_of(9600, 0, 8, 2).char_us, 1145);
    /* 8N1 is 10 bits. */
    assert_int_equal(line_timing_of(9600, 0, 8, 1).char_us, 1041);
    assert_int_equal(line_timing_of(19200, 1, 8, 1).t35_us, 2002);
    /* Above 19200 baud the specification fixes t3.5 at 1.75 ms. */
    assert_int_equal(line_timing_of(38400, 1, 8, 1).t35_us, 1750);
    assert_int_equal(line_timing_of(115200, 0, 8, 1).t35_us, 1750);
}

static void test_read_frames(void **state)
{
    (void)state;
    assert_int_equal(rtu_read_request_chars(), 8);
    assert_int_equal(rtu_read_reply_chars(FN_HOLDING_REGISTER, 10), 25);
    assert_int_equal(rtu_read_reply_chars(FN_INPUT_REGISTER, 125), 255);
    assert_int_equal(rtu_read_reply_chars(FN_COIL, 9), 7); /* two bytes of bits */
    assert_int_equal(rtu_read_reply_chars(FN_DISCRETE_INPUT, 8), 6);
    /* Ten registers at 9600 8E1: 33 characters and the unit's t3.5, the
     * ~42 ms below which no response_timeout can be met. */
    struct line_timing t = line_timing_of(9600, 1, 8, 1);
    assert_int_equal(rtu_read_min_us(&t, FN_HOLDING_REGISTER, 10), 33 * 1145 + 4007);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_character_and_silence),
        cmocka_unit_test(test_read_frames),
    };
    return cmocka_run_group_tests_name("line_timing", tests, NULL, NULL);
}
