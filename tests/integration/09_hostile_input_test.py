"""09 hostile input: oversized, too deeply nested, invalid UTF-8 and ambiguous (duplicate key)
payloads produce nothing upstream, are counted by reason in the status, and do not disturb
portierd: the next valid message goes through."""

import os
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import GatewayTest, decoded, main, on_topic  # noqa: E402

SENSOR = "zigbee2mqtt/Anna bedroom sensor"
MAX_PAYLOAD = 1024

HOSTILE = [
    # (drop reason, payload)
    ("too_large", b'{"battery":50,"pad":"' + b"x" * MAX_PAYLOAD + b'"}'),
    ("too_deep", b'{"battery":50,"device":' + b'{"a":' * 40 + b"1" + b"}" * 40 + b"}"),
    ("too_deep", b"[" * 200 + b"]" * 200),
    ("too_large", b"[" * 100000 + b"]" * 100000),  # the size is checked first
    ("invalid_utf8", b'{"battery":50,"state":"\xff\xfe ON"}'),
    ("invalid_utf8", b'{"battery":50,"device":{"model":"\xc3\x28"}}'),
    ("duplicate_key", b'{"battery":50,"battery":99}'),
    ("invalid_json", b'{"battery":50,}'),
    ("invalid_json", b'{"battery":NaN}'),
    ("invalid_json", b""),
]


class HostileInput(GatewayTest):
    gateway_id = "gw09"

    def test_hostile_payloads_are_dropped_and_counted_and_the_daemon_carries_on(self):
        local, upstream, obs, daemon, dev = self.world(
            extra="limits { max_payload_bytes: %d max_depth: 16 }" % MAX_PAYLOAD)
        mark = obs.mark()
        for _, payload in HOSTILE:
            dev.publish(SENSOR, payload)
        # Order is kept end to end: when this arrives, anything released before it would have.
        dev.publish(SENSOR, {"battery": 51})
        valid = obs.expect(on_topic("portier/gw09/service/zigbee2mqtt-device/+"), since=mark)
        self.assertEqual(decoded(valid), {"battery": 51})
        releases = obs.seen(lambda m: m.topic != daemon.status_topic, mark)
        self.assertEqual(releases, [valid])
        self.assertTrue(daemon.running())

        status = self.status(obs, daemon, lambda s: s["counters"]["received"] == len(HOSTILE) + 1, since=mark,
                             what="a status counting every message")
        counted = status["counters"]["dropped_by_reason"]
        for reason in {r for r, _ in HOSTILE}:
            self.assertEqual(counted.get(reason), sum(1 for r, _ in HOSTILE if r == reason), (reason, counted))
        self.assertEqual(status["counters"]["dropped"], len(HOSTILE))
        self.assertEqual(status["counters"]["released"], 1)

    def test_oversized_message_on_the_wire_does_not_stop_the_daemon(self):
        local, upstream, obs, daemon, dev = self.world()
        dev.publish(SENSOR, b'{"battery":50,"pad":"' + b"y" * (4 << 20) + b'"}')  # 4 MiB, default limit 64 KiB
        dev.publish(SENSOR, {"battery": 52})
        m = obs.expect(on_topic("portier/gw09/service/zigbee2mqtt-device/+"))
        self.assertEqual(decoded(m), {"battery": 52})
        status = self.status(obs, daemon, lambda s: s["counters"]["received"] == 2)
        self.assertEqual(status["counters"]["dropped_by_reason"].get("too_large"), 1)


if __name__ == "__main__":
    main()
