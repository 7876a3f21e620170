"""End to end: visitor counter over Modbus TCP, environmental sensor over
RTU on a pseudo-terminal, a real mosquitto. The subscriber must receive
exactly the values the stubs' documented sequences predict, with the right
units, in gap-free sequence order; a restart of the daemon continues the
sequence numbers."""
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


if __name__ == "__main__":
    run_test("pipeline", body)
