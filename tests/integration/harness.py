"""Process orchestration for the integration tests.

Every process started here is a real peer: mosquitto on 127.0.0.1, the
firmware stubs (Modbus TCP, and RTU over a pseudo-terminal), the gateway.
Each wait is bounded; every process is stopped by its own PID at the end.
"""
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

BUILD = os.environ.get("GW_BUILD_DIR", os.path.join(os.path.dirname(__file__), "../../build"))
SOURCE = os.environ.get("GW_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "../.."))
# Under valgrind or sanitizers everything is slower; tests scale their waits.
SLOW = float(os.environ.get("GW_TEST_SLOWDOWN", "1"))


class TestFailure(Exception):
    pass


def check(condition, message):
    if not condition:
        raise TestFailure(message)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(predicate, timeout, what):
    deadline = time.monotonic() + timeout * SLOW
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise TestFailure(f"timed out after {timeout * SLOW:.0f}s waiting for {what}")


class Workdir:
    def __init__(self, name):
        self.path = tempfile.mkdtemp(prefix=f"gw-{name}-")
        self.procs = []
        self.subscribers = []
        self.stoppers = []  # callables run first at cleanup (threads the test started)

    def file(self, name):
        return os.path.join(self.path, name)

    def start(self, argv, log_name, env=None):
        log = open(self.file(log_name), "w")
        proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, cwd=self.path,
                                env=dict(os.environ, **env) if env else None)
        proc.log_path = self.file(log_name)
        self.procs.append(proc)
        return proc

    def cleanup(self, keep=False):
        for stop in self.stoppers:
            stop()
        for proc in self.procs:
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(5)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
        if not keep:
            shutil.rmtree(self.path, ignore_errors=True)


_current_test = "?"


def figure(text):
    """Prints a measured figure on a line that scripts/test.sh collects from
    ctest's log, so every run shows what each test reached."""
    print(f"FIGURE {_current_test}: {text}", flush=True)


def run_test(name, body):
    """Runs body(work) in a fresh work directory; on failure keeps the
    directory (logs, store, INI) and names it. Prints the closing line ctest
    output readers look for."""
    global _current_test
    _current_test = name
    work = Workdir(name)
    started = time.monotonic()
    ok = False
    try:
        body(work)
        validated = validate_messages(work.subscribers)
        figure(f"{validated} messages received, each valid against its schema in docs/schemas")
        ok = True
    finally:
        work.cleanup(keep=not ok)
        if not ok:
            print(f"kept {work.path} for inspection", file=sys.stderr)
    print(f"took {time.monotonic() - started:.1f}s")
    print("1 passed, 0 failed")


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
            document = payload if name == "status" else json.loads(payload)
            errors = sorted(schema_validator(name).iter_errors(document), key=str)
            check(not errors, f"{topic} {payload}\ndoes not match {name}.schema.json: "
                              f"{errors[0].message if errors else ''}")
            checked += 1
    return checked


def read_log(proc):
    with open(proc.log_path, errors="replace") as f:
        return f.read()


class Broker:
    """mosquitto on 127.0.0.1 with persistence, so that a persistent
    subscriber keeps its session across a broker restart."""

    def __init__(self, work, port=None, settings="allow_anonymous true\n"):
        self.work = work
        self.port = port or free_port()
        self.conf = work.file("mosquitto.conf")
        with open(self.conf, "w") as f:
            # As root, mosquitto would switch to its own user, which cannot
            # read this private directory: keep the test's user.
            if os.geteuid() == 0:
                f.write("user root\n")
            f.write(f"listener {self.port} 127.0.0.1\n{settings}"
                    f"persistence true\npersistence_location {work.path}/\n"
                    "max_queued_messages 0\nmax_inflight_messages 0\n"
                    # the defaults, and subscriptions: a Subscriber waits for its own
                    "log_type error\nlog_type warning\nlog_type notice\n"
                    "log_type information\nlog_type subscribe\n")
        self.proc = None

    def start(self):
        self.proc = self.work.start(["mosquitto", "-c", self.conf], "mosquitto.log")
        wait_until(self._accepts, 10, "mosquitto to listen")

    def _accepts(self):
        try:
            socket.create_connection(("127.0.0.1", self.port), 0.2).close()
            return True
        except OSError:
            return False

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(10)

    def log(self):
        return read_log(self.proc) if self.proc else ""


