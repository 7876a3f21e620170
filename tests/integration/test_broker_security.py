"""A broker that wants a password and speaks TLS: mosquitto with a password
file, a plain listener for the test's subscriber and a TLS listener (server
certificate from a throw-away CA made here with openssl) for the gateway.

With a wrong password the gateway must keep polling into its store and log
the refusal; after the operator fixes the password and restarts it, the whole
backlog must arrive over TLS, gap-free and exact.

Then each way TLS goes wrong must be told apart in the log (paho itself says
"certificate verify failed" or "TCP/TLS connect failure" for all of them):
a host name the certificate does not carry, a CA that did not sign it, no
CA given (the system's store), an expired certificate (the gateway's clock
moved 5 days on by libfaketime, the one fake), and a broker that asks for a
client certificate the gateway does not have."""
import re
import subprocess
import time

from harness import (figure, SLOW, Broker, FakeClock, Gateway, Stub, Subscriber, check,
                     check_gap_free, stored_readings,
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


def foreign_ca(work):
    key, crt = work.file("other-ca.key"), work.file("other-ca.crt")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=some-other-ca", "-keyout", key, "-out", crt],
                   check=True, capture_output=True, timeout=60)
    return crt


def tls_failures(work, broker_port, tls_port, client_cert_port, ca, counter, env):
    cases = [
        ("wrong host", f"ssl://localhost:{tls_port}", f"tls_ca_file = {ca}\n", None,
         r"does not name localhost, the host in the URI \(Hostname mismatch\)"),
        ("foreign CA", f"ssl://127.0.0.1:{tls_port}", f"tls_ca_file = {foreign_ca(work)}\n",
         None, r"issued by /CN=test-ca, which is not a CA in .*other-ca\.crt"),
        ("no CA", f"ssl://127.0.0.1:{tls_port}", "", None,
         r"issued by /CN=test-ca, which is not a CA in the system's CA store"),
        ("expired", f"ssl://127.0.0.1:{tls_port}", f"tls_ca_file = {ca}\n", 5 * 86400,
         r"is valid from .* until .* \(certificate has expired\)"),
        ("client certificate", f"ssl://127.0.0.1:{client_cert_port}", f"tls_ca_file = {ca}\n",
         None, r"asks for a client certificate; set tls_cert_file and tls_key_file"),
    ]
    told = []
    for n, (name, uri, tls, offset, want) in enumerate(cases):
        text = demo_ini(broker_port, counter.address.split(":")[1], env.address,
                        work.file(f"store-tls-{n}.db"), interval_ms=100, uris=uri)
        text = text.replace("[store]", f"username = gateway\npassword = right-password\n{tls}"
                                       "\n[store]")
        clock_env = None
        if offset:
            clock = FakeClock(work)
            clock.set_offset(offset)
            clock_env = clock.env()
        gw = Gateway(work, text, name=f"tls-{n}", env=clock_env)
        gw.start()
        wait_until(lambda: "mqtt: TLS to" in gw.log(), 15 * SLOW, f"the TLS diagnosis ({name})")
        gw.stop()
        line = next(l for l in gw.log().splitlines() if "mqtt: TLS to" in l)
        check(re.search(want, line, re.I), f"{name}: the log says\n{line}\nnot /{want}/")
        told.append(line.split("mqtt: TLS to ", 1)[1].split(": ", 1)[1])
    check(len(set(told)) == len(cases), f"two causes read the same: {told}")
    figure(f"TLS failures told apart: {', '.join(c[0] for c in cases)}")


def body(work):
    ca, crt, key = make_certificates(work)
    passwords = work.file("passwords")
    for user, password in (("gateway", "right-password"), ("dashboard", "dash")):
        subprocess.run(["mosquitto_passwd", "-b"] + (["-c"] if user == "gateway" else []) +
                       [passwords, user, password], check=True, timeout=30)
    tls_port, client_cert_port = free_port(), free_port()
    broker = Broker(work, settings=(
        f"allow_anonymous false\npassword_file {passwords}\n"
        f"listener {tls_port} 127.0.0.1\ncafile {ca}\ncertfile {crt}\nkeyfile {key}\n"
        f"listener {client_cert_port} 127.0.0.1\ncafile {ca}\ncertfile {crt}\nkeyfile {key}\n"
        "require_certificate true\n"
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
    tls_failures(work, broker.port, tls_port, client_cert_port, ca, counter, env)


if __name__ == "__main__":
    run_test("broker-security", body)
