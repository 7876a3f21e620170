/* The INI loader: good files load with the right values; a catalogue of
 * broken files each give exactly the message an operator should see. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config/config.h"
#include "config_text.h"
#include "sources/bus_kind.h"
#include "sources/modbus/modbus_point.h"

/* Lines 1-6, 7-9, 10-13 and 14-17 of every broken file below. */
#define HEAD "[gateway]\nid = gw\n[mqtt]\nuri = tcp://127.0.0.1:1883\n[store]\npath = /tmp/x.db\n"
#define BUS "[bus b]\ntype = tcp\nhost = 127.0.0.1\n"
#define DEV "[device d]\nbus = b\nunit_id = 1\ninterval = 1s\n"
#define PT "[point d/p]\nfunction = holding_register\naddress = 0\ntype = uint16\n"

static char path[64];

static void write_file(const char *text)
{
    strcpy(path, "/tmp/test-config-XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "w");
    fputs(text, f);
    fclose(f);
}

static struct config_errors load_broken(const char *text)
{
    write_file(text);
    struct gateway_config cfg;
    struct config_errors errors = {0};
    if (config_load(path, &cfg, &errors) == 0) {
        config_free(&cfg);
        fail_msg("this file loaded but must not:\n%s", text);
    }
    assert_true(errors.count >= 1);
    unlink(path);
    return errors;
}

static const struct broken_case {
    const char *ini;
    const char *message; /* %s is the file's path */
} broken[] = {
    {HEAD "[sensor x]\nfoo = 1\n" BUS DEV PT,
     "%s:7: [sensor x]: unknown section (expected [gateway], [mqtt], [store], [commands], "
     "[bus NAME], [device NAME] or [point DEVICE/NAME])"},
    {HEAD BUS DEV PT "colour = red\n", "%s:18: [point d/p] colour: unknown key"},
    {"[gateway]\nid = gw\ntimezone = Europe/Berln\n[mqtt]\nuri = tcp://127.0.0.1:1883\n[store]\n"
     "path = /tmp/x.db\n" BUS DEV PT,
     "%s: [gateway] timezone: 'Europe/Berln' is not a time zone of this system (an IANA name "
     "such as Europe/Berlin, from /usr/share/zoneinfo)"},
    {HEAD BUS DEV "[point d/p]\nfunction = holding_register\naddress = 0\ntype = int17\n",
     "%s:17: [point d/p] type: 'int17' is not one of: bool, int16, uint16, int32, uint32, "
     "int64, uint64, float32, float64"},
    {HEAD BUS DEV "[point d/p]\nfunction = holding_register\ntype = uint16\n",
     "%s:14: [point d/p] address: missing (this key is required)"},
    {HEAD BUS DEV PT "address = 3\n", "%s:18: [point d/p] address: set twice (first on line 16)"},
    {HEAD BUS DEV PT PT, "%s:18: [point d/p]: duplicate section"},
    {HEAD BUS DEV "[point d/p]\nfunction = holding_register\naddress = 0\ntype = float32\n"
                  "[point d/q]\nfunction = holding_register\naddress = 1\ntype = uint16\n",
     "%s:20: [point d/q] address: holding_register 1 overlaps holding_register 0..1 of point p "
     "(line 14)"},
    {HEAD BUS DEV "[point d/p]\nfunction = input_register\naddress = 65534\ntype = uint64\n",
     "%s:16: [point d/p] address: uint64 at 65534 runs past the last address 65535"},
    {HEAD BUS "[device Trail North]\nbus = b\nunit_id = 1\ninterval = 1s\n" PT,
     "%s:10: [device Trail North]: 'Trail North' may hold only lowercase letters, digits, '_' "
     "and '-' (it becomes part of MQTT topics)"},
    {HEAD BUS "[device d]\nbus = b\nunit_id = 1\ninterval = 5\n" PT,
     "%s:13: [device d] interval: '5' needs a unit: ms, s, m, h or d (e.g. 5s)"},
    {HEAD "max_size = 500\n" BUS DEV PT,
     "%s:7: [store] max_size: '500' needs a unit: B, KB, MB, GB or TB (e.g. 256MB)"},
    {HEAD "max_size = 64KB\n" BUS DEV PT,
     "%s:7: [store] max_size: 64KB is out of range (131072 to 1099511627776 bytes)"},
    {HEAD BUS "[device d]\nbus = nope\nunit_id = 1\ninterval = 1s\n" PT,
     "%s:10: [device d] bus: no [bus nope] in this file"},
    {HEAD BUS DEV "[point d/p]\nfunction = coil\naddress = 0\ntype = uint16\n",
     "%s:17: [point d/p] type: a coil carries one bit, so the type must be bool"},
    {HEAD "this line is not ini\n" BUS DEV PT,
     "%s:7: syntax error: expected '[section]' or 'key = value'"},
    {"[gateway]\nid = gw\n[mqtt]\nuri = tcp://127.0.0.1:1883\n" BUS DEV PT,
     "%s: [store]: missing section"},
    {HEAD "[bus b]\ntype = tcp\nhost = 127.0.0.1\nport = 70000\n" DEV PT,
     "%s:10: [bus b] port: 70000 is out of range (1 to 65535)"},
    {HEAD "[bus b]\ntype = rtu\ndevice = /dev/ttyUSB0\n"
          "[device d]\nbus = b\nunit_id = 0\ninterval = 1s\n" PT,
     "%s:10: [device d] unit_id: 0 is out of range for an rtu bus (1 to 247; 0 is broadcast)"},
    {"\xEF\xBB\xBF" HEAD "[bus b]\ntype = tcp\nhost = caf\xE9\n" DEV PT,
     "%s:9: not valid UTF-8 (a file saved as Latin-1 or Windows-1252?): save it as UTF-8"},
    {"[gateway]\nid = gw\n[mqtt]\nuri = tcp://127.0.0.1:1883\npassword = ab ;cd\n[store]\n"
     "path = /tmp/x.db\n" BUS DEV PT,
     "%s:5: password: ' ;' starts a comment in an INI file, so the password would be cut short "
     "there; choose one without a space before ';'"},
    {"[gateway]\nid = gw\n[mqtt]\nuri = ssl://127.0.0.1:8883\ntls_ca_file = /nonexistent/ca.pem\n"
     "[store]\npath = /tmp/x.db\n" BUS DEV PT,
     "%s:5: [mqtt] tls_ca_file: '/nonexistent/ca.pem' cannot be read: No such file or directory"},
    {HEAD "[bus a]\ntype = rtu\ndevice = /dev/ttyUSB0\n[bus b]\ntype = rtu\ndevice = /dev/ttyUSB0\n"
          "[device d]\nbus = b\nunit_id = 1\ninterval = 1s\n" PT,
     "%s:10: [bus b] device: /dev/ttyUSB0 is already bus a (line 7); one serial line is one bus: "
     "put its devices under one [bus]"},
    /* libmodbus would refuse the id and poll the previous device instead. */
    {HEAD BUS "[device d]\nbus = b\nunit_id = 250\ninterval = 1s\n" PT,
     "%s:10: [device d] unit_id: 250 cannot be used on a tcp bus (0 to 247, or 255)"},
    {HEAD "[bus b]\ntype = rtu\nhost = 127.0.0.1\n" DEV PT,
     "%s:7: [bus b] device: missing (an rtu bus needs a serial device, e.g. /dev/ttyUSB0)"},
    {HEAD BUS DEV "[point d/p]\nfunction = holding_register\naddress = 0\ntype = uint16\n"
                  "unit = \"quoted\"\n",
     "%s:18: [point d/p] unit: '\"quoted\"' holds a quote, backslash or control character"},
    {"[gateway]\nid = gw\n[mqtt]\nuri = http://broker\n[store]\npath = /tmp/x.db\n" BUS DEV PT,
     "%s:4: [mqtt] uri: 'http://broker' must start with tcp://, mqtt://, ssl:// or mqtts://"},
    {HEAD BUS DEV, "%s:10: [device d]: has no points (add [point d/NAME] sections)"},
    {"[gateway]\nid = gw\n[mqtt]\nuri = tcp://h:1\ntopic_prefix = County/KPI\n[store]\npath = "
     "/x\n" BUS DEV PT,
     "%s:5: [mqtt] topic_prefix: 'County' may hold only lowercase letters, digits, '_' and '-' "
     "(it becomes part of MQTT topics)"},
    {HEAD BUS DEV "[point d/p]\nfunction = holding_register\naddress = 0\ntype = int16\n"
                  "kind = counter\n",
     "%s:18: [point d/p] kind: a counter is an unsigned integer read from the device, not int16"},
    {HEAD BUS DEV PT "kind = counter\nscale = 0.1\n",
     "%s:19: [point d/p] scale: a counter counts events: leave scale and offset out"},
    {HEAD BUS DEV PT "kind = counter\ncount_interval = 7m\n",
     "%s:19: [point d/p] count_interval: must divide a day evenly (e.g. 1m, 5m, 15m, 1h)"},
    {HEAD BUS DEV PT "kind = counter\ncounter_max_step = 40000\n",
     "%s:19: [point d/p] counter_max_step: 40000 is more than half the counter's range: a wrap "
     "could not be told from a reset"},
    {HEAD BUS DEV PT "count_interval = 15m\n",
     "%s:18: [point d/p] count_interval: needs kind = counter"},
    {HEAD BUS DEV PT "kind = counter\nwindow = 10m\n",
     "%s:19: [point d/p] window: only a measurement has windows; a counter has count_interval"},
    {HEAD BUS DEV PT "window = 7m\n",
     "%s:18: [point d/p] window: must divide a day evenly (e.g. 1m, 10m, 15m, 1h)"},
    {HEAD BUS DEV PT "deadband = 0.5\n",
     "%s:18: [point d/p] deadband: only applies with publish = change"},
    {HEAD BUS DEV PT "publish = none\n",
     "%s:18: [point d/p] publish: none would send nothing for this point: add a window"},
    {HEAD BUS DEV PT "valid_min = 10\nvalid_max = 5\n",
     "%s:18: [point d/p] valid_min: 10 is above valid_max 5"},
    {HEAD BUS DEV PT "invalid_values = 32767, x\n",
     "%s:18: [point d/p] invalid_values: 'x' is not a finite number"},
    {HEAD BUS DEV PT "invalid_values = 1,2,3,4,5,6,7,8,9\n",
     "%s:18: [point d/p] invalid_values: at most 8 values"},
    {HEAD BUS "[device d]\nbus = b\nprofile = xy-md03\ninterval = 1s\n",
     "%s:10: [device d] profile: no profile 'xy-md03' (built in: break-beam-counter, gmp252, "
     "keller-s30, qdy30a, rs-ws-n01, sdm630, wxt530, xy-md02)"},
    {HEAD "[bus b]\ntype = rtu\ndevice = /dev/ttyUSB0\n"
          "[device d]\nbus = b\nprofile = gmp252\ninterval = 1s\n",
     "%s:10: [device d] speaks 19200 baud, parity none, 2 stop bit(s) (its profile's factory "
     "setting); bus b (line 7) is set to 9600, none, 1: set the bus to match, or give the "
     "device's own baud, parity and stop_bits if it was reconfigured"},
    {HEAD BUS "[device d]\nbus = b\nprofile = keller-s30\ninterval = 1s\n"
              "[point d/depth]\nsource = level\nunit = m\n",
     "%s:14: [point d/depth] source: 'level' is not a point of device d that reads registers"},
    {HEAD BUS DEV PT "[point d/q]\nsource = p\nfunction = coil\n",
     "%s:20: [point d/q] function: a point with a source reads no registers of its own"},
    {HEAD BUS DEV "[point d/p]\nfunction = holding_register\naddress = 4\ntype = uint16\n"
                  "[point d/level]\nfunction = holding_register\naddress = 3\ntype = int16\n"
                  "decimals_from = p\n",
     "%s:18: [point d/level] decimals_from: 'p' must be an integer point of device d in the "
     "same register table, at a lower address (it is read first)"},
    {HEAD BUS DEV PT "[point d/inside]\nkind = occupancy\noccupancy_in = p\n",
     "%s:18: [point d/inside] occupancy_out: missing (the device's counter point for the way "
     "out)"},
    {HEAD BUS DEV PT "[point d/inside]\nkind = occupancy\noccupancy_in = p\noccupancy_out = p\n",
     "%s:18: [point d/inside] occupancy_in: 'p' is not a counter point of device d"},
    {HEAD BUS DEV PT "kind = counter\n[point d/inside]\nkind = occupancy\noccupancy_in = p\n"
                     "occupancy_out = p\noccupancy_reset = 25:00\n",
     "%s:23: [point d/inside] occupancy_reset: '25:00' is not a time of day like 04:00"},
    {HEAD BUS DEV PT "kind = counter\npower_on_counter = nope\n",
     "%s:14: [point d/p] power_on_counter: 'nope' is not an integer measurement point of device d"},
    {HEAD BUS DEV PT "kind = counter\npower_on_counter = p\n",
     "%s:14: [point d/p] power_on_counter: 'p' is not an integer measurement point of device d"},
    {HEAD BUS DEV PT "power_on_counter = p\n",
     "%s:18: [point d/p] power_on_counter: needs kind = counter"},
    {HEAD BUS DEV PT "occupancy_in = p\n",
     "%s:18: [point d/p] occupancy_in: needs kind = occupancy"},
    {HEAD BUS DEV PT "kind = counter\n[point d/q]\nfunction = holding_register\naddress = 1\n"
                     "type = uint16\nkind = counter\n[point d/inside]\nkind = occupancy\n"
                     "occupancy_in = p\noccupancy_out = p\n",
     "%s:24: [point d/inside] occupancy_out: 'p' is also the way in; name two counters"},
    {HEAD BUS DEV PT "kind = counter\n[point d/q]\nfunction = holding_register\naddress = 1\n"
                     "type = uint16\nkind = counter\n[point d/inside]\nkind = occupancy\n"
                     "occupancy_in = p\noccupancy_out = q\n[point d/again]\nkind = occupancy\n"
                     "occupancy_in = q\noccupancy_out = p\n",
     "%s:28: [point d/again] occupancy_in: 'q' already feeds occupancy point inside (line 24); "
     "a counter feeds one"},
    /* Writable points (commands) */
    {HEAD BUS DEV PT "write_max = 5\n", "%s:18: [point d/p] write_max: needs writable = true"},
    {HEAD BUS DEV "[point d/p]\nfunction = input_register\naddress = 0\ntype = uint16\n"
                  "writable = true\n",
     "%s:18: [point d/p] writable: the device takes no writes at input_register 0"},
    {HEAD BUS DEV "[point d/p]\nfunction = holding_register\naddress = 0\ntype = uint32\n"
                  "writable = true\nwrite_function = 6\n",
     "%s:19: [point d/p] write_function: 6: function 6 writes one register; this type takes "
     "more: use 16"},
    {HEAD BUS DEV PT "writable = true\nwrite_function = 5\n",
     "%s:19: [point d/p] write_function: 5: a register is written with function 6 or 16"},
    {HEAD BUS DEV PT "writable = true\nwrite_min = 5\nwrite_max = 1\n",
     "%s:19: [point d/p] write_min: 5 is above write_max 1"},
    {HEAD BUS DEV PT "[point d/q]\nsource = p\nwritable = true\n",
     "%s:20: [point d/q] writable: only a point that is one register value can be written, not "
     "one derived from another point"},
    {HEAD "[commands]\nenable = true\n" BUS DEV PT, "%s:8: [commands] enable: unknown key"},
    {HEAD "[commands]\nmax_age = 10ms\n" BUS DEV PT,
     "%s:8: [commands] max_age: 10ms is out of range (1000ms to 3600000ms)"},
    /* inih calls back for keys only: a section with none must not vanish. */
    {HEAD "[bus b]\n" DEV PT, "%s:7: [bus b] type: missing (this key is required)"},
    {HEAD "[sesnor x]\n" BUS DEV PT,
     "%s:7: [sesnor x]: unknown section (expected [gateway], [mqtt], [store], [commands], "
     "[bus NAME], [device NAME] or [point DEVICE/NAME])"},
    {HEAD BUS DEV PT "[point d/q]\n",
     "%s:18: [point d/q] function: missing (this key is required)"},
    {"[gateway]\nid = gw\n[mqtt]\nuri = tcp://h:1\nreconnect_min = 2m\nreconnect_max = 30s\n"
     "[store]\npath = /x\n" BUS DEV PT,
     "%s:5: [mqtt] reconnect_min: 120000 ms is longer than reconnect_max (30000 ms)"},
};

static void test_broken_catalogue(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(broken) / sizeof(broken[0]); i++) {
        struct config_errors errors = load_broken(broken[i].ini);
        char expected[600];
        snprintf(expected, sizeof(expected), broken[i].message, path);
        if (strcmp(errors.lines[0], expected) != 0)
            fail_msg("case %zu:\n got:      %s\n expected: %s", i, errors.lines[0], expected);
        config_errors_free(&errors);
    }
}

