"""Throughput benchmark (not a test: it measures and prints, it does not
judge). Real peers throughout: visitor-counter stubs over Modbus TCP, the
daemon, mosquitto on loopback, a mosquitto_sub subscriber.

Phase 0, live: the same fleet with the broker up and a subscriber: readings
  delivered per second, the daemon's CPU (user + system) per delivered
  reading, bytes it wrote to storage per delivered reading (/proc/PID/io).
Phase 1, polling: 8 devices x 16 points at a 10 ms interval, broker down,
  for POLL_S seconds: readings polled and committed per second, RSS.
Phase 2, drain: the broker comes up and the stubs stay down, the daemon is
  restarted on the same store: readings delivered per second (store ->
  MQTT QoS 1 -> broker -> subscriber), RSS.

Usage: python3 tests/bench/bench_throughput.py [POLL_S]   (default 10)
"""
import os
import sqlite3
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "integration"))
from harness import (Broker, Gateway, Stub, Subscriber, Workdir, many_points_ini,  # noqa: E402
                     wait_until)

DEVICES = 8
POINTS = 16


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        fields = dict(line.split(":", 1) for line in f)
    return int(fields["VmRSS"].split()[0]), int(fields["VmHWM"].split()[0])


def cpu_s(pid):
    """User + system CPU seconds of a process so far."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def written_bytes(pid):
    with open(f"/proc/{pid}/io") as f:
        return int(dict(line.split(":", 1) for line in f)["write_bytes"])


def live(work, broker, ports, poll_s):
    """Phase 0: polling and forwarding at once, the everyday path."""
    broker.start()
    sub = Subscriber(work, broker, "smartregion/bench/readings/#", "live-sub")
    gw = Gateway(work, many_points_ini("bench", broker.port, ports, work.file("live.db"), DEVICES,
                                       POINTS), name="live")
    gw.start()
    time.sleep(2)  # connected, steady
    n0, c0, w0, t0 = _count_lines(sub.out), cpu_s(gw.proc.pid), written_bytes(gw.proc.pid), \
        time.monotonic()
    time.sleep(poll_s)
    n1, c1, w1, t1 = _count_lines(sub.out), cpu_s(gw.proc.pid), written_bytes(gw.proc.pid), \
        time.monotonic()
    rss, _ = rss_kib(gw.proc.pid)
    gw.stop()
    broker.stop()
    n = max(n1 - n0, 1)
    print(f"live: {DEVICES} devices x {POINTS} points every 10 ms, broker up, {poll_s:.0f}s: "
          f"{n / (t1 - t0):.0f} readings/s delivered; daemon CPU {(c1 - c0) * 1e6 / n:.1f} us per "
          f"delivered reading; {(w1 - w0) / n:.1f} bytes written to storage per delivered "
          f"reading; RSS {rss / 1024:.1f} MiB")


def main():
    poll_s = float(sys.argv[1]) if len(sys.argv) > 1 else 10
    work = Workdir("bench")
    try:
        broker = Broker(work)
        stubs = [Stub(work, "visitor-counter-stub", ["--tcp", "0"]) for _ in range(4)]
        ports = [s.address.split(":")[1] for s in stubs]
        live(work, broker, ports, poll_s)
        store = work.file("store.db")
        gw = Gateway(work, many_points_ini("bench", broker.port, ports, store, DEVICES, POINTS))

        gw.start()
        time.sleep(poll_s)
        rss, hwm = rss_kib(gw.proc.pid)
        gw.stop()
        held = sqlite3.connect(store).execute("SELECT count(*) FROM readings").fetchone()[0]
        print(f"polling: {DEVICES} devices x {POINTS} points every 10 ms, broker down, "
              f"{poll_s:.0f}s: {held} readings committed = {held / poll_s:.0f} readings/s; "
              f"RSS {rss / 1024:.1f} MiB (peak {hwm / 1024:.1f} MiB)")

        for s in stubs:
            s.proc.terminate()
            s.proc.wait(5)
        broker.start()
        sub = Subscriber(work, broker, "smartregion/bench/readings/#", "bench-sub")
        start = time.monotonic()
        gw.start()
        wait_until(lambda: _count_lines(sub.out) >= held, 300, f"{held} readings to drain")
        took = time.monotonic() - start
        rss, hwm = rss_kib(gw.proc.pid)
        gw.stop()
        left = sqlite3.connect(store).execute("SELECT count(*) FROM readings").fetchone()[0]
        print(f"drain: {held} readings from the store to the subscriber in {took:.1f}s = "
              f"{held / took:.0f} readings/s (QoS 1, max_inflight 1024); left in store: {left}; "
              f"RSS {rss / 1024:.1f} MiB (peak {hwm / 1024:.1f} MiB)")
    finally:
        work.cleanup()


def _count_lines(path):
    with open(path, "rb") as f:
        return sum(1 for _ in f)


if __name__ == "__main__":
    main()