class RtuLine:
    """One RS-485 line shared by several RTU stubs, each on its own
    pseudo-terminal: every byte the gateway sends reaches every stub and
    every stub's reply reaches the gateway, as on the two-wire bus where
    all units hear all frames and only the addressed one answers. This
    relay stands in for the copper, the one part a test machine lacks; the
    stubs and the gateway are real. The gateway opens self.path."""

    def __init__(self, work, stub_ttys, max_seconds=600):
        import threading
        import tty
        self.master, self.slave = os.openpty()
        tty.setraw(self.slave)  # kept open: the master survives the gateway reopening
        self.path = os.ttyname(self.slave)
        self.ends = []
        for path in stub_ttys:
            fd = os.open(path, os.O_RDWR | os.O_NOCTTY)
            tty.setraw(fd)
            self.ends.append(fd)
        self.stopped = False
        self.deadline = time.monotonic() + max_seconds
        self.thread = threading.Thread(target=self._pump, daemon=True)
        self.thread.start()
        work.stoppers.append(self.stop)

    def _pump(self):
        import select
        while not self.stopped and time.monotonic() < self.deadline:
            ready, _, _ = select.select([self.master] + self.ends, [], [], 0.2)
            for fd in ready:
                try:
                    data = os.read(fd, 4096)
                except OSError:
                    continue
                targets = self.ends if fd == self.master else [self.master]
                for target in targets:
                    try:
                        os.write(target, data)
                    except OSError:
                        pass

    def stop(self):
        self.stopped = True
        self.thread.join(2)
        for fd in [self.master, self.slave] + self.ends:
            try:
                os.close(fd)
            except OSError:
                pass


class Relay:
    """A TCP relay on 127.0.0.1 in front of a broker that can blackhole the
    path: bytes are read and thrown away in both directions while the
    connections stay open, as when a mobile uplink stops carrying packets
    without closing anything. Its threads end with the test process."""

    def __init__(self, target_port):
        import threading
        self.target_port = target_port
        self.blackhole = False
        self.server = socket.socket()
        self.server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.server.bind(("127.0.0.1", 0))
        self.server.listen(16)
        self.port = self.server.getsockname()[1]
        self._threading = threading
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target_port), 2)
            except OSError:
                client.close()
                continue
            for a, b in ((client, upstream), (upstream, client)):
                self._threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    def _pump(self, src, dst):
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                if not self.blackhole:
                    dst.sendall(data)
        except OSError:
            pass
        # A silent path carries no FIN either: the far end must find out by
        # itself (the broker by its keep-alive timeout).
        for sock in (src,) if self.blackhole else (src, dst):
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class Stub:
    """A firmware stub; reads the LISTENING line to learn where it serves."""

    def __init__(self, work, program, args):
        self.proc = work.start([os.path.join(BUILD, program), "--max-seconds", "600"] + args,
                               f"{program}.log")
        self.address = None
        wait_until(self._listening, 10, f"{program} to listen")

    def _listening(self):
        m = re.search(r"^LISTENING (\S+) (\S+)$", read_log(self.proc), re.M)
        if m:
            self.address = m.group(2)
        return m is not None


def demo_stubs(work):
    """The demo's two devices, started: the visitor counter on Modbus TCP
    and the environmental sensor on RTU (unit 3, 19200 8E1) over a
    pseudo-terminal. Returns (counter, env)."""
    counter = Stub(work, "visitor-counter-stub", ["--tcp", "0"])
    env = Stub(work, "env-sensor-stub", ["--rtu-pty", "--unit", "3", "--parity", "E",
                                         "--baud", "19200"])
    return counter, env


