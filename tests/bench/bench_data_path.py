"""The data-path benchmark (not a test: it measures and prints, it does not
judge). Real peers throughout, all on this machine: visitor-counter stubs
serving 20 holding registers each over Modbus TCP, the daemon, mosquitto on
loopback, a QoS 1 subscriber (mosquitto_sub, persistent session) that stamps
every message with the time it arrived.

  live    20 x 100 ms and 100 x 100 ms, 20 points a device: daemon CPU per
          delivered point, all processes' CPU per point, points/s delivered
          vs offered, age at the subscriber p50/p99, RSS, threads, fdatasync
          per second and bytes written to storage per point
  ceiling the highest rate kept up with (delivered >= 97 % of offered)
  backlog 1,000,000 readings held with the broker away, then drained
  idle    2 devices x 10 s: wake-ups per second (context switches of all
          the daemon's threads), RSS

Usage: tests/bench/run.sh [SECONDS]   (SECONDS per live window, default 15)
"""
import json
import math
import os
import signal
import sqlite3
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "integration"))
from harness import (BUILD, Broker, Stub, Workdir, many_points_ini, wait_until)  # noqa: E402

POINTS = 20
CLK = os.sysconf("SC_CLK_TCK")


def cpu_s(pid):
    """User + system CPU seconds of a process (all its threads) so far."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLK
    except FileNotFoundError:
        return 0.0


def status(pid):
    with open(f"/proc/{pid}/status") as f:
        return dict(line.split(":", 1) for line in f)


def written_bytes(pid):
    with open(f"/proc/{pid}/io") as f:
        return int(dict(line.split(":", 1) for line in f)["write_bytes"])


def context_switches(pid):
    total = 0
    for task in os.listdir(f"/proc/{pid}/task"):
        try:
            s = status(f"{pid}/task/{task}")
            total += int(s["voluntary_ctxt_switches"]) + int(s["nonvoluntary_ctxt_switches"])
        except FileNotFoundError:
            pass
    return total


class Daemon:
    """The gateway under strace, which counts its fsync/fdatasync calls
    only (seccomp-bpf: the other system calls run untouched)."""

    def __init__(self, work, ini_text, name):
        self.ini = work.file(f"{name}.ini")
        with open(self.ini, "w") as f:
            f.write(ini_text)
        self.trace = work.file(f"{name}.strace")
        self.log = open(work.file(f"{name}.log"), "w")
        self.tracer = subprocess.Popen(
            ["strace", "-f", "-qq", "--seccomp-bpf", "-c", "-e", "trace=fsync,fdatasync", "-o",
             self.trace, os.path.join(BUILD, "sensor-gateway"), "-c", self.ini],
            stdout=self.log, stderr=subprocess.STDOUT)
        self.started = time.monotonic()
        wait_until(self._child, 10, "the daemon to start")

    def _child(self):
        try:
            with open(f"/proc/{self.tracer.pid}/task/{self.tracer.pid}/children") as f:
                kids = f.read().split()
        except FileNotFoundError:
            return False
        if kids:
            self.pid = int(kids[0])
        return bool(kids)

    def stop(self):
        """Stops the daemon; returns its fsync + fdatasync calls per second."""
        os.kill(self.pid, signal.SIGTERM)
        self.tracer.wait(60)
        lived = time.monotonic() - self.started
        calls = 0
        with open(self.trace) as f:
            for line in f:
                parts = line.split()
                if parts and parts[-1] in ("fsync", "fdatasync"):
                    calls += int(parts[3]) if len(parts) >= 5 else 0
        return calls / lived


class StampedSubscriber:
    """mosquitto_sub printing each message's arrival time and payload."""

    def __init__(self, work, broker, name):
        self.out = work.file(f"{name}.out")
        self.proc = work.start(["mosquitto_sub", "-h", "127.0.0.1", "-p", str(broker.port), "-q",
                                "1", "-c", "-i", name, "-t", "smartregion/bench/readings/#",
                                "-F", "%U %p"], f"{name}.out")
        time.sleep(0.5)
        self.offset = 0

    def take(self):
        """(arrival s, points, age ms of its readings) of the messages since
        the last call."""
        with open(self.out, "rb") as f:
            f.seek(self.offset)
            data = f.read()
        cut = data.rfind(b"\n") + 1
        self.offset += cut
        result = []
        for line in data[:cut].splitlines():
            stamp, payload = line.split(b" ", 1)
            msg = json.loads(payload)
            ts = msg["ts"]
            polled = time.mktime(time.strptime(ts[:19], "%Y-%m-%dT%H:%M:%S")) - time.timezone \
                + int(ts[20:23]) / 1000
            result.append((float(stamp), len(msg.get("points", {"": 0})),
                           (float(stamp) - polled) * 1000))
        return result


