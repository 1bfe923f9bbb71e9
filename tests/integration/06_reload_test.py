"""06 reload: SIGHUP loads configuration and policy again. An invalid policy is rejected and the
running one keeps working; a valid change applies from the next message on, subscriptions
included; a purpose granted in the configuration starts receiving."""

import os
import re
import shutil
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import DEFAULT_POLICY_DIR, GatewayTest, decoded, main, on_topic  # noqa: E402

SENSOR = "zigbee2mqtt/Anna bedroom sensor"
# The device temperature field of the default Zigbee2MQTT class, as written there (once): the
# service receives it per message (analytics receives the room climate per window, 19_windows).
TEMPERATURE = ('path: "device_temperature" title: "temperature inside the device" unit: "°C"\n'
               '    why: "warns of an overheating plug or relay"\n'
               '    rule { purpose: "service" round { step: 1 } }')
SERVICE = "portier/gw06/service/zigbee2mqtt-device/+"
RELOADED = r"info: reloaded: policy \"portier-defaults\" version %d"
REJECTED = r"error: reload rejected, the running policy stays"


class Reload(GatewayTest):
    gateway_id = "gw06"

    def setUp(self):
        super().setUp()
        self.policy_dir = os.path.join(self.tmp, "policy")
        shutil.copytree(DEFAULT_POLICY_DIR, self.policy_dir)
        os.remove(os.path.join(self.policy_dir, "samples.jsonl"))

    def edit(self, name, old, new, count=1):
        path = os.path.join(self.policy_dir, name)
        with open(path, encoding="utf-8") as f:
            text = f.read()
        self.assertEqual(text.count(old), count, "%s: %r" % (name, old))
        with open(path, "w", encoding="utf-8") as f:
            f.write(text.replace(old, new))

    def temperature(self, obs, since, value=21.74):
        """Sends a device temperature; returns what the service received."""
        self.dev.publish(SENSOR, {"device_temperature": value})
        return decoded(obs.expect(on_topic(SERVICE), since=since))

    def test_invalid_policy_is_rejected_and_the_old_one_keeps_working(self):
        local, upstream, obs, daemon, self.dev = self.world(policy_dir=self.policy_dir, grant=["analytics"])
        self.assertEqual(self.temperature(obs, 0), {"device_temperature": 22})

        self.edit("zigbee2mqtt.textproto", TEMPERATURE, TEMPERATURE.replace("step: 1", 'step: "one"'))
        daemon.hup()
        daemon.log.wait_for(REJECTED)
        self.assertRegex(daemon.log.text(), r"error: policy: %s:\d+:\d+: " % re.escape(
            os.path.join(self.policy_dir, "zigbee2mqtt.textproto")))
        self.assertEqual(daemon.log.count(r"info: reloaded: "), 0)

        mark = obs.mark()
        self.assertEqual(self.temperature(obs, mark), {"device_temperature": 22})
        status = self.status(obs, daemon, lambda s: s["counters"]["reload_failures"] == 1, since=mark)
        self.assertEqual(status["policy"], {"name": "portier-defaults", "version": 1})
        self.assertEqual(status["counters"]["reloads"], 0)
        self.assertTrue(daemon.running())

    def test_changed_policy_applies_to_the_next_message(self):
        local, upstream, obs, daemon, self.dev = self.world(policy_dir=self.policy_dir, grant=["analytics"])
        self.assertEqual(self.temperature(obs, 0), {"device_temperature": 22})

        self.edit("zigbee2mqtt.textproto", TEMPERATURE, TEMPERATURE.replace("step: 1", "step: 5"))
        self.edit("purposes.textproto", "version: 1", "version: 2")
        daemon.hup()
        daemon.log.wait_for(RELOADED % 2)

        mark = obs.mark()
        self.assertEqual(self.temperature(obs, mark), {"device_temperature": 20})
        status = self.status(obs, daemon, lambda s: s["policy"]["version"] == 2, since=mark)
        self.assertEqual(status["counters"]["reloads"], 1)

    def test_removed_device_class_stops_its_messages_and_subscriptions(self):
        local, upstream, obs, daemon, self.dev = self.world(policy_dir=self.policy_dir, grant=["analytics"])
        plug = ("stat/kitchen-plug/POWER", b"ON")
        self.dev.publish(*plug)
        self.assertEqual(obs.expect(on_topic("portier/gw06/service/tasmota-power/+")).payload, b"ON")

        os.remove(os.path.join(self.policy_dir, "tasmota.textproto"))
        daemon.hup()
        daemon.log.wait_for(RELOADED % 1)
        daemon.log.wait_for(r"local broker: subscriptions updated, 0 added, 13 removed")
        local.log.wait_for(r"Received UNSUBSCRIBE from %s" % daemon.local_client_id)

        mark = obs.mark()
        self.dev.publish(*plug)
        self.assertEqual(self.temperature(obs, mark), {"device_temperature": 22})  # later: after the plug's too
        self.assertEqual(obs.seen(on_topic("portier/gw06/+/tasmota-power/+"), mark), [])

    def test_consent_preset_in_the_configuration_applies_only_at_first_start(self):
        """`grant:` in the configuration is a first-start preset (docs/CONFIGURATION.md); after
        that the household decides with portierctl (11_household), so a reload does not change
        consent: a later message still reaches service but never location."""
        local, upstream, obs, daemon, self.dev = self.world(grant=["analytics"])
        motion = ("zigbee2mqtt/Hallway motion", {"occupancy": True, "battery": 100})
        self.dev.publish(*motion)
        obs.expect(on_topic("portier/gw06/service/zigbee2mqtt-device/+"))

        daemon.configure(grant=["analytics", "location"])
        daemon.hup()
        daemon.log.wait_for(RELOADED % 1)
        mark = obs.mark()
        self.dev.publish(*motion)
        obs.expect(on_topic("portier/gw06/service/zigbee2mqtt-device/+"), since=mark)
        self.assertEqual(obs.seen(on_topic("portier/gw06/location/#")), [])

if __name__ == "__main__":
    main()
