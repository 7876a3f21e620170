"""A damaged store at start-up: a file cut short by a power loss on a bad SD
card, and a file that is not a database at all. Each time the daemon moves
it aside with a clear log line, starts a fresh store and forwards readings
whose sequence numbers continue above anything the old file held."""
import glob
import os
import sqlite3

from harness import DemoRig, check, figure, run_test, wait_until


def cut_short(store):
    db = sqlite3.connect(store)
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    size = os.path.getsize(store)
    os.truncate(store, size // 2)
    for companion in ("-wal", "-shm"):
        if os.path.exists(store + companion):
            os.remove(store + companion)
    return size


def overwrite_with_text(store):
    with open(store, "w") as f:
        f.write("not a database\n" * 500)
    return os.path.getsize(store)


def body(work):
    rig = DemoRig(work, "damaged", interval_ms=20)
    sub, gw, store = rig.sub, rig.gw, rig.store
    gw.start()
    wait_until(lambda: len(sub.readings()) >= 2000, 60, "2000 readings in a healthy store")
    gw.stop()
    last_seq_before = max(p["seq"] for _, p in sub.readings())

    results = []
    for damage in (cut_short, overwrite_with_text):
        size = damage(store)
        seen = len(sub.readings())
        gw.start()
        wait_until(lambda: len(sub.readings()) >= seen + 20, 30,
                   f"readings after the store was damaged ({damage.__name__})")
        log = gw.log()
        check("is damaged" in log and "moved aside to" in log,
              f"no clear log line about the damaged store:\n{log[-2000:]}")
        new_seqs = [p["seq"] for _, p in sub.readings()[seen:]]
        check(min(new_seqs) > last_seq_before,
              f"sequence numbers went back: {min(new_seqs)} after {last_seq_before}")
        gw.stop()
        last_seq_before = max(new_seqs)
        results.append(f"{damage.__name__} ({size} bytes): moved aside, fresh store, "
                       f"{len(new_seqs)} readings from seq {min(new_seqs)}")
    aside = glob.glob(store + ".damaged-*")
    check(len([a for a in aside if not a.endswith(("-wal", "-shm"))]) == 2,
          f"expected two files moved aside, found {aside}")
    figure("; ".join(results) + "; the daemon ran on each time")


if __name__ == "__main__":
    run_test("damaged-store", body)
