"""[gateway] metrics_file: the health message in Prometheus text format,
for node_exporter's textfile collector.

The demo's two devices (a visitor counter on Modbus TCP, the environmental
sensor on an RTU line) with health every second. The file must parse with
Prometheus's own text parser (Debian's python3-prometheus-client), follow
the naming conventions (a HELP and TYPE per family, counters ending in
_total, base units), and hold exactly the figures of the health message
written at the same moment (status_file): each file names that moment. A
metrics file that cannot be written is logged, and polling goes on."""
import json
import os
import time

from prometheus_client.parser import text_string_to_metric_families

from harness import (SLOW, Broker, Gateway, check, demo_ini, demo_stubs, figure, iso_ms,
                     run_test, wait_until)


def gateway_ini(work, broker, counter, env, metrics_path, status_path):
    ini = demo_ini(broker.port, counter.address.split(":")[1], env.address,
                   work.file("store.db"), interval_ms=200)
    return ini.replace("[gateway]\nid = test-gw\n",
                       f"[gateway]\nid = test-gw\nhealth_interval = 1s\n"
                       f"status_file = {status_path}\nmetrics_file = {metrics_path}\n", 1)


def samples(text):
    """{(name, sorted label items): value} and the families."""
    families = list(text_string_to_metric_families(text))
    values = {(s.name, tuple(sorted(s.labels.items()))): s.value
              for fam in families for s in fam.samples}
    return values, families


def same_moment(metrics_path, status_path):
    """The metrics and the status file of one health round (the daemon
    replaces both each second; a reader can fall between them)."""
    for _ in range(int(50 * SLOW)):
        with open(metrics_path) as f:
            text = f.read()
        with open(status_path) as f:
            health = json.load(f)
        values, families = samples(text)
        ts = values.get(("sensor_gateway_health_timestamp_seconds", ()))
        if ts is not None and abs(ts * 1000 - iso_ms(health["ts"])) < 1:
            return text, values, families, health
        time.sleep(0.1)
    raise AssertionError("metrics and status file never from the same health round")


def check_equal(values, health):
    def expect(name, value, **labels):
        key = (name, tuple(sorted(labels.items())))
        check(key in values, f"{name}{labels} missing from the metrics")
        check(values[key] == value, f"{name}{labels} = {values[key]}, health says {value}")

    for outcome, v in health["readings"].items():
        if outcome == "store_errors":
            expect("sensor_gateway_store_errors_total", v)
        else:
            expect("sensor_gateway_readings_total", v, outcome=outcome)
    for outcome, v in health["messages"].items():
        expect("sensor_gateway_messages_total", v, outcome=outcome)
    store = health["store"]
    for key, name in (("depth", "store_depth_readings"), ("depth_messages", "store_depth_messages"),
                      ("set_aside_readings", "store_set_aside_readings"),
                      ("set_aside_messages", "store_set_aside_messages"),
                      ("dropped_total", "store_dropped_readings_total"),
                      ("next_seq", "store_next_seq")):
        expect("sensor_gateway_" + name, store[key])
    expect("sensor_gateway_broker_connects_total", health["broker"]["connects"])
    expect("sensor_gateway_broker_losses_total", health["broker"]["reconnects"])
    for outcome, v in health["commands"].items():
        expect("sensor_gateway_commands_total", v, outcome=outcome)
    config = health["config"]
    expect("sensor_gateway_config_reloads_total", config["reloads_applied"], outcome="applied")
    expect("sensor_gateway_config_reloads_total", config["reloads_refused"], outcome="refused")
    expect("sensor_gateway_config_last_reload_successful",
           int(config["last_reload"] is None or config["last_reload"]["applied"]))
    expect("sensor_gateway_uptime_seconds", health["uptime_s"])
    expect("sensor_gateway_clock_synced", int(health["clock_synced"]))
    expect("sensor_gateway_info", 1, gateway=health["gateway"], version=health["version"],
           store=store["id"])
    for device, d in health["devices"].items():
        expect("sensor_gateway_device_polls_total", d["polls_ok"], device=device, result="ok")
        expect("sensor_gateway_device_polls_total", d["polls_failed"], device=device,
               result="failed")
    check(health["lines"], "the health names no serial line")
    for bus, line in health["lines"].items():
        expect("sensor_gateway_line_busy_ratio", line["busy_share"], bus=bus)
        expect("sensor_gateway_line_busy_seconds_total", line["busy_s"], bus=bus)
        expect("sensor_gateway_line_polls_total", line["polls"], bus=bus)
        expect("sensor_gateway_line_polls_late_total", line["polls_late"], bus=bus)
        expect("sensor_gateway_line_stray_bytes_total", line["stray_bytes"], bus=bus)


def check_conventions(text, families):
    for fam in families:
        check(fam.name.startswith("sensor_gateway_"), f"{fam.name}: not under sensor_gateway_")
        check(f"# HELP {fam.name}" in text and fam.documentation, f"{fam.name}: no HELP")
        check(fam.type in ("counter", "gauge"), f"{fam.name}: type {fam.type}")
        for s in fam.samples:
            # the parser drops a counter family's _total; its samples keep it
            check(fam.type != "counter" or s.name.endswith("_total"),
                  f"counter sample {s.name} does not end in _total")
    check(text.endswith("\n") and not text.endswith("\n\n"), "the file does not end in one newline")


def body(work):
    broker = Broker(work)
    broker.start()
    counter, env = demo_stubs(work)
    metrics_path, status_path = work.file("gateway.prom"), work.file("health.json")
    gw = Gateway(work, gateway_ini(work, broker, counter, env, metrics_path, status_path))
    gw.start()
    gw.wait_connected()
    wait_until(lambda: os.path.exists(metrics_path) and os.path.exists(status_path), 10,
               "the metrics and status files")
    time.sleep(3 * SLOW)  # polls counted, a second health round
    text, values, families, health = same_moment(metrics_path, status_path)
    check_equal(values, health)
    check_conventions(text, families)
    check(not os.path.exists(metrics_path + ".tmp"), "a half-written metrics file was left")
    gw.stop()

    broken = Gateway(work, gateway_ini(work, broker, counter, env, "/nonexistent/gateway.prom",
                                       work.file("health2.json")), name="unwritable")
    broken.start()
    wait_until(lambda: "metrics file /nonexistent/gateway.prom: cannot be written" in broken.log(),
               10, "the unwritable metrics file to be logged")
    wait_until(lambda: os.path.exists(work.file("health2.json")), 10,
               "the status file despite the metrics file")
    check(broken.proc.poll() is None, "the gateway stopped over an unwritable metrics file")
    broken.stop()
    figure(f"{len(families)} metric families, {len(values)} samples, equal to the health message "
           f"of the same moment; parsed by prometheus_client; an unwritable file logged, polling on")


if __name__ == "__main__":
    run_test("metrics", body)
