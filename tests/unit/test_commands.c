/* Commands without a broker or a device: the payload parser, the value as
 * the device takes it (every type, scale, limit), the memory of repeats,
 * the result's JSON, and the Modbus write frames and their replies. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <json-c/json.h>
#include <math.h>
#include <modbus/modbus.h>
#include <string.h>

#include "commands/command_memory.h"
#include "commands/command_payload.h"
#include "commands/command_value.h"
#include "sources/modbus/decode.h"
#include "sources/modbus/modbus_point.h"
#include "sources/modbus/modbus_reply.h"
#include "sources/modbus/modbus_source.h"

static struct command parse(const char *text, int64_t *ts)
{
    struct command cmd = {0};
    int64_t unused;
    command_payload_parse(text, strlen(text), &cmd, ts ? ts : &unused);
    return cmd;
}

static void test_payloads(void **state)
{
    (void)state;
    int64_t ts;
    struct command c = parse("{\"value\": 21.5, \"id\": \"a-1\", \"ts\": \"2026-11-25T10:15:00.123Z\"}",
                             &ts);
    assert_int_equal(c.parse_error, REASON_NONE);
    assert_false(c.value.is_bool);
    assert_true(c.value.number == 21.5);
    assert_string_equal(c.id, "a-1");
    assert_int_equal(ts, 1795601700123LL);
    c = parse("{\"value\": true}", &ts);
    assert_int_equal(c.parse_error, REASON_NONE);
    assert_true(c.value.is_bool && c.value.number == 1);
    assert_int_equal(ts, -1);
    static const struct {
        const char *text;
        enum command_reason reason;
    } bad[] = {
        {"", REASON_MALFORMED},
        {"{\"value\": 5", REASON_MALFORMED},
        {"{\"value\": 5} trailing", REASON_MALFORMED},
        {"[5]", REASON_MALFORMED},
        {"5", REASON_MALFORMED},
        {"{\"id\": \"x\"}", REASON_MALFORMED},
        {"{\"value\": null}", REASON_MALFORMED},
        {"{\"value\": 5, \"id\": 7}", REASON_MALFORMED},
        {"{\"value\": 5, \"id\": \"\"}", REASON_MALFORMED},
        {"{\"value\": 5, \"ts\": \"yesterday\"}", REASON_MALFORMED},
        {"{\"value\": 5, \"ts\": \"2026-13-01T00:00:00Z\"}", REASON_MALFORMED},
        {"{\"value\": {\"a\": {\"b\": {\"c\": {\"d\": 1}}}}}", REASON_MALFORMED},
        {"{\"value\": \"21.5\"}", REASON_WRONG_TYPE},
        {"{\"value\": [1]}", REASON_WRONG_TYPE},
        {"{\"value\": NaN}", REASON_WRONG_TYPE}, /* json-c reads NaN even when strict */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        c = parse(bad[i].text, NULL);
        if (c.parse_error != bad[i].reason)
            fail_msg("%s: %s, expected %s", bad[i].text, command_reason_names[c.parse_error],
                     command_reason_names[bad[i].reason]);
        assert_true(c.parse_message[0] != '\0');
    }
    char id[120] = "{\"value\": 1, \"id\": \"";
    memset(id + strlen(id), 'x', 65);
    strcat(id, "\"}");
    assert_int_equal(parse(id, NULL).parse_error, REASON_MALFORMED);
}

static struct point_config point(int table, int type, double scale, double offset)
{
    struct point_config p = {.name = "p",
                             .source = &modbus_source,
                             .scale = scale,
                             .offset = offset,
                             .write_min = -INFINITY,
                             .write_max = INFINITY,
                             .read_back = true};
    *modbus_point_mut(&p.where) = (struct modbus_point){.table = table, .type = type};
    return p;
}

static enum command_reason to_raw(const struct point_config *p, double v, bool is_bool,
                                  double *raw)
{
    char why[256];
    struct command_value cv = {.is_bool = is_bool, .number = v};
    *raw = NAN;
    return command_to_raw(p, &cv, raw, why, sizeof(why));
}

