"""Optional Home Assistant discovery ([mqtt] ha_discovery = true): one
retained config document per entity on homeassistant/.../config, each valid
against docs/schemas/ha-discovery.schema.json, each pointing at a topic the
gateway really publishes.

Home Assistant itself cannot run here (it is not a Debian package), so the
test does what it would do with a document: it renders the value_template
with Jinja2 (python3-jinja2, the engine Home Assistant templates are written
in) against the newest good message on the state topic, and checks the
state that results: the value for a good reading, None (Home Assistant's
"unknown") for one whose quality is not good."""
import json

from harness import DemoRig, Subscriber, check, figure, run_test, wait_until

EXPECTED = {  # object id -> (component, device_class, unit, state_class, field)
    "trail_north_visitors_in": ("sensor", None, "visitors", "total_increasing", "value"),
    "trail_north_visitors_in_count": ("sensor", None, "visitors", "measurement", "count"),
    "trail_north_visitors_out": ("sensor", None, "visitors", "total_increasing", "value"),
    "trail_north_visitors_out_count": ("sensor", None, "visitors", "measurement", "count"),
    "weather_temperature": ("sensor", "temperature", "°C", "measurement", "value"),
    "weather_temperature_avg": ("sensor", "temperature", "°C", "measurement", "avg"),
    "weather_humidity": ("sensor", "humidity", "%", "measurement", "value"),
    "weather_pressure": ("sensor", "pressure", "hPa", "measurement", "value"),
    "weather_illuminance": ("sensor", "illuminance", "lx", "measurement", "value"),
}


def render(template, payload, previous="previous"):
    """As Home Assistant renders a value_template: the message as
    value_json, the entity's current state as this.state."""
    import jinja2
    return jinja2.Environment().from_string(template).render(value_json=payload,
                                                             this={"state": previous})


def configs(sub):
    found = {}
    for line in sub.lines():
        topic, payload = line.split(" ", 1)
        found[topic] = json.loads(payload)
    return found


def fields_of(payload, point):
    """A point's fields: in a device message (layout = device) its entry
    under points, otherwise the message itself."""
    return payload["points"].get(point) if "points" in payload else payload


def newest_good_on(sub, topic, point=None):
    """The newest message on topic whose quality is good for point (a poll
    that failed on the pty now and then gives a bad one, which is not what
    is tested)."""
    payloads = [json.loads(p) for t, p in (line.split(" ", 1) for line in sub.lines())
                if t == topic]
    good = [p for p in payloads if (fields_of(p, point) or {}).get("quality") == "good"]
    return good[-1] if good else None


def check_entity(object_id, doc, data):
    component, device_class, unit, state_class, field = EXPECTED[object_id]
    check(doc["unique_id"] == f"test-gw_{object_id}", f"{object_id}: unique id {doc['unique_id']}")
    check(doc.get("device_class") == device_class and doc.get("unit_of_measurement") == unit and
          doc.get("state_class") == state_class,
          f"{object_id}: class/unit/state class {doc}")
    check(doc["availability_topic"] == "smartregion/test-gw/status",
          f"{object_id}: availability {doc['availability_topic']}")
    device = object_id.split("_")[0] if object_id.startswith("weather") else "trail_north"
    check(doc["device"]["identifiers"] == [f"test-gw_{device}"] and doc["device"]["name"] == device,
          f"{object_id}: device {doc['device']}")
    point = object_id[len(device) + 1:]
    payload = newest_good_on(data, doc["state_topic"], point)
    check(payload is not None, f"{object_id}: no good message arrived on {doc['state_topic']}")
    state = render(doc["value_template"], payload)
    check(state == str(fields_of(payload, point)[field]),
          f"{object_id}: template gave {state!r} for {payload}")
    stale = json.loads(json.dumps(payload))
    fields_of(stale, point)["quality"] = "stale"
    check(render(doc["value_template"], stale) == "None",
          f"{object_id}: a stale value must render None, got {render(doc['value_template'], stale)}")
    if "points" in payload:  # a poll that did not carry the point leaves the state alone
        other = dict(payload, points={k: v for k, v in payload["points"].items() if k != point})
        check(render(doc["value_template"], other, "41") == "41",
              f"{object_id}: a device message without the point changed the state")
    check(doc["json_attributes_topic"] == doc["state_topic"], f"{object_id}: attributes topic")
    return state


def body(work):
    rig = DemoRig(work, "ha", interval_ms=200, mqtt_extra="ha_discovery = true")
    ini = open(rig.gw.ini).read().replace("unit = visitors", "unit = visitors\nkind = counter\n"
                                                             "count_interval = 1s")
    ini = ini.replace("unit = °C", "unit = °C\nwindow = 1s")
    with open(rig.gw.ini, "w") as f:
        f.write(ini)
    discovery = Subscriber(work, rig.broker, "homeassistant/#", "ha-discovery")
    data = Subscriber(work, rig.broker, "smartregion/test-gw/#", "ha-data")
    rig.gw.start()
    wait_until(lambda: len(configs(discovery)) >= len(EXPECTED), 20, "discovery documents")
    # Every entity's state topic must have carried a good message.
    wait_until(lambda: all(newest_good_on(data, d["state_topic"],
                                          d["unique_id"][len(f"test-gw_{d['device']['name']}_"):])
                           for d in configs(discovery).values()),
               20, "a good message on every state topic")

    found = configs(discovery)
    by_id = {}
    for topic, doc in found.items():
        parts = topic.split("/")
        check(len(parts) == 5 and parts[2] == "test-gw" and parts[4] == "config",
              f"discovery topic {topic}")
        check(parts[1] == EXPECTED.get(parts[3], ("?",))[0], f"component of {topic}")
        by_id[parts[3]] = doc
    check(set(by_id) == set(EXPECTED), f"entities {sorted(by_id)}, expected {sorted(EXPECTED)}")
    states = {oid: check_entity(oid, doc, data) for oid, doc in sorted(by_id.items())}

    late = Subscriber(work, rig.broker, "homeassistant/#", "ha-late")
    wait_until(lambda: len(configs(late)) == len(EXPECTED), 5, "retained discovery documents")
    rig.gw.stop()
    figure(f"{len(by_id)} entities discovered (2 counters with counts per interval, 4 "
           f"measurements, 1 window average), all retained for a late subscriber; every "
           f"value_template rendered with Jinja2 against the newest good message gave its value "
           f"({states['weather_temperature']} °C, {states['trail_north_visitors_in_count']} "
           f"visitors per 1 s) and None for a stale one. Example: "
           f"{json.dumps(by_id['weather_humidity'], ensure_ascii=False)}")


if __name__ == "__main__":
    run_test("ha_discovery", body)
