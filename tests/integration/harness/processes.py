"""The real peers a test starts: mosquitto on 127.0.0.1, the firmware
stubs (Modbus TCP, RTU over a pseudo-terminal or a shared line, RTU over
TCP), a subscriber with a persistent session, the gateway, and the one
fake, libfaketime's wall clock. Every wait is bounded."""
import json
import os
import re
import signal
import socket
import subprocess
import threading
import time

from .checks import point_payloads
from .core import BUILD, SLOW, check, free_port, wait_until
from .ini import demo_ini

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
        self.refusing = False
        self.open = []
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
            if self.refusing:
                client.close()
                continue
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target_port), 2)
            except OSError:
                client.close()
                continue
            self.open += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                self._threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    def cut(self):
        """The path goes down for this side only (a mobile uplink lost):
        open connections are closed, new ones closed at once, until
        restore(); the broker and its other clients carry on."""
        self.refusing = True
        for sock in self.open:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self.open = []

    def restore(self):
        self.refusing = False

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

    def __init__(self, work, program, args, log_name=None):
        self.proc = work.start([os.path.join(BUILD, program), "--max-seconds", "600"] + args,
                               log_name or f"{program}.log")
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
        self.broker, self.topic, self.client_id = broker, topic, client_id
        self.login = ["-u", credentials[0], "-P", credentials[1]] if credentials else []
        self.flushes = 0
        argv = ["mosquitto_sub", "-h", "127.0.0.1", "-p", str(broker.port), "-q", "1",
                "-c", "-i", client_id, "-v", "-t", topic] + self.login
        # Subscribed when the broker logs it ("<client id> <qos> <topic>"):
        # a message published before that would not be queued for it.
        line = f" {client_id} 1 {topic}\n"
        before = broker.log().count(line)
        self.proc = work.start(argv, f"{client_id}.out")
        work.subscribers.append(self)
        wait_until(lambda: broker.log().count(line) > before, 10, f"{client_id} to subscribe")

    FLUSH_MARK = "harness-flush-"

    def _raw_lines(self):
        # Only finished lines: mosquitto_sub may be halfway through writing
        # the last one while a test reads the file.
        with open(self.out, errors="replace") as f:
            return [line.rstrip("\n") for line in f if " " in line and line.endswith("\n")]

    def lines(self):
        return [line for line in self._raw_lines()
                if not line.split(" ", 1)[1].startswith(self.FLUSH_MARK)]

    def flush(self, timeout=10):
        """Waits until everything the broker accepted before now has reached
        this subscriber (after a gateway stops, its last messages): a marker
        published now, on a topic of the subscriber's filter, comes after
        them, since the broker keeps each client's queue in order."""
        self.flushes += 1
        mark = f"{self.FLUSH_MARK}{self.client_id}-{self.flushes}"
        topic = self.topic.replace("#", mark).replace("+", mark)
        subprocess.run(["mosquitto_pub", "-h", "127.0.0.1", "-p", str(self.broker.port),
                        "-q", "1", "-t", topic, "-m", mark] + self.login,
                       check=True, timeout=10 * SLOW)
        wait_until(lambda: any(line.endswith(" " + mark) for line in self._raw_lines()),
                   timeout, f"{self.client_id} to receive what the broker holds for it")

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
