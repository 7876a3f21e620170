"""Commands down to the devices, end to end, on a real mosquitto with the
README's ACL (only the dashboard may publish commands; each gateway reads
only its own command topics) and the firmware stubs:

- Modbus TCP (the visitor counter stub's display, a uint32 written with
  function 16, and its relay coil, function 5): an MQTT 5 request is
  written, read back and answered on its Response Topic with its
  Correlation Data; an MQTT 3.1.1 command is answered on the result topic
  with its id; the next poll delivers the new value;
- refused with their reason, the stub's register unchanged: commands off,
  retained, expired, duplicate, out of range, not writable, malformed JSON,
  wrong type, unknown point; a command from a user the ACL does not allow
  never arrives, and that user cannot read the gateway's commands;
- a dead device's command fails with its reason within its timeout;
- RTU on the paced line (strict units at 9600 baud polled back to back):
  writes between polls cost no failed poll, no short gap, no collision;
- the technician's `write` on an XY-MD02 stub over RTU (a signed x0.1
  correction register, function 6) and its refusal of a value out of range.
"""
import json
import os
import re
import subprocess
import threading
import time

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from harness import (BUILD, SLOW, Broker, Gateway, Stub, Subscriber, check, dedupe_by_seq,
                     device, figure, free_port, head, iso_ms, run_test, schema_validator, tcp_bus,
                     wait_until)
from harness.paced_line import PacedLine, line_ini

EXE = os.path.join(BUILD, "sensor-gateway")
PREFIX = "smartregion"
USERS = {"dashboard": "dash-pw", "test-gw": "gw-pw", "gw-line": "line-pw", "intruder": "x-pw",
         "harness": "h-pw"}
ACL = """# the README's example
user dashboard
topic write smartregion/+/commands/+/+
topic read smartregion/#
topic read smartregion/replies/#

pattern read smartregion/%u/commands/+/+
pattern write smartregion/%u/#
pattern write smartregion/replies/#

# not in the README: the test's own subscribers, which also publish the
# harness's flush markers
user harness
topic readwrite smartregion/#
"""


class Dashboard:
    """The county side: an MQTT client that publishes commands and
    collects what comes back, with its MQTT 5 properties."""

    def __init__(self, broker, user="dashboard", protocol=mqtt.MQTTv5, client_id=None):
        self.protocol = protocol
        self.client = mqtt.Client(client_id=client_id or f"{user}-{protocol}", protocol=protocol)
        self.client.username_pw_set(user, USERS[user])
        self.lock = threading.Lock()
        self.received = []  # (topic, payload dict or text, correlation bytes or None)
        self.subacks = []
        self.client.on_message = self._on_message
        self.client.on_subscribe = self._on_subscribe
        if protocol == mqtt.MQTTv5:
            self.client.connect("127.0.0.1", broker.port, clean_start=True)
        else:
            self.client.connect("127.0.0.1", broker.port)
        self.client.loop_start()

    def _on_message(self, client, userdata, msg):
        corr = getattr(msg.properties, "CorrelationData", None) if msg.properties else None
        try:
            payload = json.loads(msg.payload)
        except ValueError:
            payload = msg.payload.decode(errors="replace")
        with self.lock:
            self.received.append((msg.topic, payload, corr))

    def _on_subscribe(self, client, userdata, mid, granted, properties=None):
        with self.lock:
            self.subacks.append([getattr(g, "value", g) for g in granted])

    def subscribe(self, topic):
        before = len(self.subacks)
        self.client.subscribe(topic, qos=1)
        wait_until(lambda: len(self.subacks) > before, 10, f"SUBACK for {topic}")
        return self.subacks[-1][0]

    def send(self, device_name, point, payload, gateway="test-gw", retain=False, response=None,
             correlation=None, expiry=None):
        props = None
        if self.protocol == mqtt.MQTTv5 and (response or correlation or expiry):
            props = Properties(PacketTypes.PUBLISH)
            if response:
                props.ResponseTopic = response
            if correlation:
                props.CorrelationData = correlation
            if expiry:
                props.MessageExpiryInterval = expiry
        text = payload if isinstance(payload, str) else json.dumps(payload)
        info = self.client.publish(f"{PREFIX}/{gateway}/commands/{device_name}/{point}", text,
                                   qos=1, retain=retain, properties=props)
        info.wait_for_publish(10)

    def results(self, match):
        with self.lock:
            return [r for r in self.received if match(r)]

    def wait(self, match, what, timeout=10):
        wait_until(lambda: self.results(match), timeout * SLOW, what)
        return self.results(match)[0]

    def by_id(self, cmd_id, timeout=10):
        return self.wait(lambda r: isinstance(r[1], dict) and r[1].get("id") == cmd_id,
                         f"the result of command {cmd_id}", timeout)[1]

    def close(self):
        self.client.loop_stop()
        self.client.disconnect()


