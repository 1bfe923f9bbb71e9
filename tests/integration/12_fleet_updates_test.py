"""12 fleet updates: signed policy bundles over a real TLS broker to three real gateways (gw-a, gw-b,
gw-c) of one fleet, as an operator would do it with portier-policy (keygen, keylist, sign,
publish-keylist, publish). A fleet bundle reaches every gateway, a gateway bundle only its
gateway; replays and tampered bundles change nothing and are reported; and a policy swap in the
middle of a stream of messages splits it cleanly: each message is evaluated by exactly one policy,
the old one up to a point and the new one after it."""

import os
import subprocess
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (PORTIER_POLICY, GatewayTest, cert, decoded, main, on_topic, sequence_report,  # noqa: E402
                     wait_until)

FLEET = "fleet1"
GATEWAYS = ("gw-a", "gw-b", "gw-c")

# Bundle N carries policy version N; the round step tells which policy evaluated a message.
POLICY = """
name: "fleet"
version: %(version)d
purpose {
  id: "bench"
  title: "Bench"
  description: "Rounded values, for tests."
  legal_basis: CONTRACT
  retention_seconds: 3600
}
device_class {
  id: "bench"
  title: "Bench device"
  topic: "bench/{device}"
  field { path: "seq" title: "sequence number" rule { purpose: "bench" keep {} } }
  field { path: "value" title: "a value" rule { purpose: "bench" round { step: %(step)d } } }
  field { path: "other" title: "another value" rule { purpose: "bench" round { step: %(step)d } } }
}
"""
V1_STEP, V2_STEP = 10, 100
VALUE, OTHER = 1234, 5678


def reading(seq):
    return {"seq": seq, "value": VALUE, "other": OTHER}


def evaluated_by(body):
    """Which policy produced this release: "v1" (step 10), "v2" (step 100), or None (neither:
    e.g. one field rounded by each)."""
    for name, value, other in (("v1", 1230, 5680), ("v2", 1200, 5700)):
        if body == {"seq": body.get("seq"), "value": value, "other": other}:
            return name
    return None


