"""A broker that says no.

1. mosquitto with an ACL that denies the gateway the weather sensor's
   topics. Under MQTT 5 (the default) each refused PUBACK (0x87) sets the
   reading aside in the store: counted in health, logged with its topic,
   while the visitor counter's readings flow on. The operator lists what
   was set aside, lifts the ACL, queues it again with --resend-set-aside and
   restarts: then every sequence number arrives; nothing was lost.
2. mosquitto with max_packet_size 700: the device metadata is too large for
   it. The gateway reads the limit from CONNACK, does not send what would
   make the broker drop the connection, says so, and the readings flow.
3. mosquitto with message_size_limit 450 (a limit it does not announce):
   the device metadata and health are refused with 0x95, and mosquitto
   2.0 with max_queued_messages 0 closes the connection right after such
   a refusal (strace shows it closing the socket after its PUBACK). Each
   refused document is held back, the limit is learnt, and the readings
   flow within a few connects; nothing blames a second client.
4. A broker that accepts the connection and drops it at once: the gateway
   backs off instead of reconnecting every reconnect_min. mosquitto cannot
   be told to do that, so a 20-line fake in this file plays that broker
   (it answers CONNECT with CONNACK and closes).
5. Failover: with the first URI dead, the log names the broker actually
   connected to."""
import json
import os
import subprocess
import time

from harness import (FakeBroker, demo_stubs, figure, BUILD, SLOW, Broker, Gateway, Subscriber, check, check_gap_free,
                     dedupe_by_seq, demo_ini, free_port, run_test, wait_until)

ACL_DENY = """topic readwrite smartregion/test-gw/status
topic readwrite smartregion/test-gw/health
topic readwrite smartregion/test-gw/devices/#
topic readwrite smartregion/test-gw/readings/trail_north/#
topic read #
"""
ACL_ALLOW = "topic readwrite #\n"


def health(sub):
    lines = [l for l in sub.lines() if l.split(" ", 1)[0].endswith("/health")]
    return json.loads(lines[-1].split(" ", 1)[1]) if lines else None


def cli(gw, option):
    run = subprocess.run([os.path.join(BUILD, "sensor-gateway"), "--config", gw.ini, option],
                         capture_output=True, text=True, timeout=60)
    check(run.returncode == 0, f"{option} failed: {run.stderr}")
    return run.stdout


def acl_refusal(work, counter, env):
    acl = work.file("acl")
    with open(acl, "w") as f:
        f.write(ACL_DENY)
    broker = Broker(work, settings=f"allow_anonymous true\nacl_file {acl}\n")
    broker.start()
    sub = Subscriber(work, broker, "smartregion/test-gw/#", "refusal-sub")
    gw = Gateway(work, demo_ini(broker.port, counter.address.split(":")[1], env.address,
                                work.file("store.db"), interval_ms=100,
                                extra="").replace("[gateway]\nid = test-gw",
                                                  "[gateway]\nid = test-gw\nhealth_interval = 1s"))
    gw.start()
    gw.wait_connected()
    wait_until(lambda: (health(sub) or {}).get("store", {}).get("set_aside_messages", 0) >= 40, 20,
               "refused readings set aside")
    time.sleep(1 * SLOW)
    gw.stop()
    h = health(sub)
    delivered = dedupe_by_seq(sub.readings())[0]
    trail = [p for _, p in delivered if p["device"] == "trail_north"]
    weather = [p for _, p in delivered if p["device"] == "weather"]
    check(not weather, f"{len(weather)} weather readings got through the ACL")
    check(len(trail) >= 20, f"only {len(trail)} visitor counter readings flowed past the refusals")
    log = gw.log()
    check("cloned SD card" not in log, "the refusals were blamed on a second client")
    connects = log.count("mqtt: connected")
    check(connects <= 4, f"{connects} connections: refusals kept ending the session")
    check("the broker refused reading" in log and "readings/weather" in log and "0x87" in log,
          "the refusal was not logged with its topic and reason")
    listed = [l for l in cli(gw, "--list-set-aside").splitlines() if not l.startswith("#")]
    check(len(listed) >= h["store"]["set_aside_messages"],
          f"--list-set-aside listed {len(listed)}, health said {h['store']['set_aside_messages']}")
    check(all(" weather/" in l and "0x87" in l for l in listed), f"odd listing: {listed[:3]}")
    # layout = device: a weather message carries its 4 points; health counts both units.
    per = 4
    check(h["store"]["set_aside_readings"] == per * h["store"]["set_aside_messages"],
          f"set aside: {h['store']['set_aside_readings']} readings in "
          f"{h['store']['set_aside_messages']} messages of 4 points each")
    check(h["readings"]["refused"] == per * h["messages"]["refused"],
          f"refused: {h['readings']['refused']} readings in {h['messages']['refused']} messages")
    check(h["messages"]["acknowledged"] < h["readings"]["acknowledged"],
          f"acknowledged: {h['messages']['acknowledged']} messages, "
          f"{h['readings']['acknowledged']} readings")
    with open(acl, "w") as f:
        f.write(ACL_ALLOW)
    broker.proc.send_signal(1)  # SIGHUP: mosquitto reloads its ACL
    time.sleep(0.5 * SLOW)
    out = cli(gw, "--resend-set-aside")
    check(f"{len(listed)} records set aside are queued again" in out, out)
    gw.start()
    gw.wait_connected()
    last_seq = max(p["seq"] for _, p in delivered)

    def all_back():
        unique = dedupe_by_seq(sub.readings())[0]
        return len(unique) >= last_seq + 60
    wait_until(all_back, 30, "the set-aside readings to arrive after the resend")
    gw.stop()
    sub.flush()
    unique, duplicates = dedupe_by_seq(sub.readings())
    check_gap_free(unique)
    figure(f"ACL denies weather (MQTT 5): {len(trail)} counter readings flowed, "
           f"{h['store']['set_aside_readings']} weather readings in {h['store']['set_aside_messages']} "
           f"messages set aside (refused {h['readings']['refused']} in {h['messages']['refused']}), "
           f"0 lost; after --resend-set-aside all {len(unique)} seq arrived gap-free, "
           f"{duplicates} duplicates")


