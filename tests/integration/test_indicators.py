"""Indicators end to end: a visitor counter stub driven through a 16-bit
wrap and a power loss (reset), and the environmental sensor aggregated per
window with a sentinel, a plausible range and publish-on-change, across a
restart of the gateway. The exact counts and aggregates the dashboard
receives are checked against the raw readings and the stubs' documented
sequences (docs/firmware-stubs.md)."""
import json
import time

from harness import (SLOW, Broker, Gateway, Stub, Subscriber, check, demo_ini, figure, point_payloads,
                     run_test, wait_until)

STEP = {"visitors_in": 7, "visitors_out": 5}  # per read, docs/firmware-stubs.md
START_IN = 65400                             # wraps at the 20th read
POWER_LOSS_AFTER = 60                        # reads, then both counters restart at 0


def configure(ini):
    for point in ("visitors_in", "visitors_out"):
        ini = ini.replace(f"[point trail_north/{point}]\n",
                          f"[point trail_north/{point}]\nkind = counter\ncount_interval = 2s\n")
    ini = ini.replace("[point weather/temperature]\n",
                      "[point weather/temperature]\nwindow = 2s\nvalid_max = 30\n")
    ini = ini.replace("[point weather/pressure]\n",
                      "[point weather/pressure]\nwindow = 2s\npublish = change\ndeadband = 1\n")
    # Net occupancy of the gate; its daily reset put far from now, so that
    # no run crosses it (tests/unit/test_occupancy.c covers the reset).
    reset = time.localtime(time.time() + 12 * 3600)
    ini += (f"\n[point trail_north/occupancy]\nkind = occupancy\noccupancy_in = visitors_in\n"
            f"occupancy_out = visitors_out\noccupancy_reset = {reset.tm_hour:02d}:{reset.tm_min:02d}\n")
    # k = 0 gives 65536 lx: taken for the device's "no data" here.
    ini = ini.replace("[point weather/illuminance]\n",
                      "[point weather/illuminance]\ninvalid_values = 65536\n")
    return ini


def split(sub):
    raw, counts, windows = {}, {}, {}
    for line in sub.lines():
        topic, payload = line.split(" ", 1)
        if "/readings/" in topic or "/indicators/" in topic:
            for p in point_payloads(json.loads(payload)):
                if p.get("type") == "day_total":
                    continue  # no local day ends in this test (test_local_days.py)
                target = raw if "/readings/" in topic else counts if p["type"] == "count" \
                    else windows
                target.setdefault(p["point"], {})[p["seq"]] = p  # duplicates: the same seq
    return tuple({k: sorted(v.values(), key=lambda p: p["seq"]) for k, v in d.items()}
                 for d in (raw, counts, windows))


def check_counts(point, raws, counts):
    """Every count equals the stub's step times the readings between its
    from and to, less the step the power loss took; the counts are
    contiguous; wrap, reset and baseline are reported where they happened.
    Intervals with no poll (the restart) are sent with no data and skipped
    here (test_completeness.py checks them)."""
    for a, b in zip(counts, counts[1:]):
        check(b["interval_start"] == a["interval_end"], f"{point}: intervals not contiguous {a} {b}")
    counts = [c for c in counts if c["quality"] != "no_data"]
    step = STEP[point]
    values = [(r["ts"], r["value"]) for r in raws]
    reset_ts = [ts for i, (ts, v) in enumerate(values) if v == 0 and i > 0]
    wrap_ts = [ts for i, (ts, v) in enumerate(values) if i > 0 and 0 < v < values[i - 1][1]]
    check(len(reset_ts) == 1, f"{point}: expected one power loss in the raw readings, {reset_ts}")
    check(len(wrap_ts) == (1 if point == "visitors_in" else 0), f"{point}: wraps {wrap_ts}")
    check(counts[0]["from"] == values[0][0] and counts[0]["events"][:1] == ["baseline"],
          f"{point}: the first count does not start at the baseline: {counts[0]}")
    total = 0
    for i, c in enumerate(counts):
        inside = [ts for ts, _ in values if c["from"] < ts <= c["to"]]
        want = step * len(inside) - step * sum(c["from"] < ts <= c["to"] for ts in reset_ts)
        check(c["count"] == want, f"{point}: count {c['count']}, the readings say {want}: {c}")
        check(c["interval_start"] <= c["to"] < c["interval_end"], f"{point}: to outside {c}")
        if i > 0:
            check(c["from"] == counts[i - 1]["to"], f"{point}: counts not contiguous at {c}")
            check("baseline" not in c["events"], f"{point}: a second baseline {c}")
        expect_events = {"wrap" for ts in wrap_ts if c["from"] < ts <= c["to"]} | \
                        {"reset" for ts in reset_ts if c["from"] < ts <= c["to"]}
        check(expect_events <= set(c["events"]) and c["quality"] == "good",
              f"{point}: events {c['events']}, expected {expect_events}")
        total += c["count"]
    return total


def check_occupancy(raw):
    """One occupancy reading per poll, each exactly the visitors in minus
    out so far (7 and 5 a read; nothing at the baseline and at the power
    loss), carried over the restart."""
    level, expected = 0, {}
    for i, (a, b) in enumerate(zip(raw["visitors_in"], raw["visitors_out"])):
        check(a["ts"] == b["ts"], f"in and out not polled together: {a} {b}")
        counted = i > 0 and a["value"] != 0
        level += (STEP["visitors_in"] - STEP["visitors_out"]) if counted else 0
        expected[a["ts"]] = level
    got = {r["ts"]: r["value"] for r in raw["occupancy"]}
    check(got == expected, f"occupancy {sorted(got.items())[:5]}... expected "
                           f"{sorted(expected.items())[:5]}...")
    return level


