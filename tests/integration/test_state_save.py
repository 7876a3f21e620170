"""An open window through a crash. With the broker keeping up, nothing is
committed per reading; before, a window's state was saved only when an
interval closed, so a SIGKILL lost every sample since the window began
(37-59 % of a 10-minute window's). Now changed indicator state is saved
alone at least once a minute (STATE_SAVE_MS): after 90 s of an hour's
window and a SIGKILL, the store's state lacks at most a minute of samples."""
import json
import signal
import sqlite3
import time

from harness import (demo_stubs, figure, Broker, Gateway, check, device, env_sensor_points, head,
                     rtu_bus, run_test)

INTERVAL_S = 0.5
RUN_S = 90
WINDOW_S = 3600
# A window closing is saved with its commit anyway: keep its boundary (the
# hour, aligned to the clock) out of the run so that only the periodic
# save can have saved the open window.
MARGIN_S = RUN_S + 15


def window_samples(store):
    db = sqlite3.connect(store, timeout=10)
    try:
        row = db.execute("SELECT s.state FROM indicator_state s JOIN points p ON p.id = s.point_id "
                         "WHERE p.device = 'weather' AND p.point = 'temperature'").fetchone()
    finally:
        db.close()
    if not row:
        return 0
    return json.loads(row[0]).get("samples", 0)


def body(work):
    to_hour = WINDOW_S - time.time() % WINDOW_S
    if to_hour < MARGIN_S:
        time.sleep(to_hour + 1)
    counter, env = demo_stubs(work)
    broker = Broker(work)
    broker.start()
    store = work.file("store.db")
    # The weather station alone: no counter whose interval close would
    # save the state too.
    ini = (head(broker.port, store) + rtu_bus("rs485", env.address) +
           device("weather", "rs485", unit_id=3, interval=f"{int(INTERVAL_S * 1000)}ms") +
           env_sensor_points("weather").replace("unit = °C\n", f"unit = °C\nwindow = 1h\n", 1))
    gw = Gateway(work, ini)
    gw.start()
    gw.wait_connected()
    started = time.monotonic()
    time.sleep(RUN_S)
    gw.proc.send_signal(signal.SIGKILL)
    gw.proc.wait(10)
    polled = (time.monotonic() - started) / INTERVAL_S
    samples = window_samples(store)
    # At most a minute's samples lost, and 10 s for the start.
    want = polled - 70 / INTERVAL_S
    check(samples >= want, f"the store's window state holds {samples} samples after "
                           f"{RUN_S} s of polling (~{polled:.0f} polls): more than a minute's "
                           f"worth lost")
    figure(f"1-hour window, SIGKILL after {RUN_S} s (~{polled:.0f} polls): the saved state "
           f"holds {samples} samples (at least {want:.0f} wanted: at most a minute lost)")


if __name__ == "__main__":
    run_test("state-save", body)
