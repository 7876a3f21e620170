"""Zero or missing: completeness end to end.

The visitor counter stub goes silent for a few seconds (its fault file says
"silent": no answer, the gateway's polls time out) and then answers again.
The dashboard must be able to tell those seconds from quiet ones:
- every interval from the first count to the last is covered by exactly
  one message, the silent ones included (count null, polls_ok 0,
  completeness 0), nothing skipped, nothing twice;
- each message says how many polls it expected and how many went in;
- the first count after the silence is marked catch_up and starts from the
  last reading before it;
- the counts add up to the stub's visitors; a window of the same device
  goes out with no data in the silent seconds too."""
import json
import time

from harness import (SLOW, Broker, Gateway, Stub, Subscriber, check, counter_point, device, figure,
                     head, iso_ms, run_test, tcp_bus, wait_until)

SILENT_S = 3.5 * SLOW


def body(work):
    broker = Broker(work)
    broker.start()
    fault = work.file("fault")
    open(fault, "w").close()
    counter = Stub(work, "visitor-counter-stub", ["--tcp", "0", "--fault-file", fault])
    sub = Subscriber(work, broker, "smartregion/test-gw/#", "completeness-sub")
    gw = Gateway(work, head(broker.port, work.file("store.db")) +
                 tcp_bus("gate", counter.address.split(":")[1]) +
                 device("gate", "gate", extra="response_timeout = 200ms\nbackoff_max = 500ms\n") +
                 counter_point("gate", "visitors_in", 0, "count_interval = 1s\n") +
                 "[point gate/status]\nfunction = holding_register\naddress = 2\ntype = uint16\n"
                 "window = 1s\npublish = none\n")
    gw.start()

    def indicators(kind):
        got = {p["seq"]: p for _, p in sub.messages("/indicators/gate/") if p["type"] == kind}
        return [p for _, p in sorted(got.items())]

    def good_counts():
        return [c for c in indicators("count") if c["quality"] != "no_data"]
    wait_until(lambda: len(good_counts()) >= 3, 20, "counts before the silence")
    with open(fault, "w") as f:
        f.write("silent\n")
    silence_from = time.time()
    time.sleep(SILENT_S)
    open(fault, "w").close()
    silence_to = time.time()
    before = len(good_counts())
    wait_until(lambda: len(good_counts()) >= before + 3, 30, "counts after the silence")
    gw.stop()

    counts = indicators("count")
    for a, b in zip(counts, counts[1:]):
        check(b["interval_start"] == a["interval_end"],
              f"intervals not contiguous (a gap or an overlap): {a} then {b}")
    nulls = [c for c in counts if c["quality"] == "no_data"]
    check(nulls, "no interval was sent with no data during the silence")
    for c in nulls:
        span_s = (iso_ms(c["interval_end"]) - iso_ms(c["interval_start"])) / 1000
        check(c["count"] is None and c["from"] is None and c["polls_ok"] == 0 and
              c["completeness"] == 0 and c["covered_s"] == 0 and
              c["polls_expected"] == round(span_s * 10),
              f"an interval with no data is not marked as such: {c}")
        check(silence_from * 1000 - 1000 <= iso_ms(c["interval_start"]) and
              iso_ms(c["interval_end"]) <= silence_to * 1000 + 1000,
              f"no data outside the silence: {c}")
    after = counts[counts.index(nulls[-1]) + 1]
    check("catch_up" in after["events"] and
          iso_ms(after["from"]) < iso_ms(after["interval_start"]) - 1000,
          f"the first count after the silence is not a marked catch-up: {after}")
    # Intervals wholly before the silence (not the baseline's) or after the
    # catch-up: every poll answered.
    full = [c for c in counts[1:counts.index(after)] if iso_ms(c["interval_end"]) <= silence_from * 1000]
    full += counts[counts.index(after) + 1:]
    check(all(c["polls_expected"] == 10 and 0.7 <= c["completeness"] <= 1 for c in full),
          f"completeness of ordinary intervals off: {[(c['polls_ok'], c['completeness']) for c in full]}")

    raw = {}
    for _, p in sub.messages("/readings/gate"):
        raw[p["ts"]] = p["points"]["visitors_in"]["value"]
    values = [v for ts, v in sorted(raw.items()) if ts <= counts[-1]["to"]] \
        if counts[-1]["to"] else []
    want = sum((b - a) % 65536 for a, b in zip(values, values[1:]))
    got = sum(c["count"] for c in counts if c["count"] is not None)
    check(got == want, f"counts add up to {got}, the stub's visitors are {want}")

    windows = indicators("window")
    check(any(w["quality"] == "no_data" and w["avg"] is None and w["completeness"] == 0
              for w in windows), f"no window with no data in the silence: {windows}")
    figure(f"{len(counts)} contiguous 1-s counts around a {SILENT_S:.1f}-s silence: "
           f"{len(nulls)} with no data, then a catch-up; {got} visitors = the stub's {want}")
    figure("interval with no data: " + json.dumps(nulls[0]))
    figure("catch-up after it: " + json.dumps(after))


if __name__ == "__main__":
    run_test("completeness", body)
