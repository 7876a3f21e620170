"""Modbus RTU over TCP: RTU frames, CRC and all, on a TCP connection, as the
serial-to-Ethernet converters in transparent mode speak it.

The environmental sensor stub plays such a converter with the sensor on its
line (--rtu-over-tcp). The gateway polls it through a bus of type
rtu-over-tcp; the device goes silent, then answers garbage (which leaves
the byte stream out of step until the gateway reconnects), then recovers.
Every reading must follow the stub's documented sequence without a step
missing or repeated, and the device metadata must name the transport."""
import time

from harness import (SLOW, Broker, Gateway, Stub, Subscriber, check, check_sequences,
                     dedupe_by_seq, device, env_sensor_points, figure, head, run_test, tcp_bus,
                     wait_until)

def body(work):
    broker = Broker(work)
    broker.start()
    fault = work.file("fault")
    open(fault, "w").close()
    converter = Stub(work, "env-sensor-stub",
                     ["--rtu-over-tcp", "0", "--unit", "3", "--fault-file", fault])
    port = converter.address.split(":")[1]
    sub = Subscriber(work, broker, "smartregion/test-gw/#", "rtu-tcp-sub")
    gw = Gateway(work, head(broker.port, work.file("store.db")) +
                 tcp_bus("converter", port, kind="rtu-over-tcp") +
                 device("weather", "converter", unit_id=3,
                        extra="response_timeout = 300ms\nbackoff_max = 500ms\n") +
                 env_sensor_points("weather"))
    gw.start()

    def readings():
        return dedupe_by_seq(sub.readings())[0]
    wait_until(lambda: len(readings()) >= 4 * 20, 20, "readings before the faults")
    for mode in ("silent", "garbage"):
        with open(fault, "w") as f:
            f.write(mode + "\n")
        time.sleep(1.5 * SLOW)
    open(fault, "w").close()
    before = len(readings())
    wait_until(lambda: len(readings()) >= before + 4 * 20, 20, "readings after the faults")
    gw.stop()

    unique = readings()
    counts = check_sequences(unique)
    meta = [p for _, p in sub.messages("/devices/weather/meta")]
    check(meta and meta[-1]["transport"] == "modbus-rtu-over-tcp", f"metadata: {meta[-1:]}")
    log = gw.log()
    failed = int(log.rsplit("polls ok=", 1)[1].split("failed=")[1].split(";")[0])
    check(failed > 0, f"no failed polls while the converter was silent and garbled:\n{log[-800:]}")
    figure(f"RTU over TCP: {sum(counts.values())} readings of {len(counts)} points, each the "
           f"stub's value for its read, none missing or repeated, across {failed} failed polls "
           f"(silent, then garbage) and the reconnects after them")


if __name__ == "__main__":
    run_test("rtu-over-tcp", body)