def broker_with_acl(work):
    passwords, acl = work.file("passwords"), work.file("acl")
    for i, (user, password) in enumerate(USERS.items()):
        subprocess.run(["mosquitto_passwd", "-b"] + (["-c"] if i == 0 else []) +
                       [passwords, user, password], check=True, timeout=30)
    with open(acl, "w") as f:
        f.write(ACL)
    broker = Broker(work, settings=f"allow_anonymous false\npassword_file {passwords}\n"
                                   f"acl_file {acl}\n")
    broker.start()
    return broker


def counter_ini(work, broker, counter_port, dead_port, enabled):
    login = f"username = test-gw\npassword = {USERS['test-gw']}\n"
    return (head(broker.port, work.file("gw.db"), mqtt_extra=login,
                 gateway_extra="health_interval = 1s\n") +
            f"[commands]\nenabled = {'true' if enabled else 'false'}\n" +
            tcp_bus("counter", counter_port) + tcp_bus("nowhere", dead_port) +
            device("door", "counter", interval="200ms", extra="response_timeout = 300ms\n") +
            "[point door/visitors_in]\nfunction = holding_register\naddress = 0\ntype = uint16\n"
            "kind = counter\nunit = visitors\n"
            "[point door/display]\nfunction = holding_register\naddress = 4\ntype = uint32\n"
            "unit = spaces\nwritable = true\nwrite_min = 0\nwrite_max = 99999\n"
            "[point door/relay]\nfunction = coil\naddress = 0\ntype = bool\nwritable = true\n" +
            device("ghost", "nowhere", interval="200ms", extra="response_timeout = 300ms\n") +
            "[point ghost/setpoint]\nfunction = holding_register\naddress = 0\ntype = int16\n"
            "scale = 0.1\nwritable = true\n")


def latest_display(sub, after_ms=0):
    """The display value of the newest poll after after_ms (wall ms)."""
    unique, _ = dedupe_by_seq(sub.readings())
    values = [(p["ts"], p["value"]) for t, p in unique
              if p.get("point") == "display" and p.get("quality") == "good"
              and iso_ms(p["ts"]) > after_ms]
    return values[-1][1] if values else None


def check_result(res, status, reason=None):
    errors = list(schema_validator("command-result").iter_errors(res))
    check(not errors, f"result {res} does not match command-result.schema.json: "
                      f"{errors[0].message if errors else ''}")
    check(res["status"] == status and res.get("reason") == reason,
          f"expected {status}/{reason}, got {res}")


def display_settles(sub, value):
    """The display value the polls deliver from now on is value."""
    now = time.time() * 1000
    wait_until(lambda: latest_display(sub, now) is not None, 10 * SLOW, "a poll of the display")
    seen = latest_display(sub, now)
    check(seen == value, f"the stub's display holds {seen}, expected {value}")


