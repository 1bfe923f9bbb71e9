"""15 device churn: a burst of 20,000 new device ids (QoS 1 `{"linkquality":120}` on
`zigbee2mqtt/burst-N`, every message on a new topic) must not take the box down. Throughout the
burst the household's control socket answers within a second, a device the gateway already knew
keeps getting its messages through, the ledger (segments and per-device keys) stays within
`ledger.max_bytes` on disk, memory stays bounded, and SIGTERM is honoured within
`drain_timeout_ms` + 1 s. New ids beyond `devices.max_new_per_minute` are dropped and counted
(`device_churn`); devices beyond `devices.max_devices` are forgotten and counted
(`devices_evicted`).

(Found by an adversarial review, issue 11: before the fix, every new device made the ledger write
a key file and rewrite its whole device index under the lock the data path and the control API
wait on: 50 msg/s, `portierctl status` unanswered for minutes, one key file per id outside any
budget, SIGTERM taking 48 s.)"""

import os
import sys
import threading
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import paho.mqtt.client as mqtt  # noqa: E402
from harness import (SANITIZED, TIMEOUT, ControlGatewayTest, ctl_counter, main, on_topic,  # noqa: E402
                     wait_until)

BURST = 20000
LEDGER_BYTES = 1 << 20
MAX_DEVICES = 1000
NEW_PER_MINUTE = 3000
DRAIN_MS = 2000
EXTRA = ("ledger { max_bytes: %d }\ndevices { max_devices: %d max_new_per_minute: %d }\ndrain_timeout_ms: %d"
         % (LEDGER_BYTES, MAX_DEVICES, NEW_PER_MINUTE, DRAIN_MS))
CONTROL_ANSWER_S = 1.0 if not SANITIZED else 3.0
KNOWN_WITHIN_S = 5.0 if not SANITIZED else 15.0


def disk_bytes(*dirs):
    """Disk taken by every file under dirs (allocated blocks: many small files cost more)."""
    total = 0
    for d in dirs:
        for root, _, files in os.walk(d):
            for name in files:
                try:
                    total += os.lstat(os.path.join(root, name)).st_blocks * 512
                except FileNotFoundError:
                    pass
    return total


class ControlLatency:
    """Asks `portierctl status` again and again on its own thread; keeps the slowest answer."""

    def __init__(self, daemon):
        self.daemon = daemon
        self.worst = 0.0
        self.asked = 0
        self.failures = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            started = time.monotonic()
            r = self.daemon.ctl("status", timeout=60)
            took = time.monotonic() - started
            self.worst = max(self.worst, took)
            self.asked += 1
            if r.rc != 0:
                self.failures.append((r.rc, r.err))
            self._stop.wait(0.1)

    def start(self):
        self._thread.start()
        return self

    def stop(self):
        self._stop.set()
        self._thread.join(120)
        return self


class Burst:
    """One MQTT client publishing BURST QoS 1 messages, each on a new device topic, as fast as the
    local broker takes them."""

    def __init__(self, port):
        self.client = mqtt.Client(client_id="burst-%d" % os.getpid(), clean_session=True)
        self.client.max_inflight_messages_set(500)
        self.client.max_queued_messages_set(0)
        connected = threading.Event()
        self.client.on_connect = lambda c, u, f, rc: rc == 0 and connected.set()
        self.client.connect("127.0.0.1", port, keepalive=30)
        self.client.loop_start()
        if not connected.wait(TIMEOUT):
            raise AssertionError("burst publisher could not connect")
        self.infos = []

    def run(self):
        for i in range(BURST):
            self.infos.append(self.client.publish("zigbee2mqtt/burst-%d" % i, '{"linkquality":120}', qos=1))

    def acknowledged(self):
        return sum(1 for info in self.infos if info.is_published())

    def close(self):
        self.client.disconnect()
        self.client.loop_stop()


