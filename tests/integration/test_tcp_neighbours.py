"""A slow and a dead Modbus TCP device among 100 healthy ones: the healthy
ones keep their rate. Each healthy device (ten visitor-counter stubs, ten
devices each, 5 registers) is polled every 500 ms; one more device answers
every request 2 s late (its timeout is 500 ms), one more accepts the
connection and never answers. Over a steady window every healthy device
must complete at least 90 % of the polls its interval asks for (health's
per-device counters, read from the status file at both ends of the
window), and the two bad ones must be failing. All 102 TCP devices are
polled by one event loop: the daemon runs a handful of threads, not one
per bus."""
import time

from harness import (SLOW, Broker, Gateway, Stub, check, figure, iso_ms, many_points_ini,
                     run_test, status, wait_until)

HEALTHY = 100
INTERVAL_MS = 500
WINDOW_S = 10


def body(work):
    broker = Broker(work)
    broker.start()
    stubs = [Stub(work, "visitor-counter-stub", ["--tcp", "0", "--registers", "5"],
                  f"stub{i}.log") for i in range(HEALTHY // 10)]
    slow = Stub(work, "visitor-counter-stub",
                ["--tcp", "0", "--registers", "5", "--fault", "slow", "--slow-ms", "2000"],
                "slow.log")
    dead = Stub(work, "visitor-counter-stub",
                ["--tcp", "0", "--registers", "5", "--fault", "silent"], "dead.log")
    ports = [s.address.split(":")[1] for s in stubs]
    status_path = work.file("health.json")
    ini = many_points_ini("test-gw", broker.port, ports, work.file("store.db"), HEALTHY, 5,
                          interval=f"{INTERVAL_MS}ms", status_file=status_path)
    for name, stub in (("slow", slow), ("dead", dead)):
        ini += (f"[bus {name}_bus]\ntype = tcp\nhost = 127.0.0.1\nport = "
                f"{stub.address.split(':')[1]}\n[device {name}]\nbus = {name}_bus\nunit_id = 1\n"
                f"interval = {INTERVAL_MS}ms\nresponse_timeout = 500ms\nbackoff_max = 1s\n"
                f"[point {name}/p0]\nfunction = holding_register\naddress = 0\ntype = uint16\n")
    gw = Gateway(work, ini)
    gw.start()
    gw.wait_connected()
    wait_until(lambda: (status(status_path) or {}).get("devices", {}).get("dead", {})
               .get("polls_failed", 0) > 0, 20, "the dead device to fail")
    first = status(status_path)
    time.sleep(WINDOW_S * SLOW)
    wait_until(lambda: status(status_path)["ts"] != first["ts"], 5, "a fresh status file")
    last = status(status_path)
    with open(f"/proc/{gw.proc.pid}/status") as f:
        threads = int(dict(line.split(":", 1) for line in f)["Threads"])
    gw.stop()
    # main, pipeline, the loop, paho's two: none per bus.
    check(threads <= 6, f"{threads} threads for {HEALTHY + 2} TCP buses")

    span_s = (iso_ms(last["ts"]) - iso_ms(first["ts"])) / 1000
    expected = span_s * 1000 / INTERVAL_MS
    rates = {}
    for d in range(HEALTHY):
        name = f"d{d}"
        done = last["devices"][name]["polls_ok"] - first["devices"][name]["polls_ok"]
        rates[name] = done / expected
        check(last["devices"][name]["polls_failed"] == 0,
              f"{name} failed polls: {last['devices'][name]}")
    worst = min(rates, key=rates.get)
    check(rates[worst] >= 0.9, f"{worst} made {rates[worst]:.0%} of its polls beside a slow and a "
          f"dead device (over {span_s:.1f} s)")
    for bad in ("slow", "dead"):
        check(last["devices"][bad]["polls_failed"] > first["devices"][bad]["polls_failed"] or
              last["devices"][bad]["polls_ok"] == first["devices"][bad]["polls_ok"],
              f"{bad} is not failing: {last['devices'][bad]}")
    figure(f"{HEALTHY} healthy TCP devices every {INTERVAL_MS} ms beside a slow (2 s) and a dead "
           f"one: the worst kept {rates[worst]:.0%} of its rate, the median "
           f"{sorted(rates.values())[HEALTHY // 2]:.0%} (over {span_s:.1f} s); the daemon ran "
           f"{threads} threads")


run_test("tcp_neighbours", body)
