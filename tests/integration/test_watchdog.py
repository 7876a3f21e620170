"""systemd's watchdog, with the notify socket systemd would give.

The gateway runs with NOTIFY_SOCKET (a datagram socket this test listens
on) and WATCHDOG_USEC as systemd sets them for WatchdogSec=2s. It must say
READY=1 and send WATCHDOG=1 while its pipeline makes progress. Then the
pipeline thread is really stuck: its status file's temporary name is made
a FIFO nobody reads, so the pipeline blocks in open(2), as it would on a
hung disk. The pings must stop (and the log say why); when the FIFO is
read, the pipeline moves on, pings resume, and every reading polled
meanwhile still arrives."""
import os
import socket
import time

from harness import (figure, DemoRig, SLOW, check, check_gap_free, check_sequences, dedupe_by_seq,
                     run_test, wait_until)


def messages(sock, seconds):
    """Notify messages received over seconds."""
    got, end = [], time.monotonic() + seconds
    while time.monotonic() < end:
        sock.settimeout(max(end - time.monotonic(), 0.01))
        try:
            got.extend(sock.recv(4096).decode().split("\n"))
        except socket.timeout:
            break
    return got


def block_status_file(tmp_path):
    """Makes the status file's temporary name a FIFO; the daemon may be
    writing the file this very moment, so try until it is not there."""
    deadline = time.monotonic() + 10 * SLOW
    while time.monotonic() < deadline:
        try:
            os.mkfifo(tmp_path)
            return
        except FileExistsError:
            time.sleep(0.01)
    check(False, "could not put a FIFO in place of the status file")


def body(work):
    notify_path = work.file("notify.sock")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(notify_path)
    status_path = work.file("status.json")
    rig = DemoRig(work, "watchdog", interval_ms=100)
    ini = open(rig.gw.ini).read().replace(
        "[gateway]\nid = test-gw\n",
        f"[gateway]\nid = test-gw\nstatus_file = {status_path}\nhealth_interval = 1s\n")
    with open(rig.gw.ini, "w") as f:
        f.write(ini)
    timeout_s = 2 * SLOW
    rig.gw.env = dict(os.environ, NOTIFY_SOCKET=notify_path,
                      WATCHDOG_USEC=str(int(timeout_s * 1e6)))
    rig.gw.start()
    healthy = messages(sock, 3 * timeout_s)
    check("READY=1" in healthy, f"no READY=1: {healthy}")
    pings = healthy.count("WATCHDOG=1")
    check(pings >= 4, f"only {pings} pings in {3 * timeout_s:.0f}s with WatchdogSec={timeout_s}s")

    block_status_file(status_path + ".tmp")
    wait_until(lambda: "watchdog: the pipeline has been stuck" in rig.gw.log(), 3 * timeout_s,
               "the gateway to notice its stuck pipeline")
    messages(sock, 0.1)  # pings sent before it noticed
    stuck = messages(sock, 2 * timeout_s).count("WATCHDOG=1")
    check(stuck == 0, f"{stuck} pings while the pipeline was stuck")

    fd = os.open(status_path + ".tmp", os.O_RDONLY | os.O_NONBLOCK)
    wait_until(lambda: "pings resumed" in rig.gw.log(), 3 * timeout_s,
               "the pipeline to move again")
    os.close(fd)
    resumed = messages(sock, 2 * timeout_s).count("WATCHDOG=1")
    check(resumed >= 2, f"only {resumed} pings after the pipeline moved again")
    polled_until = time.time()
    wait_until(lambda: any(p["ts"] > time.strftime("%Y-%m-%dT%H:%M:%S",
                                                   time.gmtime(polled_until + 1))
                           for _, p in rig.sub.readings()), 20, "readings after the stall")
    rig.gw.stop()
    stopping = messages(sock, 0.5)
    check("STOPPING=1" in stopping, f"no STOPPING=1 at the stop: {stopping}")
    unique, duplicates = dedupe_by_seq(rig.sub.readings())
    check_gap_free(unique)
    per_point = check_sequences(unique)
    figure(f"READY=1, {pings} pings in {3 * timeout_s:.0f}s with WatchdogSec="
           f"{timeout_s:.0f}s; pipeline stuck in open(2) on a FIFO: {stuck} pings, logged; "
           f"unstuck: {resumed} pings in {2 * timeout_s:.0f}s; {len(unique)} readings gap-free "
           f"{per_point}, {duplicates} duplicates; STOPPING=1 at the stop")


if __name__ == "__main__":
    run_test("watchdog", body)