def fleet(work, devices):
    stubs = [Stub(work, "visitor-counter-stub", ["--tcp", "0", "--registers", str(POINTS)])
             for _ in range(math.ceil(devices / 10))]
    return stubs, [s.address.split(":")[1] for s in stubs]


def percentile(values, q):
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


def live(work, broker, devices, interval_ms, seconds, label, quiet=False):
    stubs, ports = fleet(work, devices)
    sub = StampedSubscriber(work, broker, f"{label}-sub")
    store = work.file(f"{label}.db")
    gw = Daemon(work, many_points_ini("bench", broker.port, ports, store, devices, POINTS,
                                      interval=f"{interval_ms}ms"), label)
    time.sleep(3)  # connected and steady
    procs = {"daemon": gw.pid, "broker": broker.proc.pid, "subscriber": sub.proc.pid}
    procs.update({f"stub{i}": s.proc.pid for i, s in enumerate(stubs)})
    sub.take()
    c0 = {k: cpu_s(p) for k, p in procs.items()}
    w0, t0 = written_bytes(gw.pid), time.monotonic()
    time.sleep(seconds)
    got = sub.take()
    c1 = {k: cpu_s(p) for k, p in procs.items()}
    w1, t1 = written_bytes(gw.pid), time.monotonic()
    st = status(gw.pid)
    fsyncs = gw.stop()
    held = sqlite3.connect(store).execute("SELECT count(*) FROM records").fetchone()[0]
    for s in stubs:
        s.proc.terminate()
        s.proc.wait(5)
    sub.proc.terminate()
    sub.proc.wait(5)
    points = max(sum(n for _, n, _ in got), 1)
    span = t1 - t0
    offered = devices * POINTS * 1000 / interval_ms
    daemon_us = (c1["daemon"] - c0["daemon"]) * 1e6 / points
    all_us = sum(c1[k] - c0[k] for k in procs) * 1e6 / points
    ages = [a for _, _, a in got]
    result = {"offered": offered, "delivered": points / span, "daemon_us": daemon_us,
              "all_us": all_us, "broker_us": (c1["broker"] - c0["broker"]) * 1e6 / points,
              "p50": percentile(ages, 0.5), "p99": percentile(ages, 0.99),
              "rss": int(st["VmRSS"].split()[0]) / 1024, "threads": int(st["Threads"]),
              "fsync": fsyncs, "bytes": (w1 - w0) / points, "held": held,
              "messages": len(got) / span}
    if not quiet:
        print(f"live {devices} x {interval_ms} ms x {POINTS} points ({span:.0f} s): "
              f"{result['delivered']:.0f} of {offered:.0f} points/s delivered "
              f"({result['messages']:.0f} messages/s); daemon CPU {daemon_us:.2f} us/point; "
              f"all processes {all_us:.2f} us/point (broker {result['broker_us']:.2f}); "
              f"age p50 {result['p50']:.1f} ms, p99 {result['p99']:.1f} ms; "
              f"RSS {result['rss']:.1f} MiB, {result['threads']} threads; "
              f"{fsyncs:.2f} fsync/s; {result['bytes']:.2f} bytes written/point; "
              f"{held} records left in the store", flush=True)
    return result