def refusals(dash, sub, held):
    """Every kind of refusal, each with nothing written: the display keeps held."""
    old = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(time.time() - 120))
    cases = [
        ("r-range", "display", {"value": 100000, "id": "r-range"}, "out_of_range"),
        ("r-step", "display", {"value": 12.5, "id": "r-step"}, "out_of_range"),
        ("r-ro", "visitors_in", {"value": 5, "id": "r-ro"}, "not_writable"),
        ("r-type", "display", {"value": "many", "id": "r-type"}, "wrong_type"),
        ("r-bool", "display", {"value": True, "id": "r-bool"}, "wrong_type"),
        ("r-old", "display", {"value": 7, "id": "r-old", "ts": old}, "expired"),
        ("r-none", "nonexistent", {"value": 7, "id": "r-none"}, "unknown_point"),
    ]
    for cmd_id, point, payload, reason in cases:
        dash.send("door", point, payload)
        check_result(dash.by_id(cmd_id), "refused", reason)
    dash.send("door", "display", '{"value": 5, "id": "r-bad"', response="smartregion/replies/m",
              correlation=b"malformed-1")
    res = dash.wait(lambda r: r[2] == b"malformed-1", "the malformed command's result")[1]
    check_result(res, "refused", "malformed")
    display_settles(sub, held)
    return len(cases) + 1


def tcp_part(work, broker):
    counter = Stub(work, "visitor-counter-stub", ["--tcp", "0"])
    dead_port = free_port()
    sub = Subscriber(work, broker, f"{PREFIX}/test-gw/readings/#", client_id="readings",
                     credentials=("harness", USERS["harness"]))
    dash = Dashboard(broker)
    check(dash.subscribe(f"{PREFIX}/replies/#") < 0x80, "the dashboard may not read replies")
    check(dash.subscribe(f"{PREFIX}/test-gw/commands/+/+/result") < 0x80,
          "the dashboard may not read results")

    # Commands off: refused, nothing written.
    gw = Gateway(work, counter_ini(work, broker, int(counter.address.rsplit(":", 1)[1]), dead_port, False), name="off")
    gw.start()
    wait_until(lambda: "listening for commands" in gw.log(), 15 * SLOW, "the subscription")
    dash.send("door", "display", {"value": 42, "id": "off-1"})
    check_result(dash.by_id("off-1"), "refused", "disabled")
    display_settles(sub, 0)
    gw.stop()

    # A retained command waiting at the broker is refused when it arrives.
    dash.send("door", "display", {"value": 43, "id": "kept-1"}, retain=True)
    gw = Gateway(work, counter_ini(work, broker, int(counter.address.rsplit(":", 1)[1]), dead_port, True), name="on")
    gw.start()
    check_result(dash.by_id("kept-1", 20), "refused", "retained")
    dash.send("door", "display", "", retain=True)  # the broker forgets it

    # MQTT 5: the Response Topic with the Correlation Data, read back.
    sent = time.monotonic()
    dash.send("door", "display", {"value": 1234}, response=f"{PREFIX}/replies/dash",
              correlation=b"\x00\x01req-1", expiry=30)
    topic, res, corr = dash.wait(lambda r: r[2] == b"\x00\x01req-1", "the MQTT 5 answer")
    latency_ms = (time.monotonic() - sent) * 1000
    check(topic == f"{PREFIX}/replies/dash", f"answered on {topic}")
    check_result(res, "done")
    check(res["value"] == 1234 and res["requested"] == 1234, f"read back {res}")
    display_settles(sub, 1234)

    # MQTT 3.1.1: the result topic with the id; a coil.
    old = Dashboard(broker, protocol=mqtt.MQTTv311)
    old.send("door", "relay", {"value": True, "id": "lamp-on"})
    res = dash.by_id("lamp-on")
    check_result(res, "done")
    check(res["value"] == 1, f"the relay reads back {res}")
    check(dash.results(lambda r: r[1] == res)[0][0] ==
          f"{PREFIX}/test-gw/commands/door/relay/result", "not on the result topic")

    # A repeat of an id is answered with the earlier result, not carried out.
    old.send("door", "display", {"value": 777, "id": "same"})
    check_result(dash.by_id("same"), "done")
    old.send("door", "display", {"value": 778, "id": "same"})
    wait_until(lambda: len(dash.results(lambda r: isinstance(r[1], dict) and
                                        r[1].get("id") == "same")) == 2, 10, "the repeat's answer")
    repeat = dash.results(lambda r: isinstance(r[1], dict) and r[1].get("id") == "same")[1][1]
    check_result(repeat, "refused", "duplicate")
    check(repeat["earlier"] == {"status": "done"}, f"the repeat's earlier result: {repeat}")
    display_settles(sub, 777)
    refused = refusals(dash, sub, 777)

    # The ACL: another user's command never arrives; it cannot listen either.
    # (mosquitto 2.0 grants the subscription and then delivers nothing the
    # ACL does not let the user read.)
    intruder = Dashboard(broker, user="intruder")
    intruder.subscribe(f"{PREFIX}/test-gw/commands/+/+")
    dash.send("door", "display", {"value": 777, "id": "not-for-you"})
    check_result(dash.by_id("not-for-you"), "done")
    check(not intruder.results(lambda r: True), "another user read the gateway's commands")
    intruder.send("door", "display", {"value": 666, "id": "evil"})
    time.sleep(1 * SLOW)
    check(not dash.results(lambda r: isinstance(r[1], dict) and r[1].get("id") == "evil"),
          "the intruder's command was answered")
    display_settles(sub, 777)

    # A dead device: failed with the reason, within its timeout.
    time.sleep(1)  # ghost has failed a few polls by now
    sent = time.monotonic()
    dash.send("ghost", "setpoint", {"value": 21.5, "id": "dead-1"})
    res = dash.by_id("dead-1")
    dead_ms = (time.monotonic() - sent) * 1000
    check(res["status"] == "failed" and res["reason"] in ("backed_off", "no_answer"),
          f"dead device: {res}")
    check(dead_ms < 2000 * SLOW, f"the dead device's answer took {dead_ms:.0f} ms")

    log = gw.log()
    gw.stop()
    audited = len(re.findall(r"command .+?: door/display = ", log))
    check(audited >= refused, f"{audited} commands to the display audited in the log")
    check(re.search(r"command same: door/display = 777 from smartregion/test-gw/commands/door/"
                    r"display: done", log), "the audit line names id, point, value and origin")
    check("command evil" not in log, "the intruder's command reached the gateway")
    summary = f"done in {latency_ms:.0f} ms publish to answer; {refused + 3} refusals; " \
              f"dead device failed in {dead_ms:.0f} ms"
    old.close()
    intruder.close()
    dash.close()
    return summary


