/* Register decoding: every type, every word order, signs, scale/offset. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>

#include "sources/modbus/decode.h"

static double decode_ok(const uint16_t *regs, enum data_type t, enum word_order o)
{
    double v = -1;
    assert_int_equal(decode_registers(regs, t, o, &v), DECODE_OK);
    return v;
}

static void test_16bit_types(void **state)
{
    (void)state;
    uint16_t r[] = {0xFF85}; /* -123 as int16 */
    assert_true(decode_ok(r, DT_INT16, WO_ABCD) == -123);
    assert_true(decode_ok(r, DT_UINT16, WO_ABCD) == 65413);
    uint16_t swapped[] = {0x85FF}; /* same value, bytes swapped on the wire */
    assert_true(decode_ok(swapped, DT_INT16, WO_BADC) == -123);
    assert_true(decode_ok(swapped, DT_INT16, WO_DCBA) == -123);
    uint16_t zero[] = {0}, one[] = {0x0100};
    assert_true(decode_ok(zero, DT_BOOL, WO_ABCD) == 0);
    assert_true(decode_ok(one, DT_BOOL, WO_ABCD) == 1);
}

/* 0x12345678 laid out in each of the four orders. */
static void test_32bit_word_orders(void **state)
{
    (void)state;
    uint16_t abcd[] = {0x1234, 0x5678}, cdab[] = {0x5678, 0x1234};
    uint16_t badc[] = {0x3412, 0x7856}, dcba[] = {0x7856, 0x3412};
    assert_true(decode_ok(abcd, DT_UINT32, WO_ABCD) == 0x12345678);
    assert_true(decode_ok(cdab, DT_UINT32, WO_CDAB) == 0x12345678);
    assert_true(decode_ok(badc, DT_UINT32, WO_BADC) == 0x12345678);
    assert_true(decode_ok(dcba, DT_UINT32, WO_DCBA) == 0x12345678);
    uint16_t neg[] = {0xFFFF, 0xFFFE};
    assert_true(decode_ok(neg, DT_INT32, WO_ABCD) == -2);
    assert_true(decode_ok(neg, DT_UINT32, WO_ABCD) == 4294967294.0);
}

static void test_64bit(void **state)
{
    (void)state;
    uint16_t abcd[] = {0x0000, 0x0001, 0x0002, 0x0003};
    double expect = (double)0x0000000100020003ULL;
    assert_true(decode_ok(abcd, DT_UINT64, WO_ABCD) == expect);
    uint16_t cdab[] = {0x0003, 0x0002, 0x0001, 0x0000};
    assert_true(decode_ok(cdab, DT_UINT64, WO_CDAB) == expect);
    uint16_t neg[] = {0xFFFF, 0xFFFF, 0xFFFF, 0xFFFB};
    assert_true(decode_ok(neg, DT_INT64, WO_ABCD) == -5);
    uint16_t dcba[] = {0xFBFF, 0xFFFF, 0xFFFF, 0xFFFF};
    assert_true(decode_ok(dcba, DT_INT64, WO_DCBA) == -5);
}

static void test_floats(void **state)
{
    (void)state;
    uint16_t f_abcd[] = {0x41AA, 0x6666}; /* 21.3f */
    assert_true(decode_ok(f_abcd, DT_FLOAT32, WO_ABCD) == 21.3);
    uint16_t f_cdab[] = {0x6666, 0x41AA};
    assert_true(decode_ok(f_cdab, DT_FLOAT32, WO_CDAB) == 21.3);
    uint16_t f_neg[] = {0xC148, 0x0000}; /* -12.5f */
    assert_true(decode_ok(f_neg, DT_FLOAT32, WO_ABCD) == -12.5);
    uint16_t pi[] = {0x4009, 0x21FB, 0x5444, 0x2D18};
    assert_true(decode_ok(pi, DT_FLOAT64, WO_ABCD) == 3.141592653589793);
    uint16_t pi_dcba[] = {0x182D, 0x4454, 0xFB21, 0x0940};
    assert_true(decode_ok(pi_dcba, DT_FLOAT64, WO_DCBA) == 3.141592653589793);
    uint16_t nan[] = {0x7FC0, 0x0000}, inf[] = {0x7F80, 0x0000};
    double v;
    assert_int_equal(decode_registers(nan, DT_FLOAT32, WO_ABCD, &v), DECODE_NOT_FINITE);
    assert_int_equal(decode_registers(inf, DT_FLOAT32, WO_ABCD, &v), DECODE_NOT_FINITE);
}

/* encode_registers is what the stubs put on the wire: it must be the exact
 * inverse for every type and order. */
static void test_encode_round_trip(void **state)
{
    (void)state;
    static const struct {
        enum data_type t;
        double v;
    } cases[] = {{DT_INT16, -32768},          {DT_UINT16, 65535},
                 {DT_INT32, -2000000000},     {DT_UINT32, 4000000000.0},
                 {DT_INT64, -123456789012LL}, {DT_UINT64, 9007199254740992.0},
                 {DT_FLOAT32, -40.25},        {DT_FLOAT64, 1e-300}};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        for (int o = WO_ABCD; o <= WO_DCBA; o++) {
            uint16_t regs[4] = {0};
            encode_registers(cases[i].v, cases[i].t, o, regs);
            assert_true(decode_ok(regs, cases[i].t, o) == cases[i].v);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_16bit_types),
        cmocka_unit_test(test_32bit_word_orders),
        cmocka_unit_test(test_64bit),
        cmocka_unit_test(test_floats),
        cmocka_unit_test(test_encode_round_trip),
    };
    return cmocka_run_group_tests_name("decode", tests, NULL, NULL);
}
