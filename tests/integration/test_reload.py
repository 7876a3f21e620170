"""Reloading the file under polling (SIGHUP, what `systemctl reload` sends).

Five devices: trail_north (a visitor counter on Modbus TCP, counted in 5 s
intervals) and weather (the environmental sensor on an RTU line) stay as
they are; museum's interval goes from 200 to 500 ms; carpark is removed;
trail_south is added on a bus of its own. All of it with the broker up and
every device polled every 200 ms.

Then two reloads that must change nothing: a file with an error in it, and
a file that moves the store. Both are logged with their reason and counted
in health; polling goes on as before.

What has to hold: the unchanged devices' readings are gap-free across the
reload, trail_north's counts go on from the same baseline (contiguous, no
second baseline, each count exactly the stub's step times the polls in it:
no interval closed early or counted twice), every message's seq follows
the one before, the removed device stops and the added one starts, and
health's config object says what happened."""
import json
import os
import re
import signal
import subprocess
import time

from harness import (SLOW, Broker, Gateway, Stub, Subscriber, check, demo_ini, figure,
                     gateway_argv, iso_ms,
                     point_payloads, run_test, status, wait_until)

STEP_IN = 7           # the visitor counter stub adds this per read (docs/firmware-stubs.md)
COUNT_INTERVAL_S = 5
INTERVAL_MS = 200


def device(name, bus, port, interval_ms=INTERVAL_MS):
    return (f"\n[bus {bus}]\ntype = tcp\nhost = 127.0.0.1\nport = {port}\n"
            f"\n[device {name}]\nbus = {bus}\nunit_id = 1\ninterval = {interval_ms}ms\n"
            f"response_timeout = 500ms\n"
            f"\n[point {name}/visitors_in]\nfunction = holding_register\naddress = 0\n"
            f"type = uint16\nunit = visitors\n")


def base_ini(work, broker, north, env, status_path):
    ini = demo_ini(broker.port, north.address.split(":")[1], env.address, work.file("store.db"),
                   interval_ms=INTERVAL_MS)
    ini = ini.replace("[gateway]\nid = test-gw\n",
                      f"[gateway]\nid = test-gw\nhealth_interval = 1s\nstatus_file = {status_path}\n",
                      1)
    for point in ("visitors_in", "visitors_out"):
        ini = ini.replace(f"[point trail_north/{point}]\n",
                          f"[point trail_north/{point}]\nkind = counter\n"
                          f"count_interval = {COUNT_INTERVAL_S}s\n")
    return ini


def by_device(sub):
    """{device: [raw payloads in seq order]}, and every seq any record had."""
    raw, seqs = {}, set()
    for line in sub.lines():
        topic, payload = line.split(" ", 1)
        if "/readings/" not in topic and "/indicators/" not in topic:
            continue
        for p in point_payloads(json.loads(payload)):
            seqs.add(p["seq"])
            if "/readings/" in topic:
                raw.setdefault(p["device"], {})[(p["seq"], p["point"])] = p
    return {d: [v[k] for k in sorted(v)] for d, v in raw.items()}, seqs


def counts_of(sub, point):
    found = {}
    for line in sub.lines():
        topic, payload = line.split(" ", 1)
        if "/indicators/" in topic:
            for p in point_payloads(json.loads(payload)):
                if p.get("type") == "count" and p["device"] == "trail_north" and p["point"] == point:
                    found[p["seq"]] = p
    return [found[k] for k in sorted(found)]


def check_gap_free_polls(name, readings, reload_ms, interval_ms):
    """One reading per poll, none missing around the reload: consecutive
    readings of the point at most two intervals apart (a poll is at most
    late by the poll under way on another bus, never skipped)."""
    ts = sorted({iso_ms(r["ts"]) for r in readings if r["point"] in ("visitors_in", "temperature")})
    around = [(a, b) for a, b in zip(ts, ts[1:]) if a - 3000 <= reload_ms <= b + 3000]
    check(around, f"{name}: no readings around the reload")
    worst = max(b - a for a, b in around)
    check(worst <= 2 * interval_ms * SLOW,
          f"{name}: {worst} ms between two readings around the reload (interval {interval_ms} ms)")
    return worst


