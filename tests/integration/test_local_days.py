"""Local days: with `[gateway] timezone = Europe/Berlin`, a daily count is a
German day and an hourly one a German hour, whatever zone this machine is
set to (the test machine runs in UTC, as many Raspberry Pi images do).

libfaketime (the only fake: a test cannot set this machine's clock) puts
the daemon's wall clock at 23:59:40 German winter time on 28 March 2026,
the eve of the 23-hour day. The daily count that closes at the German
midnight must cover 2026-03-27T23:00Z..2026-03-28T23:00Z, the hourly one
22:00Z..23:00Z; the next day's count opens at 23:00Z. The hourly point's
day total (day_total, on by default) covers the same German day, is dated
2026-03-28 and equals its hourly count (counting began this hour); the
daily point has day_total = no, as its count already is one. The lengths
of the 23- and 25-hour days themselves are unit-tested (test_counter.c)."""
import calendar
import json
import time

from harness import (counter_point, device, figure, head, tcp_bus, SLOW, Broker, FakeClock, Gateway, Stub, Subscriber, check, run_test,
                     wait_until)

MIDNIGHT_BERLIN = calendar.timegm((2026, 3, 28, 23, 0, 0))  # 00:00 CET, 29 March


def body(work):
    clock = FakeClock(work)
    broker = Broker(work)
    broker.start()
    counter = Stub(work, "visitor-counter-stub", ["--tcp", "0"])
    sub = Subscriber(work, broker, "smartregion/local-gw/indicators/#", "local-sub")
    ini = (head(broker.port, work.file("store.db"), gateway="local-gw",
                gateway_extra="timezone = Europe/Berlin\n") +
           tcp_bus("gate", counter.address.split(":")[1]) +
           device("gate", "gate", interval="200ms") +
           counter_point("gate", "per_day", 0, "count_interval = 1d\nday_total = no\n") +
           counter_point("gate", "per_hour", 1, "count_interval = 1h\n"))
    lead_s = 20 * SLOW
    clock.set_wall(MIDNIGHT_BERLIN - lead_s)
    gw = Gateway(work, ini, env=clock.env(TZ="UTC"))
    gw.start()
    gw.wait_connected()
    check("time zone Europe/Berlin (now CET, UTC+01:00)" in gw.log(),
          f"the zone was not taken or not logged:\n{gw.log()[-1500:]}")

    def counts(kind="count"):
        return {p["point"]: p for _, p in sub.messages("/indicators/") if p["type"] == kind}
    wait_until(lambda: len(counts()) == 2 and counts("day_total"), 40 + lead_s,
               "the day's and the hour's counts, and the day total")
    gw.stop()
    got = counts()
    totals = counts("day_total")
    check(list(totals) == ["per_hour"], f"day totals of {list(totals)}, expected per_hour only")
    total = totals["per_hour"]
    check((total["interval_start"], total["interval_end"], total["day"]) ==
          ("2026-03-27T23:00:00.000Z", "2026-03-28T23:00:00.000Z", "2026-03-28"),
          f"the day total is not the German day 28 March: {total}")
    check(total["count"] == got["per_hour"]["count"] and total["polls_expected"] == 86400 * 5 and
          0 < total["completeness"] < 0.01,
          f"the day total {total} does not match the hour {got['per_hour']}")
    day, hour = got["per_day"], got["per_hour"]
    check((day["interval_start"], day["interval_end"]) ==
          ("2026-03-27T23:00:00.000Z", "2026-03-28T23:00:00.000Z"),
          f"the daily count is not the German day 28 March: {day}")
    check((hour["interval_start"], hour["interval_end"]) ==
          ("2026-03-28T22:00:00.000Z", "2026-03-28T23:00:00.000Z"),
          f"the hourly count is not 23:00-24:00 German time: {hour}")
    figure(f"timezone Europe/Berlin on a UTC machine: the day 28 March counted "
           f"{day['interval_start']}..{day['interval_end']} ({day['count']} visitors since the "
           f"start), the hour {hour['interval_start']}..{hour['interval_end']}")
    figure(f"example day total: {json.dumps(total)}")


if __name__ == "__main__":
    run_test("local-days", body)
