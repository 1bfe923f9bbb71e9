"""19 aggregation windows: one-minute windows (the shortest a policy may declare, released at their
end: spread_seconds 0) summed per device, with real brokers, across everything that can happen to
portierd in a window. Three devices share the same two windows, A and B, so that the whole test
takes about three minutes:

  a  "restart": ten messages in window A, with a SIGTERM, messages sent while portierd is away,
     and a SIGKILL in the middle: A leaves once with sum 10 (nothing lost, nothing counted twice);
  b  "outage": messages in A and in B while the upstream broker is down, from before A's end
     until after B's: each window leaves exactly once after it is back, with its own sum;
  n  "noisy": a noisy sum with epsilon 0.6 per window and a budget of 1 a day: A leaves (0.6 spent,
     as `portierctl purposes` says), portierd restarts, and B is budget_exhausted: the spend
     survived the restart; a reload that raises the budget is shown under the purpose.

A plain release sent after everything (a sentinel) arrives after every window release before
it, so "exactly once" is checked without waiting on the clock."""

import datetime
import os
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (ControlGatewayTest, ctl_counter, decoded, main, on_topic,  # noqa: E402
                     wait_until, write_policy)

POLICY = """
name: "windows"
version: 1
purpose {
  id: "analytics"
  title: "Analytics"
  description: "Sums per minute."
  legal_basis: CONTRACT
  retention_seconds: 3600
}
purpose {
  id: "research"
  title: "Research"
  description: "Noisy sums, within a daily privacy budget."
  legal_basis: CONTRACT
  retention_seconds: 3600
  epsilon_per_day: 1
}
device_class {
  id: "restart" topic: "restart/{device}"
  field { path: "n" rule { purpose: "analytics" aggregate { function: SUM window_seconds: 60 spread_seconds: 0 step: 1 } } }
}
device_class {
  id: "outage" topic: "outage/{device}"
  field { path: "n" rule { purpose: "analytics" aggregate { function: SUM window_seconds: 60 spread_seconds: 0 step: 1 } } }
}
device_class {
  id: "noisy" topic: "noisy/{device}"
  field { path: "n" rule { purpose: "research" aggregate { function: SUM window_seconds: 60 spread_seconds: 0 step: 1 noise { epsilon: 0.6 lower: 0 upper: 10 } } } }
}
device_class {
  id: "sentinel" topic: "sentinel/{device}"
  field { path: "seq" rule { purpose: "analytics" keep {} } }
}
"""

GW = "gw19"
WINDOW = 60


