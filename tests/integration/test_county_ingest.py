"""The county side on PostgreSQL: two reference consumers share one MQTT
subscription ($share/county/...) and one real PostgreSQL server (started
by the test, 127.0.0.1 only). One of them is killed with SIGKILL while
messages flow and started again; the gateway loses the broker for a
while; the gateway restarts; its wall clock crosses a German midnight (libfaketime,
the one fake: see harness.FakeClock).
The outage is the gateway's: its path to the broker is cut (harness.Relay).

Then PostgreSQL must hold every message the gateway sent exactly once,
each with the payload an independent subscriber received; both consumers
must have committed some; the day totals must equal the stub's visitors;
and the only sequence gaps reported are the ones the gateway declared."""
import calendar
import csv
import json
import os
import subprocess
import sys
import time

from harness import (CONSUMER, SLOW, Broker, Consumer, FakeClock, Gateway, Postgres, Relay, Stub,
                     Subscriber, check, check_days, figure, restart_then_stop, run_test,
                     sent_keys, trail_gateway_ini, wait_for_midnight, wait_until)

MIDNIGHT = calendar.timegm((2026, 6, 15, 22, 0, 0))  # 00:00 CEST, 16 June 2026


def stored(pg):
    return set(pg.query("SELECT store, seq FROM seen WHERE gateway = 'test-gw'"))


def committed(consumer_log):
    """(messages, new) of each run's closing line."""
    runs = [line for line in consumer_log.splitlines() if "consumer: stopped;" in line]
    return [tuple(int(w) for w in line.replace(",", "").split() if w.isdigit())[0:3:2]
            for line in runs]


def body(work):
    broker = Broker(work)
    broker.start()
    pg = Postgres(work).start()
    counter = Stub(work, "visitor-counter-stub", ["--tcp", "0"])
    truth = Subscriber(work, broker, "smartregion/test-gw/#", "truth-sub")
    share = ["--share", "county", "--batch-ms", "50"]
    a = Consumer(work, broker, "ingest-a", db=pg.url, extra=share)
    b = Consumer(work, broker, "ingest-b", db=pg.url, extra=share)
    a.start()
    b.start()
    clock = FakeClock(work)
    clock.set_wall(MIDNIGHT - 20 * SLOW)
    # The gateway's own uplink goes down, not the broker: mosquitto 2.0.11
    # does not restore shared subscriptions from its persistence file, so
    # what is published after a broker restart, before the members have
    # subscribed again, reaches none of them (README, "The county side").
    uplink = Relay(broker.port)
    gw = Gateway(work, trail_gateway_ini(work, broker, counter, port=uplink.port),
                 env=clock.env())
    gw.start()
    wait_until(lambda: len(stored(pg)) >= 20, 30 * SLOW, "the consumers to store readings")

    a.kill()  # mid-run: what it received and had not committed was not acknowledged
    killed_at = len(stored(pg))
    time.sleep(2 * SLOW)
    a.start()
    wait_for_midnight(truth)
    uplink.cut()  # an outage: the gateway keeps what it polls
    time.sleep(3 * SLOW)
    uplink.restore()
    restart_then_stop(gw, truth)
    sent = sent_keys(truth)
    deadline = time.monotonic() + 30 * SLOW
    while not sent <= stored(pg) and time.monotonic() < deadline:
        time.sleep(0.2)
    missing = sorted(sent - stored(pg), key=lambda k: k[1])
    check(not missing, f"PostgreSQL lacks {len(missing)} of {len(sent)} messages, seq "
          f"{[q for _, q in missing][:40]}; present after the first missing: "
          f"{sorted(q for _, q in stored(pg) if missing and q > missing[0][1])}")
    a.stop()
    b.stop()

    rows = pg.query("SELECT store, seq, body FROM seen WHERE gateway = 'test-gw'")
    check(len(rows) == len(sent) and {(s, q) for s, q, _ in rows} == sent,
          f"PostgreSQL holds {len(rows)} messages, the gateway sent {len(sent)}")
    payloads = {}
    for line in truth.lines():
        topic, payload = line.split(" ", 1)
        if '"seq"' in payload:
            doc = json.loads(payload)
            payloads[(doc["store"], doc["seq"])] = doc
    differ = [(s, q) for s, q, body in rows if body != payloads[(s, q)]]
    check(not differ, f"{len(differ)} stored bodies differ from what was sent: {differ[:3]}")

    both = [committed(c.log()) for c in (a, b)]
    check(all(sum(n for n, _ in c) > 0 for c in both),
          f"both members of the share should have committed messages: {both}")

    report = work.file("county-report")
    out = subprocess.run([sys.executable, CONSUMER, "report", "--db", pg.url, "--report-dir",
                          report], capture_output=True, text=True, timeout=120)
    check(out.returncode == 0, f"report from PostgreSQL failed: {out.stderr}")
    check_days(truth, list(csv.DictReader(open(os.path.join(report, "daily.csv")))), MIDNIGHT,
               "trail_north", ("visitors_in", "visitors_out"))
    md = open(os.path.join(report, "report.md")).read()
    check("dropped by the gateway" not in md, f"a gap that is no restart:\n{md}")
    duplicates = pg.query("SELECT COALESCE(SUM(value), 0) FROM stats WHERE name = 'duplicates'")
    figure(f"two consumers sharing one subscription, one killed (SIGKILL at {killed_at} "
           f"messages stored) and restarted, the gateway's uplink cut for 3 s and a restart: "
           f"{len(rows)} of {len(sent)} messages in PostgreSQL, each once; committed per run "
           f"(messages, new): ingest-a {both[0]}, ingest-b {both[1]}; "
           f"{duplicates[0][0]} duplicates dropped by the database")


if __name__ == "__main__":
    run_test("county-ingest", body)
