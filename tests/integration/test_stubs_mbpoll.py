"""Every firmware stub, checked without the gateway: mbpoll (an independent
Modbus master) reads each stub as the real device's manual describes it
(function, zero-based address, word order, serial settings, unit id), and
the words on the wire are compared with values encoded here with Python's
struct module, so that a stub and a driver cannot agree on one mistake.
The real devices' refusals are checked too (a split float, too many
registers, the wrong function)."""
import re
import struct
import subprocess

from harness import Stub, check, figure, run_test

MBPOLL_TIMEOUT = 10


def mbpoll(address_args, table, ref, count, unit=1, serial=None, write=None):
    """One mbpoll read (or write); returns (returncode, values, output)."""
    argv = ["mbpoll", "-1", "-0", "-o", "1", "-a", str(unit), "-t", table, "-r", str(ref)]
    if write is None:
        argv += ["-c", str(count)]
    if serial:
        baud, parity, stop = serial
        argv += ["-m", "rtu", "-b", str(baud), "-P", parity, "-s", str(stop)]
    else:
        argv += ["-m", "tcp", "-p", address_args[1]]
    argv.append(address_args[0])
    if write is not None:
        argv += [str(v) for v in write]
    r = subprocess.run(argv, capture_output=True, text=True, timeout=MBPOLL_TIMEOUT)
    values = []
    for line in r.stdout.splitlines():
        m = re.match(r"^\[(\d+)\]:\s+(\S+)(?:\s+\((-?\d+)\))?", line)
        if m:
            text = m.group(3) or m.group(2)
            values.append(int(text, 16) if text.startswith("0x") else float(text))
    return r.returncode, values, r.stdout + r.stderr


def words(fmt_float, value, low_word_first=False):
    hi, lo = struct.unpack(">HH", struct.pack(fmt_float, value))
    return [lo, hi] if low_word_first else [hi, lo]


def rtu(work, program, unit, extra=()):
    stub = Stub(work, program, ["--rtu-pty", "--unit", str(unit)] + list(extra))
    return (stub.address, None)


