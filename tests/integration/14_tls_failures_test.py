"""14 TLS failures are diagnosed: for each way an upstream TLS connection can fail, portierd logs
one line `upstream TLS: <kind>: <detail>` (then nothing more for the same failure within a minute,
however often it reconnects), counts it by kind in the status, never leaves an empty log line,
and publishes nothing upstream. Each kind against a real mosquitto TLS listener."""

import os
import re
import sys
import types

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import ControlGatewayTest, ctl_counter, main, wait_until  # noqa: E402

READING = ("zigbee2mqtt/Anna bedroom sensor", {"battery": 97, "temperature": 21.53})
TLS_LINE = r"^\S+ portierd\[\d+\] warning: upstream TLS: (.*)$"
ATTEMPTS = 4  # failed connects to see before looking at the log: the first and three repeats


class TlsFailures(ControlGatewayTest):
    gateway_id = "gw14"

    def assert_diagnosed(self, kind, line, server_cert="server", host="127.0.0.1", require_certificate=False,
                         plain_port=False, listener_extra=(), **daemon_kw):
        """Runs portierd against an upstream that fails the TLS connection; `line` is the regular
        expression the one `upstream TLS:` line must match after the prefix."""
        local = self.local_broker()
        upstream = self.upstream_broker(server_cert, require_certificate=require_certificate, start=False)
        if listener_extra:  # the TLS listener's block ends with require_certificate
            with open(upstream.conf) as f:
                conf = f.read()
            with open(upstream.conf, "w") as f:
                f.write(re.sub(r"^(require_certificate .*)$", lambda m: "\n".join((m.group(1),) + listener_extra),
                               conf, flags=re.M))
        upstream.start()
        obs = self.observer(upstream)
        # plain_port: upstream.uri names the broker's plain MQTT listener, which does not speak TLS.
        target = types.SimpleNamespace(port=upstream.observer_port) if plain_port else upstream
        daemon = self.controlled_portierd(local, target, host=host, wait_connected=False, **daemon_kw)
        daemon.wait_connected(upstream=False)
        dev = self.device(local)
        dev.publish(*READING)
        wait_until(lambda: local.taken_by(daemon.local_client_id) >= 1, what="portierd to take the message")

        status = wait_until(lambda: (lambda s: ctl_counter(s, "upstream_connect_failures") >= ATTEMPTS and s)(
            daemon.ctl_status()), timeout=60, what="%d failed upstream connects" % ATTEMPTS)
        # Every failure was diagnosed, and as this kind.
        failures = ctl_counter(status, "upstream_tls_failures")
        self.assertGreaterEqual(failures, ATTEMPTS - 1, status["counters"])
        self.assertEqual(ctl_counter(status, "upstream_tls_failures." + kind), failures, status["counters"])

        # One line for all of them (identical failures within a minute are not logged again).
        text = daemon.log.text()
        tls_lines = re.findall(TLS_LINE, text, re.MULTILINE)
        self.assertEqual(len(tls_lines), 1, "expected one `upstream TLS:` line, got:\n%s" % "\n".join(tls_lines))
        self.assertRegex(tls_lines[0], "^" + line + "$")
        self.assertNotIn("\n\n", text, "an empty line in portierd's log")

        # Nothing reached the upstream broker, and portierd never got as far as an MQTT session.
        self.assertEqual(obs.seen(), [], "something reached the upstream broker")
        self.assertEqual(daemon.log.count(r"upstream broker \S+: connected as "), 0)
        self.assertEqual(upstream.log.count(r"New client connected .* as %s " % daemon.upstream_client_id), 0)
        self.assertTrue(daemon.running())
        return daemon

    def test_wrong_host_name(self):
        self.assert_diagnosed("host_name_mismatch",
                              r"host name mismatch: the broker's certificate does not name \"localhost\"",
                              server_cert="wrong-host", host="localhost")

    def test_wrong_host_name_for_an_ip_address(self):
        self.assert_diagnosed("host_name_mismatch",
                              r"host name mismatch: the broker's certificate does not name \"127\.0\.0\.1\"",
                              server_cert="wrong-host")

    def test_unknown_ca(self):
        self.assert_diagnosed("unknown_ca", r"unknown CA: The certificate is not correctly signed by the trusted CA",
                              server_cert="untrusted")

    def test_expired_certificate(self):
        self.assert_diagnosed("expired_or_not_yet_valid", r"expired or not yet valid: The certificate validity has expired",
                              server_cert="expired")

    def test_certificate_not_yet_valid(self):
        self.assert_diagnosed("expired_or_not_yet_valid",
                              r"expired or not yet valid: The certificate validity starts in the future",
                              server_cert="not-yet-valid")

    def test_client_certificate_missing(self):
        self.assert_diagnosed("client_certificate_refused",
                              r"client certificate refused: the broker sent the alert \"handshake failure\"",
                              require_certificate=True)

    def test_client_certificate_from_another_ca(self):
        self.assert_diagnosed("client_certificate_refused",
                              r"client certificate refused: the broker sent the alert \"unknown CA\"",
                              require_certificate=True, client_cert="other-client")

    def test_plain_mqtt_port_is_a_protocol_failure(self):
        self.assert_diagnosed("protocol", r"protocol: the broker closed the connection during the handshake "
                                          r"\(is the port a TLS listener\?\)", plain_port=True)

    def test_no_common_cipher_is_a_protocol_failure(self):
        # The broker offers only cipher suites portierd's mbedTLS does not enable.
        self.assert_diagnosed("protocol", r"protocol: the broker sent the alert \"handshake failure\"",
                              listener_extra=("ciphers PSK-AES128-CBC-SHA", "ciphers_tls1.3 TLS_AES_128_CCM_8_SHA256"))

    def test_a_repeated_failure_is_logged_again_after_a_success(self):
        """The one-a-minute rule resets on a successful connect: a broker that later presents a
        wrong certificate again gets a fresh line at once."""
        local = self.local_broker()
        upstream = self.upstream_broker("untrusted")
        daemon = self.controlled_portierd(local, upstream, wait_connected=False)
        daemon.wait_connected(upstream=False)
        daemon.log.wait_for(TLS_LINE)
        upstream.stop()
        with open(upstream.conf) as f:
            conf = f.read()
        with open(upstream.conf, "w") as f:
            f.write(conf.replace("untrusted.", "server."))
        upstream.start()
        daemon.wait_connected(local=False, count=1)
        upstream.stop()
        with open(upstream.conf, "w") as f:
            f.write(conf)
        upstream.start()
        unknown_ca = r"^\S+ portierd\[\d+\] warning: upstream TLS: (unknown CA: .*)$"
        daemon.log.wait_for(unknown_ca, 2, timeout=30)
        # A broker stopped in the middle of a handshake shows as a `protocol` failure (true, and
        # a kind of its own): only the unknown-CA lines are this test's business.
        lines = re.findall(unknown_ca, daemon.log.text(), re.MULTILINE)
        self.assertEqual(lines, ["unknown CA: The certificate is not correctly signed by the trusted CA"] * 2)


if __name__ == "__main__":
    main()
