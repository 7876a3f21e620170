"""The consumer's database: SQLite (one file, the single-box default) or
PostgreSQL (--db postgresql://..., Debian's python3-psycopg), with one
schema and one set of statements.

Every message of the contract is one row of `seen`, keyed by (gateway,
store, seq) and inserted with ON CONFLICT DO NOTHING: a message delivered
twice, to the same consumer or to another one sharing the subscription,
is kept once, whoever commits first. Counts and day totals go to `counts`
keyed by their interval; a later seq for the same interval replaces an
earlier one, whatever order they arrive in. A batch of messages is one
transaction; the caller acknowledges the batch to the broker only after
`ingest` returned, so a consumer killed mid-batch loses nothing."""
import json
import threading
from datetime import datetime, timezone

SUPPORTED_SCHEMA = 3
# Messages of schema 2 and older carry no store identity: they count as
# store "", so their seqs never collide with a newer store's.
NO_STORE = ""

SQLITE_SCHEMA = """
CREATE TABLE IF NOT EXISTS seen (gateway TEXT, store TEXT, seq INTEGER,
  kind TEXT, device TEXT, point TEXT, ts TEXT, body TEXT,
  ingested_at TEXT DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
  PRIMARY KEY (gateway, store, seq));
CREATE TABLE IF NOT EXISTS counts (
  gateway TEXT, device TEXT, point TEXT, type TEXT, interval_start TEXT, interval_end TEXT,
  day TEXT, count INTEGER, completeness REAL, events TEXT, seq INTEGER,
  local_day TEXT, local_hour INTEGER, seconds REAL,
  PRIMARY KEY (gateway, device, point, type, interval_start));
CREATE TABLE IF NOT EXISTS devices (
  gateway TEXT, device TEXT, site TEXT, latitude REAL, longitude REAL, direction_in TEXT,
  PRIMARY KEY (gateway, device));
CREATE TABLE IF NOT EXISTS restarts (gateway TEXT, store TEXT, first_seq INTEGER,
  PRIMARY KEY (gateway, store, first_seq));
CREATE TABLE IF NOT EXISTS stats (consumer TEXT, name TEXT, value INTEGER,
  PRIMARY KEY (consumer, name));
"""

# The same tables in PostgreSQL's types: a county queries ts as a time and
# body as JSON. stats has a row per consumer, so that consumers sharing
# the subscription never wait for one another's counter row.
POSTGRES_SCHEMA = """
CREATE TABLE IF NOT EXISTS seen (gateway text, store text, seq bigint,
  kind text, device text, point text, ts timestamptz, body jsonb,
  ingested_at timestamptz DEFAULT clock_timestamp(),
  PRIMARY KEY (gateway, store, seq));
CREATE TABLE IF NOT EXISTS counts (
  gateway text, device text, point text, type text, interval_start text, interval_end text,
  day text, count bigint, completeness double precision, events text, seq bigint,
  local_day text, local_hour integer, seconds double precision,
  PRIMARY KEY (gateway, device, point, type, interval_start));
CREATE TABLE IF NOT EXISTS devices (
  gateway text, device text, site text, latitude double precision,
  longitude double precision, direction_in text, PRIMARY KEY (gateway, device));
CREATE TABLE IF NOT EXISTS restarts (gateway text, store text, first_seq bigint,
  PRIMARY KEY (gateway, store, first_seq));
CREATE TABLE IF NOT EXISTS stats (consumer text, name text, value bigint,
  PRIMARY KEY (consumer, name));
"""

SEEN_COLUMNS = "gateway, store, seq, kind, device, point, ts, body"

UPSERT_COUNT = """
INSERT INTO counts VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)
ON CONFLICT (gateway, device, point, type, interval_start) DO UPDATE SET
  interval_end = excluded.interval_end, day = excluded.day, count = excluded.count,
  completeness = excluded.completeness, events = excluded.events, seq = excluded.seq,
  local_day = excluded.local_day, local_hour = excluded.local_hour, seconds = excluded.seconds
WHERE counts.seq < excluded.seq"""
UPSERT_DEVICE = """
INSERT INTO devices VALUES (?,?,?,?,?,?) ON CONFLICT (gateway, device) DO UPDATE SET
  site = excluded.site, latitude = excluded.latitude, longitude = excluded.longitude,
  direction_in = excluded.direction_in"""
INSERT_RESTART = "INSERT INTO restarts VALUES (?,?,?) ON CONFLICT DO NOTHING"
BUMP = """INSERT INTO stats VALUES (?,?,?) ON CONFLICT (consumer, name) DO UPDATE
  SET value = stats.value + excluded.value"""


def parse_utc(iso):
    return datetime.strptime(iso, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc)