def body(work):
    checked = []

    # Generic temperature/humidity transmitter, XY-MD02 map: FC 4, addresses 1 and 2, x10.
    dev = rtu(work, "th-transmitter-stub", 1)
    s = (9600, "none", 1)
    for k in range(2):
        rc, v, out = mbpoll(dev, "3", 1, 2, serial=s)
        check(rc == 0 and v == [-100 + (23 * k) % 600, 200 + (31 * k) % 700],
              f"xy-md02 read {k}: {v}\n{out}")
    rc, _, out = mbpoll(dev, "4", 1, 2, serial=s)
    check(rc != 0 and "Illegal function" in out, f"xy-md02 answered FC 3: {out}")
    checked.append("xy-md02")

    # Renke RS-WS-N01: FC 3, humidity at 0, temperature at 1.
    dev = rtu(work, "th-transmitter-stub", 1, ["--variant", "renke"])
    rc, v, out = mbpoll(dev, "4", 0, 2, serial=(4800, "none", 1))
    check(rc == 0 and v == [200, -100], f"renke: {v}\n{out}")
    checked.append("rs-ws-n01")

    # WXT530: FC 4, int16 x10 at 0x0A, 0x0E, 0x12, 0x1F, 0x23; 32767 = no data.
    dev = rtu(work, "wxt530-stub", 1)
    s = (19200, "none", 1)
    for k in range(5):
        rc, v, out = mbpoll(dev, "3", 0x0A, 26, serial=s)
        check(rc == 0 and len(v) == 26, f"wxt530 read {k}: {out}")
        got = [v[0x0A - 0x0A], v[0x0E - 0x0A], v[0x12 - 0x0A], v[0x1F - 0x0A], v[0x23 - 0x0A]]
        dew = 32767 if k % 5 == 4 else -150 + (11 * k) % 300
        want = [300 + (13 * k) % 600, 9800 + (7 * k) % 400, (97 * k) % 3600,
                -100 + (17 * k) % 400, dew]
        check(got == want, f"wxt530 read {k}: {got}, manual and sequence say {want}")
    rc, _, out = mbpoll(dev, "4", 7, 1, serial=s, write=[0x3247])
    check(rc == 0, f"wxt530 refused the rain counter reset command: {out}")
    rc, _, out = mbpoll(dev, "4", 8, 1, serial=s, write=[1])
    check(rc != 0 and "Illegal data address" in out, f"wxt530 took a write to 0x0008: {out}")
    checked.append("wxt530")

    # GMP252: FC 3, float32 least significant word first, address 240, 19200 8N2.
    dev = rtu(work, "gmp252-stub", 240)
    s = (19200, "none", 2)
    rc, v, out = mbpoll(dev, "4:hex", 0, 6, unit=240, serial=s)
    check(rc == 0 and v[0:2] == words(">f", 400.0, True) and v[4:6] == words(">f", 20.0, True),
          f"gmp252 words {v}\n{out}")
    rc, v, out = mbpoll(dev, "4:float", 0, 1, unit=240, serial=s)  # mbpoll's default: LSW first
    check(rc == 0 and v == [402.5], f"gmp252 as float: {v}\n{out}")
    checked.append("gmp252")

    # KELLER Series 30: FC 3, float32 high word first at 0x0100 (P1) and 0x0102 (TOB1).
    dev = rtu(work, "keller-s30-stub", 1)
    s = (9600, "none", 1)
    rc, v, out = mbpoll(dev, "4:hex", 0x100, 4, serial=s)
    check(rc == 0 and v == words(">f", 0.5) + words(">f", 8.0), f"keller words {v}\n{out}")
    rc, v, out = mbpoll(dev, "4:hex", 0x101, 2, serial=s)
    check(rc != 0 and "Illegal data address" in out, f"keller accepted a split float: {out}")
    checked.append("keller-s30")

    # QDY30A: FC 3, 0x0002 unit code, 0x0003 decimals, 0x0004 value.
    dev = rtu(work, "qdy30a-stub", 1)
    rc, v, out = mbpoll(dev, "4", 2, 3, serial=(9600, "none", 1))
    check(rc == 0 and v == [1, 3, 1000], f"qdy30a: {v}\n{out}")
    checked.append("qdy30a")

    # SDM630: FC 4, float32 high word first; at most 40 registers per request.
    dev = rtu(work, "sdm630-stub", 1)
    s = (9600, "none", 1)
    rc, v, out = mbpoll(dev, "3:hex", 0, 8, serial=s)
    want = words(">f", 230.0) + words(">f", 231.0) + words(">f", 229.0) + words(">f", 5.0)
    check(rc == 0 and v == want, f"sdm630 words {v}, want {want}\n{out}")
    rc, v, out = mbpoll(dev, "3:hex", 0x46, 2, serial=s)  # the second read: k = 1
    check(rc == 0 and v == words(">f", 50 + 1 / 64), f"sdm630 frequency words {v}\n{out}")
    rc, v, out = mbpoll(dev, "3", 0, 42, serial=s)
    check(rc != 0 and "Illegal data value" in out, f"sdm630 accepted 42 registers: {out}")
    checked.append("sdm630")

    # Break-beam visitor counter over Modbus TCP: FC 3, in, out, status, power-on count.
    stub = Stub(work, "visitor-counter-stub", ["--tcp", "0", "--start-in", "100"])
    host, port = stub.address.split(":")
    rc, v, out = mbpoll((host, port), "4", 0, 4)
    check(rc == 0 and v == [100, 0, 1, 1], f"visitor counter: {v}\n{out}")
    rc, v, out = mbpoll((host, port), "4", 0, 2)
    check(rc == 0 and v == [107, 5], f"visitor counter second read: {v}\n{out}")
    checked.append("break-beam-counter")

    figure(f"{len(checked)} stubs read by mbpoll as their manuals describe them "
           f"({', '.join(checked)}); refusals of split floats, oversize reads and wrong functions "
           f"checked")


if __name__ == "__main__":
    run_test("stubs_mbpoll", body)
