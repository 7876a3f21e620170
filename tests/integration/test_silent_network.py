"""A silent network: the path to the broker stops carrying packets without
closing (a relay in the test blackholes it). The daemon must notice within
its MQTT keep-alive, the broker must publish the Last Will so the status
topic says `offline`, and when the path returns the daemon reconnects, says
`online` and delivers everything polled meanwhile: no gap, exact values."""
import re
import time

from harness import (figure, SLOW, Broker, Gateway, Relay, Stub, Subscriber, check, check_gap_free,
                     check_sequences, dedupe_by_seq, demo_ini, run_test, wait_until)

KEEPALIVE_S = 2
SILENCE_S = 8


def body(work):
    broker = Broker(work)
    broker.start()
    relay = Relay(broker.port)
    counter = Stub(work, "visitor-counter-stub", ["--tcp", "0"])
    env = Stub(work, "env-sensor-stub", ["--rtu-pty", "--unit", "3"])
    sub = Subscriber(work, broker, "smartregion/test-gw/#", "silent-sub")
    ini = demo_ini(relay.port, counter.address.split(":")[1], env.address, work.file("store.db"),
                   interval_ms=100)
    ini = ini.replace("keepalive = 5s", f"keepalive = {KEEPALIVE_S}s\nconnect_timeout = 2s")
    gw = Gateway(work, ini)
    gw.start()
    wait_until(lambda: len(sub.readings()) >= 60, 20, "readings before the silence")

    relay.blackhole = True
    silent_at = time.monotonic()
    seen = {}

    def noticed():
        now = time.monotonic() - silent_at
        if "gateway" not in seen and re.search(r"connection (lost|silent)", gw.log()):
            seen["gateway"] = now
        if "broker" not in seen and "offline" in sub.statuses():
            seen["broker"] = now
        return len(seen) == 2
    wait_until(noticed, 6 * KEEPALIVE_S,
               f"the gateway to notice the silence and the broker to say 'offline' ({seen})")
    noticed_s, will_s = seen["gateway"], seen["broker"]
    check(gw.proc.poll() is None, "the gateway exited")
    time.sleep(max(0.0, SILENCE_S - (time.monotonic() - silent_at)))
    relay.blackhole = False
    back_at = time.time()
    wait_until(lambda: sub.statuses()[-1:] == ["online"], 30, "'online' after the path returned")
    wait_until(lambda: _newest(sub) > back_at + 1, 30, "readings polled after the path returned")
    gw.stop()
    sub.flush()

    unique, duplicates = dedupe_by_seq(sub.readings())
    check_gap_free(unique)
    per_point = check_sequences(unique)
    statuses = sub.statuses()
    check(statuses[-1] == "offline", f"no 'offline' after the clean stop: {statuses}")
    check("offline" in statuses[:-1] and statuses[statuses.index("offline") + 1:].count("online"),
          f"status did not go offline then online: {statuses}")
    # No PUBACK for one keep-alive while messages are in flight: the
    # pipeline checks every commit_interval (100 ms here).
    check(noticed_s <= KEEPALIVE_S * SLOW + 0.5,
          f"noticed the silence only after {noticed_s:.1f}s (keepalive {KEEPALIVE_S}s)")
    lost_during = len(re.findall(r"connection (lost|silent)", gw.log()))
    figure(f"silent network for {SILENCE_S}s (keepalive {KEEPALIVE_S}s): the gateway noticed "
          f"after {noticed_s:.1f}s, the broker published 'offline' after {will_s:.1f}s; "
          f"{lost_during} connection loss; reconnected, 'online' again; {len(unique)} readings, "
          f"seq 1..{len(unique)} gap-free, exact values {per_point}; lost: 0; {duplicates} "
          f"duplicates (same seq, same payload)")


def _newest(sub):
    readings = sub.readings()
    if not readings:
        return 0
    ts = readings[-1][1]["ts"]
    import calendar
    return calendar.timegm(time.strptime(ts[:19], "%Y-%m-%dT%H:%M:%S"))


if __name__ == "__main__":
    run_test("silent-network", body)