def limited_broker(work, counter, env, setting, name):
    """mosquitto with one size limit, a subscriber to the readings, and the
    demo gateway connected to it."""
    broker = Broker(work, settings=f"allow_anonymous true\n{setting}\n")
    broker.start()
    sub = Subscriber(work, broker, "smartregion/test-gw/readings/#", f"{name}-sub")
    gw = Gateway(work, demo_ini(broker.port, counter.address.split(":")[1], env.address,
                                work.file(f"store-{name}.db"), interval_ms=100), name=name)
    gw.start()
    gw.wait_connected()
    return sub, gw


def packet_limit(work, counter, env):
    sub, gw = limited_broker(work, counter, env, "max_packet_size 700", "limit")
    time.sleep(5 * SLOW)
    gw.stop()
    unique, _ = dedupe_by_seq(sub.readings())
    log = gw.log()
    check("larger than the broker's maximum packet size" in log,
          "the oversized metadata was not reported")
    check(log.count("mqtt: connected") <= 2, "the broker kept dropping the connection")
    check(len(unique) >= 100, f"only {len(unique)} readings flowed under max_packet_size 700")
    figure(f"max_packet_size 700: metadata withheld and logged, {len(unique)} readings in 5 s, "
           f"{log.count('mqtt: connected')} connection(s)")


def size_limit(work, counter, env):
    sub, gw = limited_broker(work, counter, env, "message_size_limit 450", "size")
    wait_until(lambda: len(dedupe_by_seq(sub.readings())[0]) >= 50, 15 * SLOW,
               "readings past the refused announcements")
    # Which document the broker refuses first is a race; every one is dealt
    # with by the next connect (refused, or held back by the limit learnt).
    wait_until(lambda: "devices/weather/meta" in gw.log(), 10 * SLOW,
               "the weather station's metadata dealt with")
    time.sleep(2 * SLOW)
    gw.stop()
    sub.flush()
    unique, _ = dedupe_by_seq(sub.readings())
    log = gw.log()
    connects = log.count("mqtt: connected")
    check(connects <= 6, f"{connects} connections: the refused documents were sent again and again")
    check("devices/weather/meta" in log and "0x95" in log,
          "the refused metadata was not named with the broker's reason")
    check("cloned SD card" not in log, "a refusal was blamed on a second client")
    listed = [l for l in cli(gw, "--list-set-aside").splitlines() if not l.startswith("#")]
    check(not listed, f"readings were set aside for an announcement's refusal: {listed[:3]}")
    figure(f"message_size_limit 450: metadata and health refused (0x95) and held back, "
           f"{len(unique)} readings delivered, {connects} connection(s), 0 set aside")