static void test_values_as_the_device_takes_them(void **state)
{
    (void)state;
    double raw;
    struct point_config t = point(FN_HOLDING_REGISTER, DT_INT16, 0.1, 0);
    assert_int_equal(to_raw(&t, 21.3, false, &raw), REASON_NONE);
    assert_true(raw == 213); /* 21.3 / 0.1 is 212.99999999999997 */
    assert_int_equal(to_raw(&t, -1.5, false, &raw), REASON_NONE);
    assert_true(raw == -15);
    assert_int_equal(to_raw(&t, 21.25, false, &raw), REASON_OUT_OF_RANGE); /* between steps */
    assert_int_equal(to_raw(&t, 3276.8, false, &raw), REASON_OUT_OF_RANGE); /* int16 */
    assert_int_equal(to_raw(&t, 1, true, &raw), REASON_WRONG_TYPE);
    t.write_min = -10, t.write_max = 10;
    assert_int_equal(to_raw(&t, 10.1, false, &raw), REASON_OUT_OF_RANGE);
    assert_int_equal(to_raw(&t, 10, false, &raw), REASON_NONE);

    struct point_config u = point(FN_HOLDING_REGISTER, DT_UINT16, 1, -40);
    assert_int_equal(to_raw(&u, -40, false, &raw), REASON_NONE);
    assert_true(raw == 0);
    assert_int_equal(to_raw(&u, -41, false, &raw), REASON_OUT_OF_RANGE);
    struct point_config u32 = point(FN_HOLDING_REGISTER, DT_UINT32, 1, 0);
    assert_int_equal(to_raw(&u32, 4294967295.0, false, &raw), REASON_NONE);
    assert_int_equal(to_raw(&u32, 4294967296.0, false, &raw), REASON_OUT_OF_RANGE);
    struct point_config u64 = point(FN_HOLDING_REGISTER, DT_UINT64, 1, 0);
    assert_int_equal(to_raw(&u64, 1e16, false, &raw), REASON_OUT_OF_RANGE); /* beyond 2^53 */
    struct point_config f = point(FN_HOLDING_REGISTER, DT_FLOAT32, 1, 0);
    assert_int_equal(to_raw(&f, 21.3, false, &raw), REASON_NONE);
    assert_true(raw == 21.3);
    assert_int_equal(to_raw(&f, 1e39, false, &raw), REASON_OUT_OF_RANGE);
    assert_true(command_raw_matches(&f, 21.3, (float)21.3));
    assert_false(command_raw_matches(&f, 21.3, 21.4));

    struct point_config coil = point(FN_COIL, DT_BOOL, 1, 0);
    assert_int_equal(to_raw(&coil, 1, true, &raw), REASON_NONE);
    assert_true(raw == 1);
    assert_int_equal(to_raw(&coil, 0, false, &raw), REASON_NONE);
    assert_int_equal(to_raw(&coil, 2, false, &raw), REASON_WRONG_TYPE);
    assert_true(command_raw_matches(&coil, 1, 1));
    assert_false(command_raw_matches(&coil, 1, 0));
}

/* What the source puts on the wire for each word order is the read path's
 * inverse: decoding what was encoded gives the raw value back. */
static void test_encoding_round_trips(void **state)
{
    (void)state;
    static const int types[] = {DT_INT16, DT_UINT16, DT_INT32, DT_UINT32,
                                DT_INT64, DT_UINT64, DT_FLOAT32, DT_FLOAT64};
    static const double values[] = {0, 1, 123, 32767, 65535, 2147483647.0, 21.5};
    for (size_t t = 0; t < sizeof(types) / sizeof(types[0]); t++)
        for (int order = WO_ABCD; order <= WO_DCBA; order++)
            for (size_t v = 0; v < sizeof(values) / sizeof(values[0]); v++) {
                struct point_config p = point(FN_HOLDING_REGISTER, types[t], 1, 0);
                modbus_point_mut(&p.where)->word_order = order;
                double raw, back;
                if (to_raw(&p, values[v], false, &raw) != REASON_NONE)
                    continue; /* out of the type's range, or not a step */
                uint16_t regs[4];
                encode_registers(raw, types[t], order, regs);
                assert_int_equal(decode_registers(regs, types[t], order, &back), DECODE_OK);
                if (!command_raw_matches(&p, raw, back))
                    fail_msg("%s %s %g: read back %g", data_type_names[types[t]],
                             word_order_names[order], raw, back);
            }
}

static void test_repeats_are_remembered(void **state)
{
    (void)state;
    struct command_memory m;
    command_memory_init(&m, 1000);
    struct command a = {.device = "d", .point = "p", .id = "x", .received_ms = 100};
    struct command_memory_slot earlier;
    assert_false(command_memory_seen(&m, &a, 100, &earlier));
    assert_true(command_memory_seen(&m, &a, 200, &earlier));
    assert_false(earlier.finished); /* still under way */
    struct command_result done = {.status = COMMAND_DONE};
    command_memory_finished(&m, &a, &done);
    assert_true(command_memory_seen(&m, &a, 300, &earlier));
    assert_true(earlier.finished && earlier.status == COMMAND_DONE);
    struct command other_point = a;
    strcpy(other_point.point, "q");
    assert_false(command_memory_seen(&m, &other_point, 300, &earlier));
    assert_false(command_memory_seen(&m, &a, 1200, &earlier)); /* forgotten */
    struct command no_key = {.device = "d", .point = "p"};
    assert_false(command_memory_seen(&m, &no_key, 300, &earlier));
    assert_false(command_memory_seen(&m, &no_key, 300, &earlier));
    struct command by_correlation = {.device = "d", .point = "p", .correlation = {0, 0xff},
                                     .correlation_len = 2};
    char key[COMMAND_KEY_MAX];
    assert_true(command_key(&by_correlation, key, sizeof(key)));
    assert_string_equal(key, "cd:00ff");
    assert_false(command_memory_seen(&m, &by_correlation, 300, &earlier));
    assert_true(command_memory_seen(&m, &by_correlation, 301, &earlier));
    command_memory_destroy(&m);
}