static void test_every_problem_is_reported(void **state)
{
    (void)state;
    struct config_errors errors =
        load_broken(HEAD BUS DEV "[point d/p]\nfunction = register\naddress = -1\ntype = int16\n"
                                 "scale = x\n");
    assert_int_equal(errors.count, 3); /* function, address and scale, in file order */
    assert_non_null(strstr(errors.lines[0], ":15: [point d/p] function:"));
    assert_non_null(strstr(errors.lines[1], ":16: [point d/p] address: -1 is out of range"));
    assert_non_null(strstr(errors.lines[2], ":18: [point d/p] scale: 'x' is not a finite number"));
    config_errors_free(&errors);
}

/* Mistakes of every stage (values, profile names, references, overlaps)
 * come in one run, and a section's own mistake is not repeated by the
 * checks across sections. */
static void test_one_run_reports_every_stage(void **state)
{
    (void)state;
    struct config_errors errors = load_broken(
        HEAD BUS DEV "[device e]\nbus = nobus\nunit_id = 1\ninterval = 1s\n"
                     "[device f]\nbus = b\nunit_id = 1\ninterval = 1s\nprofile = nosuch\n"
                     "[point d/p]\nfunction = holding_register\naddress = 0\ntype = uint32\n"
                     "[point d/q]\nfunction = holding_register\naddress = 1\ntype = uint16\n"
                     "[point d/r]\nfunction = register\naddress = 5\ntype = int16\n"
                     "[point g/s]\nfunction = holding_register\naddress = 0\ntype = uint16\n"
                     "[point e/t]\nfunction = holding_register\naddress = 0\ntype = uint16\n");
    const char *expected[] = {"function: 'register' is not one of", "no profile 'nosuch'",
                              "no [bus nobus]", "no [device g]", "of point p (line"};
    for (size_t i = 0; i < sizeof(expected) / sizeof(expected[0]); i++) {
        bool found = false;
        for (size_t j = 0; j < errors.count; j++)
            found = found || strstr(errors.lines[j], expected[i]) != NULL;
        if (!found)
            fail_msg("no error saying '%s' among %zu", expected[i], errors.count);
    }
    for (size_t j = 0; j < errors.count; j++)
        if (strstr(errors.lines[j], "[point d/r] type"))
            fail_msg("a broken section's mistake repeated: %s", errors.lines[j]);
    config_errors_free(&errors);
}

