"""The data-path benchmark (not a test: it measures and prints, it does not
judge). Real peers throughout, all on this machine: visitor-counter stubs
serving 20 holding registers each over Modbus TCP, the daemon, mosquitto on
loopback, a QoS 1 subscriber (mosquitto_sub, persistent session) that stamps
every message with the time it arrived.

  tcp-1000  1,000 TCP devices x 10 points every second: the same figures
  live    20 x 100 ms and 100 x 100 ms, 20 points a device: daemon CPU per
          delivered point, all processes' CPU per point, points/s delivered
          vs offered, age at the subscriber p50/p99, RSS, threads, fsync +
          fdatasync per second (perf counting the kernel's tracepoints) and
          bytes written to storage per point (/proc/PID/io), all over the
          same steady window after start-up
  ceiling the highest rate kept up with (delivered >= 97 % of offered)
  backlog 1,000,000 readings held with the broker away, then drained
  idle    2 devices x 10 s: wake-ups per second (context switches of all
          the daemon's threads), RSS
  demo    config/examples/demo.ini (a visitor counter with counts per
          minute, a weather station with a 1-minute window: a few readings
          a second) for two minutes: bytes written to storage, per day

Usage: tests/bench/run.sh [SECONDS]   (SECONDS per live window, default 15)
"""
import json
import math
import re
import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "integration"))
from harness import (BUILD, SOURCE, Broker, Stub, Workdir, demo_stubs,  # noqa: E402
                     many_points_ini, stored_readings, wait_until)
from harness import status as read_status_file  # noqa: E402

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
    """The gateway, started directly (nothing between it and the kernel)."""

    def __init__(self, work, ini_text, name):
        self.ini = work.file(f"{name}.ini")
        with open(self.ini, "w") as f:
            f.write(ini_text)
        self.log = open(work.file(f"{name}.log"), "w")
        self.proc = subprocess.Popen([os.path.join(BUILD, "sensor-gateway"), "-c", self.ini],
                                     stdout=self.log, stderr=subprocess.STDOUT)
        self.pid = self.proc.pid

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(60)


def perf_during(pid, seconds):
    """Sleeps seconds while perf counts the process's CPU time (task-clock,
    exact, where /proc's clock ticks undercount a hundred short-running
    threads), its fsync and fdatasync calls, all its system calls and its
    context switches (kernel tracepoints and software counters: nothing is
    slowed down); returns {cpu, syncs, syscalls, switches}."""
    out = subprocess.run(["perf", "stat", "-x,", "-e", "task-clock,context-switches,"
                          "raw_syscalls:sys_enter,syscalls:sys_enter_fsync,"
                          "syscalls:sys_enter_fdatasync", "-p", str(pid), "--", "sleep",
                          str(seconds)], capture_output=True, text=True).stderr
    got = {"cpu": 0.0, "syncs": 0, "syscalls": 0, "switches": 0}
    for line in out.splitlines():
        fields = line.split(",")
        if len(fields) < 3 or not fields[0].replace(".", "").isdigit():
            continue
        if fields[2] == "task-clock":
            got["cpu"] = float(fields[0]) / 1000  # milliseconds
        elif fields[2] == "context-switches":
            got["switches"] = int(fields[0])
        elif fields[2] == "raw_syscalls:sys_enter":
            got["syscalls"] = int(fields[0])
        elif fields[2].startswith("syscalls:"):
            got["syncs"] += int(fields[0])
    return got


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


def fleet(work, devices, points=POINTS, per_stub=10):
    stubs = [Stub(work, "visitor-counter-stub", ["--tcp", "0", "--registers", str(points)])
             for _ in range(math.ceil(devices / per_stub))]
    return stubs, [s.address.split(":")[1] for s in stubs]


def percentile(values, q):
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


def poll_counts(path):
    """(polls ok, polls failed) of all devices, from the status file."""
    health = read_status_file(path) or {"devices": {}}
    return (sum(d.get("polls_ok", 0) for d in health["devices"].values()),
            sum(d.get("polls_failed", 0) for d in health["devices"].values()))


