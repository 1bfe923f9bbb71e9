"""10 spool faults: the durable, bounded, encrypted spool between the policy and upstream, under
the faults it exists for. Devices publish payloads with sequence numbers (kept by a small bench
policy); the upstream observer checks, by sequence number, that everything arrives.

  a. upstream away for 30 s under a steady 50 msg/s: every message arrives afterwards
     (duplicates allowed, counted); the spool on disk stays bounded; memory does not grow.
  b. portierd SIGKILLed three times under load: every message the local broker accepted arrives.
  c. a power cut: portierd killed with records waiting, the last segment torn and a record in the
     middle corrupted (CRC broken / CRC intact but tag broken): it starts, counts both, sends
     nothing corrupted and everything else.
  d. first start with no upstream at all: releases wait in the spool and go on first connect.
  e. full with DROP_OLDEST: the oldest are dropped and counted, the newest arrive, it carries on.
  f. at rest, the spool holds neither payload values nor device names in clear.

Every test is bounded in time (waits have deadlines; the outage is the only fixed span)."""

import json
import os
import random
import sys
import time
import zlib

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (BENCH_POLICY, SANITIZED, SPOOL_HEADER, TIMEOUT, GatewayTest, decoded, main,  # noqa: E402
                     on_topic, sequence_report, wait_until, write_policy)

RELEASES = "portier/gw10/bench/bench/+"
CATCH_UP = 6 * TIMEOUT  # generous: only a failing test waits this long


def bench(seq):
    return {"seq": seq, "note": "n%d" % seq, "noise": "x" * 64}


def released(seq):
    """What leaves for a bench(seq) message: `noise` stays at home."""
    return {"seq": seq, "note": "n%d" % seq}


