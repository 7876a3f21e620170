#!/usr/bin/python3
"""Reference consumer of the gateway's MQTT contract (docs/mqtt-contract.md,
"Building a dashboard"): what a county's ingest service has to do to get the
visitor figures right, in about three hundred lines of Python.

  consumer.py run    --host H --port P --db F [--report-dir D]   ingest until SIGTERM
  consumer.py report --db F --report-dir D                        write the report once

`run` subscribes with a persistent session (fixed client id, clean session
off, QoS 1), so that the broker keeps what is published while it is down;
keeps every message's (gateway, store, seq) once, so a message delivered
twice counts once and a gateway whose store was made anew (seq from 1
again, under a new store identity) loses nothing; keeps counts, day totals and device metadata in SQLite; and
every --report-every seconds (and at the end) writes the report:
  report.md    per site and local day: visitors in and out, completeness,
               where the figure comes from (the day total, or the day's
               counts so far), and the sequence gaps seen per gateway
  daily.csv    the same rows, for a spreadsheet or a test
  report.png   visitors per hour (the last day) and per day, per site

Debian packages: python3-paho-mqtt (1.6), python3-matplotlib."""
import argparse
import csv
import json
import os
import signal
import sqlite3
import sys
import threading
import time
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

SCHEMA = """
CREATE TABLE IF NOT EXISTS seen (gateway TEXT, store TEXT, seq INTEGER,
  PRIMARY KEY (gateway, store, seq));
CREATE TABLE IF NOT EXISTS counts (
  gateway TEXT, device TEXT, point TEXT, type TEXT, interval_start TEXT, interval_end TEXT,
  day TEXT, count INTEGER, completeness REAL, events TEXT, seq INTEGER,
  PRIMARY KEY (gateway, device, point, type, interval_start));
CREATE TABLE IF NOT EXISTS devices (
  gateway TEXT, device TEXT, site TEXT, latitude REAL, longitude REAL, direction_in TEXT,
  PRIMARY KEY (gateway, device));
CREATE TABLE IF NOT EXISTS restarts (gateway TEXT, store TEXT, first_seq INTEGER,
  PRIMARY KEY (gateway, store, first_seq));
CREATE TABLE IF NOT EXISTS stats (name TEXT PRIMARY KEY, value INTEGER);
"""
SUPPORTED_SCHEMA = 3
# Messages of schema 2 and older carry no store identity: they count as
# store "", so their seqs never collide with a newer store's.
NO_STORE = ""


def parse_utc(iso):
    return datetime.strptime(iso, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc)


class Store:
    """The consumer's SQLite file. One connection, used under a lock by the
    MQTT thread and the report."""

    def __init__(self, path):
        self.db = sqlite3.connect(path, check_same_thread=False)
        self._upgrade()
        self.db.executescript(SCHEMA)
        self.lock = threading.Lock()

    def _upgrade(self):
        """A file of the version before store identities: its (gateway, seq)
        rows become store "" rows."""
        for table, key in (("seen", "seq"), ("restarts", "first_seq")):
            cols = [r[1] for r in self.db.execute(f"PRAGMA table_info({table})")]
            if cols and "store" not in cols:
                self.db.executescript(
                    f"ALTER TABLE {table} RENAME TO {table}_v2;"
                    f"CREATE TABLE {table} (gateway TEXT, store TEXT, {key} INTEGER,"
                    f"  PRIMARY KEY (gateway, store, {key}));"
                    f"INSERT INTO {table} SELECT gateway, '', {key} FROM {table}_v2;"
                    f"DROP TABLE {table}_v2;")

    def bump(self, name, by=1):
        self.db.execute("INSERT INTO stats VALUES (?, ?) ON CONFLICT(name) DO UPDATE "
                        "SET value = value + excluded.value", (name, by))

    def stat(self, name):
        row = self.db.execute("SELECT value FROM stats WHERE name = ?", (name,)).fetchone()
        return row[0] if row else 0

    def take(self, topic, payload):
        """One message; False if it was a duplicate."""
        parts = topic.split("/")
        if parts[-1] == "status":
            return True
        doc = json.loads(payload)
        if doc.get("schema_version", 1) > SUPPORTED_SCHEMA:
            self.bump("newer_schema")  # still read: fields are only ever added
        gateway = doc["gateway"]
        if parts[-1] == "health":
            self.db.execute("INSERT OR IGNORE INTO restarts VALUES (?, ?, ?)",
                            (gateway, doc["store"].get("id", NO_STORE), doc["store"]["first_seq"]))
            return True
        if parts[-1] == "meta":
            site = doc.get("site", {})
            self.db.execute("INSERT OR REPLACE INTO devices VALUES (?, ?, ?, ?, ?, ?)",
                            (gateway, doc["device"], site.get("name", doc["device"]),
                             site.get("latitude"), site.get("longitude"),
                             site.get("direction_in")))
            return True
        fresh = self.db.execute("INSERT OR IGNORE INTO seen VALUES (?, ?, ?)",
                                (gateway, doc.get("store", NO_STORE), doc["seq"])).rowcount == 1
        if not fresh:
            self.bump("duplicates")
            return False
        if doc.get("type") in ("count", "day_total"):
            self.db.execute(
                "INSERT OR REPLACE INTO counts VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                (gateway, doc["device"], doc["point"], doc["type"], doc["interval_start"],
                 doc["interval_end"], doc.get("day"), doc["count"], doc.get("completeness"),
                 ",".join(doc["events"]), doc["seq"]))
        return True


