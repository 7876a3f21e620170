"""Device faults, mode by mode, from the stubs' fault modes: no answer,
Modbus exceptions (illegal address, device busy), garbage and bad-CRC frames,
slow answers, and on TCP connection resets.

On one RTU line a healthy sensor (unit 3) shares the bus with a faulty one
(unit 4, played by the same stub); a visitor counter on Modbus TCP misbehaves
in the same ways. For each mode the test measures the healthy sensor's poll
rate against the fault-free baseline, checks the daemon stays up, that the
faulty devices are backed off and come back by themselves when the fault
ends, and that the log stays short (rate-limited)."""
import time

from harness import (iso_ms, figure, SLOW, Broker, Gateway, Stub, Subscriber, check, dedupe_by_seq, demo_ini,
                     run_test, wait_until)

PHASE_S = 3
# (RTU mode for unit 4, TCP mode for the counter); TCP has no CRC.
PHASES = [("silent", "silent"), ("illegal-address", "illegal-address"), ("busy", "busy"),
          ("garbage", "garbage"), ("bad-crc", "reset"), ("slow", "slow")]
# Share of the baseline poll rate the healthy sensor keeps, at least. A unit
# that does not answer in time holds the line for a whole response_timeout
# at each (backed-off) try; one that answers wrongly holds it only briefly.
KEEPS = {"silent": 0.4, "garbage": 0.4, "slow": 0.4}
KEEPS_FAST_FAULT = 0.75
# A unit that kept failing on a shared line is tried again at most every 20
# times what a try costs the line (gateway/poller.h): 300 ms of timeout and
# as long again listening for a late reply, so it is back within 12 s.
RECOVERY_S = 14

SICK = """
[device sick]
bus = rs485
unit_id = 4
interval = 100ms
response_timeout = 300ms
backoff_max = 1s

[point sick/temperature]
function = input_register
address = 0
type = int16
scale = 0.1
unit = °C
"""


def write(path, mode):
    with open(path, "w") as f:
        f.write(mode + "\n")



def body(work):
    rtu_fault, tcp_fault = work.file("rtu.fault"), work.file("tcp.fault")
    write(rtu_fault, "none")
    write(tcp_fault, "none")
    broker = Broker(work)
    broker.start()
    counter = Stub(work, "visitor-counter-stub", ["--tcp", "0", "--fault-file", tcp_fault])
    env = Stub(work, "env-sensor-stub", ["--rtu-pty", "--unit", "3", "--fault-unit", "4",
                                         "--fault-file", rtu_fault, "--slow-ms", "700"])
    sub = Subscriber(work, broker, "smartregion/test-gw/readings/#", "faults-sub")
    ini = demo_ini(broker.port, counter.address.split(":")[1], env.address,
                   work.file("store.db"), interval_ms=100, extra=SICK)
    ini = ini.replace("response_timeout = 500ms", "response_timeout = 300ms\nbackoff_max = 1s")
    gw = Gateway(work, ini)
    gw.start()
    gw.wait_connected()
    time.sleep(1 * SLOW)  # settle

    windows = []
    phases = [("none", "none")] + PHASES + [("none", "none")]
    for i, (rtu_mode, tcp_mode) in enumerate(phases):
        write(rtu_fault, rtu_mode)
        write(tcp_fault, tcp_mode)
        start = time.time() * 1000
        time.sleep((RECOVERY_S if i == len(phases) - 1 else PHASE_S) * SLOW)
        windows.append((rtu_mode, tcp_mode, start + 300, time.time() * 1000))
    time.sleep(1 * SLOW)
    check(gw.proc.poll() is None, "the gateway died")
    gw.stop()
    sub.flush()

    unique, _ = dedupe_by_seq(sub.readings())

    def rate(device, point, window):
        _, _, t0, t1 = window
        n = sum(1 for _, p in unique if p["device"] == device and p["point"] == point
                and t0 <= iso_ms(p["ts"]) < t1)
        return n * 1000 / (t1 - t0)

    baseline = rate("weather", "temperature", windows[0])
    check(baseline > 3, f"baseline poll rate only {baseline:.1f}/s")
    report = []
    for window in windows[1:-1]:
        rtu_mode, tcp_mode = window[0], window[1]
        healthy = rate("weather", "temperature", window)
        keep = healthy / baseline
        report.append(f"{rtu_mode}/{tcp_mode}: healthy {healthy:.1f}/s ({keep:.0%}), faulty "
                      f"rtu {rate('sick', 'temperature', window):.1f}/s, tcp "
                      f"{rate('trail_north', 'visitors_in', window):.1f}/s")
        check(keep >= KEEPS.get(rtu_mode, KEEPS_FAST_FAULT),
              f"with unit 4 {rtu_mode}, the healthy sensor kept only {keep:.0%} of its rate")
        if rtu_mode != "slow":
            check(rate("sick", "temperature", window) < 0.5,
                  f"unit 4 delivered readings while {rtu_mode}")
    last = windows[-1]
    check(rate("sick", "temperature", last) > baseline / 3,
          "unit 4 did not come back by itself after the faults ended")
    check(rate("trail_north", "visitors_in", last) > baseline / 3,
          "the TCP counter did not come back by itself after the faults ended")
    for _, p in unique:
        check(p["quality"] == "good", f"a reading with bad quality slipped through: {p}")
    log = gw.log()
    check("device sick: answers again" in log and "device trail_north: answers again" in log,
          "the recoveries were not logged")
    lines = {d: sum(1 for line in log.splitlines() if f"device {d}:" in line)
             for d in ("sick", "trail_north", "weather")}
    run_s = (len(windows) - 1) * PHASE_S + RECOVERY_S
    check(lines["sick"] <= 30 and lines["trail_north"] <= 30,
          f"too many log lines for {run_s}s of faults: {lines}")
    # A slow unit's late answers must not count against its neighbour.
    check(lines["weather"] == 0, f"the healthy sensor failed polls: {lines}")
    figure(f"baseline {baseline:.1f} polls/s; " + "; ".join(report) +
          f"; log lines over {run_s}s: {lines}; the daemon stayed up and both faulty devices "
          "recovered by themselves")


if __name__ == "__main__":
    run_test("device-fault-modes", body)
