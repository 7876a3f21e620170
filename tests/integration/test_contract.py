"""The dashboard contract beyond readings: per-device metadata and the
gateway's health, both retained, both valid against docs/schemas (as every
message of every test is, see harness.validate_messages).

A subscriber that connects late must get the status, the health and every
device's metadata at once, from the broker, without the backlog."""
import json

from harness import (DemoRig, Subscriber, check, figure, run_test, wait_until)


def messages(sub, suffix):
    return [(t, p) for t, p in (line.split(" ", 1) for line in sub.lines()) if t.endswith(suffix)]


def body(work):
    rig = DemoRig(work, "contract", interval_ms=200)
    ini = open(rig.gw.ini).read().replace("id = test-gw", "id = test-gw\nhealth_interval = 1s")
    ini = ini.replace("unit = visitors", "unit = visitors\nkind = counter")
    # Where the counter stands, and intervals given once per device.
    ini = ini.replace("response_timeout = 500ms\n", "response_timeout = 500ms\n"
                      "site = Nordpfad trailhead\nsite_description = car park, east gate\n"
                      "latitude = 50.4969\nlongitude = 9.9354\ndirection_in = into the forest\n"
                      "count_interval = 1m\n", 1)
    ini = ini.replace("[device weather]\n", "[device weather]\nwindow = 10m\n")
    with open(rig.gw.ini, "w") as f:
        f.write(ini)
    everything = Subscriber(work, rig.broker, "smartregion/test-gw/#", "contract-all")
    rig.gw.start()
    wait_until(lambda: len(messages(everything, "/health")) >= 4, 20, "four health messages")

    metas = {t: json.loads(p) for t, p in messages(everything, "/meta")}
    check(set(metas) == {"smartregion/test-gw/devices/trail_north/meta",
                         "smartregion/test-gw/devices/weather/meta"}, f"metadata topics {set(metas)}")
    trail = metas["smartregion/test-gw/devices/trail_north/meta"]
    check(trail["transport"] == "modbus-tcp" and trail["unit_id"] == 1 and
          trail["interval_ms"] == 200, f"trail_north metadata {trail}")
    check([(p["name"], p["kind"], p["data_type"], p["unit"], p["count_interval_ms"])
           for p in trail["points"]] ==
          [("visitors_in", "counter", "uint16", "visitors", 60000),
           ("visitors_out", "counter", "uint16", "visitors", 60000)], f"trail_north points {trail}")
    check(trail["site"] == {"name": "Nordpfad trailhead", "description": "car park, east gate",
                            "latitude": 50.4969, "longitude": 9.9354,
                            "direction_in": "into the forest"}, f"trail_north site {trail}")
    weather = metas["smartregion/test-gw/devices/weather/meta"]
    by_name = {p["name"]: p for p in weather["points"]}
    check(weather["transport"] == "modbus-rtu" and by_name["temperature"]["scale"] == 0.1 and
          by_name["illuminance"]["word_order"] == "CDAB" and
          by_name["pressure"]["data_type"] == "float32" and
          by_name["temperature"]["kind"] == "measurement" and "site" not in weather and
          all(p["window_ms"] == 600000 for p in weather["points"]), f"weather metadata {weather}")

    healths = [json.loads(p) for _, p in messages(everything, "/health")]
    uptimes = [h["uptime_s"] for h in healths]
    check(uptimes == sorted(uptimes) and uptimes[-1] >= 2, f"uptime does not advance: {uptimes}")
    last = healths[-1]
    for device in ("trail_north", "weather"):
        d = last["devices"][device]
        check(d["polls_ok"] > 0 and d["polls_failed"] == 0 and d["last_error"] is None,
              f"{device} health {d}")
    check(last["broker"]["connects"] == 1 and last["readings"]["polled"] > 0,
          f"health counters {last}")

    # A dashboard that subscribes now gets the current picture at once.
    late = Subscriber(work, rig.broker, "smartregion/test-gw/#", "contract-late")
    wait_until(lambda: len(messages(late, "/meta")) == 2 and messages(late, "/health") and
               messages(late, "/status"), 5, "retained messages for a late subscriber")
    check(messages(late, "/status")[0][1] == "online", "a late subscriber does not see online")
    rig.gw.stop()
    figure(f"metadata for 2 devices (6 points), {len(healths)} health messages at 1 s "
           f"(uptime {uptimes[0]}..{uptimes[-1]} s, polls ok {last['devices']['weather']['polls_ok']}"
           f" for weather); a late subscriber got status, health and metadata at once. "
           f"Example health: {json.dumps(last)}")


if __name__ == "__main__":
    run_test("contract", body)
