"""20 Home Assistant: with `home_assistant {}` portierd announces itself through MQTT discovery on
the local broker (retained configs for two counters, a binary sensor and a switch, retained
availability and state) on a session of its own. The switch is one-way: ON from the broker
pauses portierd like the household would (receipt with method "home-assistant"), so a device's
next message does not leave; OFF is refused and counted, and the switch's real state is published
again; only `portierctl resume` resumes, and the state topic then says OFF. Portier's own topics,
seen through `unmatched.observe: "#"`, are never counted as received or unmatched."""

import json
import os
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (ControlGatewayTest, ctl_counter, decoded, main, on_topic, wait_until,  # noqa: E402
                     write_policy)

POLICY = """
name: "home-assistant"
version: 1
purpose {
  id: "service"
  title: "Service"
  description: "Runs unless refused."
  legal_basis: CONTRACT
  retention_seconds: 3600
}
device_class {
  id: "bench"
  title: "Bench device"
  topic: "bench/{device}"
  field { path: "seq" rule { purpose: "service" keep {} } }
}
"""

GW = "gw20"
NODE = "portier-" + GW
BASE = "portier/%s/ha" % GW
COMMAND = BASE + "/pause/set"
CONFIGS = {
    "homeassistant/sensor/%s/released/config" % NODE: "released",
    "homeassistant/sensor/%s/dropped/config" % NODE: "dropped",
    "homeassistant/binary_sensor/%s/paused/config" % NODE: "paused",
    "homeassistant/switch/%s/pause/config" % NODE: "pause",
}
EXTRA = 'home_assistant { state_interval_seconds: 5 }\nunmatched { observe: "#" }'


def payload_is(text):
    return lambda m: m.payload == text.encode()


