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

    def serve(self, conn):
        raise NotImplementedError

    @staticmethod
    def accept_mqtt5(conn):
        """Reads CONNECT and answers with an MQTT 5 CONNACK (success)."""
        conn.settimeout(5)  # paho may send CONNECT a second after the TCP connect
        conn.recv(4096)
        conn.sendall(bytes([0x20, 0x03, 0x00, 0x00, 0x00]))

    @staticmethod
    def puback(conn, packet_id):
        conn.sendall(bytes([0x40, 0x02]) + packet_id)

    def publishes(self, conn, seconds):
        """(topic, packet id) of each QoS 1 PUBLISH for `seconds`, answering
        PINGREQ on the way; stops early when the peer closes."""
        conn.settimeout(0.1)
        until = time.monotonic() + seconds
        buf = b""
        while time.monotonic() < until:
            try:
                data = conn.recv(65536)
            except socket.timeout:
                continue
            if not data:
                return
            buf += data
            while True:
                packet, buf = _next_packet(buf)
                if not packet:
                    break
                if packet[0] >> 4 == 12:  # PINGREQ
                    conn.sendall(bytes([0xD0, 0x00]))
                elif packet[0] >> 4 == 3 and packet[0] & 0x06:  # PUBLISH, QoS 1
                    yield _topic_and_id(packet)


def _next_packet(buf):
    """One whole MQTT packet off the front of buf, or None."""
    length, shift, i = 0, 0, 1
    while i < len(buf):
        length |= (buf[i] & 0x7F) << shift
        shift += 7
        if not buf[i] & 0x80:
            end = i + 1 + length
            return (buf[:end], buf[end:]) if len(buf) >= end else (None, buf)
        i += 1
    return None, buf


def _topic_and_id(packet):
    i = 1
    while packet[i] & 0x80:
        i += 1
    topic_len = int.from_bytes(packet[i + 1:i + 3], "big")
    topic = packet[i + 3:i + 3 + topic_len].decode(errors="replace")
    return topic, packet[i + 3 + topic_len:i + 5 + topic_len]

