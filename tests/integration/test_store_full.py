"""Full store: the broker is away and the store runs out of room, once by
its configured max_size (SQLite's page limit) and once on a real file system
that fills up (a 4 MiB tmpfs, mounted when the test runs as root; without
that permission the second phase says it did not run).

While full the daemon keeps polling, drops the oldest readings to make room,
counts and logs it; when room returns (the broker drains the backlog, or a
file is deleted) it recovers by itself. The database passes SQLite's
integrity check afterwards, and the records the dashboard gets are exactly
the ones not dropped: the oldest records went (seq 1..F-1, holding the D
readings counted as dropped), and F..last arrived or wait in the store."""
import os
import sqlite3
import subprocess
import time

from harness import (demo_stubs, iso_ms, figure, SLOW, Broker, Gateway, Subscriber, check, dedupe_by_seq,
                     demo_ini, integrity, run_test, shutdown_counters, wait_until)


def started_devices(work):
    counter, env = demo_stubs(work)
    return counter.address.split(":")[1], env.address


def drain_and_check(work, gw, broker, sub, store, label, must_drop):
    """Brings the broker up, waits for the backlog and fresh readings, stops
    the gateway, and checks what arrived against what the gateway counted."""
    broker.start()
    back_ms = time.time() * 1000
    wait_until(lambda: any(iso_ms(p["ts"]) > back_ms + 1500 for _, p in sub.readings()), 60,
               f"{label}: readings polled after the broker came back")
    gw.stop()
    sub.flush()
    counters = shutdown_counters(gw.log())
    unique, duplicates = dedupe_by_seq(sub.readings())
    dropped = counters["store-full"] + counters["store-bound"]
    check(dropped > 0 or not must_drop, f"{label}: nothing was dropped ({counters})")
    check(counters["errors"] > 0 or must_drop, f"{label}: the store never failed ({counters})")
    check(counters["unsaved"] == 0, f"{label}: readings lost at shutdown: {counters}")
    # The oldest went: what is left starts right after them and has no gap;
    # the last few, committed at shutdown, wait in the store for the next
    # start. One run of the gateway, so no restart gap.
    kept = {row[0] for row in _rows(store, "SELECT seq FROM records")}
    delivered = {p["seq"] for _, p in unique}
    first = min(delivered)
    missing = set(range(first, max(delivered | kept) + 1)) - delivered - kept
    check(not missing, f"{label}: {len(missing)} records neither delivered nor kept, e.g. "
          f"{sorted(missing)[:5]}")
    # A record holds one reading at least and a poll's worth at most.
    per_record = max(len(p) for p in _points_per_seq(unique).values())
    check(first - 1 <= dropped <= (first - 1) * per_record,
          f"{label}: {dropped} readings counted as dropped, but records 1..{first - 1} are "
          f"missing (at most {per_record} readings each)")
    verdict = integrity(store)
    check(verdict == "ok", f"{label}: integrity_check says {verdict}")
    return counters, unique, duplicates


def _points_per_seq(unique):
    points = {}
    for _, p in unique:
        points.setdefault(p["seq"], set()).add(p["point"])
    return points


def _rows(store, sql):
    db = sqlite3.connect(store, timeout=10)
    try:
        return db.execute(sql).fetchall()
    finally:
        db.close()


def page_limit_phase(work, ports):
    broker = Broker(work)
    broker.start()  # only to open the subscriber's persistent session
    sub = Subscriber(work, broker, "smartregion/test-gw/readings/#", "limited-sub")
    broker.stop()
    store = work.file("limited.db")
    gw = Gateway(work, demo_ini(broker.port, ports[0], ports[1], store, interval_ms=10,
                                store_extra="max_size = 128KiB\nmax_readings = 1000000\n"),
                 name="limited")
    gw.start()
    wait_until(lambda: "no space left" in gw.log(), 60, "the store to fill up to max_size")
    time.sleep(3 * SLOW)  # polling goes on while full
    check(gw.proc.poll() is None, "the gateway exited while the store was full")
    counters, unique, dups = drain_and_check(work, gw, broker, sub, store, "max_size",
                                             must_drop=True)
    figure(f"max_size 128 KiB: {counters['polled']} readings polled, {counters['store-full']} "
          f"oldest dropped while full (counted, logged), {len(unique)} delivered as seq "
          f"{unique[0][1]['seq']}..{unique[-1][1]['seq']} gap-free, {dups} duplicates; "
          f"integrity_check ok; lost beyond the counted drops: 0")


def mount_tmpfs(path, size):
    os.makedirs(path, exist_ok=True)
    if os.geteuid() != 0:
        return False
    rc = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", path],
                        capture_output=True).returncode
    return rc == 0


def fill(path):
    """Writes a filler file until the file system says it is full. Unbuffered
    (os.write): a buffered file would try to flush its rest again at close,
    and raise ENOSPC outside any try, failing the test on its own plumbing."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        while True:
            os.write(fd, b"\0" * 65536)
    except OSError:
        pass
    finally:
        os.close(fd)


def full_disk_phase(work, ports):
    mnt = work.file("tmpfs")
    if not mount_tmpfs(mnt, "4m"):
        figure("real full disk: not run (mounting a tmpfs needs root)")
        return
    try:
        broker = Broker(work)
        broker.start()  # only to open the subscriber's persistent session
        sub = Subscriber(work, broker, "smartregion/test-gw/readings/#", "disk-sub")
        broker.stop()
        store = os.path.join(mnt, "store.db")
        gw = Gateway(work, demo_ini(broker.port, ports[0], ports[1], store, interval_ms=10),
                     name="disk")
        gw.start()
        wait_until(lambda: os.path.exists(store + "-wal") and os.path.getsize(store) > 0, 20,
                   "the store to exist")
        time.sleep(1 * SLOW)
        filler = os.path.join(mnt, "filler")
        fill(filler)
        wait_until(lambda: "database or disk is full" in gw.log(), 30, "the disk to be full")
        time.sleep(3 * SLOW)  # polling goes on while full
        check(gw.proc.poll() is None, "the gateway exited on a full disk")
        check("commit failed" in gw.log(), "the failed commits were not logged")
        os.remove(filler)  # space returns
        counters, unique, dups = drain_and_check(work, gw, broker, sub, store, "full disk",
                                             must_drop=False)
        # On a disk this full even a DELETE cannot be written, so nothing
        # is dropped: fresh readings wait in memory (ingest_capacity) until
        # space returns.
        figure(f"real full disk (4 MiB tmpfs, filled by another file, then freed): "
              f"{counters['store-full']} dropped to make room, {counters['queue-full']} dropped "
              f"from the full memory queue (counted), {counters['errors']} failed commits "
              f"retried; {counters['polled']} readings polled, {len(unique)} delivered as seq "
              f"{unique[0][1]['seq']}..{unique[-1][1]['seq']} gap-free, the rest kept in the "
              f"store; {dups} duplicates; integrity_check ok; lost: 0")
    finally:
        subprocess.run(["umount", "-l", mnt], capture_output=True)


def body(work):
    ports = started_devices(work)
    page_limit_phase(work, ports)
    full_disk_phase(work, ports)


if __name__ == "__main__":
    run_test("store-full", body)
