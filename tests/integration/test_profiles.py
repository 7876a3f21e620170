"""Every built-in device profile end to end: the gateway polls each model's
stub as the real device speaks (RTU over pseudo-terminals at the profile's
serial settings, Modbus TCP for the counter), five RS-485 devices with
different unit ids sharing one line, and every published value is checked
against the stub's documented sequence (docs/devices/)."""
import json
import time

from harness import (iso_ms, SLOW, Broker, Gateway, RtuLine, Stub, Subscriber, check, figure, point_payloads,
                     run_test, wait_until)


def th_temp(k):
    return (-100 + (23 * k) % 600) / 10


def th_hum(k):
    return (200 + (31 * k) % 700) / 10


def keller_p(k):
    return 0.5 + (k % 128) / 128


def qdy_level(k):
    return (1000 + (11 * k) % 2000) / 10 ** (2 if (k // 20) % 2 else 3)


def dew(k):
    return None if k % 5 == 4 else (-150 + (11 * k) % 300) / 10


SEQUENCES = {  # (device, point) -> value at the stub's k-th read of that table
    ("th", "temperature"): th_temp,
    ("th", "humidity"): th_hum,
    ("renke", "temperature"): th_temp,
    ("renke", "humidity"): th_hum,
    ("river", "pressure"): keller_p,
    ("river", "temperature"): lambda k: 8 + 0.25 * (k % 40),
    ("river", "level"): lambda k: keller_p(k) * 10.1972,
    ("well", "level"): qdy_level,
    ("meter", "voltage_l1"): lambda k: 230 + 0.5 * (k % 20),
    ("meter", "voltage_l2"): lambda k: 231 + 0.5 * (k % 20),
    ("meter", "voltage_l3"): lambda k: 229 + 0.5 * (k % 20),
    ("meter", "current_l1"): lambda k: 5 + 0.25 * (k % 16),
    ("meter", "total_power"): lambda k: 3000 + 12.5 * (k % 100),
    ("meter", "frequency"): lambda k: 50 + (k % 8) / 64,
    ("meter", "import_energy"): lambda k: 12345.5 + 0.25 * k,
    ("weather", "relative_humidity"): lambda k: (300 + (13 * k) % 600) / 10,
    ("weather", "air_pressure"): lambda k: (9800 + (7 * k) % 400) / 10,
    ("weather", "wind_direction"): lambda k: ((97 * k) % 3600) / 10,
    ("weather", "air_temperature"): lambda k: (-100 + (17 * k) % 400) / 10,
    ("weather", "dew_point"): dew,
    ("co2", "co2"): lambda k: 400 + 2.5 * (k % 200),
    ("co2", "temperature"): lambda k: 20 + 0.125 * (k % 80),
    ("gate", "visitors_in"): lambda k: 7 * k,
    ("gate", "visitors_out"): lambda k: 5 * k,
}


def same(a, b):
    if a is None or b is None:
        return a is b
    return abs(a - b) <= 1e-9 * max(1, abs(b))


def matches(values, f):
    """The stub's k for poll j is offset + stride * j: one register table
    read `stride` times per poll (a meter read in four requests)."""
    for stride in (1, 2, 3, 4):
        for offset in range(stride):
            if all(same(v, f(offset + stride * j)) for j, v in enumerate(values)):
                return stride, offset
    return None


def ini(broker, line, met, co2, gate_port, store):
    devices = [("th", "line-a", "xy-md02", ""), ("renke", "line-a", "rs-ws-n01",
                                                 "unit_id = 2\nbaud = 9600\n"),
               ("river", "line-a", "keller-s30", "unit_id = 4\n"),
               ("well", "line-a", "qdy30a", "unit_id = 5\n"),
               ("meter", "line-a", "sdm630", "unit_id = 6\npause_between_requests = 60ms\n"),
               ("weather", "met", "wxt530", "unit_id = 3\n"), ("co2", "co2", "gmp252", ""),
               ("gate", "gate", "break-beam-counter", "pause_after_connect = 800ms\n")]
    text = f"""[gateway]
id = test-gw
[mqtt]
uri = tcp://127.0.0.1:{broker.port}
[store]
path = {store}
commit_interval = 100ms
[bus line-a]
type = rtu
device = {line}
baud = 9600
[bus met]
type = rtu
device = {met}
baud = 19200
[bus co2]
type = rtu
device = {co2}
baud = 19200
stop_bits = 2
[bus gate]
type = tcp
host = 127.0.0.1
port = {gate_port}
"""
    for name, bus, profile, extra in devices:
        # The meter is polled more often than its four paused requests take.
        interval = "100ms" if name == "meter" else "300ms"
        text += f"[device {name}]\nbus = {bus}\nprofile = {profile}\ninterval = {interval}\n{extra}"
    return text


def body(work):
    broker = Broker(work)
    broker.start()
    shared = [Stub(work, "th-transmitter-stub", ["--rtu-pty", "--unit", "1"]),
              Stub(work, "th-transmitter-stub", ["--rtu-pty", "--unit", "2", "--variant", "renke"]),
              Stub(work, "keller-s30-stub", ["--rtu-pty", "--unit", "4"]),
              Stub(work, "qdy30a-stub", ["--rtu-pty", "--unit", "5"]),
              Stub(work, "sdm630-stub", ["--rtu-pty", "--unit", "6"])]
    line = RtuLine(work, [s.address for s in shared])
    met = Stub(work, "wxt530-stub", ["--rtu-pty", "--unit", "3"])
    co2 = Stub(work, "gmp252-stub", ["--rtu-pty", "--unit", "240"])
    gate = Stub(work, "visitor-counter-stub", ["--tcp", "0"])
    sub = Subscriber(work, broker, "smartregion/test-gw/#", "profiles-sub")
    gw = Gateway(work, ini(broker, line.path, met.address, co2.address,
                           gate.address.split(":")[1], work.file("store.db")))
    started = time.time()
    gw.start()

    def readings():
        by_point = {}
        for line_ in sub.lines():
            topic, payload = line_.split(" ", 1)
            if "/readings/" in topic:
                for p in point_payloads(json.loads(payload)):
                    by_point.setdefault((p["device"], p["point"]), {})[p["seq"]] = p
        return {k: [v[s] for s in sorted(v)] for k, v in by_point.items()}

    wait_until(lambda: all(len(readings().get(k, [])) >= 12 for k in SEQUENCES), 40,
               "twelve readings of every point")
    gw.stop()
    sub.flush()

    got = readings()
    strides = {}
    for key, f in SEQUENCES.items():
        values = [r["value"] for r in got[key]]
        found = matches(values, f)
        check(found, f"{key}: {values[:8]}... does not follow the stub's sequence "
                     f"{[f(k) for k in range(8)]}...")
        strides[key[0]] = found[0]
        for r in got[key]:
            want = "no_data" if r["value"] is None else "good"
            check(r["quality"] == want, f"{key}: quality {r['quality']} for {r}")
    check(strides["meter"] == 4 and all(s == 1 for d, s in strides.items() if d != "meter"),
          f"requests per poll: {strides}")
    # pause_after_connect: the counter's first request waits 800 ms after the
    # TCP connection opens (some devices drop a request sent at once).
    first_gate = got[("gate", "visitors_in")][0]["ts"]
    first_s = time.mktime(time.strptime(first_gate[:19], "%Y-%m-%dT%H:%M:%S")) - time.timezone
    first_s += int(first_gate[20:23]) / 1000
    check(first_s - started >= 0.8, f"first counter reading {first_s - started:.3f}s after start")
    # pause_between_requests: a poll of the meter's four requests takes 3
    # pauses at least, so polls due every 100 ms start 180 ms apart or more
    # (a poll carries one timestamp, when it began).
    polls = [iso_ms(r["ts"]) for r in got[("meter", "voltage_l1")]]
    spans = [b - a for a, b in zip(polls, polls[1:])]
    check(spans and min(spans) >= 180, f"meter polls closer than 3 x 60 ms: {spans}")
    metas = {t.split("/")[-2]: json.loads(p) for t, p in
             (line_.split(" ", 1) for line_ in sub.lines()) if t.endswith("/meta")}
    check(metas["co2"]["profile"] == "gmp252" and metas["co2"]["unit_id"] == 240 and
          metas["co2"]["model"] == "Vaisala GMP252 CO2 probe", f"co2 metadata {metas['co2']}")
    log = gw.log()
    check("failed poll" not in log, f"a device failed on the shared line:\n{log[-2000:]}")
    n = sum(len(v) for v in got.values())
    figure(f"8 profiles end to end ({len(SEQUENCES)} points, {n} readings, every value as the "
           f"stub's sequence says); 5 RTU devices (units 1, 2, 4, 5, 6) share one line without "
           f"a failed poll; the SDM630 read in 4 requests per poll (40-register limit honoured)")


if __name__ == "__main__":
    run_test("profiles", body)