def gaps(db):
    """Per gateway and store, the runs of missing seqs, each marked as a
    restart (it ends at a first_seq a health message of that store named)
    or not."""
    out = []
    rows = db.execute("""
        SELECT gateway, store, prev + 1, seq - 1 FROM (
          SELECT gateway, store, seq,
                 LAG(seq) OVER (PARTITION BY gateway, store ORDER BY seq) AS prev
          FROM seen) WHERE seq - prev > 1 ORDER BY gateway, store, seq""").fetchall()
    for gateway, store, first, last in rows:
        restart = db.execute("SELECT 1 FROM restarts WHERE gateway = ? AND store = ? AND "
                             "first_seq = ?", (gateway, store, last + 1)).fetchone() is not None
        out.append((gateway if not store else f"{gateway} (store {store})", first, last, restart))
    return out


def daily_rows(db, tz):
    """(site, device, point, day, visitors, completeness, source) per local
    day: from the day total where the day has one, else from the day's
    counts so far (the day is not over, or the gateway predates day totals).
    Intervals sent with no data count as missing, not as zero."""
    rows = {}
    for gw, device, point, day, count, done in db.execute(
            "SELECT gateway, device, point, day, count, completeness FROM counts "
            "WHERE type = 'day_total'"):
        rows[(gw, device, point, day)] = (count, done, "day_total")
    partial = {}
    for gw, device, point, start, end, count, done in db.execute(
            "SELECT gateway, device, point, interval_start, interval_end, count, completeness "
            "FROM counts WHERE type = 'count'"):
        day = parse_utc(start).astimezone(tz).date().isoformat()
        if (gw, device, point, day) in rows:
            continue
        seconds = (parse_utc(end) - parse_utc(start)).total_seconds()
        got = partial.setdefault((gw, device, point, day), [0, 0.0, 0.0])
        got[0] += count or 0
        got[1] += seconds * (done or 0)
        got[2] += seconds
    for key, (visitors, covered, spanned) in partial.items():
        rows[key] = (visitors, covered / spanned if spanned else 0, "counts so far")
    sites = {(g, d): s for g, d, s in db.execute("SELECT gateway, device, site FROM devices")}
    return sorted((sites.get((g, d), d), d, p, day, v, c, src)
                  for (g, d, p, day), (v, c, src) in rows.items())


def hourly(db, tz):
    """{site: {local hour start: visitors in}} of the newest local day."""
    sites = {(g, d): s for g, d, s in db.execute("SELECT gateway, device, site FROM devices")}
    per = {}
    for gw, device, point, start, count in db.execute(
            "SELECT gateway, device, point, interval_start, count FROM counts "
            "WHERE type = 'count' AND count IS NOT NULL AND point LIKE '%\\_in' ESCAPE '\\'"):
        local = parse_utc(start).astimezone(tz)
        hour = local.replace(minute=0, second=0, microsecond=0)
        site = per.setdefault(sites.get((gw, device), device), {})
        site[hour] = site.get(hour, 0) + count
    if not per:
        return {}
    newest = max(h.date() for s in per.values() for h in s)
    return {s: {h: v for h, v in hours.items() if h.date() == newest} for s, hours in per.items()}