class Subscriber:
    """mosquitto_sub with a persistent session (QoS 1, clean session off):
    messages published while it is away are kept for it by the broker."""

    def __init__(self, work, broker, topic, client_id="test-subscriber", credentials=()):
        self.out = work.file(f"{client_id}.out")
        argv = ["mosquitto_sub", "-h", "127.0.0.1", "-p", str(broker.port), "-q", "1",
                "-c", "-i", client_id, "-v", "-t", topic]
        if credentials:
            argv += ["-u", credentials[0], "-P", credentials[1]]
        # Subscribed when the broker logs it ("<client id> <qos> <topic>"):
        # a message published before that would not be queued for it.
        line = f" {client_id} 1 {topic}\n"
        before = broker.log().count(line)
        self.proc = work.start(argv, f"{client_id}.out")
        work.subscribers.append(self)
        wait_until(lambda: broker.log().count(line) > before, 10, f"{client_id} to subscribe")

    def lines(self):
        # Only finished lines: mosquitto_sub may be halfway through writing
        # the last one while a test reads the file.
        with open(self.out, errors="replace") as f:
            return [line.rstrip("\n") for line in f if " " in line and line.endswith("\n")]

    def readings(self):
        """(topic, payload dict) for every reading, in arrival order. A
        device message (layout = device) is taken apart into one payload
        per point, shaped as the point layout's, under the device topic."""
        result = []
        for line in self.lines():
            topic, payload = line.split(" ", 1)
            if "/readings/" in topic:
                result.extend((topic, p) for p in point_payloads(json.loads(payload)))
        return result

    def messages(self, part="/readings/"):
        """(topic, payload dict) of every message whose topic holds part."""
        return [(t, json.loads(p)) for t, p in (line.split(" ", 1) for line in self.lines())
                if part in t]

    def statuses(self):
        return [line.split(" ", 1)[1] for line in self.lines() if line.split(" ", 1)[0].endswith("/status")]


def gateway_argv(ini):
    """The daemon's command line: GW_TEST_WRAPPER (valgrind, qemu-user) in
    front of it, GW_GATEWAY_BINARY for a daemon built elsewhere (a cross
    build; the stubs stay this machine's)."""
    wrapper = os.environ.get("GW_TEST_WRAPPER", "").split()
    binary = os.environ.get("GW_GATEWAY_BINARY", os.path.join(BUILD, "sensor-gateway"))
    return wrapper + [binary, "--config", ini]


class Gateway:
    def __init__(self, work, ini_text, name="gateway", env=None):
        self.work = work
        self.env = env
        self.ini = work.file(f"{name}.ini")
        with open(self.ini, "w") as f:
            f.write(ini_text)
        self.name = name
        self.proc = None
        self.runs = 0

    def start(self):
        self.runs += 1
        self.proc = self.work.start(gateway_argv(self.ini), f"{self.name}-{self.runs}.log",
                                    self.env)

    def wait_connected(self, timeout=15):
        wait_until(lambda: "mqtt: connected" in self.log(), timeout, "the gateway to connect")

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        rc = self.proc.wait(30 * SLOW)
        check(rc == 0, f"gateway exited with {rc} after SIGTERM:\n{read_log(self.proc)[-3000:]}")

    def log(self):
        return read_log(self.proc)


LIBFAKETIME = "/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1"


class FakeClock:
    """The daemon's wall clock moved by libfaketime (Debian's faketime,
    LD_PRELOAD): the one fake here, as a test cannot set this machine's
    clock. The monotonic clock stays real. set_offset(s) moves it s seconds
    from the real clock, set_wall(t) puts it at UNIX time t now; a gateway
    started with env() follows, restarts included."""

    def __init__(self, work):
        check(os.path.exists(LIBFAKETIME), f"{LIBFAKETIME} missing (apt-get install faketime)")
        self.file = work.file("faketime")
        self.set_offset(0)

    def set_offset(self, seconds):
        with open(self.file, "w") as f:
            f.write(f"{seconds:+.0f}\n")

    def set_wall(self, unix_s):
        self.set_offset(unix_s - time.time())

    def env(self, **more):
        preload = os.environ.get("LD_PRELOAD", "")
        return dict({"LD_PRELOAD": f"{preload} {LIBFAKETIME}".strip(),
                     "FAKETIME_TIMESTAMP_FILE": self.file, "FAKETIME_NO_CACHE": "1",
                     "FAKETIME_DONT_FAKE_MONOTONIC": "1",
                     # libfaketime must come after the sanitizer runtime.
                     "ASAN_OPTIONS": os.environ.get("ASAN_OPTIONS", "") +
                     ":verify_asan_link_order=0"}, **more)