class DeviceChurn(ControlGatewayTest):
    gateway_id = "gw15"

    def test_a_burst_of_new_device_ids_leaves_the_box_responsive_and_bounded(self):
        local = self.local_broker()
        upstream = self.upstream_broker()
        obs = self.observer(upstream)
        daemon = self.controlled_portierd(local, upstream, extra=EXTRA)
        known = self.device(local)
        service = on_topic(daemon.upstream_topic("service", "zigbee2mqtt-device"))

        mark = obs.mark()
        known.publish("zigbee2mqtt/kitchen sensor", {"linkquality": 100})
        obs.expect(service, since=mark, what="the known device's first release")
        rss_before = daemon.rss_kb()
        fds_before = len(os.listdir("/proc/%d/fd" % daemon.pid()))
        ledger_dirs = (os.path.join(daemon.state_dir, "ledger"), os.path.join(daemon.state_dir, "keys"))
        disk = self.sampler(lambda: disk_bytes(*ledger_dirs), interval=0.2)
        latency = ControlLatency(daemon).start()
        self.addCleanup(latency.stop)

        burst = Burst(local.port)
        self.addCleanup(burst.close)
        publisher = threading.Thread(target=burst.run, daemon=True)
        publisher.start()
        # While the burst runs, the known device's messages get through, each within seconds.
        late = []
        for n in range(3):
            mark = obs.mark()
            sent = time.monotonic()
            known.publish("zigbee2mqtt/kitchen sensor", {"linkquality": 101 + n})
            obs.expect(service, since=mark, timeout=max(TIMEOUT, 60), what="the known device's release %d" % n)
            late.append(time.monotonic() - sent)
        publisher.join()
        wait_until(lambda: burst.acknowledged() == BURST, timeout=max(TIMEOUT, 120),
                   what="portierd to take the whole burst")
        status = None

        def all_counted():
            nonlocal status
            status = daemon.ctl_status()
            return ctl_counter(status, "received") >= BURST + 4

        wait_until(all_counted, timeout=max(TIMEOUT, 60), what="the status to count the whole burst")
        # When the minute closes the ledger writes the burst's minute, making a key per new device
        # (and forgetting the oldest beyond max_devices): the moment the box used to stall.
        mark = obs.mark()
        wait_until(lambda: ctl_counter(daemon.ctl_status(), "ledger_keys_evicted") > 0, timeout=90,
                   what="the ledger to write the burst's minute")
        known.publish("zigbee2mqtt/kitchen sensor", {"linkquality": 110})
        obs.expect(service, since=mark, what="the known device's release after the ledger wrote")
        status = daemon.ctl_status()
        latency.stop()

        self.assertEqual(latency.failures, [])
        self.assertGreater(latency.asked, 5)
        self.assertLess(latency.worst, CONTROL_ANSWER_S, "the control socket answered too slowly")
        self.assertLess(max(late), KNOWN_WITHIN_S, "a known device's message was held up: %r" % late)
        churned = ctl_counter(status, "dropped.device_churn")
        self.assertGreater(churned, 0, "no message from a new id was refused by the rate limit")
        self.assertLess(churned, BURST)
        self.assertGreater(ctl_counter(status, "devices_evicted"), 0, "max_devices was never enforced")
        self.assertGreater(ctl_counter(status, "ledger_keys_evicted"), 0, "the ledger kept a key per id")

        daemon.ctl_ok("report", "--since", "1h")  # the ledger can still be read
        fds = len(os.listdir("/proc/%d/fd" % daemon.pid()))
        self.assertLessEqual(fds, fds_before + 4, "file descriptors grew")
        daemon_rss_growth = daemon.rss_kb() - rss_before
        if not SANITIZED:
            self.assertLess(daemon_rss_growth, 24 * 1024, "memory grew with the device ids")

        started = time.monotonic()
        self.assertEqual(daemon.term(timeout=60), 0)
        stopped_in = time.monotonic() - started
        disk_max = max(disk.stop().max(), disk_bytes(*ledger_dirs))
        sys.stderr.write("\n15: control worst %.3f s over %d asks; known device %s s; churned %d, devices_evicted %d, "
                         "ledger_keys_evicted %d; RSS +%d KiB; ledger+keys disk max %d bytes; SIGTERM %.2f s\n"
                         % (latency.worst, latency.asked, ["%.2f" % t for t in late], churned,
                            ctl_counter(status, "devices_evicted"), ctl_counter(status, "ledger_keys_evicted"),
                            daemon_rss_growth, disk_max, stopped_in))
        self.assertLess(stopped_in, DRAIN_MS / 1000.0 + 1.0, "SIGTERM took too long")
        self.assertLessEqual(disk_max, LEDGER_BYTES + 64 * 1024, "the ledger and its keys outgrew ledger.max_bytes")


if __name__ == "__main__":
    main()
