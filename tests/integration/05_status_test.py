"""05 status and will: portierd keeps a retained status on portier/{gateway}/status: online, its
policy, counters that add up and never a value a device sent. When it dies (SIGKILL) the
broker publishes its will, retained: offline; when it stops (SIGTERM) it says so itself."""

import os
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import GatewayTest, decoded, main  # noqa: E402

COUNTERS = {"received", "released", "dropped", "published", "acknowledged", "resent", "expired", "local_connects",
            "local_connect_failures", "upstream_connects", "upstream_connect_failures", "reloads", "reload_failures",
            "spool_appended", "spool_refused_full", "spool_dropped_full", "spool_purged", "spool_corrupt",
            "spool_torn_tails", "spool_recovered", "ingress_pauses", "ingress_write_errors", "spool_pending", "spool_bytes", "inflight",
            "released_by_purpose", "dropped_by_reason", "upstream_tls_failures", "devices_evicted", "ledger_keys_evicted"}
# Gone with the in-memory queue the spool replaced.
REMOVED = {"queued", "lost_at_shutdown"}

MESSAGES = [
    # (topic, payload); the values are chosen to be recognisable if they ever leaked.
    ("zigbee2mqtt/Zelda's study sensor", {"temperature": 23.4567, "humidity": 61.234, "battery": 77,
                                          "voltage": 2987, "device": {"ieeeAddr": "0x00124b0012345678"}}),
    ("zigbee2mqtt/Zelda's study sensor/availability", {"state": "online"}),
    ("tele/zeldas-plug/SENSOR", {"ENERGY": {"Power": 1234.5678}}),
    # Subscribed (owntracks/+/+), but no class takes an encrypted OwnTracks payload: unmatched.
    ("owntracks/zelda/phone", {"_type": "encrypted", "data": "1Vu7OwpW4lMnh28FB+el22GsCrlnggvEcp4H8GR9iKJdi1qfwkejYpzrQ=="}),
    ("zigbee2mqtt/Zelda's study sensor", b"{broken"),
    # Not even subscribed: the local broker never hands it to portierd.
    ("rtl_433/zeldas-pi/events", {"model": "Acurite-Tower", "id": 12345, "mac": "AABBCCDDEEFF",
                                  "ip": "192.168.77.12"}),
]
RECEIVED = len(MESSAGES) - 1
LEAKS = ["Zelda", "zelda", "23.45", "61.23", "2987", "0x00124b", "1234.5", "AABBCCDDEEFF", "192.168.77"]


