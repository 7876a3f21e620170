#!/usr/bin/python3
"""Reference consumer of the gateway's MQTT contract (docs/mqtt-contract.md,
"Building a dashboard"): what a county's ingest service has to do to get the
visitor figures right.

  consumer.py run    --host H --port P --db DB [--share GROUP] [--report-dir D]
  consumer.py report --db DB --report-dir D          write the report once

DB is a file (SQLite, the single-box default) or postgresql://... (several
consumers may share one database and one subscription).

`run` subscribes with a persistent session (fixed client id, clean session
off, QoS 1), so that the broker keeps what is published while it is down.
Messages are committed in batches, and each message is acknowledged to the
broker only after the batch that holds it has been committed: a consumer
killed mid-batch loses nothing, the broker delivers again what it did not
acknowledge. Every message is kept once by (gateway, store, seq), so a
message delivered twice (to this consumer or to another one sharing the
subscription) counts once and a gateway whose store was made anew loses
nothing. With --share GROUP, readings and indicators come through the
shared subscription $share/GROUP/...: the broker hands each message to one
member of the group. Device metadata, health and status are retained and
come through a normal subscription (a shared one gets no retained
messages) to every member.

Every --report-every seconds (and at the end) `run` writes the report
(report.py). Debian packages: python3-paho-mqtt (1.6), python3-matplotlib,
python3-psycopg for PostgreSQL."""
import argparse
import signal
import sys
import threading
import time
from zoneinfo import ZoneInfo

from ingest import Batch, Database, add_message
from report import write_report


def ack_after_commit_client(mqtt):
    """paho 1.6 acknowledges a QoS 1 message as soon as on_message returns,
    and offers no manual acknowledgement (2.0 does): its PUBACK is held here
    until the batch is committed. A PUBACK is valid only on the connection
    the message came on: after a reconnect the broker delivers the message
    again, and the held one is dropped."""
    if not hasattr(mqtt.Client, "_send_puback"):
        sys.exit("consumer: needs paho-mqtt 1.6 (Debian 12's python3-paho-mqtt)")

    class Client(mqtt.Client):
        def _send_puback(self, mid):
            return mqtt.MQTT_ERR_SUCCESS  # sent by release(), after the commit

        def release(self, mids):
            for mid in mids:
                mqtt.Client._send_puback(self, mid)
    return Client


class Inbox:
    """Messages received and not yet committed, with the connection they
    came on."""

    def __init__(self, tz):
        self.tz, self.lock = tz, threading.Lock()
        self.batch, self.mids, self.opened = Batch(), [], None
        self.connection = 0

    def add(self, msg):
        with self.lock:
            if not add_message(self.batch, msg.topic, msg.payload, self.tz):
                print(f"consumer: unreadable message on {msg.topic}", flush=True)
            if msg.qos > 0:
                self.mids.append(msg.mid)
            if self.opened is None:
                self.opened = time.monotonic()

    def connected(self):
        with self.lock:
            self.connection += 1
            self.mids = []  # their PUBACKs would land on a connection that never saw them

    def take(self, max_age, max_messages):
        """The batch, if it is due: the oldest message waited max_age or it
        holds max_messages."""
        with self.lock:
            if self.opened is None or (len(self.batch) < max_messages and
                                       time.monotonic() - self.opened < max_age):
                return None
            taken = (self.batch, self.mids, self.connection)
            self.batch, self.mids, self.opened = Batch(), [], None
            return taken


def topics(args):
    shared = f"$share/{args.share}/" if args.share else ""
    data = [(f"{shared}{args.prefix}/+/{t}", 1) for t in ("readings/#", "indicators/#")]
    return data + [(f"{args.prefix}/+/{t}", 1) for t in ("devices/+/meta", "health", "status")]


def run(args, tz):
    import paho.mqtt.client as mqtt
    db = Database(args.db, args.client_id)
    if not db.postgres:
        db.fill_local_days(tz)
    inbox = Inbox(tz)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())

    def on_connect(client, userdata, flags, rc):
        inbox.connected()
        print(f"consumer: connected (rc {rc}, session present {flags.get('session present')})",
              flush=True)
        client.subscribe(topics(args))

    client = ack_after_commit_client(mqtt)(client_id=args.client_id, clean_session=False)
    client.on_connect = on_connect
    client.on_message = lambda c, u, msg: inbox.add(msg)
    client.reconnect_delay_set(1, 10)
    client.connect_async(args.host, args.port, keepalive=30)
    client.loop_start()
    next_report = time.monotonic() + args.report_every
    max_age = args.batch_ms / 1000

    totals = {"messages": 0, "new": 0, "batches": 0}

    def commit(due_age):
        taken = inbox.take(due_age, args.batch)
        if taken:
            batch, mids, connection = taken
            totals["new"] += db.ingest(batch)
            totals["messages"] += len(batch)
            totals["batches"] += 1
            if connection == inbox.connection:
                client.release(mids)
    while not stop.wait(min(max_age, 0.05)):
        commit(max_age)
        if args.report_dir and time.monotonic() >= next_report:
            write_report(db, args.report_dir, tz)
            next_report = time.monotonic() + args.report_every
    commit(0)
    client.disconnect()
    client.loop_stop()
    commit(0)  # what arrived meanwhile is kept; its PUBACK is lost, so it comes again
    if args.report_dir:
        write_report(db, args.report_dir, tz)
    db.close()
    print(f"consumer: stopped; {totals['messages']} messages committed in {totals['batches']} "
          f"batches, {totals['new']} of them new", flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("command", choices=["run", "report"])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=1883)
    ap.add_argument("--prefix", default="smartregion")
    ap.add_argument("--client-id", default="dashboard-consumer",
                    help="the persistent session's id: one per consumer")
    ap.add_argument("--db", default="dashboard.db",
                    help="a SQLite file, or postgresql://user@host/dbname")
    ap.add_argument("--share", default="",
                    help="take readings and indicators through $share/GROUP/...")
    ap.add_argument("--batch", type=int, default=1000, help="commit at most this many at once")
    ap.add_argument("--batch-ms", type=float, default=50,
                    help="commit when the oldest uncommitted message waited this long")
    ap.add_argument("--report-dir", default="")
    ap.add_argument("--report-every", type=float, default=60)
    ap.add_argument("--timezone", default="Europe/Berlin",
                    help="local days of the report (the gateway's [gateway] timezone)")
    args = ap.parse_args()
    tz = ZoneInfo(args.timezone)
    if args.command == "report":
        db = Database(args.db, args.client_id)
        if not db.postgres:
            db.fill_local_days(tz)
        write_report(db, args.report_dir or ".", tz)
        return 0
    run(args, tz)
    return 0


if __name__ == "__main__":
    sys.exit(main())
