"""Two gateways with one MQTT client id (a cloned SD card) kick each other
off the broker. The log must name that cause, whatever the broker says.

1. Debian 12's mosquitto (2.0.11) closes the older connection without the
   DISCONNECT 0x8E of MQTT 5 (it only logs 'already connected'): the
   gateways' logs name the likely cause from the pattern, working
   connections closed within a minute, with no reason.
2. A broker that sends DISCONNECT with reason 0x8E (Session taken over), as
   mosquitto 2.0.18 and later, EMQX and HiveMQ do: the reason is read from
   paho's MQTT 5 disconnect callback and logged as such. No such broker is
   packaged for Debian 12, so a 30-line fake in this file plays it: it
   answers CONNECT with CONNACK, PUBACKs what it gets for a moment, then
   sends that DISCONNECT and closes."""
import time

from harness import (FakeBroker, demo_stubs, figure, SLOW, Broker, Gateway, check, demo_ini, run_test,
                     wait_until)

HINT = "second client with client id 'sensor-gateway-test-gw'"


def same_id_on_mosquitto(work, counter, env):
    broker = Broker(work)
    broker.start()
    gateways = [Gateway(work, demo_ini(broker.port, counter.address.split(":")[1], env.address,
                                       work.file(f"store-{n}.db"), interval_ms=100), name=n)
                for n in ("first", "clone")]
    for gw in gateways:
        gw.start()
        gw.wait_connected()
    wait_until(lambda: any(HINT in gw.log() for gw in gateways), 30, "the duplicate id named")
    for gw in gateways:
        gw.stop()
    losses = sum(gw.log().count("connection lost") for gw in gateways)
    check("already connected" in broker.log(), "mosquitto saw no duplicate client id")
    figure(f"two gateways, one client id, mosquitto 2.0.11: the cause named after {losses} "
           f"connection losses between them")


class TakeoverBroker(FakeBroker):
    """CONNACK, PUBACK for every QoS 1 PUBLISH for 0.5 s, then DISCONNECT 0x8E."""

    def serve(self, conn):
        self.accept_mqtt5(conn)
        for _, packet_id in self.publishes(conn, 0.5):
            self.puback(conn, packet_id)
        conn.sendall(bytes([0xE0, 0x01, 0x8E]))
        time.sleep(0.05)


def takeover_reason(work, counter, env):
    fake = TakeoverBroker(10 * SLOW)
    gw = Gateway(work, demo_ini(fake.port, counter.address.split(":")[1], env.address,
                                work.file("store-takeover.db"), interval_ms=100), name="takeover")
    gw.start()
    wait_until(lambda: "took the session over" in gw.log(), 8 * SLOW, "the takeover logged")
    gw.stop()
    log = gw.log()
    check("Session taken over, 0x8e" in log, "the broker's reason was not in the loss line")
    check("cloned SD card" in log, "the takeover line gives no hint of the cause")
    figure("DISCONNECT 0x8E: logged as 'Session taken over' with the cloned-card hint")


def body(work):
    counter, env = demo_stubs(work)
    takeover_reason(work, counter, env)
    same_id_on_mosquitto(work, counter, env)


if __name__ == "__main__":
    run_test("client_id", body)
