"""Broker outages, repeated and long.

Part 1: under steady polling the broker is stopped and started CYCLES times
(at least 20) with random down and up times. Every reading reaches the
subscriber with the value the stubs' sequences predict, seq 1..N without a
gap; duplicates carry the same seq and payload.

Part 2: the broker stays away while 4 devices x 16 points are polled every
10 ms, until the backlog holds tens of thousands of readings; when it comes
back the backlog drains completely, oldest first, nothing lost.

GW_BROKER_CYCLES overrides the number of cycles (a long mode)."""
import os
import random
import time

from harness import (figure, DemoRig, many_points_ini, SLOW, Gateway, Stub, Subscriber, check,
                     check_gap_free, check_sequences, dedupe_by_seq, run_test, shutdown_counters,
                     status, stored_readings, wait_until)

CYCLES = int(os.environ.get("GW_BROKER_CYCLES", "20"))
BACKLOG_MIN = 40000


def repeated_outages(work):
    rig = DemoRig(work, "cycles", interval_ms=50, store="cycles.db")
    broker, counter, env, sub, gw = rig.broker, rig.counter, rig.env, rig.sub, rig.gw
    gw.start()
    gw.wait_connected()
    rng = random.Random(2026)
    for cycle in range(CYCLES):
        # Each outage starts after the gateway is back and has published a
        # little (paho takes about a second to complete a connect: its
        # select loop wakes once a second, eclipse-paho/paho.mqtt.c#1430).
        wait_until(lambda: gw.log().count("mqtt: connected") > cycle, 30,
                   f"the gateway to reconnect after outage {cycle}")
        time.sleep(rng.uniform(0.1, 0.8))
        broker.stop()
        time.sleep(rng.uniform(0.2, 1.5))
        broker.start()
    polled_until = time.time()
    wait_until(lambda: _newest_ts(sub) > polled_until + 1, 60,
               "the readings of the last outage to arrive")
    gw.stop()
    sub.flush()
    counters = shutdown_counters(gw.log())
    unique, duplicates = dedupe_by_seq(sub.readings())
    check_gap_free(unique)
    per_point = check_sequences(unique)
    check(counters["losses"] >= CYCLES, f"the gateway noticed {counters['losses']} of "
          f"{CYCLES} outages")
    check(counters["connects"] >= CYCLES + 1, f"only {counters['connects']} connects")
    figure(f"{CYCLES} broker restarts survived ({counters['losses']} connection losses noticed, "
          f"{counters['connects']} connects): {len(unique)} readings, seq 1..{len(unique)} "
          f"gap-free, values exactly as the stubs predict {per_point}; lost: 0; {duplicates} "
          f"duplicates, each with the same seq and payload")
    for proc in (counter.proc, env.proc):
        proc.terminate()
        proc.wait(5)
    return broker


def _newest_ts(sub):
    readings = sub.readings()
    if not readings:
        return 0
    ts = readings[-1][1]["ts"]
    return time.mktime(time.strptime(ts[:19], "%Y-%m-%dT%H:%M:%S")) - time.timezone


def large_backlog(work, broker):
    stubs = [Stub(work, "visitor-counter-stub", ["--tcp", "0"]) for _ in range(2)]
    store, status_path = work.file("backlog.db"), work.file("backlog-status.json")
    sub = Subscriber(work, broker, "smartregion/backlog-gw/readings/#", "backlog-sub")
    gw = Gateway(work, many_points_ini("backlog-gw", broker.port,
                                       [s.address.split(":")[1] for s in stubs], store,
                                       devices=4, points=16, status_file=status_path),
                 name="backlog")
    gw.start()
    gw.wait_connected()
    broker.stop()
    started = time.monotonic()

    def backlog():
        return (status(status_path) or {"store": {"depth": 0}})["store"]["depth"]
    wait_until(lambda: backlog() >= BACKLOG_MIN, 120, f"a backlog of {BACKLOG_MIN} readings")
    st = status(status_path)
    held, held_last = st["store"]["depth"], st["store"]["next_seq"] - 1
    outage_s = time.monotonic() - started
    broker.start()
    drain_started = time.monotonic()

    # Polling goes on at 6400 readings/s: drained means every record of
    # the outage has reached the subscriber.
    def delivered_up_to():
        seqs = {p["seq"] for _, p in sub.messages() if p["seq"] <= held_last}
        return len(seqs)
    wait_until(lambda: delivered_up_to() == held_last, 120, "the backlog to drain")
    drain_s = time.monotonic() - drain_started
    gw.stop()
    for s in stubs:
        s.proc.terminate()
        s.proc.wait(5)
    counters = shutdown_counters(gw.log())
    left = stored_readings(store)
    # stored: readings committed to the store (the outage's); the rest
    # were acknowledged before their commit deadline and never written.
    wait_until(lambda: len(dedupe_by_seq(sub.readings())[0]) >= counters["stored"] - left, 60,
               "the subscriber to receive everything acknowledged")
    sub.flush()
    unique, duplicates = dedupe_by_seq(sub.readings())
    seqs = sorted({p["seq"] for _, p in unique})
    check(seqs == list(range(1, len(seqs) + 1)), "the backlog arrived with gaps")
    check(len(unique) + left >= counters["stored"],
          f"{counters['stored']} stored, {len(unique)} delivered, {left} still in the store")
    check(counters["queue-full"] + counters["store-bound"] + counters["store-full"] == 0,
          f"readings were dropped: {counters}")
    figure(f"large backlog: broker away {outage_s:.1f}s while 64 points were polled every "
          f"10 ms: {held} readings held in the store; drained in {drain_s:.1f}s after the "
          f"broker came back ({held / drain_s:.0f} readings/s while polling went on); {len(unique)} "
          f"readings in {len(seqs)} records delivered, seq 1..{len(seqs)} gap-free, {left} "
          f"polled at the end kept for the next start; lost: 0; {duplicates} duplicates")


def body(work):
    broker = repeated_outages(work)
    large_backlog(work, broker)


if __name__ == "__main__":
    run_test("broker-cycles", body)
