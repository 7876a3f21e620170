"""The reference consumer (examples/dashboard-consumer/consumer.py) against
the gateway and the visitor counter stub, across a German midnight, a
broker outage, a restart of the consumer (its persistent session keeps
what is published meanwhile) and a restart of the gateway.

The gateway's wall clock starts 20 s before midnight in Europe/Berlin
(libfaketime, the one fake: see harness.FakeClock). The report's daily
totals must equal the stub's visitors: for the day that ended, from the
gateway's day total; for the new day, the day's counts so far, up to the
last count sent. The stub's visitors are the steps between the raw readings
it served, which a second, independent subscriber records."""
import calendar
import csv
import json
import os
import time

from harness import (CONSUMER, SLOW, Broker, Consumer, FakeClock, Gateway, Stub, Subscriber, check,
                     check_days, counter_point, counts_of, device, figure, head,
                     restart_then_stop, run_test, sent_keys, tcp_bus, trail_gateway_ini,
                     wait_for_midnight, wait_until)

MIDNIGHT = calendar.timegm((2026, 6, 15, 22, 0, 0))  # 00:00 CEST, 16 June 2026


def wiped_store(work, broker, counter):
    """The store deleted while the gateway is stopped (a purge and
    reinstall, a fresh SD image): the new store starts at seq 1 again under
    its own identity, and the consumer keeps every message of both runs."""
    truth = Subscriber(work, broker, "smartregion/wiped-gw/#", "wiped-truth")
    consumer = Consumer(work, broker, "wiped-ingest")
    consumer.start()
    store = work.file("wiped-store.db")
    ini = (head(broker.port, store, gateway="wiped-gw") +
           tcp_bus("gate", counter.address.split(":")[1]) +
           device("trail_north", "gate", interval="100ms", extra="count_interval = 1s\n") +
           counter_point("trail_north", "visitors_in", 0))
    gw = Gateway(work, ini, name="wiped")
    for run in range(2):
        if run:
            for suffix in ("", "-wal", "-shm"):
                if os.path.exists(store + suffix):
                    os.remove(store + suffix)
        gw.start()
        gw.wait_connected()
        time.sleep(3 * SLOW)
        gw.stop()
    truth.flush()
    sent = sent_keys(truth)
    stores = {s for s, _ in sent}
    check(len(stores) == 2, f"two stores, two identities expected, got {stores}")
    per_store = [sorted(q for s, q in sent if s == one) for one in stores]
    check(all(seqs[0] == 1 for seqs in per_store), "each store should start at seq 1")
    wait_until(lambda: sent <= consumer.seqs("wiped-gw"), 30,
               "the consumer to keep both stores' messages")
    consumer.stop()
    kept = consumer.seqs("wiped-gw")
    check(kept == sent, f"consumer kept {len(kept)} of {len(sent)} messages")
    reused = len(set(per_store[0]) & set(per_store[1]))
    figure(f"store wiped between two runs: {len(sent)} messages, {reused} seq numbers used by "
           f"both stores, all {len(kept)} kept by the consumer (key: gateway, store, seq)")


OLD_FILE = """
CREATE TABLE seen (gateway TEXT, store TEXT, seq INTEGER, PRIMARY KEY (gateway, store, seq));
CREATE TABLE counts (gateway TEXT, device TEXT, point TEXT, type TEXT, interval_start TEXT,
  interval_end TEXT, day TEXT, count INTEGER, completeness REAL, events TEXT, seq INTEGER,
  PRIMARY KEY (gateway, device, point, type, interval_start));
CREATE TABLE devices (gateway TEXT, device TEXT, site TEXT, latitude REAL, longitude REAL,
  direction_in TEXT, PRIMARY KEY (gateway, device));
CREATE TABLE restarts (gateway TEXT, store TEXT, first_seq INTEGER,
  PRIMARY KEY (gateway, store, first_seq));
CREATE TABLE stats (name TEXT PRIMARY KEY, value INTEGER);
INSERT INTO seen VALUES ('gw', 'abcd0123', 1), ('gw', 'abcd0123', 2), ('gw', 'abcd0123', 5);
INSERT INTO counts VALUES ('gw', 'dev', 'visitors_in', 'count', '2026-06-15T21:00:00.000Z',
  '2026-06-15T21:10:00.000Z', NULL, 7, 1.0, '', 1);
INSERT INTO counts VALUES ('gw', 'dev', 'visitors_in', 'count', '2026-06-15T22:00:00.000Z',
  '2026-06-15T22:10:00.000Z', NULL, 3, 0.5, '', 2);
INSERT INTO restarts VALUES ('gw', 'abcd0123', 5);
INSERT INTO stats VALUES ('duplicates', 4);
"""