def rtu_part(work, broker):
    """Writes on a saturated strict line between polls of eight units."""
    line = PacedLine(work, baud=9600, parity="E", units="1-8",
                     options=["--strict", "--turnaround", "2"], name="cmd")
    ini = line_ini(broker, work.file("line.db"), line.path, range(1, 9), 9600, gateway="gw-line")
    ini = ini.replace(f"[mqtt]\n", f"[mqtt]\nusername = gw-line\npassword = {USERS['gw-line']}\n")
    ini = ini.replace("[point u3/r5]\nfunction = holding_register\naddress = 5\ntype = uint16\n",
                      "[point u3/r5]\nfunction = holding_register\naddress = 5\ntype = uint16\n"
                      "writable = true\n")
    ini += "[commands]\nenabled = true\n"
    sub = Subscriber(work, broker, f"{PREFIX}/gw-line/#", client_id="line-sub",
                     credentials=("harness", USERS["harness"]))
    gw = Gateway(work, ini, name="line")
    dash = Dashboard(broker, client_id="line-dash")
    dash.subscribe(f"{PREFIX}/replies/line")
    gw.start()
    wait_until(lambda: "listening for commands" in gw.log(), 15 * SLOW, "the subscription")
    time.sleep(1)
    n, took = 20, []
    for i in range(n):
        dash.send("u3", "r5", {"value": 1000 + i}, gateway="gw-line",
                  response=f"{PREFIX}/replies/line", correlation=f"w{i}".encode())
        res = dash.wait(lambda r, c=f"w{i}".encode(): r[2] == c, f"write {i}")[1]
        check_result(res, "done")
        took.append(res["took_ms"])
        time.sleep(0.2)
    time.sleep(1)
    gw.stop()
    stats = line.stop()
    sub.flush()
    healths = [p for t, p in sub.messages("/health")]
    failed = {d: v["polls_failed"] for d, v in healths[-1]["devices"].items()}
    check(not any(failed.values()), f"failed polls while writing: {failed}")
    check(stats["collisions"] == 0 and stats["bad_frames"] == 0,
          f"the line saw collisions or bad frames: {stats}")
    short = {u: s["ignored_short_gap"] for u, s in stats["units"].items() if s["ignored_short_gap"]}
    check(not short, f"requests too soon after a frame: {short}")
    check(stats["units"]["3"]["writes"] == n, f"unit 3 took {stats['units']['3']['writes']} writes")
    unique, _ = dedupe_by_seq(sub.readings())
    r5 = [p["value"] for t, p in unique if p.get("device") == "u3" and p.get("point") == "r5"]
    check(r5 and r5[-1] == 1000 + n - 1, f"the last poll of u3/r5 delivered {r5[-1:]}")
    polls = healths[-1]["lines"]["line"]["polls"]
    dash.close()
    return f"{n} writes between {polls} polls on a strict 9600 baud line, 0 failed polls, " \
           f"write+read-back {min(took)}..{max(took)} ms"


