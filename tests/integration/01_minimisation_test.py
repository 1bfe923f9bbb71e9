"""01 minimisation: message by message, real brokers, the shipped defaults, analytics granted and
location refused. What leaves is exactly what the policy engine (portier-policy run, same
gateway secret) says, field by field; nothing else does. Analytics receives the climate sensor,
the smart meter and the plugs per window (issue 13): their messages leave nothing for it now, the
engine says which samples they add to a window (19_windows tests how windows leave)."""

import json
import os
import re
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (DEFAULT_POLICY_DIR, GatewayTest, decoded, main, on_topic, policy_run,  # noqa: E402
                     read_samples)

GRANT = ["analytics"]
REFUSE = ["location"]
ANNA = "zigbee2mqtt/Anna bedroom sensor"
CLIMATE = {
    "temperature": 21.74, "humidity": 48.6, "pressure": 1012.4, "battery": 87, "linkquality": 25, "voltage": 3005,
    "ssid": "Smith Family WiFi",
    "device": {"friendlyName": "Anna bedroom sensor", "ieeeAddr": "0x00158d0001a2b3c4", "networkAddress": 29332},
}
SENTINEL_TOPIC = "zigbee2mqtt/sentinel"
SENTINEL = {"battery_low": True}  # one release, for service only


class Minimisation(GatewayTest):
    gateway_id = "gw01"

    def setUp(self):
        super().setUp()
        self.local, self.upstream, self.obs, self.daemon, self.dev = self.world(grant=GRANT, refuse=REFUSE)
        [release] = self.expected(SENTINEL_TOPIC, SENTINEL)
        self.sentinel_topic = release["topic"]

    def releases(self, since=0):
        return self.obs.seen(lambda m: m.topic != self.daemon.status_topic, since)

    def expected(self, topic, payload):
        line = json.dumps({"topic": topic, "payload": payload})
        return policy_run(DEFAULT_POLICY_DIR, [line], self.gateway_id, grant=GRANT, refuse=REFUSE)[0]["releases"]

    def send_sentinel(self, since):
        """Messages keep their order end to end: once the sentinel's release is upstream, every
        release of what was published before it is too."""
        self.dev.publish(SENTINEL_TOPIC, SENTINEL)
        self.obs.expect(lambda m: m.topic == self.sentinel_topic, since=since, what="the sentinel's release")

    def test_climate_reading_waits_in_its_window_for_analytics_and_is_reduced_for_service(self):
        start = self.obs.mark()
        self.dev.publish(ANNA, CLIMATE)
        service = self.obs.expect(on_topic(self.daemon.upstream_topic("service", "zigbee2mqtt-device")))
        # Analytics: nothing per message (what came before the sentinel has arrived); the engine
        # says the readings went into the quarter hour's window as sent, and nothing else did.
        self.send_sentinel(start)
        self.assertEqual(self.obs.seen(on_topic(self.daemon.upstream_topic("analytics", "zigbee2mqtt-device")),
                                       start), [])
        windowed = {r["purpose"]: r["window_samples"] for r in self.expected(ANNA, CLIMATE) if "window_samples" in r}
        self.assertEqual(windowed, {"analytics": {"temperature": 21.74, "humidity": 48.6, "pressure": 1012.4}})
        # Service: battery as is, link quality as a class, the IEEE address only as a pseudonym.
        body = decoded(service)
        self.assertEqual(set(body), {"battery", "linkquality", "device"})
        self.assertEqual(body["battery"], 87)
        self.assertEqual(body["linkquality"], "weak")
        self.assertEqual(set(body["device"]), {"ieeeAddr"})
        self.assertRegex(body["device"]["ieeeAddr"], r"^[a-z2-7]{16}$")

        # Byte for byte what the engine computes with the same secret: topics (pseudonyms) too.
        want = {(r["topic"], json.dumps(r["payload"], sort_keys=True)) for r in self.expected(ANNA, CLIMATE)
                if "payload" in r}
        got = {(m.topic, json.dumps(decoded(m), sort_keys=True)) for m in (service,)}
        self.assertEqual(got, want)

        # Unlisted fields and personal values never arrive.
        for m in self.releases():
            for secret in (b"voltage", b"ssid", b"Smith", b"friendlyName", b"networkAddress", b"0x00158d",
                           b"Anna", b"21.74", b"48.6"):
                self.assertNotIn(secret, m.payload, m)

    def test_refused_location_purpose_receives_nothing(self):
        start = self.obs.mark()
        self.dev.publish("zigbee2mqtt/Tom's hallway motion", {"occupancy": True, "battery": 100, "illuminance": 34})
        self.dev.publish("zigbee2mqtt/Front door", {"contact": False, "battery": 91})
        self.dev.publish("owntracks/anna/iphone", {"_type": "location", "lat": 52.370216, "lon": 4.895168, "tst": 1})
        self.send_sentinel(start)
        purposes = {m.topic.split("/")[2] for m in self.releases(start)}
        self.assertEqual(purposes, {"service"})  # the motion sensor's light level waits in its window
        self.assertEqual(self.obs.seen(on_topic("portier/+/location/#")), [])
        for m in self.releases(start):
            self.assertNotIn(b"occupancy", m.payload)
            self.assertNotIn(b"contact", m.payload)
            self.assertNotIn(b"52.37", m.payload)

    def test_unmatched_malformed_and_bridge_topics_never_arrive(self):
        start = self.obs.mark()
        self.dev.publish("livingroom/lamp/set", {"state": "ON"})                # no class matches
        self.dev.publish(ANNA, b'{"temperature": 21.5, "battery": ')               # truncated JSON
        self.dev.publish(ANNA, b"not json at all")
        self.dev.publish("zigbee2mqtt/bridge/request/permit_join", {"value": True})  # a request: ignored
        self.dev.publish("zigbee2mqtt/Anna/bedroom lamp/set", {"state": "ON"})       # a command: ignored
        self.send_sentinel(start)
        self.assertEqual(len(self.releases(start)), 1, self.releases(start))

    def test_samples_release_exactly_what_the_policy_engine_says(self):
        samples = read_samples()
        expected = policy_run(DEFAULT_POLICY_DIR, [line for line, _, _ in samples], self.gateway_id,
                              grant=GRANT, refuse=REFUSE)
        # What leaves per message; window samples leave later, in their window's release.
        want = sorted((r["topic"], canonical(r["payload"])) for e in expected for r in e["releases"]
                      if "payload" in r)
        producing = [e["topic"] for e in expected if any("payload" in r for r in e["releases"])]
        windowed = [e["topic"] for e in expected if any("window_samples" in r for r in e["releases"])]
        silent = [e["topic"] for e in expected if not e["releases"]]
        self.assertGreaterEqual(len(producing), 20)
        self.assertGreaterEqual(len(windowed), 10)  # meters, plugs and climate sensors, for analytics
        self.assertIn("zigbee2mqtt/bridge/request/permit_join", silent)
        self.assertIn("rtl_433/raspberrypi/events", silent)

        start = self.obs.mark()
        for _, topic, wire in samples:
            self.dev.publish(topic, wire)
        self.send_sentinel(start)
        got = sorted((m.topic, wire_canonical(m.payload)) for m in self.releases(start)
                     if m.topic != self.sentinel_topic)
        self.assertEqual(got, want)

        # No raw device name, user name or other topic capture appears in an upstream topic.
        names = personal_topic_levels(t for _, t, _ in samples)
        self.assertIn("Anna bedroom sensor", names)
        for m in self.obs.seen():  # everything upstream saw, status included
            for level in m.topic.split("/"):
                self.assertNotIn(level, names, m.topic)
            for name in names:
                if len(name) >= 6:
                    self.assertNotIn(name, m.topic)
        # Nor network or hardware identifiers and precise positions in a payload.
        for m in self.releases(start):
            for secret in (b"Smith Family WiFi", b"30:b5:c2", b"30:B5:C2", b"0x00158d0001a2b3c4", b"52.370216",
                           b"4.895168", b"Anna bedroom sensor"):
                self.assertNotIn(secret, m.payload, m.topic)


def canonical(payload):
    """portier-policy prints a bare (RAW) payload as a JSON string, a JSON payload as its value."""
    if isinstance(payload, str):
        return "raw:" + payload
    return "json:" + json.dumps(payload, sort_keys=True)


def wire_canonical(payload):
    try:
        value = json.loads(payload)
    except ValueError:
        value = None
    if isinstance(value, (dict, list)):
        return "json:" + json.dumps(value, sort_keys=True)
    return "raw:" + payload.decode("utf-8")


def personal_topic_levels(topics):
    """Topic levels of the samples that are not literal words of a policy topic filter: device
    names, user names, ids chosen by the household."""
    literal = set()
    for name in os.listdir(DEFAULT_POLICY_DIR):
        if name.endswith(".textproto"):
            with open(os.path.join(DEFAULT_POLICY_DIR, name), encoding="utf-8") as f:
                for flt in re.findall(r'^\s*topic:\s*"([^"]*)"', f.read(), re.MULTILINE):
                    literal.update(l for l in flt.split("/") if not l.startswith("{"))
    levels = set()
    for t in topics:
        levels.update(l for l in t.split("/") if l not in literal and not re.fullmatch(r"[a-z]+:\d", l))
    return levels


if __name__ == "__main__":
    main()