def live(work, broker, devices, interval_ms, seconds, label, quiet=False, points_each=POINTS,
         per_stub=10, settle_s=4, count_polls=False):
    stubs, ports = fleet(work, devices, points_each, per_stub)
    sub = StampedSubscriber(work, broker, f"{label}-sub")
    store = work.file(f"{label}.db")
    # Health every second into a file in memory (as /run on a Pi: it is
    # not the storage the bytes-written figure counts): each device's polls.
    status_path = f"/dev/shm/bench-{os.getpid()}-{label}.json" if count_polls else None
    gw = Daemon(work, many_points_ini("bench", broker.port, ports, store, devices, points_each,
                                      interval=f"{interval_ms}ms", status_file=status_path),
                label)
    time.sleep(settle_s)  # connected and steady
    polls0 = poll_counts(status_path) if count_polls else None
    procs = {"daemon": gw.pid, "broker": broker.proc.pid, "subscriber": sub.proc.pid}
    procs.update({f"stub{i}": s.proc.pid for i, s in enumerate(stubs)})
    sub.take()
    c0 = {k: cpu_s(p) for k, p in procs.items()}
    w0, t0 = written_bytes(gw.pid), time.monotonic()
    counted = perf_during(gw.pid, seconds)
    daemon_cpu, syncs = counted["cpu"], counted["syncs"]
    got = sub.take()
    c1 = {k: cpu_s(p) for k, p in procs.items()}
    w1, t1 = written_bytes(gw.pid), time.monotonic()
    st = status(gw.pid)
    polls1 = poll_counts(status_path) if count_polls else None
    gw.stop()
    if count_polls:
        os.unlink(status_path)
    fsyncs = syncs / (t1 - t0)
    held = stored_readings(store)
    for s in stubs:
        s.proc.terminate()
        s.proc.wait(5)
    sub.proc.terminate()
    sub.proc.wait(5)
    points = max(sum(n for _, n, _ in got), 1)
    span = t1 - t0
    offered = devices * points_each * 1000 / interval_ms
    daemon_us = daemon_cpu * 1e6 / points
    all_us = (daemon_cpu + sum(c1[k] - c0[k] for k in procs if k != "daemon")) * 1e6 / points
    ages = [a for _, _, a in got]
    result = {"offered": offered, "delivered": points / span, "daemon_us": daemon_us,
              "all_us": all_us, "broker_us": (c1["broker"] - c0["broker"]) * 1e6 / points,
              "p50": percentile(ages, 0.5), "p99": percentile(ages, 0.99),
              "rss": int(st["VmRSS"].split()[0]) / 1024, "threads": int(st["Threads"]),
              "fsync": fsyncs, "bytes": (w1 - w0) / points, "held": held,
              "messages": len(got) / span}
    # One message per device poll (layout = device): what each poll cost
    # the daemon in system calls and context switches, all threads.
    polls = max(len(got), 1)
    result["syscalls_per_poll"] = counted["syscalls"] / polls
    result["switches_per_poll"] = counted["switches"] / polls
    if count_polls:
        # Health is written once a second: the window's ends are a second
        # apart at most from those of the figures above.
        print(f"{label}: polls completed {polls1[0] - polls0[0]} (the interval asks "
              f"{devices * span * 1000 / interval_ms:.0f} in {span:.0f} s), failed "
              f"{polls1[1] - polls0[1]}; failed since start {polls1[1]}", flush=True)
    if not quiet:
        print(f"live {devices} x {interval_ms} ms x {points_each} points ({span:.0f} s): "
              f"{result['delivered']:.0f} of {offered:.0f} points/s delivered "
              f"({result['messages']:.0f} messages/s); daemon CPU {daemon_us:.2f} us/point; "
              f"all processes {all_us:.2f} us/point (broker {result['broker_us']:.2f}); "
              f"age p50 {result['p50']:.1f} ms, p99 {result['p99']:.1f} ms; "
              f"RSS {result['rss']:.1f} MiB, {result['threads']} threads; "
              f"{fsyncs:.2f} fsync/s; {result['bytes']:.2f} bytes written/point; "
              f"per poll {result['syscalls_per_poll']:.1f} syscalls, "
              f"{result['switches_per_poll']:.2f} context switches; "
              f"{held} readings left in the store", flush=True)
    return result


def ceiling(work, broker, seconds):
    """Kept up: nothing piles up between poll and subscriber (age p99 under
    a second, nothing left in the store). What the fleet delivers below
    what it offers is polling (Modbus round trips to the stubs on the same
    two cores), shown beside it."""
    best = None
    for devices, interval in ((100, 50), (100, 20), (100, 10), (200, 10), (200, 5)):
        r = live(work, broker, devices, interval, seconds, f"ceiling-{devices}-{interval}",
                 quiet=True)
        kept_up = r["p99"] < 1000 and r["held"] == 0
        print(f"ceiling: {devices} x {interval} ms offers {r['offered']:.0f} points/s: "
              f"{r['delivered']:.0f} delivered ({'kept up' if kept_up else 'fell behind'}), "
              f"daemon CPU {r['daemon_us']:.2f} us/point, all processes {r['all_us']:.2f}, "
              f"age p50 {r['p50']:.0f} ms, p99 {r['p99']:.0f} ms", flush=True)
        if not kept_up:
            break
        best = r["delivered"]
    print(f"ceiling: highest rate kept up with {best or 0:.0f} points/s", flush=True)


def backlog(work, broker, target=1_000_000):
    devices, interval = 100, 10
    stubs, ports = fleet(work, devices)
    store, status_path = work.file("backlog.db"), work.file("backlog-status.json")
    ini = many_points_ini("bench", broker.port, ports, store, devices, POINTS,
                          interval=f"{interval}ms", extra="max_size = 4GB\n",
                          status_file=status_path)
    broker.stop()
    gw = Daemon(work, ini, "backlog-fill")
    time.sleep(1)

    def held():
        return (read_status_file(status_path) or {"store": {"depth": 0}})["store"]["depth"]
    started = time.monotonic()
    wait_until(lambda: held() >= target, 300, f"{target} readings held")
    fill_s = time.monotonic() - started
    gw.stop()
    for s in stubs:
        s.proc.terminate()
        s.proc.wait(5)
    total = stored_readings(store)
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


