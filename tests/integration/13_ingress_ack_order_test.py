"""13 acknowledgement order: the fact that "nothing lost" rests on, checked against a real broker
with portierd's own ingress client (gateway/mqtt/mqtt_subscriber.h; docs/ARCHITECTURE.md, "Across a
crash").

ingress-ack-probe (tests/integration/ingress_ack_probe.cc) is that client with the ingress's
settings. In the handler of the first message it signals (a file) and then blocks until the test
lets it go. Meanwhile the test makes three complete QoS 1 round trips with the same broker from
another client: an acknowledgement written before the handler ran was in the broker's socket
before those started, and mosquitto's one event loop handles every ready socket per turn, so it
would be in the broker's log by then.

  a. QoS 1 (portierd's default): no PUBACK while the handler runs; the PUBACK follows its return.
  b. QoS 2: no PUBREC while the handler runs; PUBREC follows its return, then PUBREL and PUBCOMP."""

import os
import subprocess
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import TIMEOUT, GatewayTest, main, wait_until  # noqa: E402

PROBE = os.environ.get("INGRESS_ACK_PROBE", "")
CLIENT = "ack-probe"


class AckOrder(GatewayTest):

    def held_probe(self, qos):
        """The probe subscribed at `qos` on a fresh local broker, a message delivered to it, and
        its handler held; returns (broker, probe process, hold file, ready file)."""
        self.assertTrue(os.path.exists(PROBE), "INGRESS_ACK_PROBE=%r: build the ingress-ack-probe target" % PROBE)
        local = self.local_broker()
        d = os.path.join(self.tmp, "probe")
        os.makedirs(d)
        ready, hold = os.path.join(d, "ready"), os.path.join(d, "hold")
        open(hold, "w").close()
        log = open(os.path.join(d, "probe.log"), "w")
        self.addCleanup(log.close)
        p = subprocess.Popen([PROBE, "--uri", "tcp://127.0.0.1:%d" % local.port, "--id", CLIENT,
                              "--qos", str(qos), "--ready-file", ready, "--hold-file", hold],
                              stdout=log, stderr=log)
        self.addCleanup(lambda: p.poll() is None and (p.kill(), p.wait()))
        wait_until(lambda: os.path.exists(ready) or p.poll() is not None, what="the probe subscribed")
        self.assertIsNone(p.poll(), "the probe exited early")
        dev = self.device(local)
        dev.publish("probe/sensor", {"seq": 1})
        wait_until(lambda: os.path.exists(ready + ".in-callback"), what="the probe's handler")
        for n in range(3):  # round trips behind anything the probe wrote before its handler ran
            dev.publish("other/topic", {"n": n})
        return local, p, hold, ready

    def release(self, local, p, hold, ready, ack):
        os.remove(hold)
        local.log.wait_for(ack)
        os.remove(ready)
        self.assertEqual(p.wait(TIMEOUT), 0)

    def test_qos1_puback_is_sent_only_after_the_handler_returned(self):
        local, p, hold, ready = self.held_probe(qos=1)
        puback = r"Received PUBACK from %s " % CLIENT
        self.assertEqual(local.log.count(puback), 0,
                         "the QoS 1 message was acknowledged while its handler still ran")
        self.release(local, p, hold, ready, puback)

    def test_qos2_pubrec_is_sent_only_after_the_handler_returned(self):
        local, p, hold, ready = self.held_probe(qos=2)
        self.assertEqual(local.log.count(r"Received PUBREC from %s " % CLIENT), 0,
                         "the QoS 2 message was acknowledged while its handler still ran")
        self.release(local, p, hold, ready, r"Received PUBCOMP from %s " % CLIENT)


if __name__ == "__main__":
    main()