def check_counts(sub, north_raw):
    """Each count is the stub's step times the polls between its from and
    to; consecutive counts meet; one baseline, at the start."""
    counts = [c for c in counts_of(sub, "visitors_in") if c["quality"] != "no_data"]
    check(len(counts) >= 2, f"only {len(counts)} counts of trail_north/visitors_in")
    polls = [iso_ms(r["ts"]) for r in north_raw if r["point"] == "visitors_in"]
    for i, c in enumerate(counts):
        inside = [t for t in polls if iso_ms(c["from"]) < t <= iso_ms(c["to"])]
        check(c["count"] == STEP_IN * len(inside),
              f"count {c['count']}, the {len(inside)} polls in it say {STEP_IN * len(inside)}: {c}")
        check(iso_ms(c["interval_end"]) - iso_ms(c["interval_start"]) == COUNT_INTERVAL_S * 1000,
              f"an interval that is not {COUNT_INTERVAL_S} s: {c}")
        if i > 0:
            check(c["from"] == counts[i - 1]["to"] and
                  c["interval_start"] == counts[i - 1]["interval_end"],
                  f"counts do not meet at {c} after {counts[i - 1]}")
            check("baseline" not in c["events"], f"a second baseline: {c}")
    return counts


def client_ports(server_port):
    """The local ports of the established connections to server_port on
    this machine (/proc/net/tcp): the same port before and after means the
    same connection."""
    ports = set()
    with open("/proc/net/tcp") as f:
        for line in f.readlines()[1:]:
            fields = line.split()
            local, remote, state = fields[1], fields[2], fields[3]
            if state == "01" and int(remote.split(":")[1], 16) == int(server_port):
                ports.add(int(local.split(":")[1], 16))
    return ports


def reload(gw, text, marker, count_before):
    with open(gw.ini, "w") as f:
        f.write(text)
    at = time.time()
    gw.proc.send_signal(signal.SIGHUP)
    wait_until(lambda: gw.log().count(marker) > count_before, 15 * SLOW, f"'{marker}' in the log")
    return int(at * 1000)


