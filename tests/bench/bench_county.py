"""A county in a box (not a test: it measures and prints, it does not
judge). Real peers, all on this machine: a PostgreSQL server of its own
(127.0.0.1), mosquitto, N reference consumers sharing one subscription
($share/county/...), two real sensor-gateway processes on visitor counter
stubs, and a generator publishing for GATEWAYS more gateways: contract
messages (a real gateway's health message is the template of theirs),
each gateway with its own store identity and seq, some restarting (seq
jumps, declared by a health message's first_seq), some going silent and
then sending their backlog at once, 2 % of messages sent twice.

For N = 1, 2, 4 consumers, each on a fresh database, the same load:
prints messages/s ingested (the generator's messages between the first
and the last one committed), the age from publish to commit (p50, p99:
the seen table's ingested_at minus the message's ts), and the check that
the database holds every (gateway, store, seq) sent exactly once and that
every gap it reports was declared by a restart.

Usage: tests/bench/county.sh [GATEWAYS [MESSAGES per gateway]]   (300, 100)"""
import json
import os
import random
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "integration"))
from harness import (CONSUMER, Broker, Gateway, Postgres, Stub, Subscriber,  # noqa: E402
                     Workdir, counter_point, device, head, schema_validator, tcp_bus,
                     wait_until)

sys.path.insert(0, os.path.join(os.path.dirname(CONSUMER)))
from report import GAPS  # noqa: E402


def real_gateways(work, broker):
    gateways = []
    for k in range(2):
        stub = Stub(work, "visitor-counter-stub", ["--tcp", "0"])
        name = f"real-{k}"
        ini = (head(broker.port, work.file(f"{name}.db"), gateway=name,
                    gateway_extra="health_interval = 1s\ntimezone = Europe/Berlin\n") +
               tcp_bus("gate", stub.address.split(":")[1]) +
               device("trail", "gate", interval="100ms", extra="count_interval = 1s\n") +
               counter_point("trail", "visitors_in", 0) + counter_point("trail", "visitors_out", 1))
        gateways.append(Gateway(work, ini, name=name))
    return gateways


def now_iso():
    t = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{int(t * 1000) % 1000:03d}Z"


class Generator:
    """The messages of `gateways` gateways, `per` data messages each, in a
    seeded order; `sent` is every (gateway, store, seq) it published."""

    def __init__(self, gateways, per, health_template, seed=2026):
        self.rng = random.Random(seed)
        self.health = health_template
        self.plan = []  # (gateway, store, seq, restart?) in publish order
        streams = []
        for g in range(gateways):
            name, store, seq, rows = f"site-{g:03d}", f"{self.rng.getrandbits(32):08x}", 0, []
            for _ in range(per):
                restart = self.rng.random() < 0.01
                seq += 1 + (5 if restart else 0)
                rows.append((name, store, seq, restart))
            streams.append(rows)
        # Interleave the gateways; a tenth of them go silent for a while and
        # then send their backlog at once.
        cursors = [0] * gateways
        silent = {g: self.rng.randrange(per) for g in range(0, gateways, 10)}
        while any(c < per for c in cursors):
            for g in range(gateways):
                if cursors[g] >= per:
                    continue
                burst = 20 if g in silent and cursors[g] == silent[g] else 1
                for _ in range(burst):
                    if cursors[g] < per:
                        self.plan.append(streams[g][cursors[g]])
                        cursors[g] += 1
        self.sent = {(g, s, q) for g, s, q, _ in self.plan}

    def reading(self, gateway, store, seq):
        v = self.rng.randrange(65536)
        return {"schema_version": 3, "seq": seq, "ts": now_iso(), "gateway": gateway,
                "store": store, "device": "counter", "clock_synced": True,
                "points": {"visitors_in": {"value": v, "unit": "visitors", "quality": "good"}}}

    def health_of(self, gateway, store, first_seq):
        doc = json.loads(json.dumps(self.health))
        doc.update(gateway=gateway, ts=now_iso())
        doc["store"].update(id=store, first_seq=first_seq, next_seq=first_seq)
        return doc

    def publish(self, port):
        import paho.mqtt.client as mqtt
        client = mqtt.Client(client_id="county-generator", clean_session=True)
        client.max_inflight_messages_set(1000)
        client.max_queued_messages_set(0)
        client.connect("127.0.0.1", port)
        client.loop_start()
        checked = set()
        last = None
        for gateway, store, seq, restart in self.plan:
            if restart:
                health = self.health_of(gateway, store, seq)
                self._check_once(checked, "health", health)
                last = client.publish(f"smartregion/{gateway}/health", json.dumps(health), 1)
            doc = self.reading(gateway, store, seq)
            self._check_once(checked, "reading", doc)
            payload = json.dumps(doc, separators=(",", ":"))
            last = client.publish(f"smartregion/{gateway}/readings/counter", payload, 1)
            if self.rng.random() < 0.02:  # a redelivery, as after a lost PUBACK
                client.publish(f"smartregion/{gateway}/readings/counter", payload, 1)
        last.wait_for_publish(120)
        client.disconnect()
        client.loop_stop()

    @staticmethod
    def _check_once(checked, schema, doc):
        if schema not in checked:
            schema_validator(schema).validate(doc)
            checked.add(schema)


