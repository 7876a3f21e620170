/* The health message as Prometheus text: names, labels, escaping, nulls. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "outputs/metrics.h"

static const char *const HEALTH =
    "{\"schema_version\":3,\"ts\":\"2026-11-25T10:15:00.123Z\",\"gateway\":\"north\","
    "\"version\":\"0.1.0\",\"uptime_s\":3600,\"clock_synced\":true,"
    "\"store\":{\"id\":\"5f0c93a1\",\"depth\":12,\"depth_messages\":4,\"set_aside_readings\":0,"
    "\"set_aside_messages\":0,\"oldest_unsent_age_s\":null,\"dropped_total\":3,"
    "\"next_seq\":13746,\"first_seq\":13001},"
    "\"readings\":{\"polled\":41234,\"stored\":41234,\"published\":41222,\"acknowledged\":41222,"
    "\"refused\":0,\"dropped_queue_full\":0,\"dropped_store_bound\":0,\"dropped_store_full\":0,"
    "\"store_errors\":1},"
    "\"messages\":{\"published\":13741,\"acknowledged\":13741,\"refused\":0},"
    "\"broker\":{\"connects\":2,\"reconnects\":1},"
    "\"config\":{\"reloads_applied\":3,\"reloads_refused\":1,\"last_reload\":"
    "{\"ts\":\"2026-11-25T10:00:00.000Z\",\"applied\":false,\"message\":\"x\"}},"
    "\"lines\":{\"rs485-1\":{\"busy_share\":0.42,\"busy_s\":1512,\"polls\":7200,"
    "\"polls_late\":5,\"stray_bytes\":25}},"
    "\"devices\":{\"trail\\\"north\":{\"polls_ok\":3600,\"polls_failed\":2,\"last_ok\":null,"
    "\"last_error_at\":null,\"last_error\":null}}}";

static void assert_has(const char *text, const char *line)
{
    if (!strstr(text, line))
        fail_msg("missing: %s\nin:\n%s", line, text);
}

static void test_figures_and_names(void **state)
{
    (void)state;
    char *text = metrics_from_health(HEALTH);
    assert_non_null(text);
    assert_has(text, "# TYPE sensor_gateway_readings_total counter\n");
    assert_has(text, "sensor_gateway_readings_total{outcome=\"acknowledged\"} 41222\n");
    assert_has(text, "sensor_gateway_store_errors_total 1\n");
    assert_has(text, "sensor_gateway_messages_total{outcome=\"published\"} 13741\n");
    assert_has(text, "sensor_gateway_store_depth_readings 12\n");
    assert_has(text, "sensor_gateway_store_dropped_readings_total 3\n");
    assert_has(text, "sensor_gateway_broker_losses_total 1\n");
    assert_has(text, "sensor_gateway_clock_synced 1\n");
    assert_has(text, "sensor_gateway_health_timestamp_seconds 1795601700.123\n");
    assert_has(text, "sensor_gateway_info{gateway=\"north\",version=\"0.1.0\",store=\"5f0c93a1\"} 1\n");
    assert_has(text, "sensor_gateway_line_busy_ratio{bus=\"rs485-1\"} 0.42\n");
    assert_has(text, "sensor_gateway_config_reloads_total{outcome=\"applied\"} 3\n");
    assert_has(text, "sensor_gateway_config_reloads_total{outcome=\"refused\"} 1\n");
    assert_has(text, "sensor_gateway_config_last_reload_successful 0\n");
    assert_has(text, "sensor_gateway_line_polls_late_total{bus=\"rs485-1\"} 5\n");
    /* a label value's quote escaped */
    assert_has(text, "sensor_gateway_device_polls_total{device=\"trail\\\"north\",result=\"failed\"} 2\n");
    /* null: no sample, the family still described */
    assert_has(text, "# TYPE sensor_gateway_store_oldest_unsent_age_seconds gauge\n");
    assert_null(strstr(text, "\nsensor_gateway_store_oldest_unsent_age_seconds "));
    free(text);
}

static void test_not_json(void **state)
{
    (void)state;
    assert_null(metrics_from_health("{not json"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_figures_and_names),
        cmocka_unit_test(test_not_json),
    };
    return cmocka_run_group_tests_name("metrics", tests, NULL, NULL);
}
