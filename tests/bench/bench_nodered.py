"""Side by side with Node-RED (not a test: it measures and prints, it does
not judge). The same Modbus TCP stubs (visitor-counter stubs serving 20
holding registers each), the same mosquitto on loopback and the same QoS 1
subscriber, first Node-RED 4.1 with node-red-contrib-modbus (one
Modbus-Read node per device every INTERVAL ms, a function node shaping the
message as the gateway's, an MQTT-out node at QoS 1), then the gateway on
the same load; each process's CPU (perf task-clock, exact) over the same
steady window, divided by the points the subscriber received. Prints CPU
per delivered point of each and their ratio.

Node-RED is installed from the npm registry on first use, outside the
repository, in ~/.cache/sensor-gateway-bench/node-red: node-red 4.1.8 (the
newest 4.1; Node-RED 5 needs a newer Node.js than Debian's) and
node-red-contrib-modbus 5.23.3 (the newest whose dependencies all come from
the npm registry; later ones fetch a fork from another host).

Usage: tests/bench/nodered.sh [SECONDS [DEVICES [INTERVAL_MS]]]   (15, 20, 100)
"""
import json
import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "integration"))
from bench_data_path import (POINTS, Daemon, StampedSubscriber, fleet, perf_during,  # noqa: E402
                             percentile, status)
from harness import Broker, Workdir, free_port, many_points_ini, wait_until  # noqa: E402

HOME = os.path.expanduser("~/.cache/sensor-gateway-bench/node-red")
PACKAGES = ["node-red@4.1.8", "node-red-contrib-modbus@5.23.3"]


def install():
    red = os.path.join(HOME, "node_modules", "node-red", "red.js")
    if not os.path.exists(red):
        os.makedirs(HOME, exist_ok=True)
        subprocess.run(["npm", "install", "--no-audit", "--no-fund", "--loglevel=error"] +
                       PACKAGES, cwd=HOME, check=True, timeout=600)
    return red


def flow(broker_port, ports, devices, interval_ms):
    """One tab: per device a Modbus client and reader, a function node that
    shapes the reply as the gateway's device message, and one shared MQTT
    output at QoS 1."""
    nodes = [{"id": "tab", "type": "tab", "label": "bench"},
             {"id": "broker", "type": "mqtt-broker", "broker": "127.0.0.1",
              "port": str(broker_port), "clientid": "nodered-bench", "autoConnect": True,
              "usetls": False, "protocolVersion": "4", "keepalive": "60", "cleansession": True},
             {"id": "out", "type": "mqtt out", "z": "tab", "topic": "", "qos": "1",
              "retain": "false", "broker": "broker", "wires": []}]
    for d in range(devices):
        nodes += [
            {"id": f"client{d}", "type": "modbus-client", "clienttype": "tcp",
             "bufferCommands": True, "stateLogEnabled": False, "queueLogEnabled": False,
             "failureLogEnabled": False, "tcpHost": "127.0.0.1",
             "tcpPort": ports[d % len(ports)], "tcpType": "DEFAULT", "unit_id": 1,
             "commandDelay": 1, "clientTimeout": 500, "reconnectOnTimeout": True,
             "reconnectTimeout": 1000, "parallelUnitIdsAllowed": True},
            {"id": f"read{d}", "type": "modbus-read", "z": "tab", "topic": f"d{d}",
             "showStatusActivities": False, "logIOActivities": False, "showErrors": False,
             "unitid": "1", "dataType": "HoldingRegister", "adr": "0", "quantity": str(POINTS),
             "rate": str(interval_ms), "rateUnit": "ms", "delayOnStart": False,
             "startDelayTime": "", "server": f"client{d}", "useIOFile": False, "ioFile": "",
             "useIOForPayload": False, "emptyMsgOnFail": False, "wires": [[f"shape{d}"], []]},
            {"id": f"shape{d}", "type": "function", "z": "tab", "outputs": 1,
             "func": (f"const points = {{}};\n"
                      f"msg.payload.forEach((v, i) => {{ points['p' + i] = {{value: v}}; }});\n"
                      f"msg.topic = 'smartregion/bench/readings/d{d}';\n"
                      f"msg.payload = JSON.stringify({{device: 'd{d}', "
                      f"ts: new Date().toISOString(), points}});\nreturn msg;"),
             "wires": [["out"]]}]
    return nodes