def check_windows(temps, windows, pressures, pressure_windows, restart_ts):
    for w in windows:
        inside = [t for t in temps if w["interval_start"] <= t["ts"] < w["interval_end"]]
        good = [t["value"] for t in inside if t["quality"] == "good"]
        out = [t for t in inside if t["quality"] == "out_of_range"]
        check(all(t["value"] > 30 for t in out) and all(v <= 30 for v in good),
              f"range quality wrong in {inside}")
        check(w["samples"] == len(good) and w["excluded"] == len(out),
              f"window {w} from {len(good)} good and {len(out)} out-of-range readings")
        if good:
            check(abs(w["avg"] - sum(good) / len(good)) < 1e-9 and w["min"] == min(good) and
                  w["max"] == max(good) and w["last"] == good[-1], f"aggregates {w} of {good}")
    by_start = {w["interval_start"]: w for w in windows}
    for pw in pressure_windows:
        t = by_start.get(pw["interval_start"])
        if t:  # the same polls: every poll reads all four registers
            check(pw["samples"] == t["samples"] + t["excluded"], f"pressure {pw} vs temp {t}")
    for a, b in zip(pressures, pressures[1:]):
        if a["ts"] < restart_ts <= b["ts"]:
            continue  # a new process publishes its first reading
        check(abs(b["value"] - a["value"]) > 1,
              f"pressure published {a['value']} then {b['value']}: inside the deadband of 1")


def body(work):
    broker = Broker(work)
    broker.start()
    counter = Stub(work, "visitor-counter-stub",
                   ["--tcp", "0", "--start-in", str(START_IN),
                    "--power-loss-after", str(POWER_LOSS_AFTER)])
    env = Stub(work, "env-sensor-stub", ["--rtu-pty", "--unit", "3"])
    sub = Subscriber(work, broker, "smartregion/test-gw/#", "indicators-sub")
    gw = Gateway(work, configure(demo_ini(broker.port, counter.address.split(":")[1], env.address,
                                          work.file("store.db"), interval_ms=100)))
    gw.start()
    # Past the wrap and the power loss, then a restart in the middle of it all.
    wait_until(lambda: len(split(sub)[0].get("visitors_in", [])) >= POWER_LOSS_AFTER + 10, 30,
               "readings past the power loss")
    gw.stop()
    time.sleep(0.5 * SLOW)
    now = time.time()
    restart_ts = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now % 1 * 1000):03d}Z"
    gw.start()
    before = len(split(sub)[1].get("visitors_in", []))
    wait_until(lambda: len(split(sub)[1].get("visitors_in", [])) >= before + 3, 30,
               "counts after the restart")
    gw.stop()
    sub.flush()

    raw, counts, windows = split(sub)
    totals = {p: check_counts(p, raw[p], counts[p]) for p in STEP}
    check_windows(raw["temperature"], windows["temperature"], raw.get("pressure", []),
                  windows["pressure"], restart_ts)
    occupancy = check_occupancy(raw)
    ill = raw["illuminance"]
    check(ill[0]["quality"] == "no_data" and ill[0]["value"] is None and
          all(r["quality"] == "good" for r in ill[1:] if r["value"] != 65536),
          f"sentinel not marked: {ill[:3]}")

    # A dashboard that subscribes now gets the newest count and reading of
    # every point at once, retained, without the backlog.
    late = Subscriber(work, broker, "smartregion/test-gw/+/trail_north/#", "late-sub")

    def newest():
        return {json.loads(p)["seq"] for t, p in (line.split(" ", 1) for line in late.lines())
                if t.endswith(("/readings/trail_north", "/indicators/trail_north/visitors_in"))}
    wait_until(lambda: len(newest()) >= 2, 5, "retained newest count and reading")
    got = newest()
    newest = {counts["visitors_in"][-1]["seq"], raw["visitors_in"][-1]["seq"]}
    check(got == newest, f"late subscriber got seqs {got}, the newest are {newest}")

    example_count = next(c for c in counts["visitors_in"] if "wrap" in c["events"])
    figure(f"visitor counts: {len(counts['visitors_in'])} + {len(counts['visitors_out'])} "
           f"intervals of 2 s over a 16-bit wrap, a power loss and a gateway restart; in "
           f"{totals['visitors_in']}, out {totals['visitors_out']}, each exactly the stub's "
           f"visitors between from and to; 1 baseline per point; net occupancy exact at every "
           f"one of {len(raw['occupancy'])} polls, {occupancy} at the end")
    figure(f"windows: {len(windows['temperature'])} temperature windows exact (avg/min/max/last, "
           f"{sum(w['excluded'] for w in windows['temperature'])} out-of-range readings "
           f"excluded); pressure published {len(raw.get('pressure', []))} of "
           f"{len(raw['temperature'])} readings (deadband 1 hPa)")
    figure(f"example count: {json.dumps(example_count)}")
    figure(f"example window: {json.dumps(windows['temperature'][-1])}")


if __name__ == "__main__":
    run_test("indicators", body)
