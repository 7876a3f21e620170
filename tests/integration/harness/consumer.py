"""The reference consumer (examples/dashboard-consumer) as a test runs it,
and what the tests compare its database with: the keys a subscriber saw,
the visitors a counter stub served."""
import json
import os
import signal
import sys
import time

from datetime import datetime
from zoneinfo import ZoneInfo

from .core import SLOW, SOURCE, check, wait_until
from .ini import counter_point, device, head, tcp_bus
from .runner import figure

CONSUMER = os.path.join(SOURCE, "examples", "dashboard-consumer", "consumer.py")
BERLIN = ZoneInfo("Europe/Berlin")


def trail_gateway_ini(work, broker, counter, gateway="test-gw", port=None):
    """A gateway in Europe/Berlin with one visitor counter (in and out,
    counts every 10 s) at a named site; it reaches the broker on `port`
    (a Relay's) if given."""
    site = ("count_interval = 10s\nsite = Nordpfad trailhead\nlatitude = 50.4969\n"
            "longitude = 9.9354\ndirection_in = into the forest\n")
    return (head(port or broker.port, work.file(f"{gateway}-store.db"), gateway=gateway,
                 gateway_extra="timezone = Europe/Berlin\n") +
            tcp_bus("gate", counter.address.split(":")[1]) +
            device("trail_north", "gate", interval="200ms", extra=site) +
            counter_point("trail_north", "visitors_in", 0) +
            counter_point("trail_north", "visitors_out", 1))


class Consumer:
    """One consumer process: its persistent session is `name`, its
    database a SQLite file in the work directory or `db` (a PostgreSQL
    URL)."""

    def __init__(self, work, broker, name="county-ingest", db=None, extra=()):
        self.work, self.broker, self.runs, self.name = work, broker, 0, name
        self.db = db or work.file(f"{name}.db")
        self.reports, self.extra = work.file(f"{name}-report"), list(extra)

    def start(self):
        self.runs += 1
        self.proc = self.work.start(
            [sys.executable, CONSUMER, "run", "--port", str(self.broker.port), "--db", self.db,
             "--report-dir", self.reports, "--report-every", "2", "--client-id", self.name]
            + self.extra, f"{self.name}-{self.runs}.log")
        wait_until(lambda: "consumer: connected" in open(self.proc.log_path).read(), 15,
                   "the consumer to connect")

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(30)
        check(self.proc.returncode == 0, f"consumer exited with {self.proc.returncode}")

    def kill(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def log(self):
        return open(self.proc.log_path).read()

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


def stub_visitors(raw, since_ts, until_ts):
    """The stub's visitors between the readings at since_ts and until_ts
    (raw: {ts: the 16-bit counter it served})."""
    values = [v for ts, v in sorted(raw.items()) if since_ts <= ts <= until_ts]
    return sum((b - a) % 65536 for a, b in zip(values, values[1:]))


def check_days(truth, rows, midnight, device, points):
    """The report's rows (daily.csv) for the local day that ended at
    `midnight` and the one after it equal the stub's visitors: the first
    from the gateway's day total, the second from the counts so far, up to
    the last count sent."""
    by_key = {(r["point"], r["day"]): r for r in rows}
    day_end = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(midnight))
    old_day, new_day = (datetime.fromtimestamp(t, BERLIN).date().isoformat()
                        for t in (midnight - 1, midnight))
    for point in points:
        raw = {p["ts"]: p["points"][point]["value"]
               for _, p in truth.messages(f"/readings/{device}")}
        last_of_day = max(ts for ts in raw if ts < day_end)
        counts = [p for _, p in truth.messages(f"/indicators/{device}/{point}")
                  if p["type"] == "count" and p["count"] is not None]
        last_to = max(c["to"] for c in counts)
        old, new = by_key[(point, old_day)], by_key[(point, new_day)]
        want_old = stub_visitors(raw, min(raw), last_of_day)
        want_new = stub_visitors(raw, last_of_day, last_to)
        check(old["source"] == "day_total" and int(old["visitors"]) == want_old,
              f"{point} on {old_day}: report {old}, the stub's visitors {want_old}")
        check(new["source"] == "counts so far" and int(new["visitors"]) == want_new,
              f"{point} on {new_day}: report {new}, the stub's visitors {want_new}")
        check(new["site"] == "Nordpfad trailhead", f"site not taken from the metadata: {new}")
        figure(f"{point}: {old_day} {old['visitors']} (day total, completeness "
               f"{old['completeness']}), {new_day} so far {new['visitors']} = the stub's "
               f"{want_old} and {want_new}")


def counts_of(truth, kind="count"):
    return [p for _, p in truth.messages("/indicators/") if p["type"] == kind]


def wait_for_midnight(truth):
    """Until the gateway has sent both counters' day totals."""
    wait_until(lambda: len(counts_of(truth, "day_total")) == 2, 60 * SLOW,
               "the day totals at midnight")


def restart_then_stop(gw, truth, counts=4):
    """A gateway restart, then `counts` more counts sent, then the gateway
    stopped: every interval it will ever send is out."""
    gw.stop()
    gw.start()
    before = len(counts_of(truth))
    wait_until(lambda: len(counts_of(truth)) >= before + counts, 60, "counts after it all")
    gw.stop()
