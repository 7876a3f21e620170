/* Every reply is judged against its request: the right unit, function,
 * header and byte count, or a device fault. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <modbus/modbus.h>
#include <string.h>

#include "sources/modbus/modbus_reply.h"
#include "sources/modbus/point_types.h"

static const struct modbus_request two_regs = {
    .unit_id = 5, .function = FN_HOLDING_REGISTER, .address = 10, .count = 2};

/* MBAP (tid 0, protocol 0, length 7), unit 5, FC 3, 4 bytes. */
static const uint8_t tcp_ok[] = {0, 0, 0, 0, 0, 7, 5, 3, 4, 0x12, 0x34, 0xAB, 0xCD};

static void test_tcp_reply_accepted(void **state)
{
    (void)state;
    uint16_t regs[2] = {0};
    assert_int_equal(modbus_reply_check(&two_regs, true, 0, tcp_ok, sizeof(tcp_ok), regs), 0);
    assert_int_equal(regs[0], 0x1234);
    assert_int_equal(regs[1], 0xABCD);
}

static int tcp_variant(int byte, uint8_t value)
{
    uint8_t r[sizeof(tcp_ok)];
    memcpy(r, tcp_ok, sizeof(r));
    r[byte] = value;
    uint16_t regs[2];
    return modbus_reply_check(&two_regs, true, 0, r, sizeof(r), regs);
}

static void test_tcp_reply_that_does_not_fit(void **state)
{
    (void)state;
    assert_int_equal(tcp_variant(6, 6), EMBBADSLAVE);   /* another unit */
    assert_int_equal(tcp_variant(4, 0xFF), EMBBADDATA); /* MBAP length 0xFF07 */
    assert_int_equal(tcp_variant(5, 8), EMBBADDATA);    /* length one too many */
    assert_int_equal(tcp_variant(1, 9), EMBBADDATA);    /* another transaction */
    assert_int_equal(tcp_variant(2, 1), EMBBADDATA);    /* not Modbus */
    assert_int_equal(tcp_variant(7, 4), EMBBADDATA);    /* another function */
    assert_int_equal(tcp_variant(8, 2), EMBBADDATA);    /* byte count */
    uint16_t regs[2];
    assert_int_equal(modbus_reply_check(&two_regs, true, 0, tcp_ok, 7, regs), EMBBADDATA);
}

static void test_exception_reply(void **state)
{
    (void)state;
    const uint8_t busy[] = {0, 0, 0, 0, 0, 3, 5, 0x83, 6};
    uint16_t regs[2];
    assert_int_equal(modbus_reply_check(&two_regs, true, 0, busy, sizeof(busy), regs),
                     MODBUS_ENOBASE + MODBUS_EXCEPTION_SLAVE_OR_SERVER_BUSY);
}

static void test_rtu_bits(void **state)
{
    (void)state;
    const struct modbus_request coils = {
        .unit_id = 2, .function = FN_COIL, .address = 0, .count = 10};
    /* unit, FC 1, 2 bytes: 0b00000101, 0b10; CRC bytes (checked by libmodbus). */
    const uint8_t rtu[] = {2, 1, 2, 0x05, 0x02, 0xAA, 0xBB};
    uint16_t bits[10];
    assert_int_equal(modbus_reply_check(&coils, false, 0, rtu, sizeof(rtu), bits), 0);
    const uint16_t want[10] = {1, 0, 1, 0, 0, 0, 0, 0, 0, 1};
    assert_memory_equal(bits, want, sizeof(want));
    const uint8_t other[] = {3, 1, 2, 0x05, 0x02, 0xAA, 0xBB};
    assert_int_equal(modbus_reply_check(&coils, false, 0, other, sizeof(other), bits), EMBBADSLAVE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tcp_reply_accepted),
        cmocka_unit_test(test_tcp_reply_that_does_not_fit),
        cmocka_unit_test(test_exception_reply),
        cmocka_unit_test(test_rtu_bits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