class Spool(GatewayTest):
    gateway_id = "gw10"

    def setUp(self):
        super().setUp()
        self.policy_dir = write_policy(self.tmp, BENCH_POLICY)

    # --- helpers ---------------------------------------------------------------------------

    def away_world(self, extra=""):
        """Local broker, upstream broker (persistence) with a persistent observer, upstream then
        stopped; portierd connected to the local broker only. Start upstream and obs later."""
        self.local = self.local_broker()
        self.upstream = self.upstream_broker(persistence=True)
        self.obs = self.persistent_observer(self.upstream)
        self.upstream.stop()
        self.daemon = self.portierd(self.local, self.upstream, policy_dir=self.policy_dir, wait_connected=False,
                                    extra=extra)
        self.daemon.wait_connected(upstream=False)
        return self.local, self.upstream, self.obs, self.daemon

    def seqs(self, obs, since=0):
        return [decoded(m)["seq"] for m in obs.seen(on_topic(RELEASES), since)]

    def wait_for_seqs(self, obs, expected, timeout=CATCH_UP, since=0):
        """Waits until every seq in `expected` arrived (from `since`); the sequence report."""
        expected = set(expected)
        wait_until(lambda: expected <= set(self.seqs(obs, since)), timeout,
                   "all of %d releases upstream; missing: %s" % (
                       len(expected), sorted(expected - set(self.seqs(obs, since)))[:20]))
        return sequence_report(self.seqs(obs, since), expected)

    def assert_payloads_valid(self, obs, since=0):
        """Every release is exactly what the policy makes of a message the device sent."""
        for m in obs.seen(on_topic(RELEASES), since):
            body = json.loads(m.payload)  # valid JSON, or this raises
            self.assertEqual(body, released(body["seq"]), m)

    def note(self, what, **values):
        """Figures for the report (stderr; ctest shows them with --output-on-failure / -V)."""
        sys.stderr.write("\n[%s] %s: %s\n" % (self.id().split(".")[-1], what,
                                               ", ".join("%s=%s" % kv for kv in values.items())))

    # --- a. upstream outage ----------------------------------------------------------------

    def test_upstream_away_for_30_seconds_under_steady_load(self):
        max_bytes = 131072
        bound = max_bytes + max_bytes // 4
        local = self.local_broker()
        upstream = self.upstream_broker(persistence=True)
        obs = self.persistent_observer(upstream)
        obs.start()  # stays started: it reconnects by itself when the broker is back
        daemon = self.portierd(local, upstream, policy_dir=self.policy_dir,
                               extra="spool { max_bytes: %d }" % max_bytes)
        disk = self.sampler(daemon.spool_disk_bytes)
        dev = self.steady_publisher(local, "bench/meter", bench, rate=50.0)
        obs.expect_count(on_topic(RELEASES), 100, what="100 releases before the outage")
        rss_before = daemon.rss_kb()

        upstream.stop()
        outage_started = time.monotonic()
        rss = self.sampler(daemon.rss_kb, interval=0.2)
        disk_in_outage = self.sampler(daemon.spool_disk_bytes)
        time.sleep(30.0)  # the outage itself: the one fixed span
        rss.stop()
        disk_in_outage.stop()
        published_in_outage = dev.count()
        upstream.start()
        daemon.wait_connected(local=False, count=2)
        outage = time.monotonic() - outage_started
        wait_until(lambda: dev.count() >= published_in_outage + 100, what="100 more messages after the outage")
        dev.stop()
        accepted = dev.accepted()
        self.assertEqual(sorted(accepted), list(range(len(accepted))))

        r = self.wait_for_seqs(obs, accepted)
        self.assertEqual(r["unexpected"], [])
        self.assertTrue(r["in_order"], "first arrivals out of order")
        self.assert_payloads_valid(obs)
        status = self.status(obs, daemon, lambda s: s["state"] == "online" and s["counters"]["spool_pending"] == 0
                             and s["counters"]["acknowledged"] >= len(accepted), what="a status with everything sent")
        c = status["counters"]
        record = max(f.length for f in daemon.spool_frames()) if daemon.spool_frames() else 256
        growth = rss.max() - rss_before
        self.note("outage", seconds=round(outage, 1), published=len(accepted), received=r["received"],
                  duplicates=r["duplicates"], resent=c["resent"], ingress_pauses=c["ingress_pauses"],
                  disk_max_in_outage=disk_in_outage.max(), disk_max=disk.max(), rss_before_kb=rss_before,
                  rss_max_in_outage_kb=rss.max(), spool_refused_full=c["spool_refused_full"])
        # Upstream was away longer than the spool lasts at this rate: it paused, and steady
        # messages never took it past max_bytes + headroom.
        self.assertGreaterEqual(c["ingress_pauses"], 1, c)
        self.assertLessEqual(disk_in_outage.max(), bound)
        # Catching up, the local broker's backlog comes as a burst: beyond the bound only what
        # is counted (see 07).
        self.assertLessEqual(disk.stop().max(), bound + c["spool_refused_full"] * max(record, 256), c)
        self.assertGreaterEqual(c["upstream_connects"], 2)
        if not SANITIZED:
            self.assertLess(growth, 4 * 1024, "RSS grew by %d kB during the outage" % growth)
        self.assertTrue(daemon.running())

    # --- b. SIGKILL under load -------------------------------------------------------------

    def test_sigkill_under_load_three_times_loses_nothing(self):
        local = self.local_broker()
        upstream = self.upstream_broker()
        obs = self.observer(upstream)
        daemon = self.portierd(local, upstream, policy_dir=self.policy_dir)
        dev = self.steady_publisher(local, "bench/meter", bench, rate=200.0)
        rng = random.Random(10)
        for kill in range(3):
            if kill == 1:
                # Right after the restart, while it takes the backlog the broker kept for it.
                time.sleep(rng.uniform(0.0, 0.1))
            else:
                # Once this run has taken some messages, at a random moment.
                seen = len(obs.seen(on_topic(RELEASES)))
                obs.expect_count(on_topic(RELEASES), seen + 50, what="50 releases in run %d" % (kill + 1))
                time.sleep(rng.uniform(0.0, 0.5))
            daemon.kill()
            daemon.start(wait_connected=False)
            daemon.wait_connected(count=kill + 2)
        obs.expect_count(on_topic(RELEASES), len(obs.seen(on_topic(RELEASES))) + 50, what="releases after the kills")
        dev.stop()
        accepted = dev.accepted()
        self.assertEqual(sorted(accepted), list(range(len(accepted))))
        r = self.wait_for_seqs(obs, accepted)
        self.assertEqual(r["unexpected"], [])
        self.assert_payloads_valid(obs)
        taken = local.taken_by(daemon.local_client_id)
        self.note("sigkill", published=len(accepted), received=r["received"], duplicates=r["duplicates"],
                  first_arrivals_in_order=r["in_order"], local_deliveries_completed=taken,
                  waiting_at_each_start=[int(x) for x in _waiting_at_starts(daemon.log.text())])
        self.assertTrue(daemon.running())

    # --- c. power cut ----------------------------------------------------------------------

    def power_cut(self, keep_crc):
        count = 40
        local, upstream, obs, daemon = self.away_world()
        dev = self.device(local)
        for seq in range(count):
            dev.publish("bench/meter", bench(seq))
        wait_until(lambda: len(daemon.spool_frames()) >= count, what="%d records in the spool" % count)
        daemon.kill()  # the power cut: no chance to close anything

        frames = daemon.spool_frames()
        self.assertEqual(len(frames), count)
        # Corrupt one record in the middle, inside its sealed part.
        victim = frames[count // 2]
        with open(victim.path, "r+b") as f:
            data = bytearray(f.read())
            body = victim.offset + SPOOL_HEADER
            sealed = body + 17 + len(victim.purpose) + 12
            data[sealed + 3] ^= 0x5A
            if keep_crc:  # as a tamperer would: the checksum fits, only the tag can tell
                crc = zlib.crc32(bytes(data[body:victim.offset + victim.length]))
                data[victim.offset + 8:victim.offset + 12] = crc.to_bytes(4, "little")
            f.seek(0)
            f.write(data)
        # Tear the last record: its last bytes never reached the disk.
        last = frames[-1]
        with open(last.path, "r+b") as f:
            f.truncate(last.offset + last.length - 5)
        # The victim is the (count // 2)-th message; the torn one the last.
        lost = {count // 2, count - 1}

        upstream.start()
        obs.start()
        daemon.start(wait_connected=False)
        daemon.wait_connected(local=False, count=1)
        self.assertTrue(daemon.running())
        self.assertRegex(daemon.log.text(), r"spool: cutting a torn tail of \d+ bytes")
        r = self.wait_for_seqs(obs, set(range(count)) - lost)
        # Nothing after them either: a new message (order is kept end to end) comes after any
        # that would still be sent.
        dev.publish("bench/meter", bench(count))
        obs.expect(lambda m: on_topic(RELEASES)(m) and decoded(m)["seq"] == count, what="the sentinel")
        r = sequence_report(self.seqs(obs), set(range(count + 1)) - lost)
        self.assertEqual(r["unexpected"], [], "a corrupted or torn record was sent")
        self.assertEqual(r["missing"], [])
        self.assertEqual(r["duplicates"], 0)
        self.assertTrue(r["in_order"])
        self.assert_payloads_valid(obs)
        status = self.status(obs, daemon, lambda s: s["state"] == "online" and s["counters"]["spool_pending"] == 0
                             and s["counters"]["acknowledged"] >= count - 1, what="a status with everything sent")
        c = status["counters"]
        self.note("power cut (%s)" % ("CRC intact" if keep_crc else "CRC broken"),
                  spool_torn_tails=c["spool_torn_tails"], spool_corrupt=c["spool_corrupt"],
                  spool_recovered=c["spool_recovered"])
        self.assertEqual(c["spool_torn_tails"], 1)
        self.assertEqual(c["spool_corrupt"], 1, "one corrupt record, counted once")
        # Found waiting: all but the torn one, and but the corrupt one unless its checksum fits.
        self.assertEqual(c["spool_recovered"], count - 1 if keep_crc else count - 2)
        return daemon

    def test_power_cut_torn_tail_and_a_record_with_a_broken_checksum(self):
        daemon = self.power_cut(keep_crc=False)
        self.assertRegex(daemon.log.text(), r"spool: skipping a corrupt record at ")

    def test_power_cut_torn_tail_and_a_tampered_record_with_a_valid_checksum(self):
        daemon = self.power_cut(keep_crc=True)
        self.assertRegex(daemon.log.text(), r"spool: record \d+ failed authentication; never sent")

    # --- d. no upstream at the first start -------------------------------------------------

    def test_first_start_without_upstream_delivers_on_first_connection(self):
        count = 50
        local, upstream, obs, daemon = self.away_world()
        daemon.log.wait_for(r"upstream broker \S+: (cannot connect|connect timed out)")
        dev = self.device(local)
        for seq in range(count):
            dev.publish("bench/meter", bench(seq))
        wait_until(lambda: len(daemon.spool_frames()) >= count, what="%d records in the spool" % count)
        self.assertEqual(daemon.log.count(r"upstream broker \S+: connected as "), 0)

        upstream.start()
        obs.start()
        daemon.wait_connected(local=False, count=1)
        got = obs.expect_count(on_topic(RELEASES), count)
        self.assertEqual([decoded(m)["seq"] for m in got], list(range(count)))  # in order, each once
        self.assert_payloads_valid(obs)
        c = self.status(obs, daemon, lambda s: s["state"] == "online" and s["counters"]["spool_pending"] == 0
                        and s["counters"]["acknowledged"] >= count, what="a status with everything sent")["counters"]
        self.assertEqual(c["upstream_connects"], 1)
        self.assertGreaterEqual(c["upstream_connect_failures"], 1)
        self.assertEqual(c["spool_appended"], count)
        self.assertEqual(c["resent"], 0)

    # --- e. DROP_OLDEST --------------------------------------------------------------------

    def test_full_spool_with_drop_oldest_drops_the_oldest_and_sends_the_newest(self):
        count = 1000
        max_bytes = 65536
        local, upstream, obs, daemon = self.away_world(
            extra="spool { max_bytes: %d when_full: DROP_OLDEST }" % max_bytes)
        disk = self.sampler(daemon.spool_disk_bytes)
        dev = self.steady_publisher(local, "bench/meter", bench, rate=500.0, limit=count)
        wait_until(lambda: dev.count() >= count, what="%d messages published" % count)
        dev.stop()
        # No pause with DROP_OLDEST: portierd takes every message.
        wait_until(lambda: local.taken_by(daemon.local_client_id) >= count, what="portierd to take all messages")
        wait_until(lambda: (daemon.spool_frames() or [None])[-1] is not None
                   and daemon.spool_frames()[-1].seq >= count, what="the last record in the spool")
        daemon.log.wait_for(r"spool full: dropped the \d+ oldest unsent releases")
        self.assertLessEqual(disk.stop().max(), max_bytes)

        upstream.start()
        obs.start()
        daemon.wait_connected(local=False, count=1)
        c = self.status(obs, daemon, lambda s: s["state"] == "online" and s["counters"]["spool_pending"] == 0
                        and s["counters"]["received"] >= count, what="a status with the spool empty")["counters"]
        dropped = c["spool_dropped_full"]
        self.assertGreater(dropped, 0)
        self.assertEqual(c["ingress_pauses"], 0)
        # The newest arrive: exactly the messages after the dropped ones, in order, each once.
        got = obs.expect_count(on_topic(RELEASES), count - dropped, what="the newest releases")
        self.assertEqual([decoded(m)["seq"] for m in got], list(range(dropped, count)), c)
        self.assert_payloads_valid(obs)
        # Healthy: it goes on (a message sent now arrives) and says it is online.
        mark = obs.mark()
        dev2 = self.device(local)
        dev2.publish("bench/meter", bench(count))
        self.assertEqual(decoded(obs.expect(on_topic(RELEASES), since=mark)), released(count))
        self.assertEqual(self.status(obs, daemon, since=mark)["state"], "online")
        self.note("drop_oldest", published=count, dropped=dropped, sent=count - dropped,
                  disk_max=disk.max())

    # --- f. crypto at rest -----------------------------------------------------------------

    def test_spool_holds_neither_payload_values_nor_device_names_in_clear(self):
        count = 20
        marker = b"MARKER-7f3a9c-secret"
        device = b"Marker-Device-Quixote"
        local, upstream, obs, daemon = self.away_world()
        dev = self.device(local)
        for seq in range(count):
            dev.publish("bench/" + device.decode(), {"seq": seq, "note": "%s-%d" % (marker.decode(), seq)})
        wait_until(lambda: len(daemon.spool_frames()) >= count, what="%d records in the spool" % count)

        # Everything portierd keeps: spool segments, ledger, device registry, keys. (The ingress
        # keeps no session on disk: what it has not acknowledged, the local broker keeps.)
        state_files = []
        for root, _, names in os.walk(daemon.state_dir):
            state_files += [os.path.join(root, n) for n in names]
        self.assertTrue(any(p.endswith(".seg") for p in state_files))
        self.assertFalse(any("mqtt-local" in p for p in state_files), state_files)
        for path in state_files:
            with open(path, "rb") as f:
                data = f.read()
            for needle in (marker, device, device.lower(), b"bench/" + device):
                self.assertNotIn(needle, data, "%r in clear in %s" % (needle, path))

        # And the marker was really in what waited: it arrives once upstream is there.
        upstream.start()
        obs.start()
        daemon.wait_connected(local=False, count=1)
        got = obs.expect_count(on_topic(RELEASES), count)
        self.assertEqual([decoded(m) for m in got],
                         [{"seq": n, "note": "%s-%d" % (marker.decode(), n)} for n in range(count)])
        self.assertTrue(all(device.decode() not in m.topic for m in got))  # pseudonymised upstream too


def _waiting_at_starts(log_text):
    """The `spool: N releases waiting, ...` figure of every start in a log."""
    out = []
    for line in log_text.splitlines():
        if "] info: spool: " in line and " releases waiting, " in line:
            out.append(line.split("] info: spool: ", 1)[1].split(" ", 1)[0])
    return out


if __name__ == "__main__":
    main()
