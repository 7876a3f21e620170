"""Running one test: its work directory, the schema check of every message
its subscribers received, and the FIGURE lines scripts/test.sh collects."""
import sys
import time

from .checks import validate_messages
from .core import Workdir

_current_test = "?"


def figure(text):
    """Prints a measured figure on a line that scripts/test.sh collects from
    ctest's log, so every run shows what each test reached."""
    print(f"FIGURE {_current_test}: {text}", flush=True)


def run_test(name, body):
    """Runs body(work) in a fresh work directory; on failure keeps the
    directory (logs, store, INI) and names it. Prints the closing line ctest
    output readers look for."""
    global _current_test
    _current_test = name
    work = Workdir(name)
    started = time.monotonic()
    ok = False
    try:
        body(work)
        validated = validate_messages(work.subscribers)
        figure(f"{validated} messages received, each valid against its schema in docs/schemas")
        ok = True
    finally:
        work.cleanup(keep=not ok)
        if not ok:
            print(f"kept {work.path} for inspection", file=sys.stderr)
    print(f"took {time.monotonic() - started:.1f}s")
    print("1 passed, 0 failed")
