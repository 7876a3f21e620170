/* What a reload compares: the settings that need a restart are named by
 * section and key; a device is the same only with the same settings, bus
 * and points; a file loaded twice is the same as itself; swapping the
 * live parts leaves the restart-only ones alone. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/config.h"
#include "config/config_diff.h"
#include "config_text.h"

#define HEAD "[gateway]\nid = gw\n[mqtt]\nuri = tcp://127.0.0.1:1883\n[store]\npath = /tmp/x.db\n"
#define BUSES "[bus b]\ntype = tcp\nhost = 127.0.0.1\n[bus c]\ntype = tcp\nhost = 127.0.0.2\n"
#define DEV_D "[device d]\nbus = b\nunit_id = 1\ninterval = 1s\n"
#define DEV_E "[device e]\nbus = c\nunit_id = 2\ninterval = 1s\n"
#define PT_D "[point d/p]\nfunction = holding_register\naddress = 0\ntype = uint16\n"
#define PT_E "[point e/q]\nfunction = holding_register\naddress = 3\ntype = uint16\n"
#define BASE HEAD BUSES DEV_D DEV_E PT_D PT_E

static void load(const char *text, struct gateway_config *cfg)
{
    assert_int_equal(load_config_text(text, cfg), 0);
}

/* The restart-only changes between base and changed, as one text. */
static char *blockers(const char *base, const char *changed)
{
    struct gateway_config a, b;
    load(base, &a);
    load(changed, &b);
    struct config_errors out = {0};
    config_restart_only_changes(&a, &b, &out);
    static char text[2048];
    text[0] = '\0';
    for (size_t i = 0; i < out.count; i++)
        snprintf(text + strlen(text), sizeof(text) - strlen(text), "%s\n", out.lines[i]);
    config_errors_free(&out);
    config_free(&a);
    config_free(&b);
    return text;
}

static void test_restart_only_settings_are_named(void **state)
{
    (void)state;
    assert_string_equal(blockers(BASE, BASE), "");
    /* What a reload applies live is no blocker. */
    assert_string_equal(blockers(BASE, "[gateway]\nid = gw\nlog_level = debug\n"
                                       "health_interval = 5s\n[mqtt]\nuri = tcp://127.0.0.1:1883\n"
                                       "[store]\npath = /tmp/x.db\n" BUSES DEV_D PT_D),
                        "");
    assert_non_null(
        strstr(blockers(BASE, "[gateway]\nid = gw\n[mqtt]\nuri = tcp://127.0.0.1:1883\n"
                              "[store]\npath = /tmp/y.db\n" BUSES DEV_D DEV_E PT_D PT_E),
               "[store] path changed: the daemon applies it at a restart only"));
    assert_non_null(strstr(
        blockers(BASE,
                 "[gateway]\nid = other\n[mqtt]\nuri = "
                 "tcp://127.0.0.1:1883\n[store]\npath = /tmp/x.db\n" BUSES DEV_D DEV_E PT_D PT_E),
        "[gateway] id changed"));
    /* The broker's address has no field of its own in the key table. */
    assert_non_null(
        strstr(blockers(BASE, "[gateway]\nid = gw\n[mqtt]\nuri = tcp://127.0.0.1:1884\n"
                              "[store]\npath = /tmp/x.db\n" BUSES DEV_D DEV_E PT_D PT_E),
               "[mqtt] changed (uri"));
    assert_non_null(
        strstr(blockers(BASE, "[gateway]\nid = gw\n[mqtt]\nuri = tcp://127.0.0.1:1883\n"
                              "qos = 0\n[store]\npath = /tmp/x.db\n" BUSES DEV_D DEV_E PT_D PT_E),
               "[mqtt] qos changed"));
}

static void test_devices_points_and_buses_compared(void **state)
{
    (void)state;
    struct gateway_config a, same, moved, slower, scaled, other_bus;
    load(BASE, &a);
    /* Another order in the file, the same settings: the same devices. */
    load(HEAD BUSES DEV_E PT_E "\n\n" DEV_D PT_D, &same);
    /* A device and point before them: their indexes move, nothing else. */
    load(HEAD BUSES
         "[device f]\nbus = b\nunit_id = 3\ninterval = 1s\n"
         "[point f/r]\nfunction = holding_register\naddress = 9\ntype = uint16\n" DEV_D DEV_E PT_D
             PT_E,
         &moved);
    load(HEAD BUSES "[device d]\nbus = b\nunit_id = 1\ninterval = 2s\n" DEV_E PT_D PT_E, &slower);
    load(HEAD BUSES DEV_D DEV_E PT_D "scale = 0.1\n" PT_E, &scaled);
    load(HEAD "[bus b]\ntype = tcp\nhost = 127.0.0.1\nport = 1502\n"
              "[bus c]\ntype = tcp\nhost = 127.0.0.2\n" DEV_D DEV_E PT_D PT_E,
         &other_bus);
    int d = config_find_device(&a, "d"), e = config_find_device(&a, "e");
    assert_true(config_device_same(&a, d, &same, config_find_device(&same, "d")));
    assert_true(config_device_same(&a, e, &same, config_find_device(&same, "e")));
    assert_true(config_device_same(&a, d, &moved, config_find_device(&moved, "d")));
    assert_false(config_device_same(&a, d, &slower, config_find_device(&slower, "d")));
    assert_true(config_device_same(&a, e, &slower, config_find_device(&slower, "e")));
    assert_false(config_device_same(&a, d, &scaled, config_find_device(&scaled, "d")));
    assert_false(config_point_same(&a.points[0], &scaled.points[0]));
    assert_true(config_point_same(&a.points[1], &scaled.points[1]));
    /* A device on a changed bus is set up anew with it. */
    assert_false(config_device_same(&a, d, &other_bus, config_find_device(&other_bus, "d")));
    assert_false(config_bus_same(&a.buses[0], &other_bus.buses[0]));
    assert_true(config_bus_same(&a.buses[1], &other_bus.buses[1]));
    config_free(&a);
    config_free(&same);
    config_free(&moved);
    config_free(&slower);
    config_free(&scaled);
    config_free(&other_bus);
}

static void test_swap_moves_live_parts_only(void **state)
{
    (void)state;
    struct gateway_config running, next;
    load(BASE, &running);
    load("[gateway]\nid = gw\nlog_level = debug\nstatus_file = /tmp/s.json\n[mqtt]\n"
         "uri = tcp://127.0.0.1:1883\nqos = 0\n[store]\npath = /tmp/y.db\n" BUSES DEV_D PT_D,
         &next);
    config_swap_live(&running, &next);
    assert_int_equal(running.device_count, 1);
    assert_int_equal(next.device_count, 2);
    assert_string_equal(running.status_file, "/tmp/s.json");
    assert_int_equal(running.mqtt.qos, 1);                /* a restart's, untouched */
    assert_string_equal(running.store.path, "/tmp/x.db"); /* likewise */
    config_free(&running);
    config_free(&next);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_restart_only_settings_are_named),
        cmocka_unit_test(test_devices_points_and_buses_compared),
        cmocka_unit_test(test_swap_moves_live_parts_only),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