def cli_part(work):
    th = Stub(work, "th-transmitter-stub", ["--rtu-pty", "--unit", "1", "--parity", "N",
                                            "--baud", "9600"])
    ini = work.file("th.ini")
    with open(ini, "w") as f:
        f.write(head(1, work.file("th.db")) +
                f"[bus rs485]\ntype = rtu\ndevice = {th.address}\nbaud = 9600\nparity = none\n"
                "[device climate]\nbus = rs485\nunit_id = 1\ninterval = 10s\nprofile = xy-md02\n"
                "[point climate/temperature_correction]\nfunction = holding_register\n"
                "address = 259\ntype = int16\nscale = 0.1\nunit = °C\nwritable = true\n"
                "write_min = -10\nwrite_max = 10\nwrite_function = 6\n")
    r = subprocess.run([EXE, "write", "--config", ini, "climate", "temperature_correction", "-1.5"],
                       capture_output=True, text=True, timeout=30)
    check(r.returncode == 0 and "done" in r.stdout and "holds -1.5 °C" in r.stdout,
          f"write: exit {r.returncode}: {r.stdout}{r.stderr}")
    r = subprocess.run([EXE, "probe", "--config", ini, "climate"], capture_output=True, text=True,
                       timeout=30)
    check(re.search(r"^temperature_correction +-1\.5 ", r.stdout, re.M),
          f"probe after the write:\n{r.stdout}{r.stderr}")
    r = subprocess.run([EXE, "write", "--config", ini, "climate", "temperature_correction", "10.5"],
                       capture_output=True, text=True, timeout=30)
    check(r.returncode == 2 and "outside write_min" in r.stderr, f"10.5: {r.returncode} {r.stderr}")
    r = subprocess.run([EXE, "write", "--config", ini, "climate", "temperature", "20"],
                       capture_output=True, text=True, timeout=30)
    check(r.returncode == 2 and "not writable" in r.stderr, f"temperature: {r.stderr}")


def body(work):
    broker = broker_with_acl(work)
    tcp = tcp_part(work, broker)
    rtu = rtu_part(work, broker)
    cli_part(work)
    figure(f"TCP: {tcp}")
    figure(f"RTU: {rtu}")


if __name__ == "__main__":
    run_test("commands", body)