def old_file(work):
    """A database file of the version before PostgreSQL (no message bodies,
    no local days, one stats row per name) is upgraded in place and
    reported as before: local days filled in from the counts' starts."""
    import sqlite3
    import subprocess
    import sys
    path, out = work.file("old-consumer.db"), work.file("old-report")
    with sqlite3.connect(path) as db:
        db.executescript(OLD_FILE)
    run = subprocess.run([sys.executable, CONSUMER, "report", "--db", path, "--report-dir", out],
                         capture_output=True, text=True, timeout=60)
    check(run.returncode == 0, f"report on an old file failed: {run.stderr}")
    rows = [(r["day"], r["visitors"]) for r in
            csv.DictReader(open(os.path.join(out, "daily.csv")))]
    check(rows == [("2026-06-15", "7"), ("2026-06-16", "3")], f"old file's days: {rows}")
    report = open(os.path.join(out, "report.md")).read()
    check("3 messages kept, 4 duplicates" in report and "seq 3..4 missing (a restart" in report,
          f"old file's report:\n{report}")
    figure("a consumer file of the version before: upgraded in place, days " + str(rows))


def bad_messages(work):
    """A count that cannot be read keeps neither its message row nor its
    count, and is counted; a message of a newer schema is kept and counted."""
    import sqlite3
    import sys
    from zoneinfo import ZoneInfo
    sys.path.insert(0, os.path.dirname(CONSUMER))
    from ingest import Batch, Database, add_message
    tz, batch = ZoneInfo("Europe/Berlin"), Batch()
    base = {"gateway": "gw", "store": "abcd0123", "device": "dev", "point": "visitors_in"}
    broken = dict(base, seq=1, type="count", schema_version=3)  # no interval, no count
    newer = dict(base, seq=2, ts="2026-06-15T22:00:00.000Z", schema_version=4)
    check(not add_message(batch, "smartregion/gw/indicators/dev/visitors_in",
                          json.dumps(broken).encode(), tz), "a broken count was taken")
    check(add_message(batch, "smartregion/gw/readings/dev/visitors_in",
                      json.dumps(newer).encode(), tz), "a newer schema's reading was refused")
    path = work.file("bad-messages.db")
    db = Database(path, "t")
    db.ingest(batch)
    db.close()
    with sqlite3.connect(path) as raw:
        seqs = [r[0] for r in raw.execute("SELECT seq FROM seen")]
        stats = dict(raw.execute("SELECT name, value FROM stats"))
    check(seqs == [2] and stats == {"unreadable": 1, "newer_schema": 1},
          f"kept {seqs}, counted {stats}")


def body(work):
    broker = Broker(work)
    broker.start()
    counter = Stub(work, "visitor-counter-stub", ["--tcp", "0"])
    truth = Subscriber(work, broker, "smartregion/test-gw/#", "truth-sub")
    consumer = Consumer(work, broker)
    consumer.start()
    clock = FakeClock(work)
    clock.set_wall(MIDNIGHT - 20 * SLOW)
    gw = Gateway(work, trail_gateway_ini(work, broker, counter), env=clock.env())
    gw.start()
    wait_for_midnight(truth)
    broker.stop()  # an outage: the gateway keeps what it polls
    time.sleep(3 * SLOW)
    broker.start()
    consumer.stop()  # the ingest restarts; the broker queues for its session
    time.sleep(3 * SLOW)
    consumer.start()
    restart_then_stop(gw, truth)
    sent = sent_keys(truth)
    wait_until(lambda: sent <= consumer.seqs(), 30, "the consumer to have every message")
    consumer.stop()

    rows = list(csv.DictReader(open(os.path.join(consumer.reports, "daily.csv"))))
    check_days(truth, rows, MIDNIGHT, "trail_north", ("visitors_in", "visitors_out"))
    report = open(os.path.join(consumer.reports, "report.md")).read()
    check("dropped by the gateway" not in report, f"the report sees a gap that is no restart:\n{report}")
    png = open(os.path.join(consumer.reports, "report.png"), "rb").read()
    check(png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10000, "report.png is no chart")
    day_total = next(p for p in counts_of(truth, "day_total") if p["point"] == "visitors_in")
    figure("day total: " + json.dumps(day_total))
    figure(f"consumer: {len(consumer.seqs())} messages over {consumer.runs} runs, a broker "
           f"outage and a gateway restart; report.png {len(png)} bytes")
    wiped_store(work, broker, counter)
    old_file(work)
    bad_messages(work)


if __name__ == "__main__":
    run_test("reference-consumer", body)