def demo_ini(broker_port, counter_port, env_tty, store, interval_ms=200, extra="", uris=None,
             store_extra="", mqtt_extra=""):
    uris = uris or f"tcp://127.0.0.1:{broker_port}"
    return f"""[gateway]
id = test-gw

[mqtt]
uri = {uris}
reconnect_min = 200ms
reconnect_max = 1s
keepalive = 5s
{mqtt_extra}
[store]
path = {store}
commit_interval = 100ms
{store_extra}
[bus counter]
type = tcp
host = 127.0.0.1
port = {counter_port}

[bus rs485]
type = rtu
device = {env_tty}
baud = 19200
parity = even

[device trail_north]
bus = counter
unit_id = 1
interval = {interval_ms}ms
response_timeout = 500ms

[point trail_north/visitors_in]
function = holding_register
address = 0
type = uint16
unit = visitors

[point trail_north/visitors_out]
function = holding_register
address = 1
type = uint16
unit = visitors

[device weather]
bus = rs485
unit_id = 3
interval = {interval_ms}ms
response_timeout = 500ms

[point weather/temperature]
function = input_register
address = 0
type = int16
scale = 0.1
unit = °C

[point weather/humidity]
function = input_register
address = 1
type = uint16
scale = 0.1
unit = %RH

[point weather/pressure]
function = input_register
address = 2
type = float32
unit = hPa

[point weather/illuminance]
function = input_register
address = 4
type = uint32
word_order = CDAB
unit = lx
{extra}"""


class DemoRig:
    """The demo's peers, started: mosquitto, the visitor counter on Modbus
    TCP, the environmental sensor on RTU (unit 3) over a pseudo-terminal, a
    persistent subscriber to the readings, and a gateway (not yet started)
    whose INI file points at all of them."""

    def __init__(self, work, name, interval_ms=50, store="store.db", **ini):
        self.broker = Broker(work)
        self.broker.start()
        self.counter = Stub(work, "visitor-counter-stub", ["--tcp", "0"])
        self.env = Stub(work, "env-sensor-stub", ["--rtu-pty", "--unit", "3"])
        self.sub = Subscriber(work, self.broker, "smartregion/test-gw/readings/#", f"{name}-sub")
        self.store = work.file(store)
        self.gw = Gateway(work, demo_ini(self.broker.port, self.counter.address.split(":")[1],
                                         self.env.address, self.store, interval_ms=interval_ms,
                                         **ini),
                          name=name)


def many_points_ini(gateway_id, broker_port, stub_ports, store, devices, points, interval="10ms",
                    extra="", status_file=None):
    """devices x points holding registers, every interval, one TCP bus per
    device, spread over the given stub ports: the benchmark's load. With
    status_file, health goes there every second (read it with status())."""
    status = f"status_file = {status_file}\nhealth_interval = 1s\n" if status_file else ""
    parts = [f"""[gateway]
id = {gateway_id}
ingest_capacity = 262144
{status}[mqtt]
uri = tcp://127.0.0.1:{broker_port}
max_inflight = 1024
reconnect_min = 200ms
reconnect_max = 1s
[store]
path = {store}
max_readings = 10000000
{extra}"""]
    for d in range(devices):
        parts.append(f"[bus b{d}]\ntype = tcp\nhost = 127.0.0.1\n"
                     f"port = {stub_ports[d % len(stub_ports)]}\n"
                     f"[device d{d}]\nbus = b{d}\nunit_id = 1\ninterval = {interval}\n"
                     f"response_timeout = 500ms\nbackoff_max = 1s\n")
        for p in range(points):
            parts.append(f"[point d{d}/p{p}]\nfunction = holding_register\naddress = {p}\n"
                         f"type = uint16\nunit = count\n")
    return "".join(parts)


# The stubs' documented sequences (docs/firmware-stubs.md), k = 0, 1, ...
def expected_value(point, k, start_in=0):
    return {
        "visitors_in": lambda: (start_in + 7 * k) % 65536,
        "visitors_out": lambda: (5 * k) % 65536,
        "temperature": lambda: (-150 + (37 * k) % 500) / 10,
        "humidity": lambda: (300 + (53 * k) % 600) / 10,
        "pressure": lambda: 950 + 0.25 * (k % 400),
        "illuminance": lambda: 65536 + (977 * k) % 100000,
    }[point]()


UNITS = {"visitors_in": "visitors", "visitors_out": "visitors", "temperature": "°C",
         "humidity": "%RH", "pressure": "hPa", "illuminance": "lx"}
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
    check(set(payload) == {"schema_version", "seq", "ts", "gateway", "device", "point", "value",
                           "unit", "quality", "clock_synced"},
          f"unexpected payload fields: {sorted(payload)}")
    check(payload["schema_version"] == 2, f"schema_version not 2 in {payload}")
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
