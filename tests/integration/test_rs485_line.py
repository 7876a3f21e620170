"""The gateway on a paced RS-485 line (firmware-stubs/rs485-line-stub):
characters cost their bit times, a frame ends by t3.5 of silence, units
answer after a turnaround, and whatever overlaps on the wire collides.

- strict units (a request that starts less than t3.5 after the previous
  frame is not heard) at 9600 and 19200 baud: none ignored, no collision,
  no failed poll;
- a unit that answers after its response timeout beside healthy ones: its
  late reply is heard out (and named in the log), not talked over;
- a dead unit: the healthy ones never fail, and its tries stay few;
- an adapter that echoes the request: echo = true reads it back;
- a unit that needs a quiet time after its reply: quiet_after_reply;
- kernel_rs485 and rts on a pseudo-terminal: a clear error;
- --check-config: an impossible response_timeout and an over-full line,
  each with the bus's line.
Every delivered value is one the stub served (harness.paced_line). How
close the line comes to the specification's rate is the line benchmark's
(tests/bench/bench_rs485_line.py): printed here as a figure, not judged."""
import re
import subprocess

from harness import BUILD, Broker, check, figure, run_test
from harness.paced_line import REGISTERS, check_values, line_ini, run_line

SECONDS = 6


def check_clean(run, units, what):
    for u in units:
        check(run.unit(u)["ignored_short_gap"] == 0,
              f"{what}: unit {u} ignored {run.unit(u)['ignored_short_gap']} requests that "
              "came too soon after the previous frame")
        check(run.polls.get(u), f"{what}: nothing delivered from unit {u}")
        check(not run.failures(u), f"{what}: unit {u} failed polls: {run.failures(u)[:3]}")
    check(run.stats["collisions"] == 0, f"{what}: {run.stats['collisions']} collisions")
    check_values(run.polls, run.values, run.stats)


def strict_units(work, broker, baud):
    run = run_line(work, broker, SECONDS, baud=baud, stub_options=["--strict"],
                   name=f"strict-{baud}")
    check_clean(run, range(1, 9), f"strict units at {baud} baud")
    check(run.stats["bad_frames"] == 0, f"{run.stats['bad_frames']} broken frames at {baud}")
    # Eight units polled every 10 ms: the line is full and health says so.
    check(run.health and run.health["busy_share"] > 0.5 and run.health["polls_late"] > 0,
          f"health at {baud} baud does not show a full line: {run.health}")
    return f"{baud} baud {run.rate_share(2):.0%} of the spec's rate"


def slow_unit(work, broker):
    """Unit 8 answers 150 ms after the request ends; its timeout is 100 ms."""
    run = run_line(work, broker, SECONDS, stub_options=["--strict", "--slow", "8:150"],
                   interval="500ms", device_extra="response_timeout = 100ms\n", name="slow")
    check_clean(run, range(1, 8), "beside a slow unit")
    check(any("its reply came" in line for line in run.failures(8)),
          "the slow unit's late reply was not named: " + "\n".join(run.failures(8)[:3]))
    check(run.health["stray_bytes"] >= 2 * REGISTERS + 5,
          f"the late reply's bytes were not counted: {run.health}")
    return f"slow unit: {run.unit(8)['answered']} late replies heard out, 0 collisions"


def dead_unit(work, broker):
    seconds = 12
    run = run_line(work, broker, seconds, stub_options=["--strict", "--dead", "8"],
                   interval="500ms", device_extra="response_timeout = 100ms\n", name="dead")
    check_clean(run, range(1, 8), "beside a dead unit")
    # Its tries after the second wait 4, 8, 16 then 20 times what a try
    # costs (gateway/poller.h): 100 ms of timeout and 100 ms of listening.
    tries = run.unit(8)["heard"]
    check(2 <= tries <= 10, f"the dead unit was asked {tries} times in {seconds}s")
    healthy = min(len(run.polls[u]) for u in range(1, 8))
    return f"dead unit asked {tries} times in {seconds}s, healthy units {healthy} polls each"


def echoing_adapter(work, broker):
    run = run_line(work, broker, 3, stub_options=["--echo"], interval="100ms",
                   bus_extra="echo = true\n", name="echo")
    check_clean(run, range(1, 9), "with echo = true")
    deaf = run_line(work, broker, 2, units=[1], stub_options=["--echo"], interval="100ms",
                    name="echo-off")
    check(not deaf.polls, "an echoing adapter worked without echo = true?")
    check(any("set echo = true" in line for line in deaf.failures(1)),
          f"no hint at echo = true: {deaf.failures(1)[:2]}")


def quiet_after_reply(work, broker):
    """Unit 1 does not hear a request sooner than 15 ms after its reply."""
    options = ["--quiet", "1:15"]
    rushed = run_line(work, broker, 2, units=[1], stub_options=options, name="rushed")
    check(rushed.unit(1)["not_heard_quiet"] > 0, "the unit's quiet time was never tested")
    run = run_line(work, broker, 2, units=[1], stub_options=options,
                   device_extra="quiet_after_reply = 16ms\n", name="quiet")
    check(run.unit(1)["not_heard_quiet"] == 0 and not run.failures(1),
          f"quiet_after_reply = 16ms: {run.unit(1)}, {run.failures(1)[:2]}")


def adapter_modes(work, broker):
    for key, words in (("kernel_rs485 = true", "TIOCSRS485"), ("rts = up", "has no RTS line")):
        run = run_line(work, broker, 1.5, units=[1], bus_extra=key + "\n",
                       name=key.split()[0])
        lines = run.failures(1)
        check(any(words in line and "Inappropriate ioctl" in line for line in lines),
              f"{key} on a pseudo-terminal: no clear error in {lines[:2]}")


def check_config(work, broker):
    ini = line_ini(broker, work.file("cc.db"), "/dev/null", range(1, 21), 9600,
                   interval="1s", device_extra=lambda u: "response_timeout = 20ms\n"
                   if u == 3 else "")
    path = work.file("budget.ini")
    with open(path, "w") as f:
        f.write(ini)
    bus_line = next(i for i, line in enumerate(ini.splitlines(), 1) if line == "[bus line]")
    out = subprocess.run([f"{BUILD}/sensor-gateway", "--check-config", path, "--offline"],
                         capture_output=True, text=True, timeout=30)
    check(out.returncode != 0 and re.search(
        rf"\[device u3\] response_timeout: 20 ms .*\({re.escape(path)}:{bus_line}\) at 9600",
        out.stderr), f"no error for an impossible response_timeout:\n{out.stderr}")
    with open(path, "w") as f:
        f.write(ini.replace("response_timeout = 20ms", "response_timeout = 100ms"))
    out = subprocess.run([f"{BUILD}/sensor-gateway", "--check-config", path, "--offline"],
                         capture_output=True, text=True, timeout=30)
    check(out.returncode == 0 and re.search(
        rf"{re.escape(path)}:{bus_line}: \[bus line\] its 20 devices .* need 1\d\d %",
        out.stderr), f"no warning for an over-full line:\n{out.stderr}")


def body(work):
    broker = Broker(work)
    broker.start()
    check_config(work, broker)
    rates = [strict_units(work, broker, baud) for baud in (9600, 19200)]
    slow = slow_unit(work, broker)
    dead = dead_unit(work, broker)
    echoing_adapter(work, broker)
    quiet_after_reply(work, broker)
    adapter_modes(work, broker)
    figure(f"strict units: {', '.join(rates)}, no request ignored, no collision; {slow}; {dead}; "
           "echo, quiet_after_reply, kernel_rs485 and rts checked")


if __name__ == "__main__":
    run_test("rs485-line", body)
