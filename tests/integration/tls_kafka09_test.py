#!/usr/bin/env python3
"""wirestress over TLS against Kafka 0.9's SSL listener, which requires a client certificate
(ssl.client.auth=required: stricter than `requested`, because it proves the certificate is sent).

Usage: tls_kafka09_test.py WIRESTRESS KAFKA_DIR SSL_PORT
KAFKA_DIR is where tools/scripts/kafka09.sh started the broker with WS_KAFKA_SSL_PORT; its ssl/
holds the throwaway CA, the client certificate and the PKCS12 stores.

1. 100 producers and 2 verifying consumers over TLS with a PEM client certificate: all connect,
   every record is acknowledged and read by both consumers, and kcat (librdkafka's TLS, an
   independent client) reads every record back over TLS.
2. The same identity as Java users write it: a client.properties with a PKCS12 truststore and
   keystore.
3. No client certificate: the broker refuses the handshake; exit 3 with tls_handshake_failed,
   in seconds, not at the end of --duration.
4. A CA that did not sign the broker: certificate_verify_failed, exit 3, in seconds.
5. No password or key material appears in the JSON or the output."""
import json
import os
import subprocess
import sys
import tempfile
import time

from brokers import KCAT_ARGS, run_wirestress

RECORDS = 20000
CLIENTS = 100
STORE_PASSWORD = "wirestress"  # kafka09.sh's store password


def fail(errors, what, output=""):
    errors.append(what)
    print(f"FAIL: {what}\n{output[-3000:]}")


def tls_flags(ssl):
    return ["-X", "security.protocol=SSL", "-X", f"ssl.ca.location={ssl}/ca.pem",
            "-X", f"ssl.certificate.location={ssl}/client.pem", "-X", f"ssl.key.location={ssl}/client.key"]


def kcat_read(bootstrap, ssl, topic, expected, timeout_s=40):
    deadline = time.time() + timeout_s
    records = []
    while True:
        proc = subprocess.run(
            ["kcat", "-C", "-b", bootstrap, "-t", topic, "-o", "beginning", "-e", "-q", "-f", "%p:%o:%S\n",
             "-X", "security.protocol=ssl", "-X", f"ssl.ca.location={ssl}/ca.pem",
             "-X", f"ssl.certificate.location={ssl}/client.pem", "-X", f"ssl.key.location={ssl}/client.key",
             *KCAT_ARGS["kafka09"]],
            capture_output=True, timeout=60)
        # (values carry binary --verify stamps: read partition, offset and value size, not values)
        records = set(proc.stdout.split())
        if len(records) >= expected or time.time() >= deadline:
            return records, proc.stderr.decode(errors="replace")
        time.sleep(0.5)


def check_secrets_absent(errors, what, result, output, secrets):
    text = json.dumps(result) + output
    for s in secrets:
        if s in text:
            fail(errors, f"{what}: the secret {s!r} appears in the JSON or the output")


def check_many_clients(ws, bootstrap, ssl, errors):
    topic = f"tls-many-{os.getpid()}"
    start = time.time()
    code, result, output = run_wirestress(ws, [
        f"--bootstrap={bootstrap}", f"--topic={topic}", f"--clients={CLIENTS}", "--consumers=2", "--verify",
        f"--messages={RECORDS}", "--rate=5000", "--acks=1", "--message-size=100", "--key-size=8",
        "--broker-version=0.9", "--duration=0", "--drain-timeout=20s", *tls_flags(ssl)], timeout=180)
    if code != 0 or not result:
        return fail(errors, f"100 clients over TLS: exit {code}", output)
    problems = []
    if result["connections"]["established"] < CLIENTS + 2:
        problems.append(f"connections {result['connections']}")
    if result["produce"]["messages_acked"] != RECORDS:
        problems.append(f"acked {result['produce']['messages_acked']} of {RECORDS}: {result['failures']}")
    c = result["consume"]
    for key in ("lost", "duplicates", "corrupt", "failing_clients"):
        if c[key] != 0:
            problems.append(f"consume.{key} = {c[key]}")
    if c["messages_received"] != 2 * RECORDS:
        problems.append(f"consumers received {c['messages_received']} of {2 * RECORDS}")
    security = result.get("security", {})
    if security.get("protocol") != "SSL" or (security.get("ktls") or {}).get("used") is not False:
        problems.append(f"security in the JSON: {security}")
    records, kcat_err = kcat_read(bootstrap, ssl, topic, RECORDS)
    if len(records) != RECORDS:
        problems.append(f"kcat over TLS read {len(records)} of {RECORDS}: {kcat_err[-500:]}")
    check_secrets_absent(errors, "100 clients", result, output, ["BEGIN PRIVATE KEY"])
    if problems:
        return fail(errors, "100 clients over TLS: " + "; ".join(problems), output)
    print(f"ok: {CLIENTS} clients + 2 verifying consumers over TLS with a client certificate in "
          f"{time.time() - start:.1f} s: acked {RECORDS}, each consumer read {RECORDS}, lost 0; "
          f"kcat read {len(records)} over TLS; kTLS {security['ktls']}")


