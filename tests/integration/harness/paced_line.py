"""A paced RS-485 line (firmware-stubs/rs485-line-stub) with the gateway
polling its units, for the line tests and the line benchmark: the same
scenario code measures both, so the bench's figures and the tests' checks
come from one definition of "a transaction" and "the spec's rate"."""
import json
import re
import signal

from .checks import dedupe_by_seq, iso_ms
from .core import check
from .ini import device, head, rtu_bus
from .processes import Gateway, Stub, Subscriber, read_log

REGISTERS = 10  # read by every unit's one request: 8 bytes out, 25 back


class PacedLine:
    """The stub: units with ids in `units`, options as its command line
    (--strict, --slow 3:150, --dead 4, --echo, --turnaround 2)."""

    def __init__(self, work, baud=9600, parity="E", units="1-8", options=(), name="line"):
        argv = ["--baud", str(baud), "--parity", parity, "--units", units] + list(options)
        self.stub = Stub(work, "rs485-line-stub", argv, log_name=f"rs485-line-{name}.log")
        self.proc, self.path = self.stub.proc, self.stub.address

    def stop(self):
        """Ends the stub and returns its STATS (what the wire saw)."""
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(10)
        m = re.search(r"^STATS (.*)$", read_log(self.proc), re.M)
        check(m is not None, "rs485-line-stub printed no STATS")
        return json.loads(m.group(1))


def spec_transaction_us(stats, turnaround_ms):
    """The Modbus serial line's shortest transaction for one request of
    REGISTERS registers: request, t3.5, turnaround, reply, t3.5."""
    chars = 8 + 5 + 2 * REGISTERS
    return chars * stats["char_us"] + 2 * stats["t35_us"] + turnaround_ms * 1000


def line_ini(broker, store, line_path, units, baud, parity="even", interval="10ms",
             device_extra="", bus_extra="", gateway="test-gw"):
    """One RTU bus on the paced line, one device per unit reading
    registers 0..REGISTERS-1 (register 0 counts the unit's replies);
    health every second."""
    text = head(broker.port, store, gateway=gateway,
                gateway_extra="health_interval = 1s\n") + rtu_bus("line", line_path, baud=baud, parity=parity,
                                              extra=bus_extra)
    for u in units:
        extra = device_extra(u) if callable(device_extra) else device_extra
        text += device(f"u{u}", "line", unit_id=u, interval=interval, extra=extra)
        for a in range(REGISTERS):
            text += (f"[point u{u}/r{a}]\nfunction = holding_register\naddress = {a}\n"
                     "type = uint16\n")
    return text


def delivered(subscriber):
    """Per unit id: the polls delivered, as the r0 values (the stub's reply
    count at the time), and every other point's values. A reading the
    broker delivered twice (QoS 1) counts once."""
    polls, values, times = {}, {}, {}
    unique, _ = dedupe_by_seq(subscriber.readings())
    for topic, p in unique:
        if p.get("quality") != "good" or not re.fullmatch(r"r\d+", p.get("point", "")):
            continue
        unit, address = int(p["device"][1:]), int(p["point"][1:])
        if address == 0:
            polls.setdefault(unit, []).append(p["value"])
            times.setdefault(unit, []).append(iso_ms(p["ts"]))
        else:
            values.setdefault((unit, address), set()).add(p["value"])
    return polls, values, times


def check_values(polls, values, stats):
    """Every value delivered is one the stub served: the fixed registers
    hold unit*100+address, and register 0 of a unit never exceeds the
    replies that unit sent (nor repeats: one reply, one poll)."""
    for (unit, address), seen in values.items():
        check(seen == {unit * 100 + address},
              f"unit {unit} register {address}: delivered {sorted(seen)[:5]}, "
              f"the stub serves {unit * 100 + address}")
    for unit, counts in polls.items():
        answered = stats["units"][str(unit)]["answered"]
        check(max(counts) < answered, f"unit {unit}: a reply count {max(counts)} the stub "
              f"never reached ({answered} replies)")
        check(len(counts) == len(set(counts)), f"unit {unit}: one reply delivered twice")


class LineRun:
    """What one run of the line gave: the stub's STATS, the polls delivered
    per unit (their register-0 values), the other values, the gateway's
    log, and the last health message's entry for the line."""

    def __init__(self, stats, polls, values, times, log, health, started_ms):
        self.stats, self.polls, self.values, self.log, self.health = (stats, polls, values, log,
                                                                      health)
        self.times, self.started_ms = times, started_ms

    def unit(self, u):
        return self.stats["units"][str(u)]

    def failures(self, u):
        """Log lines about unit u's device (a failed poll, a back-off)."""
        return [line for line in self.log.splitlines() if f"device u{u}:" in line]

    def polls_between(self, u, t0_s, t1_s):
        """Unit u's polls whose readings' time lies t0_s..t1_s after the
        gateway started."""
        t0, t1 = self.started_ms + t0_s * 1000, self.started_ms + t1_s * 1000
        return sum(1 for t in self.times.get(u, []) if t0 <= t < t1)

    def rate_share(self, turnaround_ms):
        """Transactions completed per second over the spec's shortest."""
        answered = sum(u["answered"] for u in self.stats["units"].values())
        spec = 1e6 / spec_transaction_us(self.stats, turnaround_ms)
        return answered / self.stats["active_seconds"] / spec


def run_line(work, broker, seconds, baud=9600, units=range(1, 9), stub_options=(),
             interval="10ms", device_extra="", bus_extra="", parity="E", turnaround_ms=2,
             name="line"):
    """Polls the line for `seconds` and returns a LineRun."""
    import time
    line = PacedLine(work, baud=baud, parity=parity,
                     units=f"{min(units)}-{max(units)}",
                     options=["--turnaround", str(turnaround_ms)] + list(stub_options), name=name)
    parity_name = {"E": "even", "N": "none", "O": "odd"}[parity]
    # A gateway id per run: no run sees another's retained messages.
    sub = Subscriber(work, broker, f"smartregion/gw-{name}/#", client_id=f"sub-{name}")
    gw = Gateway(work, line_ini(broker, work.file(f"{name}.db"), line.path, units, baud,
                                parity_name, interval, device_extra, bus_extra,
                                gateway=f"gw-{name}"), name=name)
    started_ms = time.time() * 1000
    gw.start()
    time.sleep(seconds)
    gw.stop()
    stats = line.stop()
    sub.flush()
    polls, values, times = delivered(sub)
    healths = [p for t, p in sub.messages("/health")]
    health = healths[-1].get("lines", {}).get("line") if healths else None
    return LineRun(stats, polls, values, times, gw.log(), health, started_ms)
