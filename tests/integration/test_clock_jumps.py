"""Clock jumps: the wall clock jumps forward by two hours, then back by four
(as when NTP first sets a Pi that booted without a real-time clock, or an
operator runs date). Polling runs on the monotonic clock, so the poll rate
must not change: no stall after a jump back, no burst of catch-up polls
after a jump forward. Timestamps stay honest: each reading carries the wall
time at which it was polled, the daemon logs each jump, and values and
sequence numbers are unaffected.

The system clock of this machine cannot be changed by a test, so libfaketime
(Debian package faketime, LD_PRELOAD) moves the daemon's wall clock and
leaves its monotonic clock alone. This is the one fake in the suite."""
import re
import time

from harness import (iso_ms, figure, SLOW, Broker, FakeClock, Gateway, Stub, Subscriber, check, check_gap_free,
                     check_sequences, dedupe_by_seq, demo_ini, run_test, wait_until)

PHASE_S = 3
OFFSETS_S = [0, 7200, -7200, 0]  # relative to the real clock, phase by phase



def body(work):
    clock = FakeClock(work)
    broker = Broker(work)
    broker.start()
    counter = Stub(work, "visitor-counter-stub", ["--tcp", "0"])
    env = Stub(work, "env-sensor-stub", ["--rtu-pty", "--unit", "3"])
    sub = Subscriber(work, broker, "smartregion/test-gw/readings/#", "clock-sub")
    gw = Gateway(work, demo_ini(broker.port, counter.address.split(":")[1], env.address,
                                work.file("store.db"), interval_ms=100), env=clock.env())
    started = time.time() * 1000
    gw.start()
    gw.wait_connected()
    time.sleep(0.5 * SLOW)

    phases = []
    for offset in OFFSETS_S:
        clock.set_offset(offset)
        start = time.time() * 1000
        time.sleep(PHASE_S * SLOW)
        phases.append((offset, start, time.time() * 1000))
    wait_until(lambda: len(sub.readings()) and
               iso_ms(sub.readings()[-1][1]["ts"]) >= phases[-1][2] - 500, 20, "the last readings")
    gw.stop()
    sub.flush()

    unique, duplicates = dedupe_by_seq(sub.readings())
    check_gap_free(unique)
    per_point = check_sequences(unique)  # values unaffected, in order

    def window(phase, margin):
        offset, start, end = phase
        return start + offset * 1000 - margin, end + offset * 1000 + margin

    # Honest timestamps: each reading carries the wall time of one phase
    # (the moment it was polled), none a time the daemon made up.
    settling = (0, started, phases[0][1])
    stray = [p for _, p in unique
             if not any(lo <= iso_ms(p["ts"]) <= hi for lo, hi in
                        (window(ph, 300) for ph in [settling] + phases))]
    check(not stray, f"{len(stray)} readings with timestamps outside every phase, e.g. {stray[:2]}")

    rates = []
    for ph in phases:
        lo, hi = window(ph, -300)
        n = sum(1 for _, p in unique if p["point"] == "temperature" and lo <= iso_ms(p["ts"]) <= hi)
        rates.append(n * 1000 / (hi - lo))
    base = rates[0]
    for (offset, _, _), rate in zip(phases[1:], rates[1:]):
        check(0.75 * base <= rate <= 1.25 * base,
              f"after the jump to {offset:+d}s the poll rate was {rate:.1f}/s, before {base:.1f}/s")
    jumps = [float(x) for x in re.findall(r"wall clock jumped by ([+-][0-9.]+)s", gw.log())]
    want = [7200, -14400, 7200]
    check(len(jumps) == len(want) and all(abs(a - b) < 5 for a, b in zip(jumps, want)),
          f"logged jumps {jumps}, expected about {want}")
    figure(f"wall clock jumps {want} s: logged as {jumps}; poll rate per phase "
          f"{', '.join(f'{r:.1f}/s' for r in rates)} (monotonic schedule unaffected); every "
          f"timestamp the wall time of its poll; {len(unique)} readings, seq 1..{len(unique)} "
          f"gap-free, exact values {per_point}; {duplicates} duplicates")


if __name__ == "__main__":
    run_test("clock-jumps", body)