class Status(GatewayTest):
    gateway_id = "gw05"

    def test_retained_status_reports_counts_and_never_values(self):
        local, upstream, obs, daemon, dev = self.world(grant=["analytics"])
        first = self.status(obs, daemon)
        self.assertEqual(first["state"], "online")
        for topic, payload in MESSAGES:
            dev.publish(topic, payload)

        status = self.status(obs, daemon, lambda s: s["counters"]["received"] == RECEIVED
                             and s["counters"]["acknowledged"] == s["counters"]["released"],
                             what="a status counting every message, all acknowledged")
        self.assertEqual(status["gateway"], "gw05")
        self.assertEqual(status["state"], "online")
        self.assertRegex(status["version"], r"^\d+\.\d+\.\d+$")
        self.assertEqual(status["policy"], {"name": "portier-defaults", "version": 1})
        self.assertIsInstance(status["uptime_s"], int)
        c = status["counters"]
        self.assertLessEqual(COUNTERS, set(c))
        self.assertFalse(REMOVED & set(c), "counters of the old queue")
        for name, value in c.items():  # counts only
            if isinstance(value, dict):
                self.assertTrue(all(isinstance(v, int) for v in value.values()), (name, value))
            else:
                self.assertIsInstance(value, int, name)
        # Sensor: service, and analytics into its quarter hour's window; availability: service;
        # Tasmota energy: analytics into its hour's window. Windows leave later (19_windows).
        self.assertEqual(c["released_by_purpose"], {"service": 2})
        self.assertEqual(c["released"], 2)
        self.assertEqual(c["window_samples"], 2)
        self.assertEqual(c["windows_open"], 2)
        self.assertEqual(c["dropped"], 2)  # the encrypted OwnTracks payload and the broken JSON
        self.assertEqual(c["dropped_by_reason"]["unmatched_topic"], 1)
        self.assertEqual(c["dropped_by_reason"]["invalid_json"], 1)
        self.assertEqual(c["published"], 2)
        # Every release went through the spool, and all of them have left it.
        self.assertEqual(c["spool_appended"], 2)
        self.assertEqual(c["spool_pending"], 0)
        self.assertEqual(c["inflight"], 0)
        for name in ("spool_refused_full", "spool_dropped_full", "spool_purged", "spool_corrupt", "spool_torn_tails",
                     "spool_recovered", "ingress_pauses", "ingress_write_errors", "resent", "expired",
                     "upstream_tls_failures", "devices_evicted", "ledger_keys_evicted"):
            self.assertEqual(c[name], 0, name)
        self.assertEqual(c["upstream_connects"], 1)
        self.assertEqual(c["local_connects"], 1)

        # Names and numbers only: nothing a device said, in any status message.
        for m in obs.seen(lambda m: m.topic == daemon.status_topic):
            text = m.payload.decode()
            for leak in LEAKS:
                self.assertNotIn(leak, text)
            # The only strings are fixed words and the policy's own names.
            self.assertLessEqual(strings_in(decoded(m)), {"gw05", "online", "offline", status["version"],
                                                          "portier-defaults"})

        # Retained: a subscriber that comes later gets it at once.
        late = self.observer(upstream, topics=[daemon.status_topic])
        m = late.expect(lambda m: m.topic == daemon.status_topic)
        self.assertTrue(m.retain)
        self.assertEqual(decoded(m)["state"], "online")

    def test_will_marks_a_killed_gateway_offline(self):
        local, upstream, obs, daemon, dev = self.world()
        self.status(obs, daemon)
        mark = obs.mark()
        daemon.kill()
        self.assertEqual(self.status(obs, daemon, since=mark),
                         {"gateway": "gw05", "state": "offline", "version": self.status(obs, daemon)["version"]})
        late = self.observer(upstream, topics=[daemon.status_topic])
        m = late.expect(lambda m: m.topic == daemon.status_topic)
        self.assertTrue(m.retain)
        self.assertEqual(decoded(m)["state"], "offline")

    def test_clean_stop_says_offline(self):
        local, upstream, obs, daemon, dev = self.world()
        self.status(obs, daemon)
        mark = obs.mark()
        self.assertEqual(daemon.term(), 0)
        self.assertEqual(self.status(obs, daemon, since=mark)["state"], "offline")
        self.assertIn("stopped: ", daemon.log.text())
        late = self.observer(upstream, topics=[daemon.status_topic])
        m = late.expect(lambda m: m.topic == daemon.status_topic)
        self.assertTrue(m.retain)
        self.assertEqual(decoded(m)["state"], "offline")
        # A clean disconnect (so no will): one offline message, from portierd itself.
        self.assertEqual(upstream.log.count(r"Received DISCONNECT from %s\b" % daemon.upstream_client_id), 1)
        offline = obs.seen(lambda m: m.topic == daemon.status_topic and decoded(m)["state"] == "offline", mark)
        self.assertEqual(len(offline), 1)


def strings_in(value):
    """Every string value in a JSON document (keys excluded)."""
    if isinstance(value, str):
        return {value}
    if isinstance(value, dict):
        return set().union(*(strings_in(v) for v in value.values())) if value else set()
    if isinstance(value, list):
        return set().union(*(strings_in(v) for v in value)) if value else set()
    return set()


if __name__ == "__main__":
    main()
