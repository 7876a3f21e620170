"""The box's own sensors as a second source (sources/sysfs): a real sysfs
counter of this machine (the loopback interface's received packets, which
the test's own MQTT traffic drives) and a temperature file the test writes
(a VM has no thermal zone), polled every 200 ms by the real daemon and
forwarded to a real mosquitto beside a Modbus device.

What has to hold: the temperature readings are exactly the file's
millidegrees times the scale, following each value the test writes; the
packet counter never goes back and its counts are the differences of its
readings; the device's metadata names transport sysfs and each point's
file; a file that goes away fails the device like a silent one (counted,
logged with the file's name) and it answers again when the file is back."""
import json
import os
import time

from harness import (SLOW, Broker, Gateway, Stub, Subscriber, check, demo_ini, figure, iso_ms,
                     point_payloads, run_test, status, wait_until)

RX = "/sys/class/net/lo/statistics/rx_packets"


def gateway_ini(work, broker, counter, env, temp_file, status_path):
    ini = demo_ini(broker.port, counter.address.split(":")[1], env.address, work.file("store.db"),
                   interval_ms=500)
    ini = ini.replace("[gateway]\nid = test-gw\n",
                      f"[gateway]\nid = test-gw\nhealth_interval = 1s\nstatus_file = {status_path}\n",
                      1)
    return ini + f"""
[bus board]
type = sysfs

[device self]
bus = board
interval = 200ms

[point self/lo_rx_packets]
file = {RX}
format = unsigned
kind = counter
count_interval = 2s
unit = packets

[point self/temperature]
file = {temp_file}
scale = 0.001
unit = °C
"""


def readings(sub, point):
    out = {}
    for line in sub.lines():
        topic, payload = line.split(" ", 1)
        if "/readings/self" in topic:
            for p in point_payloads(json.loads(payload)):
                if p["point"] == point:
                    out[p["seq"]] = p
    return [out[k] for k in sorted(out)]


def body(work):
    check(os.path.exists(RX), f"{RX} is missing on this machine")
    broker = Broker(work)
    broker.start()
    counter = Stub(work, "visitor-counter-stub", ["--tcp", "0"])
    env = Stub(work, "env-sensor-stub", ["--rtu-pty", "--unit", "3", "--parity", "E",
                                         "--baud", "19200"])
    sub = Subscriber(work, broker, "smartregion/test-gw/#", "sysfs-sub")
    temp_file, status_path = work.file("cpu_temp"), work.file("health.json")
    with open(temp_file, "w") as f:
        f.write("41000\n")
    gw = Gateway(work, gateway_ini(work, broker, counter, env, temp_file, status_path))
    gw.start()
    gw.wait_connected()
    written = [41000, 52250, -3125]

    def read_back(millidegrees):
        return any(abs(r["value"] - millidegrees / 1000) < 1e-9
                   for r in readings(sub, "temperature"))

    for before, millidegrees in zip(written, written[1:]):
        wait_until(lambda: read_back(before), 10, f"{before / 1000} in the readings")
        with open(temp_file + ".new", "w") as f:
            f.write(f"{millidegrees}\n")
        os.replace(temp_file + ".new", temp_file)
    wait_until(lambda: read_back(written[-1]), 10, "the last value in the readings")
    seen = {round(r["value"] * 1000) for r in readings(sub, "temperature")}
    check(seen == set(written), f"temperatures read {sorted(seen)}, written {written}")

    # The file goes away: the device fails, logged with the file; then it is back.
    os.unlink(temp_file)
    wait_until(lambda: "No such file" in gw.log(), 10, "the missing file in the log")
    wait_until(lambda: (status(status_path) or {}).get("devices", {}).get("self", {})
               .get("polls_failed", 0) > 0, 10, "health to count the failed polls")
    with open(temp_file, "w") as f:
        f.write("40000\n")
    wait_until(lambda: "device self: answers again" in gw.log(), 30,
               "the device to answer again")
    wait_until(lambda: len([c for c in sub.lines() if "/indicators/self/lo_rx_packets " in c]) >= 2,
               20, "two counts of the packet counter")
    gw.stop()
    sub.flush()

    rx = readings(sub, "lo_rx_packets")
    values = [r["value"] for r in rx]
    check(len(values) > 10 and values == sorted(values) and values[-1] > values[0],
          f"the packet counter went back or stood still: {values[:5]}...{values[-5:]}")
    counts = []
    for line in sub.lines():
        topic, payload = line.split(" ", 1)
        if topic.endswith("/indicators/self/lo_rx_packets"):
            counts.extend(p for p in point_payloads(json.loads(payload)) if p.get("count") is not None)
    by_ts = {r["ts"]: r["value"] for r in rx}
    for c in counts:
        if "baseline" in c["events"] or c["from"] not in by_ts or c["to"] not in by_ts:
            continue
        check(c["count"] == by_ts[c["to"]] - by_ts[c["from"]],
              f"count {c['count']} is not the readings' difference: {c}")
    metas = [json.loads(line.split(" ", 1)[1]) for line in sub.lines()
             if line.split(" ", 1)[0].endswith("/devices/self/meta")]
    check(metas and metas[-1]["transport"] == "sysfs", f"self's metadata: {metas[-1:]}")
    files = {p["name"]: p.get("file") for p in metas[-1]["points"]}
    check(files == {"lo_rx_packets": RX, "temperature": temp_file}, f"points' files: {files}")
    figure(f"{len(readings(sub, 'temperature'))} temperature and {len(values)} packet-counter "
           f"readings from sysfs; {len(counts)} counts; a vanished file failed the device and its "
           f"return brought it back")


run_test("sysfs", body)