def percentile(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(p / 100 * len(values)))] if values else float("nan")


def phase(work, broker, pg, consumers, gen, truth):
    dbname = f"county_{consumers}"
    with pg.connect() as db:
        db.execute(f"DROP DATABASE IF EXISTS {dbname}")
        db.execute(f"CREATE DATABASE {dbname}")
    url = pg.url.rsplit("/", 1)[0] + "/" + dbname
    procs = []
    for k in range(consumers):
        log = f"consumer-{consumers}-{k}.log"
        procs.append(work.start([sys.executable, CONSUMER, "run", "--port", str(broker.port),
                                 "--db", url, "--share", f"county{consumers}", "--client-id",
                                 f"ingest-{consumers}-{k}"], log))
        wait_until(lambda: "consumer: connected" in open(work.file(log)).read(), 30,
                   "a consumer to connect")
    time.sleep(1)  # their subscriptions in place
    started = time.monotonic()
    gen.publish(broker.port)
    published_s = time.monotonic() - started
    import psycopg
    with psycopg.connect(url, autocommit=True) as db:
        def held():
            return db.execute("SELECT COUNT(*) FROM seen WHERE gateway LIKE 'site-%'"
                              ).fetchone()[0]
        wait_until(lambda: held() >= len(gen.sent), 300, "the consumers to commit the load")
        time.sleep(1)  # anything sent twice that is still on its way
        keys = db.execute("SELECT gateway, store, seq FROM seen WHERE gateway LIKE 'site-%'"
                          ).fetchall()
        span, ages = db.execute(
            "SELECT EXTRACT(EPOCH FROM MAX(ingested_at) - MIN(ingested_at)), "
            "ARRAY_AGG(EXTRACT(EPOCH FROM ingested_at - ts) * 1000) FROM seen "
            "WHERE gateway LIKE 'site-%'").fetchone()
        gaps = db.execute(GAPS).fetchall()
        real = set(db.execute("SELECT gateway, store, seq FROM seen WHERE gateway LIKE 'real-%'"
                              ).fetchall())
        duplicates = db.execute("SELECT COALESCE(SUM(value), 0) FROM stats "
                                "WHERE name = 'duplicates'").fetchone()[0]
    for p in procs:
        p.terminate()
        p.wait(30)
    once = len(keys) == len(set(keys)) == len(gen.sent) and set(keys) == gen.sent
    site_gaps = [g for g in gaps if g[0].startswith("site-")]
    undeclared = [g for g in site_gaps if not g[4]]
    restarts = sum(1 for *_, r in gen.plan if r)
    print(f"consumers {consumers}: {len(gen.sent)} messages of {len(gen.sent) // gen.per} "
          f"gateways published in {published_s:.1f} s, ingested at "
          f"{len(gen.sent) / float(span):,.0f} messages/s; age publish to commit p50 "
          f"{percentile(ages, 50):.0f} ms, p99 {percentile(ages, 99):.0f} ms; every (gateway, "
          f"store, seq) exactly once: {'yes' if once else 'NO'}; {duplicates} duplicates "
          f"dropped; gaps {len(site_gaps)} (restarts declared {restarts}), undeclared "
          f"{len(undeclared)}; real gateways' messages stored {len(real)}", flush=True)


def main():
    gateways = int(sys.argv[1]) if len(sys.argv) > 1 else 300
    per = int(sys.argv[2]) if len(sys.argv) > 2 else 100
    work = Workdir("bench-county")
    try:
        broker = Broker(work)
        broker.start()
        pg = Postgres(work).start()
        truth = Subscriber(work, broker, "smartregion/real-0/health", "health-template")
        for gw in real_gateways(work, broker):
            gw.start()
        wait_until(lambda: any(t.endswith("/health") for t, _ in truth.messages("/health")), 30,
                   "a real gateway's health message")
        template = next(p for t, p in truth.messages("/health"))
        gen = Generator(gateways, per, template)
        gen.per = per
        print(f"# {gateways} generated gateways x {per} messages, 2 real gateways (10 polls/s "
              f"each), mosquitto, PostgreSQL 15, consumers sharing $share/county...", flush=True)
        for consumers in (1, 2, 4):
            gen.rng.seed(consumers)
            phase(work, broker, pg, consumers, gen, truth)
    finally:
        work.cleanup()


if __name__ == "__main__":
    main()
