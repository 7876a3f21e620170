"""Power loss told from wrap, against the visitor counter stub.

Two boundary cases of the decision table (docs/mqtt-contract.md, "Wrap or
power loss"), each on two stubs: one device of the break-beam-counter
profile, whose power-on count (register 3) the gateway reads with the
counters, and one without it (points of its own, no power_on_counter),
judged by the values alone:
- near the top: power lost at 65,077 (above 65,536 - counter_max_step),
  back at 0. By the values a wrap of 459 visitors that never came.
- many visitors before the next poll: power lost at 4,077, back at 2,000
  (more than counter_reset_max). By the values a doubtful fall: the 2,000
  are lost.
With the power-on count both devices' counts equal the stub's visitors
exactly; without, the test checks the documented wrong guesses, so that the
table in the contract stays true."""
import json

from harness import (Broker, Gateway, Stub, Subscriber, check, counter_point, device, figure, head,
                     run_test, tcp_bus, wait_until)

LOSS_AFTER = 12  # reads: the 12th read (index 12) is the first after power-on
CASES = {  # name: (start_in, counted_at_restart)
    "top": (65000, 0),
    "busy": (4000, 2000),
}


def ini(broker_port, store, ports):
    text = head(broker_port, store) + "".join(tcp_bus(n, p) for n, p in ports.items())
    for case in CASES:
        text += device(f"{case}_known", f"{case}_known",
                       extra="profile = break-beam-counter\ncount_interval = 1s\n")
        text += device(f"{case}_guessed", f"{case}_guessed")
        text += counter_point(f"{case}_guessed", "visitors_in", 0, "count_interval = 1s\n")
    return text


def truth(values):
    """The stub's visitors after the baseline: the steps, and at the read
    after the power loss what the device counted since it came back."""
    return sum(v if i == LOSS_AFTER else (v - values[i - 1]) % 65536
               for i, v in enumerate(values) if i > 0)


def body(work):
    broker = Broker(work)
    broker.start()
    stubs = {}
    for case, (start, counted) in CASES.items():
        for how in ("known", "guessed"):
            stubs[f"{case}_{how}"] = Stub(work, "visitor-counter-stub",
                                          ["--tcp", "0", "--start-in", str(start),
                                           "--power-loss-after", str(LOSS_AFTER),
                                           "--counted-at-restart", str(counted)])
    sub = Subscriber(work, broker, "smartregion/test-gw/#", "restarts-sub")
    gw = Gateway(work, ini(broker.port, work.file("store.db"),
                           {n: s.address.split(":")[1] for n, s in stubs.items()}))
    gw.start()

    def raws(device):
        out = {}
        for _, p in sub.messages(f"/readings/{device}"):
            if "points" in p and "visitors_in" in p["points"]:
                out[p["seq"]] = p["points"]["visitors_in"]["value"]
        return [v for _, v in sorted(out.items())]

    def counts(device):
        got = {p["seq"]: p for _, p in sub.messages(f"/indicators/{device}/visitors_in")
               if p["type"] == "count"}
        return [p for _, p in sorted(got.items())]
    # Counts linger up to 5 s before their commit (fewer writes): wait for
    # those of the first seconds, well past the power loss at 1.2 s.
    wait_until(lambda: all(len([c for c in counts(d) if c["quality"] != "no_data"]) >= 4
                           for d in stubs), 40, "counts well past the power loss")
    gw.stop()  # a clean stop sends nothing more; the open intervals stay in the store

    results = {}
    for device in stubs:
        values = raws(device)
        case = device.split("_")[0]
        start, counted = CASES[case]
        check(values[LOSS_AFTER] == counted and values[LOSS_AFTER - 1] == start + 7 * (LOSS_AFTER - 1),
              f"{device}: the stub did not lose power where expected: {values[:LOSS_AFTER + 2]}")
        done = [c for c in counts(device) if c["quality"] != "no_data"]
        last_to = done[-1]["to"]
        # the readings the sent counts cover: up to the last one's "to"
        ts = [p["ts"] for _, p in sub.messages(f"/readings/{device}") if "points" in p]
        covered = sorted(set(ts)).index(last_to) + 1
        want = truth(values[:covered])
        got = sum(c["count"] for c in done)
        events = set().union(*(c["events"] for c in done))
        results[device] = (got, want, sorted(events))
    for case in CASES:
        got, want, events = results[f"{case}_known"]
        check(got == want and "reset" in events and "wrap" not in events and "drop" not in events,
              f"{case} with the power-on count: counted {got}, the stub's visitors {want}, "
              f"events {events}")
    got, want, events = results["top_guessed"]
    check(got == want + (65536 - (65000 + 7 * (LOSS_AFTER - 1))) and "wrap" in events,
          f"top, by the values: expected the documented wrong wrap, got {got} of {want}, {events}")
    got, want, events = results["busy_guessed"]
    check(got == want - 2000 and "drop" in events,
          f"busy, by the values: expected the documented lost 2,000, got {got} of {want}, {events}")
    for device, (got, want, events) in results.items():
        figure(f"{device}: counted {got}, stub's visitors {want}, events {events}")
    figure("example count at the restart: " + json.dumps(next(
        c for c in counts("busy_known") if "reset" in c["events"])))


if __name__ == "__main__":
    run_test("counter-restarts", body)
