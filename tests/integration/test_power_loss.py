"""Power loss: under steady polling the daemon is killed with SIGKILL at
random moments, CYCLES times, and restarted each time. Afterwards every
record that was in the store after a kill must have reached the broker, a
record delivered twice carries the same sequence number and payload
(at-least-once), and no sequence number is used for two different records.

Records polled and neither acknowledged nor committed when the process died
(at most one commit_interval of them) are gone with the RAM, as documented;
with the write-behind store they may have had sequence numbers, so a gap may
end at the first number of the next run (which its start line and health
message name), never inside a run.

GW_POWER_LOSS_CYCLES overrides the number of cycles (a long mode)."""
import os
import random
import signal
import sqlite3
import time

from harness import (figure, DemoRig, SLOW, check, check_gaps_only_at_restarts, dedupe_by_seq,
                     first_seq_of_run, run_test, wait_until)

CYCLES = int(os.environ.get("GW_POWER_LOSS_CYCLES", "30"))


def stored(store, sql):
    db = sqlite3.connect(store, timeout=10)
    try:
        return [row[0] for row in db.execute(sql)]
    finally:
        db.close()


def body(work):
    rig = DemoRig(work, "power-loss", interval_ms=50)
    sub, gw, store = rig.sub, rig.gw, rig.store
    rng = random.Random(20261125)
    committed, firsts = set(), []
    for _ in range(CYCLES):
        gw.start()
        time.sleep(rng.uniform(0.2, 1.5) * SLOW)
        gw.proc.send_signal(signal.SIGKILL)
        gw.proc.wait(10)
        firsts.append(first_seq_of_run(gw.log()))
        committed |= set(stored(store, "SELECT seq FROM records"))

    gw.start()  # the last start drains what the kills left behind
    gw.wait_connected()
    firsts.append(first_seq_of_run(gw.log()))
    wait_until(lambda: {p["seq"] for _, p in sub.readings()} >= committed,
               60, f"all {len(committed)} committed records at the subscriber")
    gw.stop()
    sub.flush()

    unique, duplicates = dedupe_by_seq(sub.readings())
    check(len(unique) > 100 * CYCLES // 30, f"only {len(unique)} readings arrived")
    gaps = check_gaps_only_at_restarts(unique, firsts)
    check(len(set(firsts)) == len(firsts), f"two runs began at the same number: {firsts}")
    records = len({p["seq"] for _, p in unique})
    figure(f"{CYCLES} SIGKILL cycles survived: {len(committed)} records were in the store after "
           f"a kill, all delivered; {records} records ({len(unique)} readings) delivered in all; "
           f"{len(gaps)} gaps in the sequence numbers, each ending at a run's first number "
           f"(none inside a run); {duplicates} duplicates, each with the same seq and payload")


if __name__ == "__main__":
    run_test("power-loss", body)