static void test_result_json(void **state)
{
    (void)state;
    struct command cmd = {.device = "door", .point = "display", .id = "a\"1",
                          .value = {.number = 21.5}};
    struct command_result res = {0};
    command_result_set(&res, COMMAND_FAILED, REASON_EXCEPTION, "Illegal data address");
    res.took_ms = 12;
    char buf[1024];
    int n = command_result_format(buf, sizeof(buf), "gw", &cmd, &res, 1795601700123LL);
    assert_true(n > 0);
    struct json_object *o = json_tokener_parse(buf);
    assert_non_null(o);
    struct json_object *v;
    assert_true(json_object_object_get_ex(o, "status", &v));
    assert_string_equal(json_object_get_string(v), "failed");
    assert_true(json_object_object_get_ex(o, "reason", &v));
    assert_string_equal(json_object_get_string(v), "exception");
    assert_true(json_object_object_get_ex(o, "id", &v));
    assert_string_equal(json_object_get_string(v), "a\"1");
    assert_true(json_object_object_get_ex(o, "ts", &v));
    assert_string_equal(json_object_get_string(v), "2026-11-25T10:15:00.123Z");
    assert_false(json_object_object_get_ex(o, "value", &v));
    json_object_put(o);
    assert_int_equal(command_result_format(buf, 20, "gw", &cmd, &res, 0), -1);
}

static void test_write_frames(void **state)
{
    (void)state;
    uint8_t pdu[MODBUS_REQUEST_MAX];
    const uint16_t on = 1, words[2] = {0x0001, 0xE240};
    struct modbus_request coil = {.unit_id = 1, .function = FN_COIL, .address = 3, .count = 1,
                                  .write_code = 5, .values = &on};
    assert_int_equal(modbus_request_encode(&coil, pdu), 6);
    const uint8_t coil_want[] = {1, 5, 0, 3, 0xFF, 0};
    assert_memory_equal(pdu, coil_want, 6);
    struct modbus_request regs = {.unit_id = 2, .function = FN_HOLDING_REGISTER, .address = 4,
                                  .count = 2, .write_code = 16, .values = words};
    assert_int_equal(modbus_request_encode(&regs, pdu), 11);
    const uint8_t regs_want[] = {2, 16, 0, 4, 0, 2, 4, 0x00, 0x01, 0xE2, 0x40};
    assert_memory_equal(pdu, regs_want, 11);
    struct modbus_request bad = regs;
    bad.write_code = 6; /* one register only */
    assert_int_equal(modbus_request_encode(&bad, pdu), -1);

    /* FC 16 is answered with address and count; FC 5 with the request. */
    const uint8_t ok16[] = {0, 0, 0, 0, 0, 6, 2, 16, 0, 4, 0, 2};
    assert_int_equal(modbus_reply_check(&regs, true, 0, ok16, sizeof(ok16), NULL), 0);
    const uint8_t wrong_count[] = {0, 0, 0, 0, 0, 6, 2, 16, 0, 4, 0, 1};
    assert_int_equal(modbus_reply_check(&regs, true, 0, wrong_count, sizeof(wrong_count), NULL),
                     EMBBADDATA);
    const uint8_t refused[] = {0, 0, 0, 0, 0, 3, 2, 0x90, 2};
    assert_int_equal(modbus_reply_check(&regs, true, 0, refused, sizeof(refused), NULL),
                     MODBUS_ENOBASE + MODBUS_EXCEPTION_ILLEGAL_DATA_ADDRESS);
    const uint8_t ok5[] = {1, 5, 0, 3, 0xFF, 0, 0xAA, 0xBB};
    assert_int_equal(modbus_reply_check(&coil, false, 0, ok5, sizeof(ok5), NULL), 0);
    const uint8_t off5[] = {1, 5, 0, 3, 0, 0, 0xAA, 0xBB};
    assert_int_equal(modbus_reply_check(&coil, false, 0, off5, sizeof(off5), NULL), EMBBADDATA);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_payloads),
        cmocka_unit_test(test_values_as_the_device_takes_them),
        cmocka_unit_test(test_encoding_round_trips),
        cmocka_unit_test(test_repeats_are_remembered),
        cmocka_unit_test(test_result_json),
        cmocka_unit_test(test_write_frames),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
