"""03 restarts: portierd rides out a restart of either broker by itself (no daemon restart).
Local broker back → it reconnects and subscribes again; upstream broker back → it reconnects,
sends what devices published meanwhile (held in its spool) and republishes its status. A local
broker that refuses portierd's subscriptions (its ACL) is reported, not taken for silence, and
retried until they are allowed."""

import os
import socket
import struct
import sys
import threading

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import TIME_FACTOR, GatewayTest, decoded, main, on_topic, wait_until  # noqa: E402

DEVICE = "zigbee2mqtt/Hall sensor"
SERVICE = "portier/gw03/service/zigbee2mqtt-device/+"


def battery(n):
    """The service release of {"battery": n}."""
    return lambda m: on_topic(SERVICE)(m) and decoded(m) == {"battery": n}


class Restarts(GatewayTest):
    gateway_id = "gw03"

    def test_local_broker_restart(self):
        local, upstream, obs, daemon, dev = self.world()
        dev.publish(DEVICE, {"battery": 1})
        obs.expect(battery(1))

        dev.stop()
        local.restart()  # same port; without persistence it forgets portierd's session too
        daemon.log.wait_for(r"local broker \S+: connection lost")
        daemon.wait_connected(upstream=False, count=2)
        self.assertEqual(daemon.log.count(r"local broker: subscribed to \d+ topic filters"), 2)

        dev = self.device(local)
        for n in (2, 3, 4):
            dev.publish(DEVICE, {"battery": n})
        for n in (2, 3, 4):
            obs.expect(battery(n))
        self.assertTrue(daemon.running())

    def test_upstream_broker_restart(self):
        local = self.local_broker()
        upstream = self.upstream_broker(persistence=True)
        # A persistent session, so that nothing portierd sends right after the restart is missed.
        obs = self.persistent_observer(upstream)
        obs.start()
        daemon = self.portierd(local, upstream)
        dev = self.device(local)
        dev.publish(DEVICE, {"battery": 1})
        obs.expect(battery(1))
        # Its PUBACK has reached portierd, so it has no reason to send it again.
        self.status(obs, daemon, lambda s: s["counters"]["acknowledged"] == 1)

        obs.stop()
        upstream.stop()
        daemon.log.wait_for(r"upstream broker \S+: connection lost")
        for n in range(2, 12):
            dev.publish(DEVICE, {"battery": n})
        # portierd took them all from the local broker while upstream was away.
        wait_until(lambda: local.taken_by(daemon.local_client_id) >= 11, what="portierd to take the messages")

        mark = obs.mark()
        upstream.start()
        obs.start()
        daemon.wait_connected(local=False, count=2)
        for n in range(2, 12):
            obs.expect(battery(n), since=mark)
        # (The broker may first hand over the offline will it published when it went down, or,
        # as the observer subscribes again, the retained status from before the restart.)
        self.status(obs, daemon, lambda s: s["state"] == "online" and s["counters"]["upstream_connects"] >= 2,
                    since=mark, what="a status from after the restart")
        # In order, each once.
        got = [decoded(m)["battery"] for m in obs.seen(on_topic(SERVICE), mark)]
        self.assertEqual(got, list(range(2, 12)))

    def test_refused_subscription_is_reported_and_retried_until_allowed(self):
        # mosquitto 2.0 grants every subscription (its ACL filters deliveries instead), so the
        # local broker here is a minimal MQTT 3.1.1 server that refuses them (SUBACK 0x80).
        local = RefusingBroker()
        self.addCleanup(local.stop)
        upstream = self.upstream_broker()
        obs = self.observer(upstream)
        daemon = self.portierd(local, upstream, wait_connected=False)
        daemon.log.wait_for(r"local broker \S+: set-up after connect failed: .*refused the subscription to", 2)
        self.assertEqual(daemon.log.count(r"local broker: subscribed to"), 0)
        self.assertTrue(daemon.running())

        local.refuse = False  # the broker's administrator fixed the ACL
        daemon.log.wait_for(r"local broker: subscribed to \d+ topic filters", timeout=30 * TIME_FACTOR)
        daemon.log.wait_for(r"local broker \S+: connected as ")
        self.assertTrue(daemon.running())


    def test_subscription_granted_below_qos_1_is_warned_about(self):
        # A broker configured to cap QoS (mosquitto: max_qos) accepts the subscription at QoS 0:
        # messages then come unacknowledged, and "nothing lost" no longer holds. Said, not hidden.
        local = RefusingBroker()
        local.refuse, local.granted = False, 0
        self.addCleanup(local.stop)
        upstream = self.upstream_broker()
        daemon = self.portierd(local, upstream, wait_connected=False)
        daemon.log.wait_for(r"local broker \S+: the broker granted QoS 0 for \"[^\"]+\" \(asked for 1\)")
        daemon.log.wait_for(r"local broker \S+: connected as ")
        self.assertTrue(daemon.running())


class RefusingBroker:
    """Just enough of an MQTT 3.1.1 broker on 127.0.0.1: CONNACK, PINGRESP, and a SUBACK that
    refuses every filter while `refuse` is set (grants QoS `granted`, 1 by default, otherwise)."""

    def __init__(self):
        self.refuse = True
        self.granted = 1
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(4)
        self.port = self.sock.getsockname()[1]
        self.observer_port = self.port
        self.stopped = False
        threading.Thread(target=self._accept, daemon=True).start()

    def stop(self):
        self.stopped = True
        self.sock.close()

    def _accept(self):
        while not self.stopped:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    @staticmethod
    def _read(conn, n):
        data = b""
        while len(data) < n:
            chunk = conn.recv(n - len(data))
            if not chunk:
                raise EOFError
            data += chunk
        return data

    def _serve(self, conn):
        with conn:
            try:
                while True:
                    kind = self._read(conn, 1)[0]
                    length, shift = 0, 0
                    while True:
                        b = self._read(conn, 1)[0]
                        length |= (b & 0x7F) << shift
                        shift += 7
                        if not b & 0x80:
                            break
                    body = self._read(conn, length)
                    if kind >> 4 == 1:  # CONNECT
                        conn.sendall(bytes([0x20, 2, 0, 0]))
                    elif kind >> 4 == 8:  # SUBSCRIBE: packet id, then (length, filter, qos)*
                        n, i = 0, 2
                        while i < len(body):
                            i += 2 + struct.unpack(">H", body[i:i + 2])[0] + 1
                            n += 1
                        codes = bytes([0x80 if self.refuse else self.granted] * n)
                        conn.sendall(bytes([0x90]) + _remaining_length(2 + n) + body[:2] + codes)
                    elif kind >> 4 == 12:  # PINGREQ
                        conn.sendall(bytes([0xD0, 0]))
                    elif kind >> 4 == 14:  # DISCONNECT
                        return
            except (EOFError, OSError):
                return


def _remaining_length(n):
    out = b""
    while True:
        b, n = n & 0x7F, n >> 7
        out += bytes([b | (0x80 if n else 0)])
        if not n:
            return out

if __name__ == "__main__":
    main()
