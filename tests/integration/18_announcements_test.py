"""17 announcements: an ESPHome state ("87.5" on <node>/sensor/<object id>/state) says nothing of
what it measures; its Home Assistant discovery message does. Before the discovery message the
state stays home (unannounced_topic); after it, the state goes upstream as what was announced, a
battery level (to the service, to 1 %, per message: a temperature would go to analytics per
quarter hour, which 19_windows tests), under a pseudonym, and the service receives an inventory
(device class, unit, model, firmware) without names or MAC addresses. portierd remembers the
announcement across a restart: its resumed session at the local broker gets no retained
discovery message again, and here the device did not even retain it."""

import os
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import GatewayTest, decoded, main, on_topic, wait_until  # noqa: E402

NODE = "anna-bedroom"
STATE = "anna-bedroom/sensor/anna_bedroom_battery/state"
CONFIG = "homeassistant/sensor/anna-bedroom/anna_bedroom_battery/config"
DISCOVERY = {
    "dev_cla": "battery", "unit_of_meas": "%", "stat_cla": "measurement", "name": "Anna bedroom battery",
    "stat_t": STATE, "avty_t": "anna-bedroom/status", "uniq_id": "ESPsensoranna_bedroom_battery",
    "dev": {"ids": "a4cf12d4e5f6", "name": "Anna's bedroom", "sw": "2024.6.1 (config hash 0x1a2b3c4d)",
            "mdl": "esp32dev", "mf": "Espressif", "sa": "Anna's bedroom", "cns": [["mac", "a4cf12d4e5f6"]]},
}
BATTERY = "portier/gw17/service/esphome-battery/+"
INVENTORY = "portier/gw17/service/ha-discovery/+"
NEVER = [b"anna", b"Anna", b"a4cf12d4e5f6"]


class Announcements(GatewayTest):
    gateway_id = "gw17"

    def test_a_discovery_message_lets_a_state_leave_minimised_also_after_a_restart(self):
        local, upstream, obs, daemon, dev = self.world(grant=["analytics"])
        dev.publish(STATE, "87.5")  # not announced yet: stays home
        dev.publish(CONFIG, DISCOVERY)  # not retained: only portierd's table can remember it
        inventory = obs.expect(on_topic(INVENTORY), what="the inventory from the discovery message")
        self.assertEqual(decoded(inventory), {
            "dev_cla": "battery", "unit_of_meas": "%",
            "dev": {"ids": decoded(inventory)["dev"]["ids"], "sw": "2024.6.1 (config hash 0x1a2b3c4d)",
                    "mdl": "esp32dev", "mf": "Espressif"}})
        dev.publish(STATE, "87.5")
        first = obs.expect(on_topic(BATTERY), what="the announced battery level")
        self.assertEqual(first.payload, b"88")
        # The state before the announcement did not leave: this is the only one so far.
        self.assertEqual(len(obs.seen(on_topic(BATTERY))), 1)
        # The inventory and the state of one entity share the service's pseudonym, so the service
        # knows what the state is (another purpose would get another pseudonym).
        self.assertEqual(inventory.topic.rsplit("/", 1)[1], first.topic.rsplit("/", 1)[1])

        self.assertEqual(daemon.term(), 0)
        self.assertTrue(os.path.exists(os.path.join(daemon.state_dir, "announcements.pb")))
        mark = obs.mark()
        daemon.start()
        daemon.log.wait_for(r"announcements: 1 state topics known")
        dev.publish(STATE, "86")
        after = obs.expect(on_topic(BATTERY), since=mark, what="the battery level after the restart")
        self.assertEqual(after.payload, b"86")
        self.assertEqual(after.topic, first.topic)
        for m in obs.seen(lambda m: m.topic.startswith("portier/gw17/") and "/status" not in m.topic):
            for word in NEVER:
                self.assertNotIn(word, m.topic.encode() + m.payload, m.topic)

    def test_a_state_never_announced_is_dropped_and_counted(self):
        local, upstream, obs, daemon, dev = self.world(grant=["analytics"])
        dev.publish(STATE, "87.5")
        self.status(obs, daemon, lambda s: s["counters"]["dropped_by_reason"].get("unannounced_topic") == 1,
                    what="unannounced_topic counted")
        self.assertEqual(obs.seen(on_topic(BATTERY)), [])


if __name__ == "__main__":
    main()
