"""A broker that wants a password and speaks TLS: mosquitto with a password
file, a plain listener for the test's subscriber and a TLS listener (server
certificate from a throw-away CA made here with openssl) for the gateway.

With a wrong password the gateway must keep polling into its store and log
the refusal; after the operator fixes the password and restarts it, the whole
backlog must arrive over TLS, gap-free and exact."""
import subprocess
import time

from harness import (figure, SLOW, Broker, Gateway, Stub, Subscriber, check, check_gap_free,
                     stored_readings,
                     check_sequences, dedupe_by_seq, demo_ini, free_port, run_test, wait_until)


def make_certificates(work):
    ca_key, ca_crt = work.file("ca.key"), work.file("ca.crt")
    key, csr, crt = work.file("server.key"), work.file("server.csr"), work.file("server.crt")
    ext = work.file("san.ext")
    with open(ext, "w") as f:
        f.write("subjectAltName = IP:127.0.0.1\n")
    for argv in (
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
         "-subj", "/CN=test-ca", "-keyout", ca_key, "-out", ca_crt],
        ["openssl", "req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1",
         "-keyout", key, "-out", csr],
        ["openssl", "x509", "-req", "-in", csr, "-CA", ca_crt, "-CAkey", ca_key,
         "-CAcreateserial", "-days", "2", "-extfile", ext, "-out", crt],
    ):
        subprocess.run(argv, check=True, capture_output=True, timeout=60)
    return ca_crt, crt, key


def body(work):
    ca, crt, key = make_certificates(work)
    passwords = work.file("passwords")
    for user, password in (("gateway", "right-password"), ("dashboard", "dash")):
        subprocess.run(["mosquitto_passwd", "-b"] + (["-c"] if user == "gateway" else []) +
                       [passwords, user, password], check=True, timeout=30)
    tls_port = free_port()
    broker = Broker(work, settings=(
        f"allow_anonymous false\npassword_file {passwords}\n"
        f"listener {tls_port} 127.0.0.1\ncafile {ca}\ncertfile {crt}\nkeyfile {key}\n"
        "per_listener_settings false\n"))
    broker.start()
    counter = Stub(work, "visitor-counter-stub", ["--tcp", "0"])
    env = Stub(work, "env-sensor-stub", ["--rtu-pty", "--unit", "3"])
    sub = Subscriber(work, broker, "smartregion/test-gw/readings/#", "secure-sub",
                     ("dashboard", "dash"))
    store = work.file("store.db")

    def config(password):
        text = demo_ini(broker.port, counter.address.split(":")[1], env.address, store,
                        interval_ms=100, uris=f"ssl://127.0.0.1:{tls_port}")
        return text.replace("[store]", f"username = gateway\npassword = {password}\n"
                                       f"tls_ca_file = {ca}\n\n[store]")

    gw = Gateway(work, config("wrong-password"))
    gw.start()
    time.sleep(3 * SLOW)
    gw.stop()
    log = gw.log()
    held = stored_readings(store)
    check("cannot connect to the broker" in log, f"refusal not logged:\n{log[-2000:]}")
    check(held >= 60, f"only {held} readings kept while the broker refused the gateway")
    check(not sub.readings(), "readings arrived although the password was wrong")

    gw = Gateway(work, config("right-password"), name="fixed")
    gw.start()
    wait_until(lambda: len(sub.readings()) >= held + 24, 30, "the backlog over TLS")
    gw.stop()
    check(f"connected to ssl://127.0.0.1:{tls_port}" in gw.log(), "not connected over TLS")
    unique, duplicates = dedupe_by_seq(sub.readings())
    check_gap_free(unique)
    check_sequences(unique)
    figure(f"wrong password: refused, {held} readings kept in the store; after the fix: "
          f"{len(unique)} readings over TLS, seq 1..{len(unique)}, no gaps, exact values, "
          f"{duplicates} duplicates")


if __name__ == "__main__":
    run_test("broker-security", body)