static void test_good_file_values_and_defaults(void **state)
{
    (void)state;
    write_file(HEAD "max_size = 1.5 GiB\n" BUS
                    "[bus line]\ntype = rtu\ndevice = /dev/ttyUSB0\nbaud = 19200\nparity = even\n"
                    "stop_bits = 2\n"
                    "[device d]\nbus = b\nunit_id = 1\ninterval = 1.5s\n"
                    "[device w]\nbus = line\nunit_id = 240 ; GMP252 default\ninterval = 15m\n"
                    "response_timeout = 2s\nmax_registers = 16\nsingle_requests = yes\n"
                    "[point d/p]\nfunction = holding_register\naddress = 0x10\ntype = int32\n"
                    "word_order = cdab\nscale = 0.1\noffset = -40\nunit = °C\n"
                    "[point w/co2]\nfunction = input_register\naddress = 0\ntype = float32\n");
    struct gateway_config cfg;
    struct config_errors errors = {0};
    int rc = config_load(path, &cfg, &errors);
    for (size_t i = 0; i < errors.count; i++)
        print_error("%s\n", errors.lines[i]);
    assert_int_equal(rc, 0);
    unlink(path);
    assert_int_equal(cfg.bus_count, 2);
    assert_string_equal(bus_kinds[cfg.buses[1].kind].name, "rtu");
    assert_int_equal(cfg.buses[1].baud, 19200);
    assert_int_equal(cfg.buses[1].parity, 1);
    assert_int_equal(cfg.buses[1].stop_bits, 2);
    assert_int_equal(cfg.buses[0].port, 502);
    assert_int_equal(cfg.devices[0].interval_ms, 1500);
    assert_int_equal(cfg.devices[0].response_timeout_ms, 1000);
    assert_int_equal(cfg.devices[1].interval_ms, 15 * 60 * 1000);
    assert_int_equal(cfg.devices[1].unit_id, 240);
    assert_int_equal(cfg.devices[1].bus_index, 1);
    assert_true(cfg.devices[1].single_requests);
    assert_int_equal(modbus_point(&cfg.points[0].where)->address, 16);
    assert_int_equal(modbus_point(&cfg.points[0].where)->type, DT_INT32);
    assert_int_equal(modbus_point(&cfg.points[0].where)->word_order, WO_CDAB);
    assert_float_equal(cfg.points[0].offset, -40, 0);
    assert_string_equal(cfg.points[0].unit, "°C");
    assert_int_equal(cfg.points[1].device_index, 1);
    assert_int_equal(cfg.mqtt.qos, 1);
    assert_string_equal(cfg.mqtt.topic_prefix, "smartregion");
    assert_string_equal(cfg.mqtt.client_id, "sensor-gateway-gw");
    assert_int_equal(cfg.store.commit_interval_ms, 1000);
    assert_int_equal(cfg.store.max_size_bytes, 1536LL * 1024 * 1024);
    config_free(&cfg);
}