def window_of(t):
    return int(t // WINDOW) * WINDOW


def iso(t):
    return datetime.datetime.fromtimestamp(t, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class WindowsTest(ControlGatewayTest):

    gateway_id = GW

    def test_each_window_leaves_once_across_restarts_an_outage_and_a_spent_budget(self):
        local = self.local_broker()
        upstream = self.upstream_broker(persistence=True)
        # Its session waits at the upstream broker while the broker is down: nothing portierd
        # sends after the outage can slip past it.
        obs = self.persistent_observer(upstream, topics=("portier/%s/#" % GW,))
        policy_dir = write_policy(self.tmp, POLICY)
        d = self.controlled_portierd(local, upstream, policy_dir=policy_dir,
                                     extra="drain_timeout_ms: 300")
        dev = self.device(local)
        taken = [0]  # messages portierd acknowledged to the local broker, all devices

        def send(topic, payload):
            dev.publish(topic, payload)
            taken[0] += 1

        def all_taken():
            wait_until(lambda: local.taken_by(d.local_client_id) >= taken[0],
                       what="portierd to take %d messages" % taken[0])

        def started():
            d.start(wait_connected=False)
            d.wait_connected(upstream=upstream.running())
            wait_until(lambda: os.path.exists(d.control_socket), what="the control socket")

        # Window A: the current minute if enough of it is left, else the next one. A day's budget
        # must not roll over during the test (a new UTC day refills it).
        now = time.time()
        if now % 86400 > 86400 - 5 * WINDOW:
            wait_until(lambda: time.time() % 86400 < WINDOW, timeout=6 * WINDOW, what="the next UTC day")
            now = time.time()
        a = window_of(now) if now - window_of(now) < 15 else window_of(now) + WINDOW
        b = a + WINDOW
        wait_until(lambda: time.time() >= a + 1, timeout=WINDOW + 5, what="window A")

        # Window A. a: ten messages around a SIGTERM and a SIGKILL, three sent while portierd is away.
        for _ in range(3):
            send("restart/a", {"n": 1})
        send("noisy/n", {"n": 5})
        send("outage/b", {"n": 1})
        all_taken()
        self.assertEqual(d.term(), 0)
        started()
        for _ in range(2):
            send("restart/a", {"n": 1})
        all_taken()  # acknowledged, so journaled: the kill cannot make the broker send them again
        d.kill()
        for _ in range(3):  # the broker keeps them for portierd's persistent session
            send("restart/a", {"n": 1})
        started()
        for _ in range(2):
            send("restart/a", {"n": 1})
        # b: the upstream broker goes away before A's end, and stays away until after B's release.
        upstream.stop()
        for _ in range(2):
            send("outage/b", {"n": 1})
        all_taken()
        self.assertLess(time.time(), b - 3, "window A's part took too long for this machine")

        # A's windows are released into the spool at A's end: the noisy one spent 0.6 of 1.
        def research():
            return {p["id"]: p for p in d.ctl_ok("purposes")["purpose"]}["research"]

        wait_until(lambda: research()["epsilon_spent_today"] > 0, timeout=WINDOW + 10,
                   what="window A's noisy release")
        self.assertAlmostEqual(research()["epsilon_spent_today"], 0.6)
        self.assertAlmostEqual(research()["epsilon_per_day"], 1.0)
        self.assertIn("ε 0.6 of 1.0 spent today (the most of any device), 0.6 in all",
                      d.ctl("purposes", as_json=False).out)
        wait_until(lambda: ctl_counter(d.ctl_status(), "windows_released") == 3,
                   what="window A released for a, b and n")

        # Window B: b again, and n, whose budget must survive the restart below.
        wait_until(lambda: time.time() >= b + 1, timeout=WINDOW + 5, what="window B")
        for _ in range(4):
            send("outage/b", {"n": 1})
        send("noisy/n", {"n": 5})
        all_taken()
        self.assertEqual(d.term(), 0)
        started()
        wait_until(lambda: ctl_counter(d.ctl_status(), "dropped.budget_exhausted") >= 1,
                   timeout=WINDOW + 10, what="B's noisy window: budget_exhausted")
        wait_until(lambda: ctl_counter(d.ctl_status(), "windows_released") >= 1,
                   what="B's outage window released")
        status = d.ctl_status()
        self.assertEqual(ctl_counter(status, "windows_released"), 1)  # this run: b's B
        self.assertEqual(ctl_counter(status, "window_samples"), 0)    # all taken before it started
        self.assertEqual(ctl_counter(status, "released"), 0)
        self.assertEqual(ctl_counter(status, "windows_open"), 0)
        self.assertIn("ε 0.6 of 1.0 spent today", d.ctl("purposes", as_json=False).out)

        # The upstream broker is back: everything leaves, each window once, then the sentinel.
        upstream.start()
        obs.start()
        send("sentinel/s", {"seq": 1})
        obs.expect(on_topic("portier/%s/analytics/sentinel/+" % GW), timeout=30, what="the sentinel")

        def sums(purpose, cls):
            out = {}
            for m in obs.seen(on_topic("portier/%s/%s/%s/+" % (GW, purpose, cls))):
                body = decoded(m)
                self.assertEqual(body["window_seconds"], WINDOW)
                out.setdefault(body["window_start"], []).append(body["fields"]["n"])
            return out

        self.assertEqual(sums("analytics", "restart"), {iso(a): [{"sum": 10}]})
        self.assertEqual(sums("analytics", "outage"), {iso(a): [{"sum": 3}], iso(b): [{"sum": 4}]})
        noisy = sums("research", "noisy")
        self.assertEqual(list(noisy), [iso(a)])
        self.assertEqual(len(noisy[iso(a)]), 1)
        self.assertAlmostEqual(noisy[iso(a)][0]["epsilon"], 0.6)
        status = d.ctl_status()
        self.assertEqual(ctl_counter(status, "dropped.budget_exhausted"), 1)
        self.assertEqual(ctl_counter(status, "windows_lost"), 0)
        self.assertEqual(ctl_counter(status, "windows_journal_corrupt"), 0)
        self.assertEqual(ctl_counter(status, "windows_journal_torn"), 0)

        # A reload that raises research's budget widens what is released: the household is told.
        with open(os.path.join(policy_dir, "policy.textproto"), "w") as f:
            f.write(POLICY.replace("version: 1", "version: 2").replace("epsilon_per_day: 1", "epsilon_per_day: 2"))
        d.hup()
        d.log.wait_for(r"raises the daily privacy budget of purpose research from 1 to 2")
        text = d.ctl("purposes", as_json=False).out
        self.assertIn("ε 0.6 of 2.0 spent today", text)
        self.assertIn('The operator raised this budget from 1.0 to 2.0 a day on', text)
        self.assertIn('(policy "windows" version 2): more is told about each device.', text)
        self.assertEqual(d.term(), 0)


if __name__ == "__main__":
    main()