class DroppingBroker(FakeBroker):
    """Accepts, answers CONNECT with an MQTT 5 CONNACK, closes."""

    def serve(self, conn):
        self.accept_mqtt5(conn)
        time.sleep(0.05)


class ChokingBroker(FakeBroker):
    """PUBACKs every QoS 1 PUBLISH, except one on a topic containing
    `choke`: then it closes the connection without a word, as a broker
    that cannot say no does. Records the topics it acknowledged."""

    def __init__(self, seconds, choke):
        self.choke, self.acked = choke, []
        super().__init__(seconds)

    def serve(self, conn):
        self.accept_mqtt5(conn)
        for topic, packet_id in self.publishes(conn, self.deadline - time.monotonic()):
            if self.choke in topic:
                return
            self.puback(conn, packet_id)
            self.acked.append(topic)


def choking_broker(work, counter, env):
    """The broker closes the connection on the weather station's metadata,
    with no refusal: paho fails what was in flight before it reports the
    loss, and the document unanswered at three drops in a row is held back.
    No packaged broker drops a connection on one topic, so the fake above
    plays it."""
    fake = ChokingBroker(25 * SLOW, "/devices/weather/meta")
    gw = Gateway(work, demo_ini(fake.port, counter.address.split(":")[1], env.address,
                                work.file("store-choke.db"), interval_ms=100), name="choke")
    gw.start()
    wait_until(lambda: "retained message on smartregion/test-gw/devices/weather/meta was "
               "unanswered" in gw.log(), 20 * SLOW, "the choking document held back")
    readings_before = sum("/readings/" in t for t in fake.acked)
    wait_until(lambda: sum("/readings/" in t for t in fake.acked) >= readings_before + 20,
               10 * SLOW, "readings after the document was held back")
    gw.stop()
    log = gw.log()
    check("cloned SD card" not in log, "the dropped connections were blamed on a second client")
    figure(f"a broker dropping the connection on one retained document: held back after "
           f"{log.count('connection lost')} losses, then {sum('/readings/' in t for t in fake.acked)}"
           f" readings acknowledged")


def dropping_broker(work, counter, env):
    seconds = 10
    fake = DroppingBroker(seconds * SLOW + 5)
    ini = demo_ini(fake.port, counter.address.split(":")[1], env.address,
                   work.file("store-drop.db"), interval_ms=100)
    ini = ini.replace("reconnect_max = 1s", "reconnect_max = 30s")
    gw = Gateway(work, ini, name="dropped")
    gw.start()
    time.sleep(seconds * SLOW)
    gw.stop()
    attempts = fake.accepted
    # reconnect_min 200 ms: hammering would be ~50 connections in 10 s; a
    # doubling back-off gives 0.2 + 0.4 + 0.8 + 1.6 + 3.2 + 6.4 s: 6 or 7.
    check(attempts <= 8 * SLOW, f"{attempts} connections in {seconds}s: no back-off")
    check("closed 3 connections in a row within seconds" in gw.log(),
          "the pattern of brief connections was not explained in the log")
    figure(f"broker dropping every connection after CONNACK: {attempts} connections in "
           f"{seconds} s (reconnect_min 200 ms)")


def failover(work, counter, env):
    broker = Broker(work)
    broker.start()
    dead = free_port()
    uris = f"tcp://127.0.0.1:{dead}, tcp://127.0.0.1:{broker.port}"
    gw = Gateway(work, demo_ini(broker.port, counter.address.split(":")[1], env.address,
                                work.file("store-failover.db"), uris=uris), name="failover")
    gw.start()
    gw.wait_connected()
    gw.stop()
    check(f"connected to tcp://127.0.0.1:{broker.port}" in gw.log(),
          "the log does not name the broker actually connected to:\n" +
          "\n".join(l for l in gw.log().splitlines() if "connected to" in l))
    figure("failover: the log names the second broker, the one connected to")


def body(work):
    counter, env = demo_stubs(work)
    failover(work, counter, env)
    size_limit(work, counter, env)
    choking_broker(work, counter, env)
    dropping_broker(work, counter, env)
    packet_limit(work, counter, env)
    acl_refusal(work, counter, env)


if __name__ == "__main__":
    run_test("refusals", body)
