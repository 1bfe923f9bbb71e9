"""17 unmatched shapes: messages no device class takes, with people's names in their topics,
keys and values, reach portierd through the policy's own subscriptions (an OwnTracks-like
message type its class does not know) and through `unmatched.observe` (rtl_433, which the policy
does not cover at all). `portierctl unmatched --json` lists their shapes (topic levels as "+",
keys that may be names as "*", key paths with types, counts) and nothing of the names or values;
the status counts them; the shapes survive a restart; `portier-policy suggest` drafts a class
from them that compiles with the policy and releases nothing; `--clear` and erasure forget them."""

import json
import os
import subprocess
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (PORTIER_POLICY, ControlGatewayTest, ctl_counter, main, on_topic,  # noqa: E402
                     wait_until, write_policy)

POLICY = """
name: "unmatched"
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
device_class {
  id: "tracker-location"
  title: "Tracker location"
  topic: "tracker/{user}/{device}"
  device_id: "{user}/{device}"
  when { path: "_type" equals: "location" }
  field { path: "acc" rule { purpose: "service" keep {} } }
}
"""

GW = "gw17"
EXTRA = 'unmatched { max_shapes: 16 observe: "rtl_433/#" }'

# What the household's devices say: names of people and rooms, places, readings.
SECRETS = ["Anna", "Smith", "iPhone", "Bob", "laptop", "office", "Kitchen", "21.7", "19.4",
           "52.374", "Acurite"]

MESSAGES = [
    ("rtl_433/Anna-Smith-laptop/Acurite-Tower/1234",
     {"model": "Acurite-Tower", "temperature_C": 21.7, "owner": "Anna Smith", "Anna Smith": {"rssi": -61}}),
    ("rtl_433/Bob-laptop/Acurite-Tower/77",
     {"model": "Acurite-Tower", "temperature_C": 19.4, "battery_ok": 1}),
    ("tracker/anna.smith/Annas-iPhone",
     {"_type": "transition", "desc": "Anna's office", "lat": 52.374, "event": "enter"}),
    ("tracker/bob/Kitchen tablet", {"_type": "waypoint", "desc": "Bob's office", "lat": 52.374}),
]


def shapes_by_topic(answer):
    return {s["topic"]: s for s in answer.get("shape", [])}


def paths_of(shape):
    return {p["path"]: p["types"] for p in shape["path"]}


