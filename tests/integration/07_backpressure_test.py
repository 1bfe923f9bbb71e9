"""07 backpressure: the spool is bounded in bytes. With spool { max_bytes: 65536 } (REFUSE_NEW),
upstream away and 1000 messages published, portierd takes what fits, pauses (disconnects from
the local broker, whose persistent session holds the rest) and the spool never grows past
max_bytes by more than the releases of one message: a message that arrives while the spool is
full is not taken (not acknowledged) and the broker delivers it again after the pause. Once
upstream is back every message arrives, none lost, in order; the same with upstream there all
along and a burst larger than the spool. Memory stays small throughout.

(Test history: with Paho as the ingress client a burst overran the bound, because the pause
waited for a library lock while Paho acknowledged what it queued meanwhile; 86 of 1,000 went
past the headroom under AddressSanitizer. portierd's own client checks the spool before it
takes each message, so nothing is stored beyond the bound, and spool_refused_full stays 0.)"""

import os
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (BENCH_POLICY, SANITIZED, GatewayTest, assert_holds, decoded, main, on_topic,  # noqa: E402
                     sequence_report, wait_until, write_policy)

COUNT = 1000
RATE = 300.0  # messages a second while filling: a steady device, not a burst
MAX_BYTES = 65536
SPOOL = "spool { max_bytes: %d }" % MAX_BYTES
RELEASES = "portier/gw07/bench/bench/+"
PAUSING = r"local broker: pausing, the spool is full"


def payload(seq):
    return {"seq": seq, "noise": "x" * 100}