static void test_shipped_examples_load(void **state)
{
    (void)state;
    const char *files[] = {SOURCE_DIR "/config/examples/gateway.example.ini",
                           SOURCE_DIR "/config/examples/demo.ini"};
    for (size_t i = 0; i < 2; i++) {
        struct gateway_config cfg;
        struct config_errors errors = {0};
        int rc = config_load(files[i], &cfg, &errors);
        for (size_t j = 0; j < errors.count; j++)
            print_error("%s\n", errors.lines[j]);
        config_errors_free(&errors);
        assert_int_equal(rc, 0);
        assert_true(cfg.point_count > 0);
        config_free(&cfg);
    }
}

static int load_ok(const char *text, struct gateway_config *cfg)
{
    return load_config_text(text, cfg);
}

static const struct point_config *point_named(const struct gateway_config *cfg, const char *name)
{
    for (size_t i = 0; i < cfg->point_count; i++)
        if (strcmp(cfg->points[i].name, name) == 0)
            return &cfg->points[i];
    fail_msg("no point %s", name);
    return NULL;
}

/* Every built-in profile loads (on a TCP bus: no serial settings to match). */
static void test_every_profile_loads(void **state)
{
    (void)state;
    assert_true(builtin_profile_count >= 8);
    for (size_t i = 0; i < builtin_profile_count; i++) {
        char text[1024];
        snprintf(text, sizeof(text), HEAD BUS "[device d]\nbus = b\nprofile = %s\ninterval = 1s\n",
                 builtin_profiles[i].name);
        struct gateway_config cfg;
        if (load_ok(text, &cfg) != 0)
            fail_msg("profile %s does not load", builtin_profiles[i].name);
        assert_true(cfg.point_count >= 2);
        assert_true(cfg.devices[0].model[0] != '\0');
        for (size_t j = 0; j < cfg.point_count; j++)
            assert_string_equal(cfg.points[j].file, builtin_profiles[i].path);
        config_free(&cfg);
    }
}

