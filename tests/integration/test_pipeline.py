"""End to end: visitor counter over Modbus TCP, environmental sensor over
RTU on a pseudo-terminal, a real mosquitto. The subscriber must receive
exactly the values the stubs' documented sequences predict, with the right
units, in gap-free sequence order; a restart of the daemon continues the
sequence numbers. With the default layout (device) a poll of a device is one
message; layout = point, checked last, sends one message per reading."""
import os
import time

from harness import (figure, run_test, Broker, Gateway, Stub, Subscriber, Workdir, check, check_gap_free,
                     check_sequences, dedupe_by_seq, demo_ini, free_port, wait_until)

START_IN = 65520  # the in counter wraps at its 3rd read


def body(work):
    broker = Broker(work)
    broker.start()
    counter = Stub(work, "visitor-counter-stub", ["--tcp", "0", "--start-in", str(START_IN)])
    env = Stub(work, "env-sensor-stub", ["--rtu-pty", "--unit", "3", "--parity", "E",
                                         "--baud", "19200"])
    sub = Subscriber(work, broker, "smartregion/test-gw/#")
    # The first broker in the failover list is not there: every connect
    # must fall through to the second.
    dead = free_port()
    gw = Gateway(work, demo_ini(broker.port, counter.address.split(":")[1], env.address,
                                work.file("store.db"), interval_ms=100,
                                uris=f"tcp://127.0.0.1:{dead}, mqtt://127.0.0.1:{broker.port}"))
    gw.start()
    wait_until(lambda: len(sub.readings()) >= 240, 30, "240 readings at the subscriber")
    gw.stop()
    wait_until(lambda: "offline" in sub.statuses(), 5, "the offline status")

    unique, duplicates = dedupe_by_seq(sub.readings())
    check(duplicates == 0, f"{duplicates} duplicates in a run without faults")
    check_gap_free(unique)
    counts = check_sequences(unique, START_IN)
    check(set(counts) == {"visitors_in", "visitors_out", "temperature", "humidity",
                          "pressure", "illuminance"}, f"points seen: {sorted(counts)}")
    values_in = [p["value"] for _, p in unique if p["point"] == "visitors_in"]
    check(65534 in values_in and 5 in values_in, "the 16-bit wrap did not show")
    check(any(p["value"] < 0 for _, p in unique if p["point"] == "temperature"),
          "no temperature below zero")
    check(sub.statuses()[0] == "online", f"statuses: {sub.statuses()}")
    check(f"connected to tcp://127.0.0.1:{broker.port}" in gw.log(),
          "the gateway did not fail over to the second broker")
    polls = sub.messages()
    check(all(t == f"smartregion/test-gw/readings/{p['device']}" and p["points"]
              for t, p in polls), f"not one message per device poll: {polls[:2]}")
    check(len({p["seq"] for _, p in polls}) == len(polls), "two polls under one seq")
    first_run = len(unique)
    figure(f"first run: {first_run} readings, seq 1..{first_run}, no gaps, no duplicates; "
          f"per point {counts}")

    # A restart resumes the sequence numbers where the store left them.
    gw.start()
    wait_until(lambda: len(sub.readings()) >= first_run + 24, 20, "readings after restart")
    gw.stop()
    unique2, duplicates2 = dedupe_by_seq(sub.readings())
    check(duplicates2 == 0, "duplicates after a clean restart")
    check_gap_free(unique2)
    check_sequences(unique2, START_IN)  # the stubs kept counting: values continue
    check("store" in gw.log() and "next sequence number" in gw.log(), "no store line in log")
    figure(f"after restart: {len(unique2) - first_run} more readings, "
          f"seq {first_run + 1}..{len(unique2)}, no gaps")
    broker.stop()
    os.remove(work.file("mosquitto.db"))  # its retained device messages
    point_layout(work, counter, env)


def point_layout(work, counter, env):
    """layout = point: today's message per point, each with its own seq
    (a fresh broker: no retained device messages from the first runs)."""
    broker = Broker(work)
    broker.start()
    sub = Subscriber(work, broker, "smartregion/test-gw/#", "point-sub")
    gw = Gateway(work, demo_ini(broker.port, counter.address.split(":")[1], env.address,
                                work.file("point.db"), interval_ms=100,
                                mqtt_extra="layout = point"), name="point")
    gw.start()
    wait_until(lambda: len(sub.readings()) >= 60, 30, "60 readings in the point layout")
    gw.stop()
    msgs = sub.messages()
    check(all(t == f"smartregion/test-gw/readings/{p['device']}/{p['point']}" and "points" not in p
              for t, p in msgs), f"not one message per point: {msgs[:2]}")
    unique, duplicates = dedupe_by_seq(sub.readings())
    check(len({p["seq"] for _, p in unique}) == len(unique), "two readings under one seq")
    check_gap_free(unique)
    figure(f"layout = point: {len(unique)} readings, one message and one seq each, no gaps")


if __name__ == "__main__":
    run_test("pipeline", body)