class HomeAssistant(ControlGatewayTest):
    gateway_id = GW

    def setUp(self):
        super().setUp()
        self.policy_dir = write_policy(self.tmp, POLICY, "policy-ha")
        self.local = self.local_broker()
        self.upstream = self.upstream_broker()
        self.obs = self.observer(self.upstream)
        self.daemon = self.controlled_portierd(self.local, self.upstream, policy_dir=self.policy_dir,
                                               extra=EXTRA)
        self.daemon.log.wait_for(r"home-assistant broker \S+: connected as portier-%s-ha" % GW)
        self.ha = self.observer(self.local, topics=("homeassistant/#", BASE + "/#"))
        self.dev = self.device(self.local)

    def release_of(self, seq):
        return lambda m: m.topic.startswith("portier/%s/service/bench/" % GW) and (decoded(m) or {}).get("seq") == seq

    def test_discovery_configs_and_state_are_retained(self):
        # A client that subscribes later (as Home Assistant after a restart) gets all of it.
        for topic, obj in CONFIGS.items():
            m = self.ha.expect(on_topic(topic), what="the retained config " + topic)
            self.assertTrue(m.retain, topic)
            cfg = json.loads(m.payload)
            self.assertEqual(cfg["unique_id"], "%s_%s" % (NODE, obj))
            self.assertEqual(cfg["availability_topic"], BASE + "/availability")
            self.assertEqual(cfg["device"]["identifiers"], [NODE])
        sensors = {CONFIGS[m.topic]: json.loads(m.payload) for m in self.ha.seen(lambda m: m.topic in CONFIGS)}
        self.assertEqual(sensors["released"]["state_class"], "total_increasing")
        self.assertEqual(sensors["dropped"]["state_class"], "total_increasing")
        self.assertEqual(sensors["pause"]["command_topic"], COMMAND)
        self.assertEqual(sensors["pause"]["state_topic"], BASE + "/paused")
        self.assertTrue(self.ha.expect(on_topic(BASE + "/availability"), what="availability").retain)
        self.assertEqual(self.ha.expect(on_topic(BASE + "/paused"), what="paused").payload, b"OFF")
        self.ha.expect(on_topic(BASE + "/released"), what="the released count")

        # The counts follow what happens (at most every 5 s).
        mark = self.ha.mark()
        self.dev.publish("bench/d1", {"seq": 1})
        self.obs.expect(self.release_of(1), what="the release of seq 1")
        self.ha.expect(lambda m: m.topic == BASE + "/released" and int(m.payload) >= 1, since=mark,
                       timeout=15, what="the released count to reach 1")

        # Portier's own topics reach the ingress (observe "#") and are skipped, not counted.
        status = self.daemon.ctl_status()
        self.assertEqual(ctl_counter(status, "received"), 1)
        self.assertEqual(ctl_counter(status, "dropped.unmatched_topic"), 0)
        self.assertEqual(self.daemon.ctl_ok("unmatched").get("shape", []), [])

        # A clean stop says offline (retained).
        mark = self.ha.mark()
        self.assertEqual(self.daemon.term(), 0)
        self.ha.expect(lambda m: m.topic == BASE + "/availability" and m.payload == b"offline", since=mark,
                       what="offline on a clean stop")

    def test_on_pauses_off_is_refused_and_only_the_household_resumes(self):
        self.ha.expect(lambda m: m.topic == BASE + "/paused" and m.payload == b"OFF", what="paused OFF")
        self.dev.publish("bench/d1", {"seq": 1})
        self.obs.expect(self.release_of(1), what="the release of seq 1")

        # ON from anyone on the local broker: paused, with a receipt like any household pause.
        mark = self.ha.mark()
        self.dev.publish(COMMAND, "ON")
        wait_until(lambda: self.daemon.ctl_status()["paused"], what="portierd to pause")
        self.ha.expect(lambda m: m.topic == BASE + "/paused" and m.payload == b"ON", since=mark,
                       what="the switch to show ON")
        self.assertEqual(ctl_counter(self.daemon.ctl_status(), "ha_pause_commands"), 1)
        export = os.path.join(self.tmp, "export.json")
        self.daemon.ctl_ok("export", export)
        with open(export) as f:
            receipts = json.load(f)["receipts"]
        self.assertEqual([(r["decision"], r["method"]) for r in receipts if r["decision"] == "paused"],
                         [("paused", "home-assistant")])

        # A device's next message does not leave.
        upstream_mark = self.obs.mark()
        self.dev.publish("bench/d1", {"seq": 2})
        wait_until(lambda: ctl_counter(self.daemon.ctl_status(), "dropped.paused") == 1,
                   what="seq 2 to be dropped as paused")

        # OFF is refused: still paused, counted, and the real state (ON) is published again.
        mark = self.ha.mark()
        self.dev.publish(COMMAND, "OFF")
        wait_until(lambda: ctl_counter(self.daemon.ctl_status(), "ha_resume_refused") == 1,
                   what="the resume to be refused")
        self.ha.expect(lambda m: m.topic == BASE + "/paused" and m.payload == b"ON", since=mark,
                       what="the switch's real state again")
        self.assertTrue(self.daemon.ctl_status()["paused"])
        # Anything else is counted as invalid, and its content is not logged.
        self.dev.publish(COMMAND, "resume-now-please")
        wait_until(lambda: ctl_counter(self.daemon.ctl_status(), "ha_commands_invalid") == 1,
                   what="the invalid command to be counted")
        self.assertTrue(self.daemon.ctl_status()["paused"])
        self.assertEqual(self.daemon.log.count("resume-now-please"), 0)
        self.assertEqual(self.obs.seen(self.release_of(2), upstream_mark), [])

        # The household resumes; the state topic says OFF, and the next message leaves.
        mark = self.ha.mark()
        self.assertFalse(self.daemon.ctl_ok("resume")["paused"])
        self.ha.expect(lambda m: m.topic == BASE + "/paused" and m.payload == b"OFF", since=mark,
                       what="the switch to show OFF after portierctl resume")
        self.dev.publish("bench/d1", {"seq": 3})
        self.obs.expect(self.release_of(3), since=upstream_mark, what="the release of seq 3")
        self.assertEqual(self.obs.seen(self.release_of(2), upstream_mark), [])
        status = self.daemon.ctl_status()
        self.assertEqual(ctl_counter(status, "received"), 3)
        self.assertEqual(ctl_counter(status, "dropped.unmatched_topic"), 0)


if __name__ == "__main__":
    main()
