"""Checks on what a test received or left behind: the JSON Schemas of the
contract, sequence numbers (gap-free, duplicates identical, gaps only at
restarts), the stubs' documented values, the gateway's summary counters
and status file, and the store of a stopped gateway."""
import json
import os
import re
import time

from .core import SOURCE, TestFailure, check
from .models import UNITS, expected_value

_validators = {}


def schema_validator(name):
    """A validator for docs/schemas/NAME.schema.json (python3-jsonschema)."""
    if name not in _validators:
        import jsonschema
        with open(os.path.join(SOURCE, "docs", "schemas", f"{name}.schema.json")) as f:
            schema = json.load(f)
        jsonschema.Draft202012Validator.check_schema(schema)
        _validators[name] = jsonschema.Draft202012Validator(schema)
    return _validators[name]


def schema_for_topic(topic):
    parts = topic.split("/")
    if "commands" in parts and parts[-1] == "result" or "replies" in parts:
        return "command-result"
    if len(parts) >= 3 and parts[-3] == "commands":
        return "command"
    if parts[0] == "homeassistant" and parts[-1] == "config":
        return "ha-discovery"
    if "readings" in parts:
        return "reading"
    if "indicators" in parts:
        return "indicator"
    if parts[-1] == "status":
        return "status"
    if parts[-1] == "health":
        return "health"
    if parts[-1] == "meta" and "devices" in parts:
        return "device-meta"
    raise TestFailure(f"message on a topic the contract does not know: {topic}")


def validate_messages(subscribers):
    """Checks every message every subscriber received against the JSON
    Schema for its topic; returns how many were checked."""
    checked = 0
    for sub in subscribers:
        for line in sub.lines():
            topic, payload = line.split(" ", 1)
            name = schema_for_topic(topic)
            if name == "device-meta" and payload in ("", "(null)"):  # mosquitto_sub shows (null)
                checked += 1  # a removed device's metadata withdrawn (the contract)
                continue
            document = payload if name == "status" else json.loads(payload)
            errors = sorted(schema_validator(name).iter_errors(document), key=str)
            check(not errors, f"{topic} {payload}\ndoes not match {name}.schema.json: "
                              f"{errors[0].message if errors else ''}")
            checked += 1
    return checked


TS_FORMAT = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def iso_ms(iso):
    """Milliseconds since the epoch of a payload timestamp like
    2026-11-25T06:23:20.726Z."""
    import calendar
    return calendar.timegm(time.strptime(iso[:19], "%Y-%m-%dT%H:%M:%S")) * 1000 + int(iso[20:23])


def point_payloads(payload):
    """The readings of one reading message: a device message's points as
    point-layout payloads, or the message itself."""
    if "points" not in payload:
        return [payload]
    common = {k: v for k, v in payload.items() if k != "points"}
    return [dict(common, point=name, **fields) for name, fields in payload["points"].items()]


def dedupe_by_seq(readings):
    """Keeps one reading per (sequence number, point), checking that every
    duplicate is identical; returns (unique payloads in seq order,
    duplicate count). With layout = device the readings of one poll share
    their seq."""
    by_key, duplicates = {}, 0
    for topic, payload in readings:
        key = (payload["seq"], payload.get("point"))
        if key in by_key:
            duplicates += 1
            check(by_key[key][1] == payload, f"seq {key} delivered twice with different payloads")
        else:
            by_key[key] = (topic, payload)
    return [by_key[k] for k in sorted(by_key, key=lambda k: (k[0], str(k[1])))], duplicates


