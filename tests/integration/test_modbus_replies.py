"""Replies that do not fit the request, and a device that dribbles.

One Modbus TCP stub plays two devices on one bus: unit 1 healthy, unit 2
faulty through its fault file. In turn unit 2 answers as another unit id,
sends an MBAP header whose length is 0xFFFF, and sends its (correct) reply
one byte every 0.4 s while its response_timeout is 300 ms. None of these
replies may become a reading, and the healthy unit on the same bus must
keep polling. Also: a unit id libmodbus refuses on TCP (248 to 254) is a
configuration error, not a silent poll of the previous device."""
import os
import subprocess
import time

from harness import (iso_ms, figure, SLOW, BUILD, Broker, Gateway, Stub, Subscriber, check, dedupe_by_seq,
                     run_test)

PHASES = [("wrong-unit", 4), ("bad-length", 4), ("dribble", 8)]
# The two units share one connection, so a failing one is tried at most
# every 20 times what a try cost (gateway/poller.h): 300 ms of timeout.
RECOVERY_S = 8


def ini(broker_port, stub_port, store, odd_unit=2):
    device = """
[device {name}]
bus = counter
unit_id = {unit}
interval = 200ms
response_timeout = 300ms
backoff_max = 1s

[point {name}/visitors_in]
function = holding_register
address = 0
type = uint16
unit = visitors
"""
    return f"""[gateway]
id = test-gw
[mqtt]
uri = tcp://127.0.0.1:{broker_port}
reconnect_min = 200ms
reconnect_max = 1s
[store]
path = {store}
commit_interval = 100ms
[bus counter]
type = tcp
host = 127.0.0.1
port = {stub_port}
""" + device.format(name="healthy", unit=1) + device.format(name="odd", unit=odd_unit)



def refused_unit_id(work):
    path = work.file("unit250.ini")
    with open(path, "w") as f:
        f.write(ini(1883, 502, work.file("x.db"), odd_unit=250))
    run = subprocess.run([os.path.join(BUILD, "sensor-gateway"), "--check-config", path],
                         capture_output=True, text=True, timeout=30)
    check(run.returncode == 2, f"unit_id 250 on a tcp bus passed --check-config: {run.stderr}")
    check("unit_id: 250 cannot be used on a tcp bus" in run.stderr, run.stderr)


def body(work):
    refused_unit_id(work)
    fault = work.file("tcp.fault")
    with open(fault, "w") as f:
        f.write("none\n")
    broker = Broker(work)
    broker.start()
    stub = Stub(work, "visitor-counter-stub", ["--tcp", "0", "--fault-file", fault,
                                               "--fault-unit", "2", "--slow-ms", "400"])
    sub = Subscriber(work, broker, "smartregion/test-gw/readings/#", "replies-sub")
    gw = Gateway(work, ini(broker.port, stub.address.split(":")[1], work.file("store.db")))
    gw.start()
    gw.wait_connected()
    time.sleep(1 * SLOW)
    windows = []
    for mode, seconds in PHASES:
        with open(fault, "w") as f:
            f.write(mode + "\n")
        start = time.time() * 1000
        time.sleep(seconds * SLOW)
        windows.append((mode, start + 500, time.time() * 1000))
    with open(fault, "w") as f:
        f.write("none\n")
    time.sleep(RECOVERY_S * SLOW)
    check(gw.proc.poll() is None, "the gateway died")
    gw.stop()
    sub.flush()

    unique, _ = dedupe_by_seq(sub.readings())

    def count(device, t0, t1):
        return sum(1 for _, p in unique if p["device"] == device and t0 <= iso_ms(p["ts"]) < t1)

    report = []
    for mode, t0, t1 in windows:
        odd, healthy = count("odd", t0, t1), count("healthy", t0, t1)
        expected = (t1 - t0) / 200
        report.append(f"{mode}: unit 2 {odd} readings, healthy neighbour {healthy} of "
                      f"~{expected:.0f} polls")
        check(odd == 0, f"{mode}: {odd} readings of the misbehaving unit were published")
        check(healthy >= expected * 0.5,
              f"{mode}: the healthy neighbour got only {healthy} of ~{expected:.0f} readings")
    # Nothing late: every reading of unit 2 was polled outside the fault windows.
    check(count("odd", windows[-1][2] + 1000, time.time() * 1000) > 0,
          "unit 2 did not come back after the faults ended")
    log = gw.log()
    check("reply from another unit id" in log, "the wrong unit id was not named in the log")
    figure("; ".join(report) + "; unit_id 250 on tcp rejected by --check-config")


if __name__ == "__main__":
    run_test("modbus-replies", body)
