"""04 persistent session: portierd's session at the local broker outlives portierd. Stopped with
SIGTERM (exit 0), messages devices publish meanwhile wait at the broker and arrive upstream
once portierd is back; nothing is lost and nothing is sent twice."""

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
        local, upstream, obs, daemon, dev = self.world()
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


if __name__ == "__main__":
    main()
