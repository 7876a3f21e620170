"""A Modbus TCP device that closes connections left idle (servers with a
few sockets do, after seconds or minutes): polled less often than it
closes, every poll must still succeed. The event loop watches idle
connections, so the close is noticed when it happens and the next poll
opens a new one; a daemon that only finds out by writing to the dead
socket fails every such poll. A second device on another stub, polled
faster than the close, keeps its one connection."""
import time

from harness import (SLOW, Broker, Gateway, Stub, check, figure, iso_ms, run_test, status,
                     wait_until)

CLOSE_MS = 300
SLOW_INTERVAL_MS = 700
FAST_INTERVAL_MS = 100
WINDOW_S = 6


def device(name, port, interval_ms):
    return (f"[bus {name}_bus]\ntype = tcp\nhost = 127.0.0.1\nport = {port}\n"
            f"[device {name}]\nbus = {name}_bus\nunit_id = 1\ninterval = {interval_ms}ms\n"
            f"response_timeout = 500ms\n"
            f"[point {name}/visitors]\nfunction = holding_register\naddress = 0\ntype = uint16\n")


def body(work):
    broker = Broker(work)
    broker.start()
    closing = Stub(work, "visitor-counter-stub", ["--tcp", "0", "--close-idle-ms", str(CLOSE_MS)],
                   "closing.log")
    steady = Stub(work, "visitor-counter-stub", ["--tcp", "0", "--close-idle-ms", str(CLOSE_MS)],
                  "steady.log")
    status_path = work.file("health.json")
    ini = (f"[gateway]\nid = test-gw\nstatus_file = {status_path}\nhealth_interval = 1s\n"
           f"[mqtt]\nuri = tcp://127.0.0.1:{broker.port}\n"
           f"[store]\npath = {work.file('store.db')}\n" +
           device("sparse", closing.address.split(":")[1], SLOW_INTERVAL_MS) +
           device("busy", steady.address.split(":")[1], FAST_INTERVAL_MS))
    gw = Gateway(work, ini)
    gw.start()
    gw.wait_connected()
    wait_until(lambda: (status(status_path) or {}).get("devices", {}).get("sparse", {})
               .get("polls_ok", 0) > 0, 20, "the first poll of the sparse device")
    first = status(status_path)
    time.sleep(WINDOW_S * SLOW)
    wait_until(lambda: status(status_path)["ts"] != first["ts"], 5, "a fresh status file")
    last = status(status_path)
    gw.stop()

    span_s = (iso_ms(last["ts"]) - iso_ms(first["ts"])) / 1000
    for name, interval in (("sparse", SLOW_INTERVAL_MS), ("busy", FAST_INTERVAL_MS)):
        ok = last["devices"][name]["polls_ok"] - first["devices"][name]["polls_ok"]
        failed = last["devices"][name]["polls_failed"]
        expected = span_s * 1000 / interval
        check(failed == 0, f"{name}: {failed} failed polls beside {ok} good ones; the device "
                           f"closes idle connections after {CLOSE_MS} ms")
        check(ok >= 0.9 * expected, f"{name}: {ok} polls in {span_s:.1f} s, {expected:.0f} asked")
    figure(f"a device closing connections idle for {CLOSE_MS} ms, polled every "
           f"{SLOW_INTERVAL_MS} ms: {last['devices']['sparse']['polls_ok']} polls, 0 failed; "
           f"beside it one polled every {FAST_INTERVAL_MS} ms: 0 failed")


run_test("idle_close", body)
