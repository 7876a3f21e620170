"""The README's first command, scripts/demo.sh, as a newcomer runs it: the
test starts it, waits until data visibly flows (status online, both devices'
metadata, health, a reading of every point of config/examples/demo.ini, each
valid against its schema), then presses Ctrl-C (SIGINT to the script's
process group) and checks that it says 'offline' on the way out and leaves
nothing running: the demo's fixed ports (broker 18830, counter 15020) are
free again.

The demo uses fixed ports and /tmp/sensor-gateway-demo, so it cannot run
while someone runs the demo by hand on the same machine."""
import calendar
import json
import os
import signal
import socket
import subprocess
import time

from harness import (SLOW, SOURCE, check, figure, run_test, schema_for_topic, schema_validator,
                     wait_until)

POINTS = ["trail_north/visitors_in", "trail_north/visitors_out", "trail_north/occupancy",
          "weather/temperature", "weather/humidity", "weather/pressure", "weather/illuminance"]
PORTS = [18830, 15020]


def port_free(port):
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def messages(path):
    with open(path, errors="replace") as f:
        lines = [line.rstrip("\n") for line in f if line.endswith("\n")]
    return [line.split(" ", 1) for line in lines if line.startswith("smartregion/")]


def wall_s(iso):
    return calendar.timegm(time.strptime(iso[:19], "%Y-%m-%dT%H:%M:%S")) + int(iso[20:23]) / 1000


def flowing(path, since):
    """Everything a newcomer should see, with a reading of every point
    polled since the demo started (not one left in the demo's store by an
    earlier run)."""
    msgs = messages(path)
    topics = {t for t, _ in msgs}
    fresh = {f"{t}/{name}" for t, p in msgs if "/readings/" in t
             and wall_s(json.loads(p)["ts"]) >= since for name in json.loads(p)["points"]}
    wanted = {"smartregion/demo/status", "smartregion/demo/health",
              "smartregion/demo/devices/trail_north/meta", "smartregion/demo/devices/weather/meta"}
    return wanted <= topics and {f"smartregion/demo/readings/{p}" for p in POINTS} <= fresh


def body(work):
    for port in PORTS:
        check(port_free(port), f"port {port} is taken: is the demo already running here?")
    out = work.file("demo.out")
    started = time.monotonic()
    since = time.time()
    with open(out, "w") as f:
        demo = subprocess.Popen(["bash", os.path.join(SOURCE, "scripts", "demo.sh")], stdout=f,
                                stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_until(lambda: flowing(out, since) or demo.poll() is not None, 120 * SLOW,
                   "status, metadata, health and a fresh reading of every demo point")
        check(demo.poll() is None, f"the demo ended by itself:\n{open(out).read()[-2000:]}")
        flowed_s = time.monotonic() - started
    finally:
        if demo.poll() is None:
            os.killpg(demo.pid, signal.SIGINT)  # Ctrl-C
        try:
            demo.wait(timeout=20 * SLOW)
        except subprocess.TimeoutExpired:
            os.killpg(demo.pid, signal.SIGKILL)
            demo.wait()
            raise
    msgs = messages(out)
    check(msgs and msgs[-1] == ["smartregion/demo/status", "offline"],
          f"the demo's last message is not 'offline': {msgs[-1:]}")
    wait_until(lambda: all(port_free(p) for p in PORTS), 10, "the demo's ports free again")
    for topic, payload in msgs:
        name = schema_for_topic(topic)
        document = payload if name == "status" else json.loads(payload)
        errors = list(schema_validator(name).iter_errors(document))
        check(not errors, f"{topic} {payload}: {errors[0].message if errors else ''}")
    # The reference consumer beside it wrote its report when Ctrl-C stopped it.
    report = "/tmp/sensor-gateway-demo/report"
    check(os.path.getmtime(os.path.join(report, "report.md")) >= since and
          open(os.path.join(report, "report.png"), "rb").read(8) == b"\x89PNG\r\n\x1a\n",
          f"the dashboard consumer wrote no fresh report in {report}")
    readings = sum(len(json.loads(p)["points"]) for t, p in msgs if "/readings/" in t)
    figure(f"scripts/demo.sh: data flowing {flowed_s:.1f}s after start ({readings} readings of "
           f"{len(POINTS)} points, metadata, health, status), all {len(msgs)} messages valid "
           f"against their schemas; the dashboard consumer's report written; Ctrl-C ended it "
           f"with 'offline' and freed its ports")


if __name__ == "__main__":
    run_test("demo", body)
