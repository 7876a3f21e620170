"""An open window through a crash. With the broker keeping up, nothing is
committed per reading; before, a window's state was saved only when an
interval closed, so a SIGKILL lost every sample since the window began
(37-59 % of a 10-minute window's). Now changed indicator state is saved
alone at least once a minute (STATE_SAVE_MS): after 70 s of a 10-minute
window and a SIGKILL, the state in the store holds the samples of at least
the first minute."""
import json
import signal
import sqlite3
import time

from harness import (demo_stubs, figure, Broker, Gateway, check, demo_ini, run_test,
                     wait_until)

INTERVAL_S = 0.5
RUN_S = 70


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
    counter, env = demo_stubs(work)
    broker = Broker(work)
    broker.start()
    store = work.file("store.db")
    ini = demo_ini(broker.port, counter.address.split(":")[1], env.address, store,
                   interval_ms=int(INTERVAL_S * 1000))
    ini = ini.replace("unit = °C\n", "unit = °C\nwindow = 10m\n", 1)
    gw = Gateway(work, ini)
    gw.start()
    gw.wait_connected()
    started = time.monotonic()
    time.sleep(RUN_S)
    gw.proc.send_signal(signal.SIGKILL)
    gw.proc.wait(10)
    polled = (time.monotonic() - started) / INTERVAL_S
    samples = window_samples(store)
    # Saved at least once in the run's first ~61 s: two thirds of a
    # minute's polls is a margin for a slow start, not for a lost save.
    want = 40 / INTERVAL_S
    check(samples >= want, f"the store's window state holds {samples} samples after "
                           f"{RUN_S} s of polling (~{polled:.0f} polls); a minute's worth is "
                           f"~{60 / INTERVAL_S:.0f}")
    figure(f"10-minute window, SIGKILL after {RUN_S} s (~{polled:.0f} polls): the saved state "
           f"holds {samples} samples (saved at most a minute ago)")


if __name__ == "__main__":
    run_test("state-save", body)