def ceiling(work, broker, seconds):
    best = None
    for devices, interval in ((100, 100), (100, 50), (100, 20), (100, 10), (160, 10)):
        r = live(work, broker, devices, interval, seconds, f"ceiling-{devices}-{interval}",
                 quiet=True)
        kept_up = r["delivered"] >= 0.97 * r["offered"]
        print(f"ceiling: {devices} x {interval} ms offers {r['offered']:.0f} points/s: "
              f"{r['delivered']:.0f} delivered ({'kept up' if kept_up else 'fell behind'}), "
              f"daemon CPU {r['daemon_us']:.2f} us/point, age p50 {r['p50']:.0f} ms", flush=True)
        if not kept_up:
            break
        best = r["delivered"]
    print(f"ceiling: highest rate kept up with {best or 0:.0f} points/s", flush=True)


def backlog(work, broker, target=1_000_000):
    devices, interval = 100, 10
    stubs, ports = fleet(work, devices)
    store = work.file("backlog.db")
    ini = many_points_ini("bench", broker.port, ports, store, devices, POINTS,
                          interval=f"{interval}ms", extra="max_size = 4GB\n")
    broker.stop()
    gw = Daemon(work, ini, "backlog-fill")

    def held():
        try:
            db = sqlite3.connect(store, timeout=10)
            return db.execute("SELECT coalesce(sum(n), 0) FROM records").fetchone()[0]
        except sqlite3.Error:
            return 0
    started = time.monotonic()
    wait_until(lambda: held() >= target, 300, f"{target} readings held")
    fill_s = time.monotonic() - started
    gw.stop()
    for s in stubs:
        s.proc.terminate()
        s.proc.wait(5)
    total = held()
    size = os.path.getsize(store)
    broker.start()
    sub = StampedSubscriber(work, broker, "backlog-sub")
    gw = Daemon(work, ini, "backlog-drain")
    started = time.monotonic()
    got = 0
    deadline = started + 300
    while got < total and time.monotonic() < deadline:
        got += sum(n for _, n, _ in sub.take())
        time.sleep(0.2)
    drain_s = time.monotonic() - started
    st = status(gw.pid)
    gw.stop()
    print(f"backlog: {total} readings held with the broker away (filled in {fill_s:.1f} s, "
          f"{size / total:.1f} bytes of store file per reading); drained to the subscriber in "
          f"{drain_s:.1f} s = {got / drain_s:.0f} readings/s (daemon start and connect "
          f"included); RSS {int(st['VmRSS'].split()[0]) / 1024:.1f} MiB", flush=True)


def idle(work, broker, seconds):
    stubs, ports = fleet(work, 2)
    gw = Daemon(work, many_points_ini("bench", broker.port, ports, work.file("idle.db"), 2, POINTS,
                                      interval="10s"), "idle")
    time.sleep(5)
    s0, t0 = context_switches(gw.pid), time.monotonic()
    time.sleep(seconds)
    s1, t1 = context_switches(gw.pid), time.monotonic()
    st = status(gw.pid)
    gw.stop()
    print(f"idle: 2 devices x 10 s: {(s1 - s0) / (t1 - t0):.1f} wake-ups/s (context switches, "
          f"all {st['Threads'].strip()} threads); RSS {int(st['VmRSS'].split()[0]) / 1024:.1f} "
          f"MiB", flush=True)


def main():
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 15
    work = Workdir("bench")
    try:
        broker = Broker(work)
        broker.start()
        live(work, broker, 20, 100, seconds, "live-20")
        live(work, broker, 100, 100, seconds, "live-100")
        ceiling(work, broker, max(seconds / 2, 6))
        idle(work, broker, seconds)
        backlog(work, broker)
    finally:
        work.cleanup()


if __name__ == "__main__":
    main()