def window(work, pid, sub, seconds):
    time.sleep(4)  # connected and steady
    sub.take()
    cpu = perf_during(pid, seconds)["cpu"]
    got = sub.take()
    points = max(sum(n for _, n, _ in got), 1)
    ages = [a for _, _, a in got]
    st = status(pid)
    return {"cpu_us": cpu * 1e6 / points, "delivered": points / seconds,
            "p99": percentile(ages, 0.99), "rss": int(st["VmRSS"].split()[0]) / 1024,
            "threads": int(st["Threads"])}


def run_nodered(work, broker, red, seconds, devices, interval_ms):
    stubs, ports = fleet(work, devices)
    sub = StampedSubscriber(work, broker, "nodered-sub")
    user = work.file("nodered")
    os.makedirs(user, exist_ok=True)
    with open(os.path.join(user, "flows.json"), "w") as f:
        json.dump(flow(broker.port, ports, devices, interval_ms), f)
    with open(os.path.join(user, "settings.js"), "w") as f:
        f.write("module.exports = {uiHost: '127.0.0.1', flowFile: 'flows.json', "
                "credentialSecret: false, logging: {console: {level: 'warn'}}};\n")
    log = open(work.file("nodered.log"), "w")
    proc = subprocess.Popen(["node", red, "--userDir", user, "--settings",
                             os.path.join(user, "settings.js"), "--port", str(free_port())],
                            stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_until(lambda: os.path.getsize(sub.out) > 0, 60, "Node-RED's first message")
        return window(work, proc.pid, sub, seconds)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
        for s in stubs + [sub]:
            s.proc.terminate()
            s.proc.wait(5)


def run_gateway(work, broker, seconds, devices, interval_ms):
    stubs, ports = fleet(work, devices)
    sub = StampedSubscriber(work, broker, "gateway-sub")
    gw = Daemon(work, many_points_ini("bench", broker.port, ports, work.file("g.db"), devices,
                                      POINTS, interval=f"{interval_ms}ms"), "gateway")
    try:
        return window(work, gw.pid, sub, seconds)
    finally:
        gw.stop()
        for s in stubs + [sub]:
            s.proc.terminate()
            s.proc.wait(5)


def main():
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 15
    devices = int(sys.argv[2]) if len(sys.argv) > 2 else 20
    interval_ms = int(sys.argv[3]) if len(sys.argv) > 3 else 100
    try:
        red = install()
    except (OSError, subprocess.SubprocessError) as e:
        print(f"SKIPPED: Node-RED could not be installed from the npm registry: {e}")
        return
    work = Workdir("nodered")
    try:
        broker = Broker(work)
        broker.start()
        offered = devices * POINTS * 1000 / interval_ms
        results = {"node-red": run_nodered(work, broker, red, seconds, devices, interval_ms),
                   "gateway": run_gateway(work, broker, seconds, devices, interval_ms)}
        for name, r in results.items():
            print(f"{name}: {devices} x {interval_ms} ms x {POINTS} points ({seconds:.0f} s): "
                  f"{r['delivered']:.0f} of {offered:.0f} points/s delivered; CPU "
                  f"{r['cpu_us']:.2f} us/point; age p99 {r['p99']:.1f} ms; RSS {r['rss']:.1f} MiB, "
                  f"{r['threads']} threads", flush=True)
        ratio = results["gateway"]["cpu_us"] / results["node-red"]["cpu_us"]
        print(f"ratio gateway / Node-RED, CPU per delivered point: {ratio:.3f}", flush=True)
    finally:
        work.cleanup()


if __name__ == "__main__":
    main()
