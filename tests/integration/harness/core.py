"""The ground rules of every integration test: where the build and the
source are, how much slower this run is (GW_TEST_SLOWDOWN), a failed check,
a bounded wait, and the work directory whose processes are all stopped by
their own PID at the end."""
import os
import shutil
import socket
import subprocess
import tempfile
import time

BUILD = os.environ.get("GW_BUILD_DIR", os.path.join(os.path.dirname(__file__), "../../../build"))


SOURCE = os.environ.get("GW_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "../../.."))


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