class Unmatched(ControlGatewayTest):
    gateway_id = GW

    def setUp(self):
        super().setUp()
        self.policy_dir = write_policy(self.tmp, POLICY, "policy-unmatched")
        self.local = self.local_broker()
        self.upstream = self.upstream_broker()
        self.obs = self.observer(self.upstream)
        self.daemon = self.controlled_portierd(self.local, self.upstream, policy_dir=self.policy_dir,
                                               extra=EXTRA)
        self.dev = self.device(self.local)

    def publish_all(self):
        before = ctl_counter(self.daemon.ctl_status(), "dropped.unmatched_topic")
        for topic, payload in MESSAGES:
            self.dev.publish(topic, payload)
        wait_until(lambda: ctl_counter(self.daemon.ctl_status(), "dropped.unmatched_topic") == before + len(MESSAGES),
                   what="portierd to drop the %d messages as unmatched_topic" % len(MESSAGES))

    def assert_no_secret(self, text, where):
        for s in SECRETS:
            self.assertNotIn(s, text, "%s holds %r:\n%s" % (where, s, text))

    def test_shapes_without_names_survive_a_restart_and_become_a_draft(self):
        self.publish_all()
        answer = self.daemon.ctl_ok("unmatched")
        self.assert_no_secret(json.dumps(answer), "portierctl unmatched --json")
        shapes = shapes_by_topic(answer)
        self.assertEqual(set(shapes), {"rtl_433/+/+/+", "tracker/+/+"})
        rtl = shapes["rtl_433/+/+/+"]
        self.assertEqual(rtl["messages"], "2")
        self.assertEqual(rtl["formats"], ["json"])
        self.assertEqual(paths_of(rtl), {"*.rssi": ["number"], "battery_ok": ["number"], "model": ["string"],
                                         "owner": ["string"], "temperature_C": ["number"]})
        tracker = shapes["tracker/+/+"]
        self.assertEqual(paths_of(tracker), {"_type": ["string"], "desc": ["string"], "event": ["string"],
                                             "lat": ["number"]})
        self.assertLessEqual(int(rtl["first_seen_ms"]), int(rtl["last_seen_ms"]))
        self.assertEqual(answer["max_shapes"], 16)

        # The status says how many kinds, never which.
        status = self.daemon.ctl_status()
        self.assertEqual(ctl_counter(status, "unmatched_shapes"), 2)
        self.assertEqual(ctl_counter(status, "unmatched_shapes_evicted"), 0)
        people = self.daemon.ctl("unmatched", as_json=False)
        self.assertEqual(people.rc, 0, people.err)
        self.assertIn("2 kinds of message no device class takes.", people.out)
        self.assertIn("\nrtl_433/+/+/+\n", people.out)
        self.assert_no_secret(people.out, "portierctl unmatched")

        # A restart keeps them (state_dir/unmatched.pb), shapes only.
        self.assertEqual(self.daemon.term(), 0)
        with open(os.path.join(self.daemon.state_dir, "unmatched.pb"), "rb") as f:
            self.assert_no_secret(f.read().decode("latin-1"), "unmatched.pb")
        self.daemon.start()
        wait_until(lambda: os.path.exists(self.daemon.control_socket), what="the control socket")
        after = shapes_by_topic(self.daemon.ctl_ok("unmatched"))
        self.assertEqual({t: s["messages"] for t, s in after.items()}, {"rtl_433/+/+/+": "2", "tracker/+/+": "2"})
        self.assertEqual(paths_of(after["rtl_433/+/+/+"]), paths_of(rtl))
        self.assertEqual(ctl_counter(self.daemon.ctl_status(), "unmatched_shapes"), 2)

        # The draft: a class per shape, names nowhere, compiles with the policy, releases nothing.
        shapes_file = os.path.join(self.tmp, "shapes.json")
        with open(shapes_file, "w") as f:
            f.write(self.daemon.ctl("unmatched").out)
        draft = subprocess.run([PORTIER_POLICY, "suggest", shapes_file], capture_output=True, text=True,
                               timeout=60)
        self.assertEqual(draft.returncode, 0, draft.stderr)
        self.assert_no_secret(draft.stdout, "the draft")
        self.assertIn('topic: "rtl_433/{device}/+/+"', draft.stdout)
        self.assertIn('topic: "tracker/{device}/+"', draft.stdout)
        self.assertIn('path: "temperature_C"', draft.stdout)
        draft_file = os.path.join(self.tmp, "draft.textproto")
        with open(draft_file, "w") as f:
            f.write(draft.stdout)
        check = subprocess.run([PORTIER_POLICY, "check", self.policy_dir, draft_file], capture_output=True,
                               text=True, timeout=60)
        self.assertEqual(check.returncode, 0, check.stderr)
        self.assertIn("4 device classes", check.stdout)
        line = json.dumps({"topic": MESSAGES[0][0], "payload": MESSAGES[0][1]})
        run = subprocess.run([PORTIER_POLICY, "run", self.policy_dir, draft_file, "--grant-all"], input=line + "\n",
                             capture_output=True, text=True, timeout=60)
        self.assertEqual(run.returncode, 0, run.stderr)
        self.assertEqual(json.loads(run.stdout)["releases"], [])

    def test_clear_and_erasure_forget_the_shapes(self):
        self.publish_all()
        self.assertEqual(ctl_counter(self.daemon.ctl_status(), "unmatched_shapes"), 2)
        cleared = self.daemon.ctl_ok("unmatched", "--clear")
        self.assertEqual(cleared["cleared"], "2")
        self.assertEqual(self.daemon.ctl_ok("unmatched")["shape"], [])
        self.assertEqual(ctl_counter(self.daemon.ctl_status(), "unmatched_shapes"), 0)
        self.assertFalse(os.path.exists(os.path.join(self.daemon.state_dir, "unmatched.pb")))

        # Which shapes came from a device cannot be told: erasing any device forgets them all.
        self.publish_all()
        since = self.obs.mark()
        self.dev.publish("bench/d1", {"seq": 1})
        self.obs.expect(on_topic("portier/%s/service/bench/+" % GW), since=since, what="the bench release")
        erased = self.daemon.ctl_ok("erase", "--device", "d1")
        self.assertEqual(erased["unmatched_shapes_cleared"], "2")
        self.assertEqual(self.daemon.ctl_ok("unmatched")["shape"], [])
        self.assertEqual(self.daemon.term(), 0)
        self.daemon.start()
        wait_until(lambda: os.path.exists(self.daemon.control_socket), what="the control socket")
        self.assertEqual(self.daemon.ctl_ok("unmatched")["shape"], [])


if __name__ == "__main__":
    main()
