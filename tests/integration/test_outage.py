"""Broker outage: the broker is stopped for several seconds while polling
goes on, then restarted. Every reading polled during the outage must arrive
afterwards, each sequence number at least once, duplicates identical, no
gaps, values exactly as the stubs' sequences predict."""
import time

from harness import (demo_stubs, figure, run_test, SLOW, Broker, Gateway, Subscriber, Workdir, check, check_gap_free,
                     check_sequences, dedupe_by_seq, demo_ini, wait_until)

OUTAGE_S = 6


def body(work):
    broker = Broker(work)
    broker.start()
    counter, env = demo_stubs(work)
    sub = Subscriber(work, broker, "smartregion/test-gw/readings/#", "outage-subscriber")
    gw = Gateway(work, demo_ini(broker.port, counter.address.split(":")[1], env.address,
                                work.file("store.db"), interval_ms=100))
    gw.start()
    wait_until(lambda: len(sub.readings()) >= 60, 20, "readings before the outage")

    broker.stop()
    outage_start_ms = int(time.time() * 1000)
    time.sleep(OUTAGE_S * SLOW)
    outage_end_ms = int(time.time() * 1000)
    before = len(dedupe_by_seq(sub.readings())[0])
    broker.start()

    # The gateway keeps polling; wait until what it polled during the
    # outage has drained to the subscriber, then stop it.
    def drained():
        unique, _ = dedupe_by_seq(sub.readings())
        return any(p["ts"] > _iso(outage_end_ms + 2000) for _, p in unique)
    wait_until(drained, 30, "the backlog to drain after the broker came back")
    gw.stop()
    sub.flush()

    unique, duplicates = dedupe_by_seq(sub.readings())
    check_gap_free(unique)
    counts = check_sequences(unique)
    during = [p for _, p in unique
              if _iso(outage_start_ms) <= p["ts"] <= _iso(outage_end_ms)]
    # 6 points, ~10 polls/s per device, for OUTAGE_S seconds; at least
    # half of that proves polling went on and nothing was lost.
    check(len(during) >= 6 * 5 * OUTAGE_S / 2,
          f"only {len(during)} readings were polled during the outage")
    log = gw.log()
    check("connection lost" in log, "the gateway did not log the lost connection")
    figure(f"outage of {OUTAGE_S}s: {len(during)} readings polled while the broker was down, "
          f"{before} delivered before; after recovery {len(unique)} unique readings, "
          f"seq 1..{len(unique)} with no gaps, {duplicates} duplicates (same seq, same "
          f"payload); readings lost: 0; per point {counts}")


def _iso(ms):
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms // 1000)) + f".{ms % 1000:03d}Z"


if __name__ == "__main__":
    run_test("outage", body)