class Batch:
    """The rows of the messages received since the last commit."""

    def __init__(self):
        self.seen, self.counts, self.devices, self.restarts = [], {}, {}, set()
        self.unreadable = self.newer_schema = 0
        self.messages = 0

    def __len__(self):
        return self.messages


def add_message(batch, topic, payload, tz):
    """Parses one message into the batch's rows; False if it is not the
    contract (counted, not fatal)."""
    batch.messages += 1
    parts = topic.split("/")
    if parts[-1] == "status":
        return True
    try:
        doc = json.loads(payload)
        gateway = doc["gateway"]
        if doc.get("schema_version", 1) > SUPPORTED_SCHEMA:
            batch.newer_schema += 1  # still read: fields are only ever added
        if parts[-1] == "health":
            batch.restarts.add((gateway, doc["store"].get("id", NO_STORE),
                                doc["store"]["first_seq"]))
        elif parts[-1] == "meta":
            site = doc.get("site", {})
            batch.devices[(gateway, doc["device"])] = (
                gateway, doc["device"], site.get("name", doc["device"]), site.get("latitude"),
                site.get("longitude"), site.get("direction_in"))
        else:
            add_data(batch, doc, parts, tz, payload)
        return True
    except (ValueError, KeyError, TypeError, AttributeError):
        batch.unreadable += 1
        return False


def add_data(batch, doc, parts, tz, payload):
    """A reading or an indicator: its `seen` row, and a count's row."""
    kind = "readings" if "readings" in parts else "indicators"
    store, seq = doc.get("store", NO_STORE), int(doc["seq"])
    ts = doc.get("ts") or doc.get("interval_end")
    body = payload.decode() if isinstance(payload, bytes) else payload
    seen = (doc["gateway"], store, seq, kind, doc["device"], doc.get("point"), ts, body)
    if doc.get("type") not in ("count", "day_total"):
        batch.seen.append(seen)
        return
    start, end = parse_utc(doc["interval_start"]), parse_utc(doc["interval_end"])
    local = start.astimezone(tz)
    key = (doc["gateway"], doc["device"], doc["point"], doc["type"], doc["interval_start"])
    row = key + (doc["interval_end"], doc.get("day"), doc["count"], doc.get("completeness"),
                 ",".join(doc.get("events", [])), seq, local.date().isoformat(), local.hour,
                 (end - start).total_seconds())
    # Both rows or neither: a count that cannot be read is not half kept.
    batch.seen.append(seen)
    if key not in batch.counts or batch.counts[key][10] < seq:
        batch.counts[key] = row