# strace -yy lines: pwrite64(5</path/demo.db-wal>, "..."..., 1024, 19968) = 1024
WRITE_CALL = re.compile(r"\b(pwrite64|write|writev)\(\d+<([^>]*)>, .*\) = (\d+)$")
PWRITE_OFFSET = re.compile(r", (\d+)\) = \d+$")


def file_writes(trace_path):
    """From an strace of write calls and syncs: bytes the daemon wrote to
    files, and the 4 KiB blocks those writes touched, counted anew after
    every sync: what a flash card has to program at least. (The kernel's
    write_bytes counts dirtied page-cache folios, which on a recent kernel
    can be far larger than what was written.)"""
    written, blocks, touched = 0, 0, set()
    with open(trace_path) as f:
        for line in f:
            if "fdatasync(" in line or "fsync(" in line:
                blocks += len(touched)
                touched = set()
                continue
            m = WRITE_CALL.search(line.rstrip())
            if not m or not m.group(2).startswith("/") or m.group(2).startswith("/dev/"):
                continue  # sockets, pipes, terminals
            call, path, done = m.group(1), m.group(2), int(m.group(3))
            written += done
            if call == "pwrite64":
                start = int(PWRITE_OFFSET.search(line.rstrip()).group(1))
                touched.update((path, b) for b in range(start // 4096, (start + done - 1) // 4096 + 1))
            else:
                blocks += (int(done) + 4095) // 4096  # the log: appended, unsynced
    return written, blocks + len(touched)


def demo(work, broker, seconds=120):
    counter, env = demo_stubs(work)
    with open(os.path.join(SOURCE, "config", "examples", "demo.ini")) as f:
        ini = f.read()
    ini = ini.replace("127.0.0.1:18830", f"127.0.0.1:{broker.port}")
    ini = ini.replace("port = 15020", f"port = {counter.address.split(':')[1]}")
    ini = ini.replace("/tmp/sensor-gateway-demo/rs485-0", env.address)
    ini = ini.replace("/tmp/sensor-gateway-demo/store.db", work.file("demo.db"))
    gw = Daemon(work, ini, "demo")
    time.sleep(3)
    trace = work.file("demo.strace")
    # Sockets are left out by fd type: strace -yy names them.
    strace = subprocess.Popen(["strace", "-f", "-qq", "-yy", "-e", "trace=pwrite64,write,writev,"
                               "fdatasync,fsync", "-o", trace, "-p", str(gw.pid)])
    w0, t0 = written_bytes(gw.pid), time.monotonic()
    syncs = perf_during(gw.pid, seconds)["syncs"]
    w1, t1 = written_bytes(gw.pid), time.monotonic()
    strace.terminate()
    strace.wait(10)
    data, blocks = file_writes(trace)
    st = status(gw.pid)
    gw.stop()
    for s in (counter, env):
        s.proc.terminate()
        s.proc.wait(5)
    per_day = (w1 - w0) / (t1 - t0) * 86400
    day = 86400 / (t1 - t0)
    print(f"demo: config/examples/demo.ini for {t1 - t0:.0f} s: {w1 - w0} bytes written to "
          f"storage (write_bytes) = {per_day / 1e6:.1f} MB a day; {data} bytes written to files "
          f"in {blocks} 4 KiB blocks = {data * day / 1e6:.1f} MB, {blocks * 4096 * day / 1e6:.1f} "
          f"MB in blocks a day; {syncs / (t1 - t0):.3f} fsync/s; RSS "
          f"{int(st['VmRSS'].split()[0]) / 1024:.1f} MiB", flush=True)


def main():
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 15
    work = Workdir("bench")
    try:
        broker = Broker(work)
        broker.start()
        parts = {"live-20": lambda: live(work, broker, 20, 100, seconds, "live-20"),
                 "live-100": lambda: live(work, broker, 100, 100, seconds, "live-100"),
                 # A thousand Modbus TCP devices, 10 registers each, every
                 # second, over 5 stubs of 200 connections.
                 "tcp-1000": lambda: live(work, broker, 1000, 1000, seconds, "tcp-1000",
                                          points_each=10, per_stub=200, settle_s=8,
                                          count_polls=True),
                 "ceiling": lambda: ceiling(work, broker, max(seconds / 2, 6)),
                 "idle": lambda: idle(work, broker, seconds),
                 "demo": lambda: demo(work, broker),
                 "backlog": lambda: backlog(work, broker)}
        for name in sys.argv[2:] or parts:
            parts[name]()
    finally:
        work.cleanup()


if __name__ == "__main__":
    main()