def write_report(store, out_dir, tz):
    os.makedirs(out_dir, exist_ok=True)
    with store.lock:
        rows = daily_rows(store.db, tz)
        gap_list = gaps(store.db)
        hours = hourly(store.db, tz)
        duplicates = store.stat("duplicates")
        messages = store.db.execute("SELECT COUNT(*) FROM seen").fetchone()[0]
    with open(os.path.join(out_dir, "daily.csv.tmp"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["site", "device", "point", "day", "visitors", "completeness", "source"])
        for r in rows:
            w.writerow(list(r[:5]) + [f"{r[5]:.3f}" if r[5] is not None else "", r[6]])
    os.replace(os.path.join(out_dir, "daily.csv.tmp"), os.path.join(out_dir, "daily.csv"))
    lines = ["# Visitors per site and local day", "",
             f"{messages} messages kept, {duplicates} duplicates dropped; time zone {tz.key}.", "",
             "| site | device | point | day | visitors | completeness | from |",
             "|---|---|---|---|---:|---:|---|"]
    lines += [f"| {s} | {d} | {p} | {day} | {v} | {c:.1%} | {src} |"
              for s, d, p, day, v, c, src in rows]
    lines += ["", "## Sequence gaps", ""]
    lines += [f"- {g}: seq {a}..{b} missing ({'a restart: numbers never used' if r else 'dropped by the gateway (see its health)'})"
              for g, a, b, r in gap_list] or ["none"]
    with open(os.path.join(out_dir, "report.md.tmp"), "w") as f:
        f.write("\n".join(lines) + "\n")
    os.replace(os.path.join(out_dir, "report.md.tmp"), os.path.join(out_dir, "report.md"))
    draw_chart(rows, hours, os.path.join(out_dir, "report.png"))


def draw_chart(rows, hours, path):
    """Visitors in per local hour of the newest day (an hour with no count
    has no bar: missing, not zero) and per day, one colour per site."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, (per_hour, per_day) = plt.subplots(2, 1, figsize=(10, 7))
    sites = sorted(set(hours) | {r[0] for r in rows if r[2].endswith("_in")})
    width = 0.8 / max(1, len(sites))
    for i, site in enumerate(sites):
        by_hour = {h.hour: v for h, v in hours.get(site, {}).items()}
        per_hour.bar([h + i * width for h in by_hour], list(by_hour.values()), width, label=site)
    day = next((h.date().isoformat() for s in hours.values() for h in s), "")
    per_hour.set_xticks(range(24), [f"{h:02d}" for h in range(24)])
    per_hour.set_xlim(-0.6, 23.6)
    per_hour.set_title(f"Visitors in per hour, {day} (local time)")
    days = sorted({r[3] for r in rows})[-14:]
    for i, site in enumerate(sites):
        values = [sum(r[4] or 0 for r in rows if r[0] == site and r[3] == d and r[2].endswith("_in"))
                  for d in days]
        per_day.bar([k + i * width for k in range(len(days))], values, width, label=site)
    per_day.set_xticks([k + 0.4 - width / 2 for k in range(len(days))], days)
    per_day.set_xlim(-0.6, max(len(days), 7) - 0.4)  # a bar stays a bar with few days
    per_day.set_title("Visitors in per day (the last 14)")
    for ax in (per_hour, per_day):
        if sites:
            ax.legend(loc="upper left", fontsize="small")
    fig.tight_layout()
    fig.savefig(path + ".tmp.png")
    plt.close(fig)
    os.replace(path + ".tmp.png", path)


def run(args, tz):
    import paho.mqtt.client as mqtt
    store = Store(args.db)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())

    def on_connect(client, userdata, flags, rc):
        print(f"consumer: connected (rc {rc}, session present {flags.get('session present')})",
              flush=True)
        client.subscribe([(f"{args.prefix}/+/{t}", 1) for t in
                          ("readings/#", "indicators/#", "devices/+/meta", "health", "status")])

    def on_message(client, userdata, msg):
        with store.lock:
            try:
                store.take(msg.topic, msg.payload)
            except (ValueError, KeyError) as e:  # not the contract: counted, not fatal
                store.bump("unreadable")
                print(f"consumer: unreadable message on {msg.topic}: {e}", flush=True)

    client = mqtt.Client(client_id=args.client_id, clean_session=False)
    client.on_connect = on_connect
    client.on_message = on_message
    client.reconnect_delay_set(1, 10)
    client.connect_async(args.host, args.port, keepalive=30)
    client.loop_start()
    next_report = time.monotonic() + args.report_every
    while not stop.wait(0.5):
        with store.lock:
            store.db.commit()  # one transaction per half second, not per message
        if args.report_dir and time.monotonic() >= next_report:
            write_report(store, args.report_dir, tz)
            next_report = time.monotonic() + args.report_every
    client.disconnect()
    client.loop_stop()
    with store.lock:
        store.db.commit()
    if args.report_dir:
        write_report(store, args.report_dir, tz)
    print("consumer: stopped", flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("command", choices=["run", "report"])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=1883)
    ap.add_argument("--prefix", default="smartregion")
    ap.add_argument("--client-id", default="dashboard-consumer")
    ap.add_argument("--db", default="dashboard.db")
    ap.add_argument("--report-dir", default="")
    ap.add_argument("--report-every", type=float, default=60)
    ap.add_argument("--timezone", default="Europe/Berlin",
                    help="local days of the report (the gateway's [gateway] timezone)")
    args = ap.parse_args()
    tz = ZoneInfo(args.timezone)
    if args.command == "report":
        write_report(Store(args.db), args.report_dir or ".", tz)
        return 0
    run(args, tz)
    return 0


if __name__ == "__main__":
    sys.exit(main())
