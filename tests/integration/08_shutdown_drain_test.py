"""08 shutdown drain: on SIGTERM portierd stops taking messages and keeps sending what waits in
its spool for at most drain_timeout_ms, then exits 0. If upstream comes back in time everything
arrives; if not, it gives up at the deadline, says how many releases stay in the spool, and the
next start (with upstream there) delivers them."""

import os
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import GatewayTest, decoded, main, on_topic, wait_until  # noqa: E402

DEVICE = "zigbee2mqtt/Hall sensor"
SERVICE = "portier/gw08/service/zigbee2mqtt-device/+"
COUNT = 10


class ShutdownDrain(GatewayTest):
    gateway_id = "gw08"

    def hold_releases(self, drain_timeout_ms):
        """portierd running with upstream away and COUNT releases in its spool."""
        local = self.local_broker()
        upstream = self.upstream_broker(persistence=True)
        obs = self.persistent_observer(upstream)
        upstream.stop()
        daemon = self.portierd(local, upstream, wait_connected=False, extra="drain_timeout_ms: %d" % drain_timeout_ms)
        daemon.wait_connected(upstream=False)
        dev = self.device(local)
        for n in range(COUNT):
            dev.publish(DEVICE, {"battery": n})
        wait_until(lambda: local.taken_by(daemon.local_client_id) >= COUNT, what="portierd to take the messages")
        wait_until(lambda: len(daemon.spool_frames()) >= COUNT, what="the releases in the spool")
        return local, upstream, obs, daemon

    def test_what_is_queued_arrives_when_upstream_returns_during_the_drain(self):
        drain_s = 15.0
        local, upstream, obs, daemon = self.hold_releases(int(drain_s * 1000))
        started = time.monotonic()
        daemon.send_term()
        daemon.log.wait_for(r"stopping: taking no new messages, sending the %d releases in the spool" % COUNT)
        upstream.start()
        obs.start()
        self.assertEqual(daemon.wait_exit(drain_s + 5), 0)
        self.assertLess(time.monotonic() - started, drain_s)
        got = obs.expect_count(on_topic(SERVICE), COUNT)
        self.assertEqual([decoded(m)["battery"] for m in got], list(range(COUNT)))
        self.assertEqual(daemon.log.count(r"drain deadline passed"), 0)
        self.assertRegex(daemon.log.text(), r"stopped: %d received, %d released, %d acknowledged upstream"
                         % (COUNT, COUNT, COUNT))
        # Its last word: offline, said by itself after the drain.
        last = obs.expect(lambda m: m.topic == daemon.status_topic and decoded(m)["state"] == "offline")
        self.assertLess(obs.messages.index(got[-1]), obs.messages.index(last))

    def test_drain_gives_up_at_its_deadline(self):
        drain_ms = 1500
        local, upstream, obs, daemon = self.hold_releases(drain_ms)
        started = time.monotonic()
        self.assertEqual(daemon.term(), 0)
        elapsed = time.monotonic() - started
        self.assertGreaterEqual(elapsed, drain_ms / 1000)
        self.assertLess(elapsed, drain_ms / 1000 + 5)
        self.assertRegex(daemon.log.text(),
                         r"warning: drain deadline passed: %d releases stay in the spool for the next start" % COUNT)
        self.assertEqual(len(daemon.spool_frames()), COUNT)  # still there, on disk
        return local, upstream, obs, daemon

    def test_what_stays_in_the_spool_at_the_deadline_arrives_after_the_next_start(self):
        local, upstream, obs, daemon = self.test_drain_gives_up_at_its_deadline()
        mark = obs.mark()
        upstream.start()
        obs.start()
        daemon.start(wait_connected=False)  # the same state directory
        daemon.wait_connected(local=False, count=1)  # its first upstream connection
        daemon.log.wait_for(r"spool: %d releases waiting from before the start" % COUNT)
        got = obs.expect_count(on_topic(SERVICE), COUNT, since=mark)
        self.assertEqual([decoded(m)["battery"] for m in got], list(range(COUNT)))
        status = self.status(obs, daemon, lambda s: s["state"] == "online" and s["counters"]["spool_pending"] == 0
                             and s["counters"]["acknowledged"] >= COUNT, since=mark,
                             what="a status with the recovered releases sent")
        c = status["counters"]
        self.assertEqual(c["spool_recovered"], COUNT)
        self.assertEqual(c["received"], 0)  # nothing new: they came from the spool
        self.assertEqual(c["acknowledged"], COUNT)
        # Sent: the spool is reclaimed (at most the active segment is left, empty or nearly).
        wait_until(lambda: len(daemon.spool_frames()) == 0 or daemon.spool_disk_bytes() < 4096,
                   what="the spool reclaimed")


if __name__ == "__main__":
    main()
