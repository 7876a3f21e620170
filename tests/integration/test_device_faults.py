"""A device that does not answer must not starve its neighbours: on one RTU
line, a live sensor (unit 3) shares the bus with a unit that never answers
(unit 9); a TCP device points at a port where nothing listens. The live
sensor must keep most of its poll rate and deliver exact values; the dead
ones are backed off and logged, rate-limited; the daemon stops cleanly."""
import time

from harness import (figure, run_test, SLOW, Broker, Gateway, Stub, Subscriber, Workdir, check, check_sequences,
                     dedupe_by_seq, free_port, head, rtu_bus, tcp_bus)

RUN_S = 6
INTERVAL_MS = 100


def ini(broker_port, tty, dead_port, store):
    return head(broker_port, store) + rtu_bus("rs485", tty) + tcp_bus("nowhere", dead_port) + f"""\
[device weather]
bus = rs485
unit_id = 3
interval = {INTERVAL_MS}ms
response_timeout = 300ms
[point weather/temperature]
function = input_register
address = 0
type = int16
scale = 0.1
unit = °C
[device ghost]
bus = rs485
unit_id = 9
interval = {INTERVAL_MS}ms
response_timeout = 300ms
backoff_max = 2s
[point ghost/level]
function = input_register
address = 0
type = uint16
[device dead_counter]
bus = nowhere
unit_id = 1
interval = {INTERVAL_MS}ms
backoff_max = 1s
[point dead_counter/visitors_in]
function = holding_register
address = 0
type = uint16
"""


def body(work):
    broker = Broker(work)
    broker.start()
    env = Stub(work, "env-sensor-stub", ["--rtu-pty", "--unit", "3"])
    sub = Subscriber(work, broker, "smartregion/test-gw/readings/#", "faults-sub")
    gw = Gateway(work, ini(broker.port, env.address, free_port(), work.file("store.db")))
    gw.start()
    time.sleep(RUN_S * SLOW)
    gw.stop()
    sub.flush()

    unique, _ = dedupe_by_seq(sub.readings())
    points = {p["device"] for _, p in unique}
    check(points == {"weather"}, f"readings from {points}: only weather answers")
    polls = check_sequences(unique)["temperature"]
    ideal = RUN_S * SLOW * 1000 / INTERVAL_MS
    check(polls >= ideal * 0.5,
          f"weather got {polls} polls of an ideal {ideal:.0f}: its dead neighbour stalls it")
    log = gw.log()
    ghost_lines = [l for l in log.splitlines() if "device ghost:" in l]
    check(any("failed poll(s) in a row" in l for l in ghost_lines), "no back-off line")
    check(any("Connection timed out" in l or "timed out" in l.lower() for l in ghost_lines),
          f"no timeout logged for ghost: {ghost_lines}")
    check(len(ghost_lines) <= 12, f"{len(ghost_lines)} log lines for one dead device")
    check(any("device dead_counter:" in l and "cannot connect" in l for l in log.splitlines()),
          "refused TCP connection not logged")
    figure(f"weather kept {polls} of {ideal:.0f} polls ({100 * polls / ideal:.0f}%) beside a "
          f"unit that never answers; ghost logged {len(ghost_lines)} lines in {RUN_S}s; "
          f"values exact")


if __name__ == "__main__":
    run_test("device_faults", body)
