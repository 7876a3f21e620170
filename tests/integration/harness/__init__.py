"""The integration tests' harness, split by job:

- core: paths, GW_TEST_SLOWDOWN, check(), wait_until(), the work directory
- processes: mosquitto, the firmware stubs, the subscriber, the gateway,
  libfaketime's clock
- ini: the gateway's INI files
- models: the stubs' documented values
- checks: schemas, sequences, counters, status file, store
- postgres: a PostgreSQL server of the test's own (the county side)
- consumer: the reference consumer, and what its database is compared with
- runner: run_test() and figure()

Tests import what they need from here: `from harness import Broker, check`.
"""
from .checks import *  # noqa: F401,F403
from .core import *  # noqa: F401,F403
from .ini import *  # noqa: F401,F403
from .models import *  # noqa: F401,F403
from .fake_broker import *  # noqa: F401,F403
from .processes import *  # noqa: F401,F403
from .postgres import *  # noqa: F401,F403
from .consumer import *  # noqa: F401,F403
from .runner import *  # noqa: F401,F403
