"""04 persistent session: portierd's session at the local broker outlives portierd. Stopped with
SIGTERM (exit 0), messages devices publish meanwhile wait at the broker and arrive upstream
once portierd is back; nothing is lost and nothing is sent twice. The same at local.qos 2."""

import os
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import GatewayTest, decoded, main, on_topic  # noqa: E402

DEVICE = "zigbee2mqtt/Hall sensor"
SERVICE = "portier/gw04/service/zigbee2mqtt-device/+"


class PersistentSession(GatewayTest):
    gateway_id = "gw04"

    def test_messages_published_while_portierd_is_stopped_arrive_after_restart(self):
        self.away_and_back()

    def test_the_same_with_local_qos_2(self):
        local, daemon = self.away_and_back(local_qos=2)
        # Really QoS 2: portierd answered the broker's PUBLISHes with PUBREC and its PUBRELs.
        # 12 messages: one before the stop, ten while away, the sentinel.
        local.log.wait_for(r"Received PUBREC from %s " % daemon.local_client_id, 12)
        local.log.wait_for(r"Received PUBCOMP from %s " % daemon.local_client_id, 12)
        self.assertEqual(local.log.count(r"Received PUBACK from %s " % daemon.local_client_id), 0)

    def away_and_back(self, **portierd_kw):
        local, upstream, obs, daemon, dev = self.world(**portierd_kw)
        dev.publish(DEVICE, {"battery": 0})
        obs.expect(lambda m: on_topic(SERVICE)(m) and decoded(m) == {"battery": 0})

        self.assertEqual(daemon.term(), 0)
        local.log.wait_for(r"Client %s (closed its connection|disconnected)" % daemon.local_client_id)
        for n in range(1, 11):
            dev.publish(DEVICE, {"battery": n})  # QoS 1: the broker keeps them for portierd's session

        mark = obs.mark()
        daemon.start()
        got = obs.expect_count(on_topic(SERVICE), 10, since=mark, what="the messages sent while portierd was away")
        self.assertEqual([decoded(m)["battery"] for m in got], list(range(1, 11)))
        # The broker resumed the old session rather than starting a clean one.
        resumed = local.log.count(r"New client connected .* as %s \(p\d+, c0," % daemon.local_client_id)
        self.assertEqual(resumed, 2)
        # Exactly those ten: the one sent before the stop is not sent again.
        sentinel = {"battery": 99}
        dev.publish(DEVICE, sentinel)
        obs.expect(lambda m: decoded(m) == sentinel, since=mark)
        self.assertEqual(len(obs.seen(on_topic(SERVICE), mark)), 11)
        return local, daemon


if __name__ == "__main__":
    main()