def check_contract(topic, payload, prefix="smartregion", gateway="test-gw"):
    check(topic in (f"{prefix}/{gateway}/readings/{payload['device']}",
                    f"{prefix}/{gateway}/readings/{payload['device']}/{payload['point']}"),
          f"topic {topic} does not match payload {payload}")
    check(set(payload) == {"schema_version", "seq", "ts", "gateway", "store", "device", "point", "value",
                           "unit", "quality", "clock_synced"},
          f"unexpected payload fields: {sorted(payload)}")
    check(payload["schema_version"] == 3, f"schema_version not 3 in {payload}")
    check(isinstance(payload["clock_synced"], bool), f"clock_synced not a boolean in {payload}")
    check(TS_FORMAT.match(payload["ts"]), f"bad timestamp {payload['ts']}")
    check(payload["gateway"] == gateway, f"bad gateway {payload['gateway']}")
    check(payload["unit"] == UNITS[payload["point"]], f"bad unit in {payload}")
    check(payload["quality"] == "good", f"bad quality in {payload}")


def check_sequences(unique, start_in=0, first_k=None):
    """Every point's values, in seq order, follow the stub's formula with no
    step missing; returns how many readings each point had."""
    per_point = {}
    for topic, payload in unique:
        check_contract(topic, payload)
        per_point.setdefault(payload["point"], []).append(payload["value"])
    for point, values in per_point.items():
        k0 = (first_k or {}).get(point, 0)
        for i, value in enumerate(values):
            want = expected_value(point, k0 + i, start_in)
            check(abs(value - want) < 1e-9,
                  f"{point}: reading {i} is {value}, the stub's sequence says {want} "
                  f"(values so far: {values[max(0, i - 3):i + 1]})")
    return {p: len(v) for p, v in per_point.items()}


def shutdown_counters(log):
    """The counters of the gateway's last summary line, e.g.
    {'queue-full': 0, 'store-full': 1200, ...}."""
    lines = [line for line in log.splitlines() if "dropped queue-full=" in line]
    check(lines, "the gateway logged no summary line")
    return {k: int(v) for k, v in re.findall(r"([a-z-]+)=(\d+)", lines[-1])}


def status(path):
    """The gateway's health from its status file ([gateway] status_file),
    or None before the first is written. The store itself is held open
    exclusively while the gateway runs: this is how to look inside."""
    try:
        with open(path) as f:
            return json.load(f)
    except FileNotFoundError:
        return None


def stored_readings(store):
    """Readings in the store of a stopped gateway (a running one holds the
    file exclusively). The connection is closed at once: left open, it
    would keep the next gateway from opening the store."""
    import sqlite3
    db = sqlite3.connect(store, timeout=10)
    try:
        return db.execute("SELECT coalesce(sum(n), 0) FROM records").fetchone()[0]
    finally:
        db.close()


def integrity(store):
    import sqlite3
    db = sqlite3.connect(store, timeout=10)
    try:
        return db.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        db.close()


def check_gap_free(unique, first=1):
    seqs = sorted({p["seq"] for _, p in unique})
    check(seqs == list(range(first, first + len(seqs))),
          f"sequence numbers have gaps: first {seqs[:5]}, missing "
          f"{sorted(set(range(first, first + len(seqs))) - set(seqs))[:10]}")


def first_seq_of_run(log):
    """The first sequence number a gateway run could give, from its start
    line ("next sequence number N")."""
    found = re.findall(r"next sequence number (\d+)", log)
    check(found, "the gateway did not log its first sequence number")
    return int(found[0])


def check_gaps_only_at_restarts(unique, run_firsts):
    """With the write-behind store, a crash loses what was in memory (at
    most one commit interval) and skips the rest of the reserved block of
    sequence numbers: a gap may end at a later run's first number, never
    inside one run's numbers. Returns the gaps as (last before, next)."""
    seqs = sorted({p["seq"] for _, p in unique})
    gaps = [(a, b) for a, b in zip(seqs, seqs[1:]) if b > a + 1]
    for a, b in gaps:
        check(any(a < f <= b for f in run_firsts),
              f"sequence numbers {a + 1}..{b - 1} are missing inside one run "
              f"(runs began at {sorted(run_firsts)})")
    return gaps