/* The device section wins over the profile; so does a point section. */
/* A device's count_interval reaches its profile's counters; a point of the
 * file keeps its own; counters without either count per 15 minutes. The
 * site is kept as given; half a position is an error. */
static void test_device_intervals_and_site(void **state)
{
    (void)state;
    struct gateway_config cfg;
    assert_int_equal(
        load_ok(HEAD "[bus b]\ntype = tcp\nhost = 127.0.0.1\n"
                     "[device gate]\nbus = b\nunit_id = 1\ninterval = 1s\nprofile = "
                     "break-beam-counter\ncount_interval = 1h\nsite = Museum\nlatitude = 50.5\n"
                     "longitude = 9.9\n"
                     "[device own]\nbus = b\nunit_id = 2\ninterval = 1s\ncount_interval = 1h\n"
                     "[point own/in]\nkind = counter\nfunction = holding_register\naddress = 0\n"
                     "type = uint16\ncount_interval = 5m\n"
                     "[point own/out]\nkind = counter\nfunction = holding_register\n"
                     "address = 1\ntype = uint16\n"
                     "[device plain]\nbus = b\nunit_id = 3\ninterval = 1s\n"
                     "[point plain/in]\nkind = counter\nfunction = holding_register\n"
                     "address = 0\ntype = uint16\n",
                &cfg),
        0);
    for (size_t i = 0; i < cfg.point_count; i++) {
        const struct point_config *p = &cfg.points[i];
        if (p->kind != KIND_COUNTER)
            continue;
        int64_t want = strcmp(p->device_name, "plain") == 0                               ? 900000
                       : strcmp(p->device_name, "own") == 0 && strcmp(p->name, "in") == 0 ? 300000
                                                                                          : 3600000;
        if (p->count_interval_ms != want)
            fail_msg("%s/%s: count_interval %lld, expected %lld", p->device_name, p->name,
                     (long long)p->count_interval_ms, (long long)want);
    }
    assert_string_equal(cfg.devices[0].site, "Museum");
    assert_true(cfg.devices[0].latitude == 50.5 && cfg.devices[0].longitude == 9.9);
    config_free(&cfg);
    struct config_errors errors = load_broken(HEAD BUS DEV "latitude = 50.5\n" PT);
    assert_non_null(strstr(errors.lines[0], "give latitude and longitude together"));
    config_errors_free(&errors);
}

