/* Grouping points into requests. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "sources/modbus/read_plan.h"

static struct read_limits limits(int max_registers, int max_gap, bool single)
{
    return (struct read_limits){max_registers, max_gap, single};
}

static void test_adjacent_points_share_a_request(void **state)
{
    (void)state;
    struct plan_point pts[] = {{FN_INPUT_REGISTER, 4, 2},
                               {FN_INPUT_REGISTER, 0, 1},
                               {FN_INPUT_REGISTER, 1, 1},
                               {FN_INPUT_REGISTER, 2, 2}};
    struct read_limits l = limits(125, 0, false);
    struct read_plan plan;
    assert_int_equal(read_plan_build(pts, 4, &l, &plan), 0);
    assert_int_equal(plan.request_count, 1);
    assert_int_equal(plan.requests[0].address, 0);
    assert_int_equal(plan.requests[0].count, 6);
    assert_int_equal(plan.requests[0].n_points, 4);
    assert_int_equal(plan.order[0], 1); /* sorted by address */
    assert_int_equal(plan.order[3], 0);
    read_plan_free(&plan);
}

static void test_gap_and_function_split(void **state)
{
    (void)state;
    struct plan_point pts[] = {{FN_HOLDING_REGISTER, 0, 1},
                               {FN_HOLDING_REGISTER, 10, 1},
                               {FN_HOLDING_REGISTER, 30, 2},
                               {FN_INPUT_REGISTER, 11, 1},
                               {FN_COIL, 5, 1},
                               {FN_COIL, 6, 1}};
    struct read_limits l = limits(125, 10, false);
    struct read_plan plan;
    assert_int_equal(read_plan_build(pts, 6, &l, &plan), 0);
    /* coils 5-6 | holding 0-10 | holding 30-31 (gap 19 > 10) | input 11 */
    assert_int_equal(plan.request_count, 4);
    assert_int_equal(plan.requests[0].function, FN_COIL);
    assert_int_equal(plan.requests[0].count, 2);
    assert_int_equal(plan.requests[1].address, 0);
    assert_int_equal(plan.requests[1].count, 11);
    assert_int_equal(plan.requests[2].address, 30);
    assert_int_equal(plan.requests[2].count, 2);
    assert_int_equal(plan.requests[3].function, FN_INPUT_REGISTER);
    read_plan_free(&plan);
}

static void test_max_registers_and_single_requests(void **state)
{
    (void)state;
    struct plan_point pts[] = {
        {FN_HOLDING_REGISTER, 0, 2}, {FN_HOLDING_REGISTER, 2, 2}, {FN_HOLDING_REGISTER, 4, 2}};
    struct read_limits l = limits(4, 0, false);
    struct read_plan plan;
    assert_int_equal(read_plan_build(pts, 3, &l, &plan), 0);
    assert_int_equal(plan.request_count, 2); /* 0-3, then 4-5 */
    assert_int_equal(plan.requests[0].count, 4);
    read_plan_free(&plan);
    l = limits(125, 8, true);
    assert_int_equal(read_plan_build(pts, 3, &l, &plan), 0);
    assert_int_equal(plan.request_count, 3);
    read_plan_free(&plan);
}

static void test_protocol_limit_caps_large_settings(void **state)
{
    (void)state;
    struct plan_point pts[] = {{FN_INPUT_REGISTER, 0, 1}, {FN_INPUT_REGISTER, 125, 1}};
    struct read_limits l = limits(2000, 125, false);
    struct read_plan plan;
    assert_int_equal(read_plan_build(pts, 2, &l, &plan), 0);
    assert_int_equal(plan.request_count, 2); /* 0..125 would be 126 registers */
    read_plan_free(&plan);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_adjacent_points_share_a_request),
        cmocka_unit_test(test_gap_and_function_split),
        cmocka_unit_test(test_max_registers_and_single_requests),
        cmocka_unit_test(test_protocol_limit_caps_large_settings),
    };
    return cmocka_run_group_tests_name("read_plan", tests, NULL, NULL);
}
