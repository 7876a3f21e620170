"""A real PostgreSQL server of the test's own: Debian's postgresql-15
binaries, a fresh data directory, listening on 127.0.0.1 only, trust
authentication for its one user. Stopped (by its own pg_ctl) and removed
when the work directory is cleaned up. PostgreSQL refuses to run as root:
as root, the server runs as the postgres user Debian's package made."""
import os
import pwd
import shutil
import subprocess
import tempfile

from .core import free_port, wait_until

PG_BIN = "/usr/lib/postgresql/15/bin"
USER = "county"


class Postgres:
    def __init__(self, work):
        self.work = work
        self.port = free_port()
        # Not under the work directory: as root that is private to root,
        # and the server's user must reach its data directory.
        self.dir = tempfile.mkdtemp(prefix="gw-pg-")
        self.data = os.path.join(self.dir, "data")
        self.as_user = []
        if os.geteuid() == 0:
            pw = pwd.getpwnam("postgres")
            os.chown(self.dir, pw.pw_uid, pw.pw_gid)
            self.as_user = ["runuser", "-u", "postgres", "--"]
        self.url = f"postgresql://{USER}@127.0.0.1:{self.port}/postgres"
        work.stoppers.append(self.stop)

    def _run(self, argv):
        out = subprocess.run(self.as_user + argv, capture_output=True, text=True, timeout=120)
        if out.returncode != 0:
            raise RuntimeError(f"{' '.join(argv)}: {out.stdout}{out.stderr}")

    def start(self):
        if not os.path.exists(self.data):
            self._run([f"{PG_BIN}/initdb", "-D", self.data, "-U", USER, "--auth=trust",
                       "-E", "UTF8", "--no-instructions"])
        self._run([f"{PG_BIN}/pg_ctl", "start", "-w", "-t", "60", "-D", self.data,
                   "-l", os.path.join(self.dir, "server.log"), "-o",
                   f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1"])
        wait_until(self._accepts, 30, "PostgreSQL to accept connections")
        return self

    def _accepts(self):
        return subprocess.run([f"{PG_BIN}/pg_isready", "-h", "127.0.0.1", "-p", str(self.port)],
                              capture_output=True).returncode == 0

    def connect(self):
        import psycopg
        return psycopg.connect(self.url, autocommit=True)

    def query(self, sql, params=None):
        with self.connect() as db:
            return db.execute(sql, params).fetchall()

    def stop(self):
        if os.environ.get("GW_KEEP_POSTGRES"):
            print(f"PostgreSQL left running at {self.url} (GW_KEEP_POSTGRES)")
            return
        if os.path.exists(os.path.join(self.data, "postmaster.pid")):
            subprocess.run(self.as_user + [f"{PG_BIN}/pg_ctl", "stop", "-m", "fast", "-w",
                                           "-D", self.data], capture_output=True, timeout=60)
        shutil.rmtree(self.dir, ignore_errors=True)