static void test_profile_overrides(void **state)
{
    (void)state;
    struct gateway_config cfg;
    assert_int_equal(load_ok(HEAD "[bus b]\ntype = rtu\ndevice = /dev/ttyUSB0\nbaud = 19200\n"
                                  "stop_bits = 2\n"
                                  "[device probe]\nbus = b\nprofile = gmp252\ninterval = 1s\n"
                                  "unit_id = 7\nresponse_timeout = 3s\n"
                                  "[device river]\nbus = b\nprofile = keller-s30\n"
                                  "interval = 1s\nbaud = 19200\nstop_bits = 2\n"
                                  "[point river/level]\nsource = pressure\nscale = 9.95\n"
                                  "unit = m\n",
                             &cfg),
                     0);
    assert_int_equal(cfg.devices[0].unit_id, 7);
    assert_int_equal(cfg.devices[0].response_timeout_ms, 3000);
    assert_string_equal(cfg.devices[0].model, "Vaisala GMP252 CO2 probe");
    assert_int_equal(cfg.devices[1].unit_id, 1); /* the profile's */
    const struct point_config *co2 = point_named(&cfg, "co2");
    assert_int_equal(modbus_point(&co2->where)->type, DT_FLOAT32);
    assert_int_equal(modbus_point(&co2->where)->word_order, WO_CDAB);
    const struct point_config *level = point_named(&cfg, "level");
    assert_true(level->scale == 9.95);
    assert_null(level->file); /* the INI file's own section */
    assert_true(level->derived_from_index >= 0);
    assert_string_equal(cfg.points[level->derived_from_index].name, "pressure");
    const struct point_config *temp = NULL;
    for (size_t i = 0; i < cfg.point_count; i++)
        if (strcmp(cfg.points[i].name, "temperature") == 0 &&
            strcmp(cfg.points[i].device_name, "river") == 0)
            temp = &cfg.points[i];
    assert_non_null(temp);
    assert_int_equal(modbus_point(&temp->where)->address, 0x0102);
    config_free(&cfg);
}