def body(work):
    broker = Broker(work)
    broker.start()
    north = Stub(work, "visitor-counter-stub", ["--tcp", "0"], "north.log")
    museum = Stub(work, "visitor-counter-stub", ["--tcp", "0"], "museum.log")
    carpark = Stub(work, "visitor-counter-stub", ["--tcp", "0"], "carpark.log")
    south = Stub(work, "visitor-counter-stub", ["--tcp", "0"], "south.log")
    env = Stub(work, "env-sensor-stub", ["--rtu-pty", "--unit", "3", "--parity", "E",
                                         "--baud", "19200"])
    port = {s: s.address.split(":")[1] for s in (museum, carpark, south)}
    sub = Subscriber(work, broker, "smartregion/test-gw/#", "reload-sub")
    status_path = work.file("health.json")
    ini = base_ini(work, broker, north, env, status_path)
    before = ini + device("museum", "museum_bus", port[museum]) + \
        device("carpark", "carpark_bus", port[carpark])
    after = ini + device("museum", "museum_bus", port[museum], interval_ms=500) + \
        device("trail_south", "south_bus", port[south])
    gw = Gateway(work, before)
    gw.start()
    gw.wait_connected()
    wait_until(lambda: len(counts_of(sub, "visitors_in")) >= 1, 20 * SLOW,
               "a first count of trail_north")
    time.sleep(COUNT_INTERVAL_S / 2)  # the reload falls inside an open interval
    polls_before = status(status_path)["devices"]["trail_north"]["polls_ok"]
    north_port = north.address.split(":")[1]
    north_conn = client_ports(north_port)
    check(len(north_conn) == 1, f"connections to trail_north's stub: {north_conn}")

    reload_ms = reload(gw, after, "reload applied", 0)
    applied_ms = int(time.time() * 1000)
    line = re.search(r"reload applied: .*", gw.log()).group(0)
    figure(line)
    check("1 device(s) added (trail_south), 1 changed (museum), 1 removed (carpark)" in line,
          f"the reload did not name what changed: {line}")
    check(client_ports(north_port) == north_conn,
          "trail_north's bus, unchanged, was connected again at the reload")
    check(not client_ports(port[carpark]), "the removed device's bus is still connected")
    wait_until(lambda: len(counts_of(sub, "visitors_in")) >= 3, 30 * SLOW,
               "two counts after the reload")

    # A file with an error, then one that moves the store: nothing changes.
    broken = after.replace("interval = 500ms", "interval = often", 1)
    refused_ms = reload(gw, broken, "reload refused", 0)
    log = gw.log()
    bad_line = broken.splitlines().index("interval = often") + 1
    check(f"{gw.ini}:{bad_line}" in log, f"the error does not name {gw.ini}:{bad_line}:\n"
          + "\n".join(l for l in log.splitlines() if "reload" in l))
    moved = after.replace(work.file("store.db"), work.file("elsewhere.db"))
    reload(gw, moved, "reload refused", 1)
    check("[store] path changed: the daemon applies it at a restart only" in gw.log(),
          "the store's move is not named as needing a restart")
    check(not os.path.exists(work.file("elsewhere.db")), "the refused store path was opened")
    time.sleep(2 * SLOW)
    wait_until(lambda: (status(status_path) or {}).get("config", {}).get("reloads_refused") == 2,
               10 * SLOW, "health to count two refused reloads")
    health = status(status_path)
    said = subprocess.run(gateway_argv(gw.ini)[:-2] + ["status", "--config", gw.ini],
                          capture_output=True, text=True, timeout=30 * SLOW).stdout
    check("config: 1 reloads applied, 2 refused" in said and "REFUSED (still on the file before)"
          in said, f"sensor-gateway status does not say the last reload was refused:\n{said}")
    gw.stop()
    sub.flush()

    config = health["config"]
    check(config["reloads_applied"] == 1 and config["last_reload"]["applied"] is False and
          "[store] path" in config["last_reload"]["message"], f"health's config: {config}")
    check(set(health["devices"]) == {"trail_north", "weather", "museum", "trail_south"},
          f"health's devices after the reload: {sorted(health['devices'])}")
    check(health["devices"]["trail_north"]["polls_ok"] > polls_before,
          "trail_north's poll counter started again at the reload")

    raw, seqs = by_device(sub)
    check(seqs == set(range(min(seqs), max(seqs) + 1)),
          f"seq has gaps: {sorted(set(range(min(seqs), max(seqs) + 1)) - seqs)[:10]}")
    worst_north = check_gap_free_polls("trail_north", raw["trail_north"], reload_ms, INTERVAL_MS)
    worst_weather = check_gap_free_polls("weather", raw["weather"], reload_ms, INTERVAL_MS)
    # No gap at the refused reloads either.
    check_gap_free_polls("trail_north", raw["trail_north"], refused_ms, INTERVAL_MS)
    counts = check_counts(sub, raw["trail_north"])
    spanning = [c for c in counts
                if iso_ms(c["interval_start"]) < reload_ms < iso_ms(c["interval_end"])]
    check(len(spanning) == 1, f"{len(spanning)} counts span the reload at {reload_ms}")

    museum_ts = sorted({iso_ms(r["ts"]) for r in raw["museum"]})
    later = [b - a for a, b in zip(museum_ts, museum_ts[1:]) if a > applied_ms + 1000]
    check(later and 400 <= sorted(later)[len(later) // 2] <= 650,
          f"museum polled every {sorted(later)[len(later) // 2] if later else '?'} ms after "
          f"the reload, not 500")
    carpark_ts = [iso_ms(r["ts"]) for r in raw["carpark"]]
    check(carpark_ts and max(carpark_ts) <= applied_ms,
          "carpark was polled after it was removed, or never")
    south_ts = [iso_ms(r["ts"]) for r in raw.get("trail_south", [])]
    check(len(south_ts) >= 10 and min(south_ts) >= reload_ms,
          f"trail_south: {len(south_ts)} readings after it was added")
    check(any(t > refused_ms for t in south_ts), "polling stopped at the refused reload")
    metas = [line.split(" ", 1)[0] for line in sub.lines() if "/devices/trail_south/meta" in line]
    check(metas, "trail_south's device metadata was not published after the reload")
    # The broker no longer hands a late subscriber the removed device.
    late = subprocess.run(["mosquitto_sub", "-h", "127.0.0.1", "-p", str(broker.port), "-v",
                           "-t", "smartregion/test-gw/devices/+/meta", "-W", "2"],
                          capture_output=True, text=True).stdout
    check("/devices/trail_south/meta" in late and "/devices/carpark/meta" not in late,
          f"retained metadata after the reload: {late.splitlines()}")
    figure(f"across the reload: trail_north {worst_north} ms and weather {worst_weather} ms at "
           f"most between polls (interval {INTERVAL_MS} ms); {len(counts)} counts contiguous, "
           f"one baseline; seq {min(seqs)}..{max(seqs)} gap-free; museum every "
           f"{sorted(later)[len(later) // 2]} ms after; 2 bad files refused")


run_test("reload", body)
