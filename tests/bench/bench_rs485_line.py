"""The line benchmark: the gateway on the paced RS-485 line stub
(firmware-stubs/rs485-line-stub), every unit reading 10 holding registers
in one request (8 characters out, 25 back), units turning round in 2 ms.

- strict-9600, strict-19200: 8 strict units polled as fast as the line
  allows (interval 10 ms); transactions per second over the specification's
  shortest (request + t3.5 + turnaround + reply + t3.5), requests ignored
  for a short gap, collisions;
- slow: 7 healthy units every 500 ms beside unit 8, which answers 150 ms
  after the request with response_timeout = 100 ms; the healthy units'
  rate over a baseline run without unit 8's fault, and collisions;
- dead: the same with unit 8 dead, over two minutes; the healthy units'
  rate in the first minute and after, and how often unit 8 was asked;
- the line's busy share as the gateway's health reports it and as the
  stub measured the wire.

It prints, it does not judge. Run it with tests/bench/rs485_line.sh; with
GW_GATEWAY_BINARY=PATH it measures another build of the daemon (an older
commit's, for a before and after) on this tree's stub."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "../integration"))

from harness.core import Workdir  # noqa: E402
from harness.paced_line import run_line  # noqa: E402
from harness.processes import Broker  # noqa: E402

SECONDS = int(sys.argv[1]) if len(sys.argv) > 1 else 30
HEALTHY = range(1, 8)
NEIGHBOURS = dict(units=range(1, 9), interval="500ms",
                  device_extra="response_timeout = 100ms\n")


def busy(run):
    """The line's busy share as health says it (a gateway from before the
    health message had lines, run with GW_GATEWAY_BINARY: n/a)."""
    return f"{run.health['busy_share']:.0%}" if run.health else "n/a"


def strays(run):
    return run.health["stray_bytes"] if run.health else "n/a"


def strict(work, broker, baud):
    run = run_line(work, broker, SECONDS, baud=baud, stub_options=["--strict"],
                   name=f"strict-{baud}")
    ignored = sum(u["ignored_short_gap"] for u in run.stats["units"].values())
    answered = sum(u["answered"] for u in run.stats["units"].values())
    print(f"strict-{baud}: {answered / run.stats['active_seconds']:.2f} transactions/s = "
          f"{run.rate_share(2):.1%} of the spec's rate; {ignored} requests ignored for a short "
          f"gap, {run.stats['collisions']} collisions, {run.stats['bad_frames']} broken frames; "
          f"line busy {busy(run)} (health), wire carrying characters "
          f"{run.stats['busy_share']:.0%} (stub)", flush=True)


def healthy_rate(run, t0_s, t1_s):
    return sum(run.polls_between(u, t0_s, t1_s) for u in HEALTHY) / (t1_s - t0_s)


def neighbours(work, broker):
    # The gateway's first poll comes about half a second after its start.
    window = (2, SECONDS - 1)
    base = run_line(work, broker, SECONDS, stub_options=["--strict"], name="baseline",
                    **NEIGHBOURS)
    baseline = healthy_rate(base, *window)
    print(f"baseline: 7 healthy units every 500 ms and unit 8 healthy: {baseline:.2f} polls/s "
          f"of the 7 (configured: 14.00)", flush=True)
    slow = run_line(work, broker, SECONDS, stub_options=["--strict", "--slow", "8:150"],
                    name="slow", **NEIGHBOURS)
    print(f"slow: unit 8 answering after 150 ms with a 100 ms timeout: healthy units "
          f"{healthy_rate(slow, *window) / baseline:.1%} of the baseline rate, "
          f"{slow.stats['collisions']} collisions, unit 8 asked {slow.unit(8)['heard']} times, "
          f"{strays(slow)} late bytes heard out; line busy {busy(slow)}", flush=True)
    minutes = max(SECONDS * 4, 120)
    dead = run_line(work, broker, minutes, stub_options=["--strict", "--dead", "8"],
                    name="dead", **NEIGHBOURS)
    first = healthy_rate(dead, 2, 60) / baseline
    after = healthy_rate(dead, 60, minutes - 1) / baseline
    print(f"dead: unit 8 dead for {minutes}s: healthy units {first:.1%} of the baseline rate in "
          f"the first minute, {after:.1%} after it; unit 8 asked {dead.unit(8)['heard']} times; "
          f"{dead.stats['collisions']} collisions; line busy {busy(dead)}",
          flush=True)


def main():
    work = Workdir("bench-rs485-line")
    try:
        broker = Broker(work)
        broker.start()
        for baud in (9600, 19200):
            strict(work, broker, baud)
        neighbours(work, broker)
    finally:
        work.cleanup()


if __name__ == "__main__":
    main()
