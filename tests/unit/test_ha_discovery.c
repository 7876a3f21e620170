/* Home Assistant discovery documents built from a loaded INI file: which
 * entities a point gets, their topics, classes and units, and the object id
 * clashes that must stop the gateway before it starts. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/config.h"
#include "config_text.h"
#include "outputs/mqtt/ha_discovery.h"

#define HEAD                                                                                       \
    "[gateway]\nid = gw\n[mqtt]\nuri = tcp://127.0.0.1:1883\nha_discovery = yes\n[store]\npath = " \
    "/tmp/x.db\n[bus b]\ntype = tcp\nhost = 127.0.0.1\n"

static int load(const char *text, struct gateway_config *cfg)
{
    return load_config_text(text, cfg);
}

static const struct point_config *point(const struct gateway_config *cfg, const char *name)
{
    for (size_t i = 0; i < cfg->point_count; i++)
        if (strcmp(cfg->points[i].name, name) == 0)
            return &cfg->points[i];
    fail_msg("no point %s", name);
    return NULL;
}

/* The document's value for a key, "" when it has none. */
static const char *field(json_object *doc, const char *key)
{
    json_object *v = NULL;
    return json_object_object_get_ex(doc, key, &v) ? json_object_get_string(v) : "";
}

static json_object *document(const struct gateway_config *cfg, const char *name,
                             enum ha_stream stream)
{
    char *text = ha_discovery_json(cfg, point(cfg, name), stream);
    assert_non_null(text);
    json_object *doc = json_tokener_parse(text);
    free(text);
    assert_non_null(doc);
    return doc;
}

static void test_entities_topics_and_classes(void **state)
{
    (void)state;
    struct gateway_config cfg;
    assert_int_equal(load(HEAD "[device gate]\nbus = b\nunit_id = 1\ninterval = 1s\n"
                               "[point gate/in]\nfunction = holding_register\naddress = 0\n"
                               "type = uint16\nkind = counter\nunit = visitors\n"
                               "[point gate/open]\nfunction = coil\naddress = 0\ntype = bool\n"
                               "[point gate/rh]\nfunction = input_register\naddress = 1\n"
                               "type = uint16\nscale = 0.1\nunit = %RH\nwindow = 10m\n"
                               "publish = none\n",
                          &cfg),
                     0);
    assert_int_equal(ha_discovery_check(&cfg, &(struct config_errors){0}), 0);
    const struct point_config *in = point(&cfg, "in"), *open = point(&cfg, "open"),
                              *rh = point(&cfg, "rh");
    assert_true(ha_entity_exists(in, HA_READINGS) && ha_entity_exists(in, HA_INDICATOR));
    assert_true(ha_entity_exists(open, HA_READINGS) && !ha_entity_exists(open, HA_INDICATOR));
    assert_true(!ha_entity_exists(rh, HA_READINGS) && ha_entity_exists(rh, HA_INDICATOR));

    char topic[320];
    assert_true(ha_discovery_topic(topic, sizeof(topic), &cfg, in, HA_INDICATOR) > 0);
    assert_string_equal(topic, "homeassistant/sensor/gw/gate_in_count/config");
    assert_true(ha_discovery_topic(topic, sizeof(topic), &cfg, open, HA_READINGS) > 0);
    assert_string_equal(topic, "homeassistant/binary_sensor/gw/gate_open/config");
    assert_int_equal(ha_discovery_topic(topic, 20, &cfg, in, HA_READINGS), -1);

    json_object *doc = document(&cfg, "in", HA_READINGS);
    /* layout = device: the device's topic, the point picked by the template */
    assert_string_equal(field(doc, "state_topic"), "smartregion/gw/readings/gate");
    assert_non_null(strstr(field(doc, "value_template"), "value_json.points['in']"));
    assert_string_equal(field(doc, "state_class"), "total_increasing");
    assert_string_equal(field(doc, "device_class"), "");
    json_object_put(doc);

    doc = document(&cfg, "in", HA_INDICATOR);
    assert_string_equal(field(doc, "name"), "in per 15 min");
    assert_string_equal(field(doc, "state_topic"), "smartregion/gw/indicators/gate/in");
    assert_string_equal(field(doc, "state_class"), "measurement");
    assert_non_null(strstr(field(doc, "value_template"), "value_json.count"));
    json_object_put(doc);

    doc = document(&cfg, "open", HA_READINGS);
    assert_string_equal(field(doc, "unit_of_measurement"), "");
    assert_string_equal(field(doc, "state_class"), "");
    assert_non_null(strstr(field(doc, "value_template"), "'ON'"));
    json_object_put(doc);

    doc = document(&cfg, "rh", HA_INDICATOR); /* %RH is Home Assistant's humidity in % */
    assert_string_equal(field(doc, "name"), "rh 10 min average");
    assert_string_equal(field(doc, "device_class"), "humidity");
    assert_string_equal(field(doc, "unit_of_measurement"), "%");
    assert_string_equal(field(doc, "unique_id"), "gw_gate_rh_avg");
    json_object_put(doc);
    config_free(&cfg);
}

static void test_object_id_clash_is_an_error(void **state)
{
    (void)state;
    struct gateway_config cfg;
    assert_int_equal(load(HEAD "[device a_b]\nbus = b\nunit_id = 1\ninterval = 1s\n"
                               "[point a_b/c]\nfunction = holding_register\naddress = 0\n"
                               "type = uint16\n"
                               "[device a]\nbus = b\nunit_id = 2\ninterval = 1s\n"
                               "[point a/b_c]\nfunction = holding_register\naddress = 0\n"
                               "type = uint16\n",
                          &cfg),
                     0);
    struct config_errors errors = {0};
    assert_int_equal(ha_discovery_check(&cfg, &errors), 1);
    assert_int_equal(errors.count, 1);
    assert_non_null(strstr(errors.lines[0], ":23: [point a/b_c]: its Home Assistant object id "
                                            "'a_b_c' is also that of point a_b/c (line 15)"));
    config_errors_free(&errors);
    config_free(&cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_entities_topics_and_classes),
        cmocka_unit_test(test_object_id_clash_is_an_error),
    };
    return cmocka_run_group_tests_name("ha_discovery", tests, NULL, NULL);
}