class Database:
    """One connection; `ingest` from the MQTT side and the report's reads
    take turns under a lock."""

    def __init__(self, url, consumer):
        self.consumer = consumer
        self.lock = threading.Lock()
        self.postgres = url.startswith(("postgresql://", "postgres://"))
        if self.postgres:
            self._open_postgres(url)
        else:
            self._open_sqlite(url)

    def _open_sqlite(self, path):
        import sqlite3
        self.db = sqlite3.connect(path, check_same_thread=False)
        self._upgrade_sqlite()
        self.db.executescript(SQLITE_SCHEMA)
        self.db.commit()

    def _open_postgres(self, url):
        import psycopg
        self.db = psycopg.connect(url)
        with self.db.transaction():
            # Two consumers starting at once both create the tables: the
            # lock makes the second wait and then find them.
            self.db.execute("SELECT pg_advisory_xact_lock(20260614)")
            self.db.execute(POSTGRES_SCHEMA)
        self.db.execute("CREATE TEMP TABLE seen_in (gateway text, store text, seq bigint, "
                        "kind text, device text, point text, ts timestamptz, body jsonb) "
                        "ON COMMIT DELETE ROWS")
        self.db.commit()

    def _upgrade_sqlite(self):
        """A file of an earlier version: seen and restarts without a store
        (schema 2), seen without the message, stats without a consumer."""
        def columns(table):
            return [r[1] for r in self.db.execute(f"PRAGMA table_info({table})")]
        for table, key in (("seen", "seq"), ("restarts", "first_seq")):
            if columns(table) and "store" not in columns(table):
                self.db.executescript(
                    f"ALTER TABLE {table} RENAME TO {table}_v2;"
                    f"CREATE TABLE {table} (gateway TEXT, store TEXT, {key} INTEGER,"
                    f"  PRIMARY KEY (gateway, store, {key}));"
                    f"INSERT INTO {table} SELECT gateway, '', {key} FROM {table}_v2;"
                    f"DROP TABLE {table}_v2;")
        for name in ("kind", "device", "point", "ts", "body", "ingested_at"):
            if columns("seen") and name not in columns("seen"):
                self.db.execute(f"ALTER TABLE seen ADD COLUMN {name} TEXT")
        for name, kind in (("local_day", "TEXT"), ("local_hour", "INTEGER"), ("seconds", "REAL")):
            if columns("counts") and name not in columns("counts"):
                self.db.execute(f"ALTER TABLE counts ADD COLUMN {name} {kind}")
        if columns("stats") and "consumer" not in columns("stats"):
            self.db.executescript("ALTER TABLE stats RENAME TO stats_v3;"
                                  "CREATE TABLE stats (consumer TEXT, name TEXT, value INTEGER,"
                                  "  PRIMARY KEY (consumer, name));"
                                  "INSERT INTO stats SELECT '', name, value FROM stats_v3;"
                                  "DROP TABLE stats_v3;")
        self.db.commit()

    def fill_local_days(self, tz):
        """Counts kept by a version before local days were stored get
        theirs (once: afterwards every row has one)."""
        with self.lock:
            rows = self.db.execute(self.sql("SELECT gateway, device, point, type, interval_start, "
                                            "interval_end FROM counts WHERE local_day IS NULL")
                                   ).fetchall()
            for key in rows:
                start, end = parse_utc(key[4]), parse_utc(key[5])
                local = start.astimezone(tz)
                self.db.execute(self.sql(
                    "UPDATE counts SET local_day = ?, local_hour = ?, seconds = ? WHERE "
                    "gateway = ? AND device = ? AND point = ? AND type = ? AND interval_start = ?"),
                    (local.date().isoformat(), local.hour, (end - start).total_seconds())
                    + tuple(key[:5]))
            self.db.commit()

    def sql(self, statement):
        return statement.replace("?", "%s") if self.postgres else statement

    def query(self, statement, params=()):
        with self.lock:
            # Without parameters, a LIKE's % is no placeholder to psycopg.
            args = (self.sql(statement), params) if params else (statement,)
            rows = self.db.execute(*args).fetchall()
            self.db.commit()  # PostgreSQL: end the read's transaction
            return rows

    def ingest(self, batch):
        """Commits the batch; returns the messages it held that were new.
        Rows go in key order, so that two consumers' transactions lock
        them in the same order and never deadlock."""
        with self.lock:
            for attempt in range(5):
                try:
                    fresh = self._write(batch)
                    self.db.commit()
                    return fresh
                except Exception as e:  # a deadlock or serialization failure: run it again
                    self.db.rollback()
                    if not self.postgres or attempt == 4 or not _retryable(e):
                        raise
        return 0

    def _write(self, batch):
        seen = sorted(batch.seen, key=lambda r: r[:3])
        if self.postgres:
            fresh = self._copy_seen(seen)
        else:
            before = self.db.total_changes
            self.db.executemany(f"INSERT INTO seen ({SEEN_COLUMNS}) VALUES (?,?,?,?,?,?,?,?) "
                                "ON CONFLICT DO NOTHING", seen)
            fresh = self.db.total_changes - before
        cur = self.db.cursor()
        if batch.counts:
            cur.executemany(self.sql(UPSERT_COUNT), [batch.counts[k] for k in sorted(batch.counts)])
        if batch.devices:
            cur.executemany(self.sql(UPSERT_DEVICE),
                            [batch.devices[k] for k in sorted(batch.devices)])
        if batch.restarts:
            cur.executemany(self.sql(INSERT_RESTART), sorted(batch.restarts))
        bumps = [(self.consumer, "duplicates", len(seen) - fresh),
                 (self.consumer, "unreadable", batch.unreadable),
                 (self.consumer, "newer_schema", batch.newer_schema)]
        bumps = [b for b in bumps if b[2]]
        if bumps:
            cur.executemany(self.sql(BUMP), bumps)
        return fresh

    def _copy_seen(self, seen):
        """COPY into the session's staging table, then one INSERT ... ON
        CONFLICT DO NOTHING: one round trip for the rows, one for the
        statement, however many the batch holds."""
        if not seen:
            return 0
        cur = self.db.cursor()
        with cur.copy(f"COPY seen_in ({SEEN_COLUMNS}) FROM STDIN") as copy:
            for row in seen:
                copy.write_row(row)
        cur.execute(f"INSERT INTO seen ({SEEN_COLUMNS}) SELECT {SEEN_COLUMNS} FROM seen_in "
                    "ORDER BY gateway, store, seq ON CONFLICT DO NOTHING")
        return cur.rowcount

    def stat(self, name):
        rows = self.query("SELECT COALESCE(SUM(value), 0) FROM stats WHERE name = ?", (name,))
        return int(rows[0][0])

    def seqs(self, gateway):
        return set(self.query("SELECT store, seq FROM seen WHERE gateway = ?", (gateway,)))

    def close(self):
        self.db.close()


def _retryable(error):
    import psycopg
    return isinstance(error, (psycopg.errors.DeadlockDetected,
                              psycopg.errors.SerializationFailure))
