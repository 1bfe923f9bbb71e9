"""03 restarts: portierd rides out a restart of either broker by itself (no daemon restart).
Local broker back → it reconnects and subscribes again; upstream broker back → it reconnects,
sends what devices published meanwhile (held in its spool) and republishes its status."""

import os
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import GatewayTest, decoded, main, on_topic, wait_until  # noqa: E402

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


if __name__ == "__main__":
    main()