class Backpressure(GatewayTest):
    gateway_id = "gw07"

    def fill_while_upstream_is_away(self):
        """portierd with a 64 KiB spool, upstream down, COUNT messages published at RATE: returns
        once portierd has paused (spool full) and the local broker holds the rest."""
        self.local = self.local_broker()
        self.upstream = self.upstream_broker(persistence=True)
        self.obs = self.persistent_observer(self.upstream)
        self.upstream.stop()
        self.daemon = self.portierd(self.local, self.upstream, policy_dir=write_policy(self.tmp, BENCH_POLICY),
                                    wait_connected=False, extra=SPOOL)
        self.daemon.wait_connected(upstream=False)
        self.rss_before = self.daemon.rss_kb()
        self.disk = self.sampler(self.daemon.spool_disk_bytes)

        dev = self.steady_publisher(self.local, "bench/counter", payload, rate=RATE, limit=COUNT)
        wait_until(lambda: dev.count() >= COUNT, timeout=COUNT / RATE + 10, what="%d messages published" % COUNT)
        dev.stop()  # waits until the local broker accepted every one
        self.assertEqual(sorted(dev.accepted()), list(range(COUNT)))
        self.daemon.log.wait_for(PAUSING)
        # Paused = disconnected from the local broker, which keeps the session and the rest.
        self.local.log.wait_for(r"Client %s disconnected" % self.daemon.local_client_id)

    def taken(self):
        return self.local.taken_by(self.daemon.local_client_id)

    def bound(self):
        """max_bytes + the largest frame in the spool (one message, one release here)."""
        return MAX_BYTES + max(f.length for f in self.daemon.spool_frames())

    def test_pauses_when_full_and_the_spool_stays_bounded_while_upstream_is_away(self):
        self.fill_while_upstream_is_away()
        taken = self.taken()
        self.assertLess(taken, COUNT, "portierd took everything: it never paused")
        # Paused: it takes nothing more and the spool does not grow while upstream is away.
        on_disk = self.daemon.spool_disk_bytes()
        assert_holds(lambda: self.taken() == taken and self.daemon.spool_disk_bytes() == on_disk
                     and not self.daemon.log.count(r"resuming"), 1.0, "portierd stays paused and takes nothing more")
        self.assertGreaterEqual(on_disk, MAX_BYTES, "paused before the spool was full")
        self.assertLessEqual(on_disk, self.bound())
        self.assertLessEqual(self.disk.stop().max(), self.bound(), "the spool outgrew max_bytes + one message")
        frames = self.daemon.spool_frames()
        self.assertEqual(sum(f.length for f in frames), on_disk)  # whole frames only, all readable
        self.assertEqual([f.seq for f in frames], list(range(1, len(frames) + 1)))
        self.assertTrue(all(f.crc_ok and f.purpose == "bench" for f in frames))
        self.assertLess(len(frames), COUNT)  # one release per message: not all of them
        self.assertEqual(self.daemon.log.count(r"spool refused a release|beyond max_bytes"), 0)
        if not SANITIZED:
            self.assertLess(self.daemon.rss_kb() - self.rss_before, 16 * 1024)
        self.assertTrue(self.daemon.running())

    def test_every_message_arrives_in_order_once_upstream_is_back(self):
        self.fill_while_upstream_is_away()
        bound = self.bound()
        self.upstream.start()
        self.obs.start()
        self.daemon.wait_connected(local=False)
        c = self.status(self.obs, self.daemon, lambda s: s["state"] == "online")["counters"]
        # The status sent on connecting shows the pause and what waited in the spool.
        self.assertGreaterEqual(c["ingress_pauses"], 1, c)
        self.assertLessEqual(c["spool_bytes"], bound, c)
        self.assertLess(c["received"], COUNT, c)

        got = self.obs.expect_count(on_topic(RELEASES), COUNT, what="all releases")
        seqs = [decoded(m)["seq"] for m in got]
        r = sequence_report(seqs, range(COUNT))
        self.assertEqual(r["missing"], [], "lost releases")
        self.assertEqual(seqs, list(range(COUNT)), "releases out of order or sent twice: %r" % r)
        for m in got:
            self.assertEqual(decoded(m), {"seq": decoded(m)["seq"]})  # `noise` is not in the policy

        status = self.status(self.obs, self.daemon, lambda s: s["state"] == "online"
                             and s["counters"]["acknowledged"] >= COUNT and s["counters"]["spool_pending"] == 0,
                             what="a status with everything sent")
        c = status["counters"]
        self.assertEqual(c["received"], COUNT)
        self.assertEqual(c["spool_appended"], COUNT)
        self.assertGreaterEqual(c["ingress_pauses"], 1)
        self.assertGreaterEqual(self.daemon.log.count(r"local broker: resuming, the spool has room again"), 1)
        self.assertEqual(self.daemon.log.count(r"spool refused a release"), 0)
        # Catching up, the local broker sends its backlog as a burst: still within the bound.
        self.assertLessEqual(self.disk.stop().max(), bound, c)
        self.assertEqual(c["spool_refused_full"], 0, c)

        growth = self.daemon.rss_kb() - self.rss_before
        if not SANITIZED:
            self.assertLess(growth, 16 * 1024, "RSS grew by %d kB" % growth)
        self.assertTrue(self.daemon.running())

    def test_burst_larger_than_the_spool_arrives_complete_with_upstream_connected(self):
        local, upstream, obs, daemon, dev = self.world(policy_dir=write_policy(self.tmp, BENCH_POLICY), extra=SPOOL)
        disk = self.sampler(daemon.spool_disk_bytes)
        frames = self.sampler(lambda: max([f.length for f in daemon.spool_frames()] or [0]), interval=0.2)
        for seq in range(COUNT):
            dev.publish("bench/counter", payload(seq), wait=False)
        got = obs.expect_count(on_topic(RELEASES), COUNT, what="all releases")
        self.assertEqual([decoded(m)["seq"] for m in got], list(range(COUNT)))
        status = self.status(obs, daemon, lambda s: s["state"] == "online" and s["counters"]["spool_pending"] == 0
                             and s["counters"]["acknowledged"] >= COUNT, what="a status with everything sent")
        c = status["counters"]
        self.assertEqual(c["spool_appended"], COUNT)
        self.assertLessEqual(disk.stop().max(), MAX_BYTES + frames.stop().max(), c)
        self.assertEqual(c["spool_refused_full"], 0, c)
        self.assertEqual(daemon.log.count(r"spool refused a release"), 0)


    def test_qos0_messages_that_arrive_while_full_are_taken_not_dropped(self):
        # A local broker that does not upgrade QoS delivers QoS 0 messages at QoS 0: one that
        # arrives while the spool is full cannot be left with the broker (nothing redelivers it),
        # so portierd takes it, and also those still in the socket when it disconnects. Every
        # message the broker handed over is in the spool. (It used to refuse them like QoS 1
        # ones and drop what was still in the socket: 110 of 672 in the first run of this test.)
        local = self.local_broker(upgrade_qos=False)
        upstream = self.upstream_broker()
        upstream.stop()
        daemon = self.portierd(local, upstream, policy_dir=write_policy(self.tmp, BENCH_POLICY),
                               wait_connected=False, extra=SPOOL)
        daemon.wait_connected(upstream=False)
        dev = self.device(local)
        for seq in range(COUNT):
            dev.publish("bench/counter", payload(seq), qos=0, wait=False)
        daemon.log.wait_for(PAUSING)
        local.log.wait_for(r"Client %s disconnected" % daemon.local_client_id)
        handed = local.log.count(r"Sending PUBLISH to %s \(d0, q0," % daemon.local_client_id)
        self.assertGreater(handed, 0)
        # All of them, also those already on their way when it paused: they go past max_bytes
        # (by what the sockets held), not lost.
        wait_until(lambda: len(daemon.spool_frames()) >= handed, what="%d records in the spool" % handed)
        self.assertEqual(len(daemon.spool_frames()), handed)

if __name__ == "__main__":
    main()