class FleetUpdates(GatewayTest):

    def setUp(self):
        super().setUp()
        self.ops = os.path.join(self.tmp, "operator")
        os.makedirs(self.ops)
        self.tool("keygen", "--out", self.op_file("root"))
        self.tool("keygen", "--out", self.op_file("release"))
        self.tool("keylist", "--root", self.op_file("root.key"), "--version", "1", "--expires", "1d",
                  "--key", self.op_file("release.pub"), "--out", self.op_file("keys-v1.bin"))

        self.local = self.local_broker()
        self.upstream = self.upstream_broker()
        self.obs = self.observer(self.upstream)
        updates = 'updates { root_key_file: "%s" fleet: "%s" }' % (self.op_file("root.pub"), FLEET)
        self.gw = {}
        for gid in GATEWAYS:
            self.gw[gid] = self.portierd(self.local, self.upstream, gateway_id=gid, extra=updates)
        self.dev = self.device(self.local)

        mark = self.obs.mark()
        self.publish("publish-keylist", self.op_file("keys-v1.bin"), "--fleet", FLEET)
        for gid in GATEWAYS:
            self.update_report(gid, lambda u: u["kind"] == "key_list" and u["version"] == 1 and
                               u["outcome"] == "applied", mark)

    # --- the operator's side --------------------------------------------------------------------

    def op_file(self, name):
        return os.path.join(self.ops, name)

    def tool(self, *args):
        r = subprocess.run([PORTIER_POLICY] + list(args), capture_output=True, text=True, timeout=60)
        if r.returncode != 0:
            raise AssertionError("portier-policy %s: exit %d\n%s%s" % (" ".join(args), r.returncode, r.stdout,
                                                                       r.stderr))
        return r.stdout

    def sign(self, sequence, step, *target, note=None):
        """A bundle with sequence N carrying policy version N that rounds to `step`."""
        d = self.op_file("policy-%d" % sequence)
        os.makedirs(d)
        with open(os.path.join(d, "policy.textproto"), "w") as f:
            f.write(POLICY % dict(version=sequence, step=step))
        out = self.op_file("bundle-%d.bin" % sequence)
        self.tool("sign", "--key", self.op_file("release.key"), "--sequence", str(sequence), "--expires", "1d",
                  *target, "--note", note or "bundle %d" % sequence, "--out", out, d)
        return out

    def publish(self, command, path, *target):
        self.tool(command, "--broker", "ssl://127.0.0.1:%d" % self.upstream.port, "--cafile", cert("ca.crt"),
                  "--timeout", "10", *target, path)

    # --- what the gateways report ---------------------------------------------------------------

    def statuses(self, gid, since=0):
        topic = self.gw[gid].status_topic
        return [s for s in (decoded(m) for m in self.obs.seen(on_topic(topic), since))
                if isinstance(s, dict) and s.get("state") == "online"]

    def update_report(self, gid, pred, since=0):
        """The first status of gid (from `since`) whose policy_update satisfies pred; returns the status."""
        return self.status(self.obs, self.gw[gid],
                           lambda s: s.get("state") == "online" and "policy_update" in s and pred(s["policy_update"]),
                           since=since, what="a status of %s with a matching policy_update" % gid)

    def applied(self, gid, sequence, since=0):
        s = self.update_report(gid, lambda u: u["kind"] == "bundle" and u["sequence"] == sequence and
                               u["outcome"] == "applied" and u["applied_sequence"] == sequence, since)
        self.assertEqual(s["policy"], {"name": "fleet", "version": sequence})
        return s

    def rejected(self, gid, reason, since=0, sequence=None):
        return self.update_report(gid, lambda u: u["kind"] == "bundle" and u["outcome"] == "rejected" and
                                  u["reason"] == reason and (sequence is None or u["sequence"] == sequence), since)

    def latest(self, gid):
        """The newest online status of gid, waiting for one newer than everything seen now."""
        mark = self.obs.mark()
        return self.status(self.obs, self.gw[gid], lambda s: s.get("state") == "online", since=mark)

    def results(self, gid, since=0):
        """(seq, which policy) of gid's bench releases, in arrival order."""
        out = []
        for m in self.obs.seen(on_topic("portier/%s/bench/bench/+" % gid), since):
            body = decoded(m)
            out.append((body.get("seq") if isinstance(body, dict) else None,
                        evaluated_by(body) if isinstance(body, dict) else None))
        return out

    # --- the tests ------------------------------------------------------------------------------

    def roll_out_fleet_bundle(self):
        bundle = self.sign(10, V1_STEP, "--fleet")
        mark = self.obs.mark()
        self.publish("publish", bundle, "--fleet", FLEET)
        for gid in GATEWAYS:
            self.applied(gid, 10, mark)
        return bundle

    def test_fleet_bundle_then_one_gateways_bundle_splits_a_stream_cleanly(self):
        self.roll_out_fleet_bundle()

        # A steady stream from one device, seen by all three gateways.
        pub = self.steady_publisher(self.local, "bench/meter", reading, rate=150)
        start = self.obs.mark()
        for gid in GATEWAYS:
            wait_until(lambda: len(self.results(gid, start)) >= 20, what="%s to release under bundle 10" % gid)

        # Bundle 11, for gw-b only, on the fleet's topic: gw-b swaps mid-stream, the others decline.
        bundle = self.sign(11, V2_STEP, "--gateway", "gw-b")
        mark = self.obs.mark()
        self.publish("publish", bundle, "--fleet", FLEET)
        self.applied("gw-b", 11, mark)
        for gid in ("gw-a", "gw-c"):
            s = self.rejected(gid, "not-targeted", mark, sequence=11)
            self.assertEqual(s["policy_update"]["applied_sequence"], 10)
            self.assertEqual(s["policy"], {"name": "fleet", "version": 10})
        wait_until(lambda: sum(1 for _, p in self.results("gw-b", mark) if p == "v2") >= 30,
                   what="gw-b to release under bundle 11")
        pub.stop()
        sent = pub.accepted()
        self.assertGreater(len(sent), 50)
        for gid in GATEWAYS:
            try:
                wait_until(lambda: set(sent) <= {seq for seq, _ in self.results(gid, start)},
                           what="%s to release every message sent" % gid)
            except AssertionError as e:
                # Say which messages are missing, and what the gateway last reported.
                missing = sorted(set(sent) - {seq for seq, _ in self.results(gid, start)})
                raise AssertionError("%s; %d of %d missing (first %r); %s status: %r" % (
                    e, len(missing), len(sent), missing[:10], gid, (self.statuses(gid) or [None])[-1])) from None

        for gid in GATEWAYS:
            got = self.results(gid, start)
            # Every message released exactly once, in order, by exactly one of the two policies.
            report = sequence_report([seq for seq, _ in got], set(sent))
            self.assertEqual((report["missing"], report["unexpected"], report["duplicates"], report["in_order"]),
                             ([], [], 0, True), "%s: %r" % (gid, report))
            self.assertEqual([r for r in got if r[1] is None], [], "%s: a release neither policy makes" % gid)
            kinds = [p for _, p in got]
            if gid == "gw-b":
                first_v2 = kinds.index("v2")
                self.assertGreater(first_v2, 0, "gw-b: no release under bundle 10 in the stream")
                self.assertEqual(set(kinds[first_v2:]), {"v2"}, "gw-b: a bundle-10 release after bundle 11's")
                last_v1_seq = max(seq for seq, p in got if p == "v1")
                first_v2_seq = min(seq for seq, p in got if p == "v2")
                self.assertEqual(first_v2_seq, last_v1_seq + 1)
            else:
                self.assertEqual(set(kinds), {"v1"}, gid)

        counters = {gid: self.latest(gid)["counters"] for gid in GATEWAYS}
        self.assertEqual({gid: (c["updates_applied"], c["updates_rejected"]) for gid, c in counters.items()},
                         {"gw-a": (1, 1), "gw-b": (2, 0), "gw-c": (1, 1)})

    def test_replayed_and_tampered_bundles_change_nothing_and_are_reported(self):
        bundle10 = self.roll_out_fleet_bundle()
        bundle11 = self.sign(11, V2_STEP, "--gateway", "gw-b")
        mark = self.obs.mark()
        self.publish("publish", bundle11, "--gateway", "gw-b")
        self.applied("gw-b", 11, mark)

        # A recorded old bundle replayed on gw-b's own topic: a rollback.
        mark = self.obs.mark()
        self.publish("publish", bundle10, "--gateway", "gw-b")
        s = self.rejected("gw-b", "rollback", mark, sequence=10)
        self.assertEqual(s["policy_update"]["applied_sequence"], 11)
        self.assertEqual(s["policy"], {"name": "fleet", "version": 11})
        # On gw-a's own topic it is the bundle gw-a runs: recognised, not reported as an attack
        # (the tampered bundle below, handled after it, shows it was handled).
        self.publish("publish", bundle10, "--gateway", "gw-a")

        # A tampered bundle: one byte of its signed policy text flipped.
        with open(self.sign(12, V2_STEP, "--fleet", note="tamper-me"), "rb") as f:
            data = bytearray(f.read())
        at = data.index(b"tamper-me")
        data[at] ^= 0x20
        tampered = self.op_file("bundle-12-tampered.bin")
        with open(tampered, "wb") as f:
            f.write(data)
        r = subprocess.run([PORTIER_POLICY, "verify", "--root", self.op_file("root.pub"), "--keylist",
                            self.op_file("keys-v1.bin"), tampered], capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn("bad-signature", r.stdout + r.stderr)
        self.publish("publish", tampered, "--fleet", FLEET)
        expected = {"gw-a": 10, "gw-b": 11, "gw-c": 10}
        for gid in GATEWAYS:
            s = self.rejected(gid, "bad-signature", mark)
            self.assertEqual(s["policy_update"]["applied_sequence"], expected[gid])

        for gid in GATEWAYS:
            s = self.latest(gid)
            self.assertEqual(s["policy"], {"name": "fleet", "version": expected[gid]}, gid)
            self.assertEqual(s["policy_update"]["applied_sequence"], expected[gid], gid)
        # Rejections: gw-a only the tampered one (the replay of what it runs is no attack), gw-b the
        # rollback and the tampered one, gw-c the tampered one.
        counters = {gid: self.latest(gid)["counters"] for gid in GATEWAYS}
        self.assertEqual({gid: (c["updates_applied"], c["updates_rejected"]) for gid, c in counters.items()},
                         {"gw-a": (1, 1), "gw-b": (2, 2), "gw-c": (1, 1)})
        gw_a_reports = [s["policy_update"] for s in self.statuses("gw-a", mark) if "policy_update" in s]
        self.assertNotIn("rollback", [u.get("reason") for u in gw_a_reports])

        # gw-b restarted: it runs bundle 11 from its state, and the retained replay of 10 on its
        # topic is still a rollback (the applied sequence survived), the tampered one still bad.
        gw_b = self.gw["gw-b"]
        self.assertEqual(gw_b.term(), 0)
        mark = self.obs.mark()
        gw_b.start()
        s = self.status(self.obs, gw_b, lambda s: s.get("state") == "online" and
                        s["counters"]["updates_rejected"] == 2, since=mark, what="gw-b's two rejections after restart")
        self.assertEqual(s["policy"], {"name": "fleet", "version": 11})
        self.assertEqual(s["policy_update"]["applied_sequence"], 11)
        self.assertEqual(s["counters"]["updates_applied"], 0)
        reasons = {u["reason"] for u in (x.get("policy_update", {}) for x in self.statuses("gw-b", mark))
                   if u.get("outcome") == "rejected"}
        self.assertEqual(reasons, {"rollback", "bad-signature"})

        # And what they now release follows the policy each runs.
        mark = self.obs.mark()
        self.dev.publish("bench/meter", reading(1))
        for gid in GATEWAYS:
            m = self.obs.expect(on_topic("portier/%s/bench/bench/+" % gid), since=mark)
            self.assertEqual(evaluated_by(decoded(m)), "v2" if gid == "gw-b" else "v1", gid)


if __name__ == "__main__":
    main()
