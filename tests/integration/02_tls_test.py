"""02 TLS to upstream: portierd delivers only to a broker whose certificate chains to the
configured CA, is valid now, and names the host it dialled; mutual TLS works with a client
certificate and is refused without one; a plain tcp:// upstream is not even accepted as config."""

import os
import re
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import TIMEOUT, GatewayTest, main, wait_until  # noqa: E402

READING = ("zigbee2mqtt/Anna bedroom sensor", {"battery": 97, "temperature": 21.53})
FAILURE = r"upstream broker \S+: (cannot connect|connect timed out|set-up after connect failed)"


class Tls(GatewayTest):
    gateway_id = "gw02"

    def assert_never_connects(self, server_cert, broker_says=None, host="127.0.0.1", require_certificate=False,
                              **daemon_kw):
        local = self.local_broker()
        upstream = self.upstream_broker(server_cert, require_certificate=require_certificate)
        obs = self.observer(upstream)  # the broker's plain listener: it sees everything published there
        daemon = self.portierd(local, upstream, host=host, wait_connected=False, **daemon_kw)
        daemon.wait_connected(upstream=False)

        dev = self.device(local)
        dev.publish(*READING)
        dev.publish(*READING)
        # portierd has taken both messages from the local broker (they wait in its spool) ...
        wait_until(lambda: local.taken_by(daemon.local_client_id) >= 2, what="portierd to take the messages")
        # ... and fails to connect: at least one attempt after they were spooled.
        daemon.log.wait_for(FAILURE, daemon.log.count(FAILURE) + 1, timeout=2 * TIMEOUT)
        # The attempts reached the broker's TLS listener: the failure is TLS, not a closed port.
        attempts = upstream.log.count(r"New connection from 127\.0\.0\.1:\d+ on port %d\." % upstream.port)
        self.assertGreaterEqual(attempts, 1)
        if broker_says:
            upstream.log.wait_for(broker_says)
        self.assertEqual(obs.seen(), [], "something reached the upstream broker")
        self.assertEqual(daemon.log.count(r"upstream broker \S+: connected as "), 0)
        self.assertEqual(upstream.log.count(r"New client connected .* as %s " % daemon.upstream_client_id), 0,
                         "portierd got as far as an MQTT CONNECT")
        self.assertTrue(daemon.running())
        return daemon

    def test_unknown_ca_is_refused(self):
        self.assert_never_connects("untrusted", r"alert unknown ca")

    # wrong-host.crt is signed by the trusted CA and valid; only its name (wrong.example) differs
    # from server.crt, with which the same set-up delivers (01, and mutual TLS below).
    def test_wrong_host_name_is_refused(self):
        self.assert_never_connects("wrong-host", host="localhost")

    def test_wrong_host_name_is_refused_for_an_ip_address(self):
        self.assert_never_connects("wrong-host", host="127.0.0.1")

    def test_expired_certificate_is_refused(self):
        self.assert_never_connects("expired", r"alert certificate expired")

    def test_mutual_tls_without_client_certificate_is_refused(self):
        self.assert_never_connects("server", r"peer did not return a certificate", require_certificate=True)

    def test_mutual_tls_with_client_certificate_delivers(self):
        local = self.local_broker()
        upstream = self.upstream_broker("server", require_certificate=True)
        obs = self.observer(upstream)
        daemon = self.portierd(local, upstream, host="localhost", client_cert="client")
        dev = self.device(local)
        dev.publish(*READING)
        m = obs.expect(lambda m: m.topic.startswith("portier/gw02/service/zigbee2mqtt-device/"))
        self.assertEqual(m.payload, b'{"battery":97}')
        self.assertEqual(upstream.log.count(r"New client connected .* as %s " % daemon.upstream_client_id), 1)
        obs.expect(lambda m: m.topic == daemon.status_topic)

    def test_plain_tcp_upstream_is_rejected_by_check_config(self):
        local = self.local_broker(start=False)
        upstream = self.upstream_broker(start=False)
        daemon = self.portierd(local, upstream, start=False)
        self.assertEqual(daemon.check_config()[0], 0, daemon.check_config())
        with open(daemon.config_path) as f:
            text = f.read()
        with open(daemon.config_path, "w") as f:
            f.write(text.replace("ssl://", "tcp://"))
        status, out, err = daemon.check_config()
        self.assertEqual(status, 1)
        self.assertEqual(out, "")
        self.assertRegex(err, r"^%s:\d+:\d+: upstream\.uri: upstream is always TLS: use ssl://HOST:PORT or "
                              r"mqtts://HOST:PORT, got \"tcp://127\.0\.0\.1:%d\"\n$"
                         % (re.escape(daemon.config_path), upstream.port))


if __name__ == "__main__":
    main()
