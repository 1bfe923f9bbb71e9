"""07 backpressure: with a queue of 20 releases and upstream away, portierd takes about 20
messages and leaves the rest at the local broker (its persistent session); once upstream is
there, every one of 200 messages arrives, none lost, in order, and memory stays small.

Two of these scenarios currently fail because of a portierd deadlock (see `known_bug`); they
are marked as expected failures so that the suite stays usable, and report an unexpected
success once the deadlock is fixed."""

import json
import os
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import GatewayTest, assert_holds, decoded, known_bug, main, on_topic, wait_until  # noqa: E402

COUNT = 200
QUEUE = 20

BENCH_POLICY = """
name: "bench"
version: 1
purpose {
  id: "bench"
  title: "Bench"
  description: "Sequence numbers, for tests."
  legal_basis: CONTRACT
  retention_seconds: 3600
}
device_class {
  id: "bench"
  title: "Bench device"
  topic: "bench/{device}"
  field { path: "seq" title: "sequence number" rule { purpose: "bench" keep {} } }
}
"""


def write_bench_policy(tmp):
    d = os.path.join(tmp, "policy-bench")
    os.makedirs(d)
    with open(os.path.join(d, "bench.textproto"), "w") as f:
        f.write(BENCH_POLICY)
    return d


class Backpressure(GatewayTest):
    gateway_id = "gw07"

    def fill_while_upstream_is_away(self):
        """portierd with a queue of QUEUE, upstream down, COUNT messages published: returns once
        portierd has filled its queue (and the local broker holds the rest)."""
        self.local = self.local_broker()
        self.upstream = self.upstream_broker(persistence=True)
        self.obs = self.persistent_observer(self.upstream)
        self.upstream.stop()
        self.daemon = self.portierd(self.local, self.upstream, policy_dir=write_bench_policy(self.tmp),
                                    wait_connected=False, extra="queue { max_messages: %d }" % QUEUE)
        self.daemon.wait_connected(upstream=False)
        self.rss_before = self.daemon.rss_kb()

        dev = self.device(self.local)
        for seq in range(COUNT):
            dev.publish("bench/counter", {"seq": seq, "noise": "x" * 100}, wait=False)
        wait_until(lambda: self.local.log.count(r"Received PUBLISH from %s .*'bench/counter'" % dev.client_id) >= COUNT,
                   what="the local broker to accept all %d messages" % COUNT)
        # Each PUBACK portierd sends the local broker is a message it took.
        wait_until(lambda: self.taken() >= QUEUE, what="portierd to take %d messages" % QUEUE)

    def taken(self):
        return self.local.pubacks_from(self.daemon.local_client_id)

    def test_takes_no_more_than_the_queue_holds_while_upstream_is_away(self):
        self.fill_while_upstream_is_away()
        # One more may sit in the message callback, waiting for room.
        assert_holds(lambda: self.taken() <= QUEUE + 1, 1.0, "portierd takes no more than its queue holds")
        self.assertLess(self.daemon.rss_kb() - self.rss_before, 16 * 1024)
        self.assertTrue(self.daemon.running())

    # KNOWN BUG (portierd, found by this test): deadlock once the queue is full. The ingress
    # callback blocks in release_queue::push() on Paho's receive thread, which Paho C shares
    # between the local and the upstream client (and holds its library mutex meanwhile), so the
    # upstream connect / PUBACKs that would make room are never processed. Remove the decorator
    # when fixed; PORTIER_IT_STRICT=1 runs it as a plain test.
    @known_bug
    def test_every_message_arrives_in_order_once_upstream_is_back(self):
        self.fill_while_upstream_is_away()
        self.upstream.start()
        self.obs.start()
        self.daemon.wait_connected(local=False)
        first = self.obs.expect(lambda m: m.topic == self.daemon.status_topic)
        status = json.loads(first.payload)
        # The status sent on connecting shows what was held while upstream was away.
        self.assertLessEqual(status["counters"]["queued"] + status["counters"]["inflight"], QUEUE, status)
        self.assertLessEqual(status["counters"]["received"], QUEUE + 1, status)

        got = self.obs.expect_count(on_topic("portier/gw07/bench/bench/+"), COUNT, what="all releases")
        seqs = [decoded(m)["seq"] for m in got]
        self.assertEqual(sorted(set(seqs)), list(range(COUNT)), "lost releases")
        self.assertEqual(seqs, list(range(COUNT)), "releases out of order or sent twice")
        for m in got:
            self.assertEqual(decoded(m), {"seq": decoded(m)["seq"]})  # `noise` is not in the policy

        growth = self.daemon.rss_kb() - self.rss_before
        self.assertLess(growth, 16 * 1024, "RSS grew by %d kB" % growth)
        self.assertTrue(self.daemon.running())

    # The same KNOWN BUG, with upstream there all along: a burst larger than the queue fills it
    # faster than upstream acknowledges, and then nothing moves any more (not even the status).
    @known_bug
    def test_burst_larger_than_the_queue_arrives_complete_with_upstream_connected(self):
        local, upstream, obs, daemon, dev = self.world(policy_dir=write_bench_policy(self.tmp),
                                                       extra="queue { max_messages: %d }" % QUEUE)
        for seq in range(COUNT):
            dev.publish("bench/counter", {"seq": seq}, wait=False)
        got = obs.expect_count(on_topic("portier/gw07/bench/bench/+"), COUNT, what="all releases")
        self.assertEqual([decoded(m)["seq"] for m in got], list(range(COUNT)))


if __name__ == "__main__":
    main()