def check_java_properties(ws, bootstrap, ssl, errors):
    """A Java client.properties: PKCS12 truststore and keystore, passwords in the file."""
    with tempfile.TemporaryDirectory() as tmp:
        keystore = os.path.join(tmp, "client.p12")
        keystore_password = "k3ystore-secret"
        subprocess.run(["openssl", "pkcs12", "-export", "-in", f"{ssl}/client.pem", "-inkey", f"{ssl}/client.key",
                        "-name", "client", "-passout", f"pass:{keystore_password}", "-out", keystore],
                       check=True, capture_output=True, timeout=30)
        props = os.path.join(tmp, "client.properties")
        with open(props, "w") as f:
            f.write("# as a Java client would have it\n"
                    "security.protocol=SSL\n"
                    f"ssl.truststore.location={ssl}/truststore.p12\n"
                    f"ssl.truststore.password={STORE_PASSWORD}\n"
                    "ssl.truststore.type=PKCS12\n"
                    f"ssl.keystore.location={keystore}\n"
                    f"ssl.keystore.password={keystore_password}\n"
                    "ssl.keystore.type=PKCS12\n"
                    "acks=1\n")
        topic = f"tls-java-{os.getpid()}"
        code, result, output = run_wirestress(ws, [
            f"--bootstrap={bootstrap}", f"--topic={topic}", "--clients=5", "--messages=500",
            "--broker-version=0.9", "--duration=0", "--drain-timeout=20s", f"--config={props}"], timeout=90)
        if code != 0 or not result or result["produce"]["messages_acked"] != 500:
            return fail(errors, f"client.properties with PKCS12 stores: exit {code}", output)
        check_secrets_absent(errors, "client.properties", result, output, [keystore_password])
        print("ok: a Java client.properties (PKCS12 truststore and keystore) acked 500 of 500")


def check_refused(ws, bootstrap, ssl, errors, what, flags, failure):
    topic = f"tls-refused-{os.getpid()}"
    start = time.time()
    code, result, output = run_wirestress(ws, [
        f"--bootstrap={bootstrap}", f"--topic={topic}", "--clients=10", "--rate=100",
        "--broker-version=0.9", "--duration=30s", *flags], timeout=60)
    elapsed = time.time() - start
    failures = (result or {}).get("failures", {})
    if code != 3 or not failures.get(failure) or elapsed > 10:
        return fail(errors, f"{what}: exit {code} after {elapsed:.1f} s, failures {failures}; "
                    f"expected exit 3 with {failure} within 10 s", output)
    if failure not in output:
        return fail(errors, f"{what}: the output does not name {failure}", output)
    print(f"ok: {what}: exit 3 with {failure} after {elapsed:.1f} s")


def main():
    ws, kafka_dir, ssl_port = sys.argv[1:4]
    ssl = os.path.join(kafka_dir, "ssl")
    bootstrap = f"127.0.0.1:{ssl_port}"
    errors = []
    check_many_clients(ws, bootstrap, ssl, errors)
    check_java_properties(ws, bootstrap, ssl, errors)
    check_refused(ws, bootstrap, ssl, errors, "no client certificate",
                  ["-X", "security.protocol=SSL", "-X", f"ssl.ca.location={ssl}/ca.pem"], "tls_handshake_failed")
    with tempfile.TemporaryDirectory() as tmp:
        other_ca = os.path.join(tmp, "other-ca.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                        "-subj", "/CN=not the broker's CA", "-keyout", os.path.join(tmp, "k"), "-out", other_ca],
                       check=True, capture_output=True, timeout=30)
        flags = tls_flags(ssl)
        flags[3] = f"ssl.ca.location={other_ca}"
        check_refused(ws, bootstrap, ssl, errors, "a CA that did not sign the broker", flags,
                      "certificate_verify_failed")
    sys.exit(1 if errors else 0)


if __name__ == "__main__":
    main()