/* A valid file can still put the broker's password at risk: said, not refused. */
static size_t risks_of(const char *text, mode_t mode)
{
    write_file(text);
    assert_int_equal(chmod(path, mode), 0);
    struct gateway_config cfg;
    struct config_errors errors = {0}, warnings = {0};
    assert_int_equal(config_load(path, &cfg, &errors), 0);
    config_risks(&cfg, &warnings);
    size_t n = warnings.count;
    config_errors_free(&warnings);
    config_free(&cfg);
    unlink(path);
    return n;
}

static void test_risks_are_named(void **state)
{
    (void)state;
    const char *plain = "[gateway]\nid = gw\n[mqtt]\nuri = tcp://h:1883\npassword = s3cret\n"
                        "[store]\npath = /tmp/x.db\n" BUS DEV PT;
    const char *tls = "[gateway]\nid = gw\n[mqtt]\nuri = ssl://h:8883\ntls_verify = false\n"
                      "[store]\npath = /tmp/x.db\n" BUS DEV PT;
    assert_int_equal(risks_of(plain, 0644), 2); /* readable by all, and in clear */
    assert_int_equal(risks_of(plain, 0640), 1); /* in clear */
    assert_int_equal(risks_of(tls, 0644), 1);   /* no certificate check, no password */
    assert_int_equal(risks_of(HEAD BUS DEV PT, 0644), 0);
}

