"""The store against time and its own file.

1. Two gateways on one store: the second refuses to start (exit 1) and names
   the first one's pid; the first goes on.
2. The store file deleted while the gateway runs: it is rebuilt from the
   open copy, and after a restart no sequence number arrives twice with
   another payload, and none is missing.
3. A Pi without a real-time clock: the daemon starts 40 days behind (the
   broker is not reachable), polls, then NTP steps the clock forward. With
   max_age = 1m nothing may be dropped as "older than max_age": every reading
   arrives once the broker is there. libfaketime moves the daemon's wall
   clock (the test cannot set the machine's); its monotonic clock is real.
4. A store written by a newer version (schema 99) after a downgrade: the
   daemon refuses it (exit 1, naming both versions) and leaves the file
   byte for byte as it was: no tables added, no switch to WAL."""
import hashlib
import os
import sqlite3
import subprocess
import time

from harness import (demo_stubs, figure, SLOW, Broker, Gateway, Subscriber, check, check_gap_free,
                     dedupe_by_seq, demo_ini, run_test, shutdown_counters, wait_until)

LIBFAKETIME = "/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1"
FORTY_DAYS_S = 40 * 86400


def faked_clock_env(offset_file):
    preload = os.environ.get("LD_PRELOAD", "")
    return {"LD_PRELOAD": f"{preload} {LIBFAKETIME}".strip(),
            "FAKETIME_TIMESTAMP_FILE": offset_file, "FAKETIME_NO_CACHE": "1",
            "FAKETIME_DONT_FAKE_MONOTONIC": "1",
            "ASAN_OPTIONS": os.environ.get("ASAN_OPTIONS", "") + ":verify_asan_link_order=0"}


def one_store(work, counter, env):
    broker = Broker(work)
    broker.start()
    sub = Subscriber(work, broker, "smartregion/test-gw/readings/#", "guard-sub")
    store = work.file("store.db")
    ini = demo_ini(broker.port, counter.address.split(":")[1], env.address, store,
                   interval_ms=100)
    first = Gateway(work, ini, name="first")
    first.start()
    first.wait_connected()
    second = Gateway(work, ini, name="second")
    second.start()
    rc = second.proc.wait(20 * SLOW)
    check(rc == 1, f"the second gateway on the same store exited with {rc}, not 1")
    check(f"in use by another sensor-gateway (pid {first.proc.pid}" in second.log(),
          f"the refusal does not name the first gateway's pid:\n{second.log()[-600:]}")
    check(first.proc.poll() is None, "the first gateway stopped")

    wait_until(lambda: len(sub.readings()) >= 60, 20, "readings before the store is deleted")
    os.unlink(store)
    wait_until(lambda: "was removed while the gateway ran: rebuilt" in first.log(), 10,
               "the gateway to notice its store was removed")
    check(os.path.exists(store), "the store was not rebuilt at its path")
    time.sleep(1 * SLOW)
    first.stop()
    before = max(p["seq"] for _, p in sub.readings())
    first.start()  # a restart on the rebuilt file must not start again at seq 1
    wait_until(lambda: max(p["seq"] for _, p in sub.readings()) >= before + 60, 20,
               "readings after the restart")
    first.stop()
    sub.flush()
    unique, duplicates = dedupe_by_seq(sub.readings())  # same seq, other payload: fails
    check_gap_free(unique)
    broker.stop()
    figure(f"second gateway on one store: exit 1 naming pid {first.proc.pid}; store deleted "
           f"while running: rebuilt, {len(unique)} readings seq 1..{len(unique)} gap-free "
           f"across a restart, {duplicates} duplicates (same payload), 0 seq reused")


def stale_clock(work, counter, env):
    check(os.path.exists(LIBFAKETIME), f"{LIBFAKETIME} missing (apt-get install faketime)")
    offset_file = work.file("faketime")
    with open(offset_file, "w") as f:
        f.write(f"-{FORTY_DAYS_S}\n")
    broker = Broker(work)
    broker.start()  # only to open the subscriber's persistent session
    sub = Subscriber(work, broker, "smartregion/stale-gw/readings/#", "stale-sub")
    broker.stop()  # back only after the clock step
    ini = demo_ini(broker.port, counter.address.split(":")[1], env.address,
                   work.file("stale.db"), interval_ms=100, store_extra="max_age = 1m\n")
    # Its own gateway id: the broker keeps the first part's retained readings.
    ini = ini.replace("id = test-gw", "id = stale-gw")
    gw = Gateway(work, ini, name="stale", env=faked_clock_env(offset_file))
    gw.start()
    time.sleep(5 * SLOW)
    with open(offset_file, "w") as f:
        f.write("+0\n")  # NTP sets the clock: 40 days forward
    # The store's expiry runs every 10 s: give it two rounds after the step.
    wait_until(lambda: "the wall clock jumped" in gw.log(), 10, "the clock step to be noticed")
    time.sleep(21 * SLOW)
    broker.start()
    gw.wait_connected(30)
    wait_until(lambda: len(sub.readings()) > 0, 20, "the backlog to start arriving")
    time.sleep(3 * SLOW)
    gw.stop()
    log = gw.log()
    check("older than max_age" not in log, "readings were dropped as older than max_age:\n" +
          "\n".join(l for l in log.splitlines() if "max_age" in l))
    counters = shutdown_counters(log)
    check(counters["store-bound"] == 0, f"readings dropped by the store's bounds: {counters}")
    unique, _ = dedupe_by_seq(sub.readings())
    stale = [p for _, p in unique if p["ts"] < time.strftime("%Y-%m-%d", time.gmtime(
        time.time() - 30 * 86400))]
    check(len(stale) >= 6 * 10, f"only {len(stale)} readings stamped 40 days back arrived")
    check_gap_free(unique)
    figure(f"clock 40 days behind, then stepped forward, max_age 1m, broker away for "
           f"~{26 * SLOW:.0f}s: {len(stale)} readings stamped 40 days back and {len(unique)} in "
           f"all delivered gap-free; dropped as too old: 0")


def newer_store(work, counter, env):
    store = work.file("newer.db")
    db = sqlite3.connect(store)
    db.executescript("CREATE TABLE future(x INTEGER); INSERT INTO future VALUES (42);"
                     "PRAGMA user_version = 99;")
    db.close()
    before = hashlib.sha256(open(store, "rb").read()).hexdigest()
    ini = demo_ini(1, counter.address.split(":")[1], env.address, store)
    gw = Gateway(work, ini, name="newer")
    gw.start()
    rc = gw.proc.wait(30 * SLOW)
    log = gw.log()
    check(rc == 1, f"a newer store: exit {rc}, expected 1:\n{log[-2000:]}")
    check("store schema 99" in log and "left as it is" in log, f"the refusal is unclear:\n{log}")
    after = hashlib.sha256(open(store, "rb").read()).hexdigest()
    check(before == after, "the newer store's file was changed before it was refused")
    check(not os.path.exists(store + "-wal"), "a WAL file was left beside the newer store")
    tables = subprocess.run(["sqlite3", store, ".tables"], capture_output=True, text=True).stdout
    check(tables.split() == ["future"], f"tables after the refusal: {tables.split()}")
    figure("a store of schema 99: refused with exit 1, the file byte for byte unchanged")


def body(work):
    counter, env = demo_stubs(work)
    newer_store(work, counter, env)
    one_store(work, counter, env)
    stale_clock(work, counter, env)


if __name__ == "__main__":
    run_test("store-guard", body)
