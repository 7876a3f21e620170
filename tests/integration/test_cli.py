"""The command line as an operator meets it: --version, --help,
--check-config on good and broken files (exit 2, message with file, line and
key), and a daemon that refuses to start on a broken file or an unusable
store."""
import os
import subprocess
import time

from harness import BUILD, SOURCE, Workdir, check, gateway_argv

GATEWAY = os.path.join(BUILD, "sensor-gateway")


def run(argv, timeout=20):
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout)


def main():
    work = Workdir("cli")
    passed = 0
    try:
        r = run([GATEWAY, "--version"])
        check(r.returncode == 0 and r.stdout.startswith("sensor-gateway "), f"--version: {r}")
        passed += 1

        r = run([GATEWAY, "--help"])
        check(r.returncode == 0 and "--check-config" in r.stdout, f"--help: {r}")
        passed += 1

        r = run([GATEWAY])
        check(r.returncode == 2 and "usage:" in r.stderr, f"no arguments: {r}")
        passed += 1

        # Written for a field box: valid here only --offline; the full
        # check names what this machine lacks, with exit 1.
        example = os.path.join(SOURCE, "config", "examples", "gateway.example.ini")
        r = run([GATEWAY, "--check-config", example, "--offline"])
        check(r.returncode == 0 and ": OK (" in r.stdout, f"--check-config --offline: {r}")
        r = run([GATEWAY, "--check-config", "--offline", example])
        check(r.returncode == 0 and ": OK (" in r.stdout, f"--check-config --offline FILE: {r}")
        r = run([GATEWAY, "--check-config", example])
        check(r.returncode == 1 and "directory /var/lib/sensor-gateway does not exist" in r.stderr
              and "[bus rs485-1] device: /dev/ttyUSB0 does not exist" in r.stderr,
              f"--check-config of a field file here: {r}")
        passed += 1

        # --offline looks nothing up on this machine: not the time zone's
        # file, not the password or TLS files (they are on the field box).
        elsewhere = work.file("elsewhere.ini")
        with open(os.path.join(SOURCE, "config", "examples", "demo.ini")) as f:
            text = f.read()
        with open(elsewhere, "w") as f:
            f.write(text.replace("[gateway]\n", "[gateway]\ntimezone = Antarctica/Nowhere\n", 1)
                        .replace("[mqtt]\n", "[mqtt]\npassword_file = /nonexistent/pw\n"
                                 "tls_ca_file = /nonexistent/ca.pem\n", 1))
        r = run([GATEWAY, "--check-config", elsewhere, "--offline"])
        check(r.returncode == 0 and ": OK (" in r.stdout, f"--offline looked at this machine: {r}")
        r = run([GATEWAY, "--check-config", elsewhere])
        check(r.returncode == 2 and "Antarctica/Nowhere" in r.stderr and "/nonexistent/pw" in r.stderr
              and "/nonexistent/ca.pem" in r.stderr, f"the full check of what is missing: {r}")
        passed += 1

        # A manual's register number in address: valid, but said.
        manual = work.file("manual.ini")
        with open(os.path.join(SOURCE, "config", "examples", "demo.ini")) as f:
            text = f.read()
        with open(manual, "w") as f:
            f.write(text.replace("address = 1\n", "address = 40002\n", 1)
                    .replace("/tmp/sensor-gateway-demo/", work.file("") + "/"))
        r = run([GATEWAY, "--check-config", manual, "--offline"])
        check(r.returncode == 0 and "address: 40002 looks like a register number from a "
              "manual's table (4xxxx)" in r.stderr and "most likely 1" in r.stderr,
              f"no warning for address 40002: {r}")
        passed += 1

        broken = work.file("broken.ini")
        with open(os.path.join(SOURCE, "config", "examples", "demo.ini")) as f:
            text = f.read()
        with open(broken, "w") as f:
            f.write(text.replace("type = uint16", "type = uint17", 1)
                        .replace("interval = 2s", "interval = 2"))
        r = run([GATEWAY, "--check-config", broken])
        check(r.returncode == 2, f"broken file: exit {r.returncode}")
        lines = r.stderr.splitlines()
        check(any(f"{broken}:" in l and "[point trail_north/visitors_in] type: 'uint17'" in l
                  for l in lines), f"no type error in: {r.stderr}")
        check(any("[device weather] interval: '2' needs a unit" in l for l in lines),
              f"no interval error in: {r.stderr}")
        check(lines[-1].endswith("2 configuration errors; not starting"), r.stderr)
        passed += 1

        r = run(gateway_argv(broken))
        check(r.returncode == 2, f"the daemon started on a broken file: exit {r.returncode}")
        passed += 1

        # Home Assistant object ids are {device}_{point}: device trail with
        # point north_visitors_in meets trail_north/visitors_in.
        clash = work.file("ha-clash.ini")
        with open(clash, "w") as f:
            f.write(text.replace("[mqtt]", "[mqtt]\nha_discovery = true", 1) +
                    "\n[device trail]\nbus = trail-counter\nunit_id = 2\ninterval = 1s\n"
                    "[point trail/north_visitors_in]\nfunction = holding_register\n"
                    "address = 0\ntype = uint16\n")
        r = run([GATEWAY, "--check-config", clash])
        check(r.returncode == 2 and "[point trail/north_visitors_in]: its Home Assistant object id "
              "'trail_north_visitors_in' is also that of point trail_north/visitors_in" in r.stderr,
              f"object id clash: exit {r.returncode}: {r.stderr}")
        passed += 1

        # One serial port under two names (a /dev/serial/by-id link, as
        # operators are told to write, and the tty it points to): caught by
        # comparing the devices, both buses named.
        port_fd, _ = os.openpty()
        tty = os.ttyname(_)
        alias = work.file("by-id-usb-FTDI_RS485")
        os.symlink(tty, alias)
        twice = work.file("one-port-twice.ini")
        with open(twice, "w") as f:
            f.write("[gateway]\nid = twice\n[mqtt]\nuri = tcp://127.0.0.1:1\n"
                    f"[store]\npath = {work.file('twice.db')}\n"
                    f"[bus line-a]\ntype = rtu\ndevice = {tty}\nbaud = 9600\n"
                    f"[bus line-b]\ntype = rtu\ndevice = {alias}\nbaud = 9600\n"
                    "[device a]\nbus = line-a\nunit_id = 1\ninterval = 1s\n"
                    "[point a/t]\nfunction = input_register\naddress = 0\ntype = int16\n"
                    "[device b]\nbus = line-b\nunit_id = 2\ninterval = 1s\n"
                    "[point b/t]\nfunction = input_register\naddress = 0\ntype = int16\n")
        r = run([GATEWAY, "--check-config", twice, "--offline"])
        check(r.returncode == 2 and f"[bus line-b] device: {alias} is the same serial port as "
              f"{tty} of bus line-a" in r.stderr, f"one port, two names: exit {r.returncode}: {r.stderr}")
        os.close(port_fd)
        os.close(_)
        passed += 1

        # A store in a directory that does not exist: runtime failure, exit 1,
        # with the path in the message.
        bad_store = work.file("bad-store.ini")
        with open(bad_store, "w") as f:
            f.write(text.replace("/tmp/sensor-gateway-demo/store.db",
                                 work.file("no-such-dir/store.db")))
        started = time.monotonic()
        r = run(gateway_argv(bad_store))
        check(r.returncode == 1 and "no-such-dir/store.db" in r.stderr,
              f"unusable store: exit {r.returncode}: {r.stderr}")
        check(time.monotonic() - started < 15, "the failed start took too long")
        passed += 1
    finally:
        work.cleanup()
    print(f"{passed} passed, 0 failed")


if __name__ == "__main__":
    main()