static void write_secret(const char *file, const char *text, mode_t mode)
{
    FILE *f = fopen(file, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    assert_int_equal(chmod(file, mode), 0);
}

#define WITH_PASSWORD_FILE(name)                                                                   \
    "[gateway]\nid = gw\n[mqtt]\nuri = ssl://h:8883\npassword_file = " name                        \
    "\n[store]\npath = /tmp/x.db\n" BUS DEV PT

/* password_file: next to the INI file, or in systemd's credentials
 * directory first; its first line is the password; a file readable by
 * everyone is a risk named; a missing one, or a password set as well, is
 * an error on the key's line. */
static void test_password_file(void **state)
{
    (void)state;
    struct gateway_config cfg;
    write_secret("/tmp/gw-test-secret", "s3cret\n", 0640);
    assert_int_equal(load_ok(WITH_PASSWORD_FILE("gw-test-secret"), &cfg), 0);
    assert_string_equal(cfg.mqtt.password, "s3cret");
    assert_string_equal(cfg.mqtt.password_file, "/tmp/gw-test-secret");
    config_free(&cfg);
    assert_int_equal(risks_of(WITH_PASSWORD_FILE("/tmp/gw-test-secret"), 0640), 0);
    assert_int_equal(chmod("/tmp/gw-test-secret", 0644), 0);
    assert_int_equal(risks_of(WITH_PASSWORD_FILE("/tmp/gw-test-secret"), 0640), 1);

    char dir[] = "/tmp/gw-test-creds-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char in_dir[64];
    snprintf(in_dir, sizeof(in_dir), "%s/gw-test-secret", dir);
    write_secret(in_dir, "from-systemd", 0400);
    setenv("CREDENTIALS_DIRECTORY", dir, 1);
    assert_int_equal(load_ok(WITH_PASSWORD_FILE("gw-test-secret"), &cfg), 0);
    assert_string_equal(cfg.mqtt.password, "from-systemd");
    config_free(&cfg);
    unsetenv("CREDENTIALS_DIRECTORY");
    unlink(in_dir);
    rmdir(dir);
    unlink("/tmp/gw-test-secret");

    struct config_errors errors = load_broken(WITH_PASSWORD_FILE("gw-test-secret"));
    assert_non_null(strstr(errors.lines[0], ":5: [mqtt] password_file: "));
    assert_non_null(strstr(errors.lines[0], "cannot be read: No such file or directory"));
    config_errors_free(&errors);
    write_secret("/tmp/gw-test-secret", "s3cret\n", 0600);
    errors =
        load_broken("[gateway]\nid = gw\n[mqtt]\nuri = ssl://h:8883\npassword = x\n"
                    "password_file = /tmp/gw-test-secret\n[store]\npath = /tmp/x.db\n" BUS DEV PT);
    assert_non_null(strstr(errors.lines[0], ":6: [mqtt] password_file: password is set too"));
    config_errors_free(&errors);
    write_secret("/tmp/gw-test-secret", "\n", 0600);
    errors = load_broken(WITH_PASSWORD_FILE("/tmp/gw-test-secret"));
    assert_non_null(strstr(errors.lines[0], "is empty"));
    config_errors_free(&errors);
    unlink("/tmp/gw-test-secret");
}

/* The INI parser's choices for [bus] type are the kinds' table, in order. */
static void test_bus_kinds_match_their_names(void **state)
{
    (void)state;
    int n = 0;
    while (bus_kind_names[n])
        n++;
    assert_int_equal(n, bus_kind_count);
    for (int i = 0; i < bus_kind_count; i++)
        assert_string_equal(bus_kind_names[i], bus_kinds[i].name);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_broken_catalogue),
        cmocka_unit_test(test_every_problem_is_reported),
        cmocka_unit_test(test_one_run_reports_every_stage),
        cmocka_unit_test(test_good_file_values_and_defaults),
        cmocka_unit_test(test_shipped_examples_load),
        cmocka_unit_test(test_every_profile_loads),
        cmocka_unit_test(test_profile_overrides),
        cmocka_unit_test(test_device_intervals_and_site),
        cmocka_unit_test(test_risks_are_named),
        cmocka_unit_test(test_password_file),
        cmocka_unit_test(test_bus_kinds_match_their_names),
    };
    return cmocka_run_group_tests_name("config", tests, NULL, NULL);
}
