"""The technician's commands against the stubs, as on site with a laptop:

- `status` while the daemon runs, broker or not: what its status file says;
- `probe DEVICE` with the daemon stopped: one poll, registers, values that
  match the stubs' sequences, quality, and exit 0; a device that does not
  answer gives exit 1 and says why; an unknown one exit 2;
- `scan BUS --units 1-5` on the RS-485 line: only the stub's unit 3 answers
  (with an exception for register 0, which counts as an answer), and no
  built-in profile fits it (it is the demo's own sensor); on a second line
  a Keller pressure transmitter stub at unit 4 is found and named as
  profile keller-s30."""
import os
import re
import subprocess

from harness import (figure, BUILD, DemoRig, Stub, check, expected_value, run_test, wait_until)

EXE = os.path.join(BUILD, "sensor-gateway")


def command(*args):
    r = subprocess.run([EXE, *args], capture_output=True, text=True, timeout=60)
    return r.returncode, r.stdout, r.stderr


def probe_values(out):
    """{point: (value, quality)} from probe's table."""
    rows = re.findall(r"^(\w+) +(-?[\d.e+]+) +\S+ +(\w+)$", out, re.M)
    return {p: (float(v), q) for p, v, q in rows}


def body(work):
    status_path = work.file("status.json")
    rig = DemoRig(work, "technician", interval_ms=200)
    keller = Stub(work, "keller-s30-stub", ["--rtu-pty", "--unit", "4"])
    ini = open(rig.gw.ini).read().replace(
        "[gateway]\nid = test-gw\n",
        f"[gateway]\nid = test-gw\nstatus_file = {status_path}\nhealth_interval = 1s\n")
    ini += (f"[bus line2]\ntype = rtu\ndevice = {keller.address}\nbaud = 9600\nparity = none\n"
            "[device depth]\nbus = line2\nunit_id = 4\ninterval = 1s\nprofile = keller-s30\n")
    with open(rig.gw.ini, "w") as f:
        f.write(ini)
    rig.broker.stop()  # the technician has no uplink
    rig.gw.start()
    wait_until(lambda: os.path.exists(status_path), 10, "the status file")
    wait_until(lambda: "trail_north" in command("status", "--config", rig.gw.ini)[1], 10,
               "devices in the status")
    rc, out, err = command("status", "--config", rig.gw.ini)
    check(rc == 0, f"status exited {rc}: {err}")
    check("gateway test-gw" in out and re.search(r"^weather +\d+ +0 ", out, re.M),
          f"status does not show the gateway and its devices:\n{out}")
    check(re.search(r"^line \S+: busy \d+ % of the last minute, \d+ of [1-9]\d* polls", out, re.M),
          f"status does not show the serial lines:\n{out}")
    depth = int(re.search(r"store [0-9a-f]{8}: (\d+) readings \(\d+ messages\) waiting", out).group(1))
    rig.gw.stop()
    status_out = out

    rc, out, err = command("probe", "--config", rig.gw.ini, "trail_north")
    check(rc == 0, f"probe trail_north exited {rc}: {out}{err}")
    values = probe_values(out)
    vin, vout = values["visitors_in"][0], values["visitors_out"][0]
    k = round(vout / 5)
    check(vin == expected_value("visitors_in", k) and vout == expected_value("visitors_out", k),
          f"probe's counts {vin}/{vout} are not one step of the stub's sequence")
    check(re.search(r"request holding_register 0\.\.1: answered in [\d.]+ ms: [0-9a-f]{4} "
                    r"[0-9a-f]{4}", out), f"no request line with registers:\n{out}")
    rc, out, err = command("probe", "--config", rig.gw.ini, "weather")
    values = probe_values(out)
    check(rc == 0 and len(values) == 4 and all(q == "good" for _, q in values.values()),
          f"probe weather: exit {rc}, {values}\n{out}{err}")
    k = [k for k in range(2000) if expected_value("pressure", k) == values["pressure"][0]]
    check(k and any(abs(expected_value("temperature", x) - values["temperature"][0]) < 1e-9
                    for x in k), f"probe's weather values are not the stub's: {values}")
    weather_out = out

    rc, out, err = command("probe", "--config", rig.gw.ini, "nowhere")
    check(rc == 2 and "no device 'nowhere'" in err, f"unknown device: exit {rc}: {err}")

    rc, out, err = command("scan", "--config", rig.gw.ini, "rs485", "--units", "1-5")
    check(rc == 0, f"scan exited {rc}: {err}")
    answered = re.findall(r"^unit (\d+): answers (?:\(|with)", out, re.M)
    check(answered == ["3"], f"scan found units {answered}, the line has only unit 3:\n{out}")
    check("unit 3: no built-in profile's registers all answer" in out,
          f"a profile was guessed for the demo's own sensor:\n{out}")
    rc, out, err = command("scan", "--config", rig.gw.ini, "line2", "--units", "1-5")
    check(rc == 0 and re.findall(r"^unit (\d+): answers (?:\(|with)", out, re.M) == ["4"],
          f"scan line2: exit {rc}:\n{out}{err}")
    guess = re.search(r"^unit 4: answers every register of profile (.*)$", out, re.M)
    check(guess and "keller-s30" in guess.group(1).split(", "),
          f"scan did not name the Keller profile for unit 4:\n{out}")

    rig.counter.proc.terminate()
    rig.counter.proc.wait(5)
    rc, out, err = command("probe", "--config", rig.gw.ini, "trail_north")
    check(rc == 1 and "FAILED" in out, f"probe of a silent device: exit {rc}:\n{out}{err}")
    figure(f"status (broker away, {depth} readings waiting): "
           f"{status_out.splitlines()[0]!r}; probe weather: {weather_out.splitlines()[1]!r}; "
           f"scan rs485 1-5: units {answered}; scan line2: unit 4 fits {guess.group(1)}; a "
           f"silent device: exit 1")


if __name__ == "__main__":
    run_test("technician", body)
