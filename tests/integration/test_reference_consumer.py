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
import signal
import sys
import time

from harness import (SLOW, SOURCE, Broker, FakeClock, Gateway, Stub, Subscriber, check,
                     counter_point, device, figure, head, run_test, tcp_bus, wait_until)

MIDNIGHT = calendar.timegm((2026, 6, 15, 22, 0, 0))  # 00:00 CEST, 16 June 2026
CONSUMER = os.path.join(SOURCE, "examples", "dashboard-consumer", "consumer.py")


class Consumer:
    def __init__(self, work, broker, name="county-ingest"):
        self.work, self.broker, self.runs, self.name = work, broker, 0, name
        self.db, self.reports = work.file(f"{name}.db"), work.file(f"{name}-report")

    def start(self):
        self.runs += 1
        self.proc = self.work.start(
            [sys.executable, CONSUMER, "run", "--port", str(self.broker.port), "--db", self.db,
             "--report-dir", self.reports, "--report-every", "2", "--client-id", self.name],
            f"{self.name}-{self.runs}.log")
        wait_until(lambda: "consumer: connected" in open(self.proc.log_path).read(), 15,
                   "the consumer to connect")

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(30)
        check(self.proc.returncode == 0, f"consumer exited with {self.proc.returncode}")

    def seqs(self, gateway="test-gw"):
        import sqlite3
        with sqlite3.connect(f"file:{self.db}?mode=ro", uri=True) as db:
            return set(db.execute("SELECT store, seq FROM seen WHERE gateway = ?", (gateway,)))


def sent_keys(sub):
    """(store, seq) of every message a subscriber received."""
    keys = set()
    for line in sub.lines():
        topic, payload = line.split(" ", 1)
        if not topic.endswith("/status") and '"seq"' in payload:
            doc = json.loads(payload)
            keys.add((doc["store"], doc["seq"]))
    return keys


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


def gateway_ini(work, broker, counter):
    site = ("count_interval = 10s\nsite = Nordpfad trailhead\nlatitude = 50.4969\n"
            "longitude = 9.9354\ndirection_in = into the forest\n")
    return (head(broker.port, work.file("store.db"), gateway_extra="timezone = Europe/Berlin\n") +
            tcp_bus("gate", counter.address.split(":")[1]) +
            device("trail_north", "gate", interval="200ms", extra=site) +
            counter_point("trail_north", "visitors_in", 0) +
            counter_point("trail_north", "visitors_out", 1))


def stub_visitors(raw, since_ts, until_ts):
    """The stub's visitors between the readings at since_ts and until_ts."""
    values = [v for ts, v in sorted(raw.items()) if since_ts <= ts <= until_ts]
    return sum((b - a) % 65536 for a, b in zip(values, values[1:]))


def body(work):
    broker = Broker(work)
    broker.start()
    counter = Stub(work, "visitor-counter-stub", ["--tcp", "0"])
    truth = Subscriber(work, broker, "smartregion/test-gw/#", "truth-sub")
    consumer = Consumer(work, broker)
    consumer.start()
    clock = FakeClock(work)
    clock.set_wall(MIDNIGHT - 20 * SLOW)
    gw = Gateway(work, gateway_ini(work, broker, counter), env=clock.env())
    gw.start()

    def days():
        return [p for _, p in truth.messages("/indicators/") if p["type"] == "day_total"]
    wait_until(lambda: len(days()) == 2, 60 * SLOW, "the day totals at midnight")
    broker.stop()  # an outage: the gateway keeps what it polls
    time.sleep(3 * SLOW)
    broker.start()
    consumer.stop()  # the ingest restarts; the broker queues for its session
    time.sleep(3 * SLOW)
    consumer.start()
    gw.stop()
    gw.start()
    before = len([1 for _, p in truth.messages("/indicators/") if p["type"] == "count"])
    wait_until(lambda: len([1 for _, p in truth.messages("/indicators/")
                            if p["type"] == "count"]) >= before + 4, 60, "counts after it all")
    gw.stop()
    sent = sent_keys(truth)
    wait_until(lambda: sent <= consumer.seqs(), 30, "the consumer to have every message")
    consumer.stop()

    rows = {(r["point"], r["day"]): r for r in
            csv.DictReader(open(os.path.join(consumer.reports, "daily.csv")))}
    for point in ("visitors_in", "visitors_out"):
        raw = {}
        for _, p in truth.messages("/readings/trail_north"):
            raw[p["ts"]] = p["points"][point]["value"]
        first_ts = min(raw)
        day_end = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(MIDNIGHT))
        last_of_day = max(ts for ts in raw if ts < day_end)
        counts = [p for _, p in truth.messages(f"/indicators/trail_north/{point}")
                  if p["type"] == "count" and p["count"] is not None]
        last_to = max(c["to"] for c in counts)
        old, new = rows[(point, "2026-06-15")], rows[(point, "2026-06-16")]
        want_old = stub_visitors(raw, first_ts, last_of_day)
        want_new = stub_visitors(raw, last_of_day, last_to)
        check(old["source"] == "day_total" and int(old["visitors"]) == want_old,
              f"{point} on 15 June: report {old}, the stub's visitors {want_old}")
        check(new["source"] == "counts so far" and int(new["visitors"]) == want_new,
              f"{point} on 16 June: report {new}, the stub's visitors {want_new}")
        check(new["site"] == "Nordpfad trailhead", f"site not taken from the metadata: {new}")
        figure(f"{point}: 15 June {old['visitors']} (day total, completeness "
               f"{old['completeness']}), 16 June so far {new['visitors']} = the stub's "
               f"{want_old} and {want_new}")
    report = open(os.path.join(consumer.reports, "report.md")).read()
    check("dropped by the gateway" not in report, f"the report sees a gap that is no restart:\n{report}")
    png = open(os.path.join(consumer.reports, "report.png"), "rb").read()
    check(png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10000, "report.png is no chart")
    day_total = next(p for p in days() if p["point"] == "visitors_in")
    figure("day total: " + json.dumps(day_total))
    figure(f"consumer: {len(consumer.seqs())} messages over {consumer.runs} runs, a broker "
           f"outage and a gateway restart; report.png {len(png)} bytes")
    wiped_store(work, broker, counter)


if __name__ == "__main__":
    run_test("reference-consumer", body)
