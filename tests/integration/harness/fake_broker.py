"""A fake MQTT broker for the few behaviours no packaged mosquitto shows
(each test that uses one says which): a socket on 127.0.0.1 that accepts
connections one at a time until its deadline and hands each to serve()."""
import socket
import threading
import time

__all__ = ["FakeBroker"]


class FakeBroker:
    def __init__(self, seconds):
        self.server = socket.socket()
        self.server.bind(("127.0.0.1", 0))
        self.server.listen(8)
        self.server.settimeout(0.2)
        self.port = self.server.getsockname()[1]
        self.accepted = 0
        self.deadline = time.monotonic() + seconds
        threading.Thread(target=self._run, daemon=True).start()

    def serve(self, conn):
        raise NotImplementedError

    def _run(self):
        while time.monotonic() < self.deadline:
            try:
                conn, _ = self.server.accept()
            except OSError:
                continue
            self.accepted += 1
            try:
                self.serve(conn)
            except OSError:
                pass
            conn.close()
        self.server.close()
