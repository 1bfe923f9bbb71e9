"""16 start-up checks: `portierd --check-config` finds what a start would find without the
network, and a start that fails uses up nothing: the configuration's one-time consent preset
(grant/refuse) is applied only by a start that gets through every other step, so a start that
fails on a missing control group, a broken ca_file or a spool it cannot open leaves no
consent.pb behind, and the next start, with the problem fixed, applies the grants."""

import os
import subprocess
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (PORTIERD, TIMEOUT, ControlGatewayTest, cert, decoded, main, on_topic,  # noqa: E402
                     write_policy)

# alpha runs by default (contract), beta only when granted.
POLICY = """
name: "startup"
version: 1
purpose { id: "alpha" title: "Alpha" legal_basis: CONTRACT retention_seconds: 3600 }
purpose { id: "beta" title: "Beta" legal_basis: CONSENT retention_seconds: 3600 }
device_class {
  id: "bench"
  topic: "bench/{device}"
  field { path: "seq" rule { purpose: "alpha" purpose: "beta" keep {} } }
}
"""

GW = "gw16"
NO_GROUP = "portier-it-no-such-group"


class StartupChecksTest(ControlGatewayTest):
    gateway_id = GW

    def setUp(self):
        super().setUp()
        self.policy_dir = write_policy(self.tmp, POLICY)
        self.local = self.local_broker()
        self.upstream = self.upstream_broker()

    def consent_file(self, daemon):
        return os.path.join(daemon.state_dir, "consent.pb")

    def failed_start(self, daemon, by_checks=True):
        """Runs portierd, which must exit 1 by itself (`by_checks`: refused by the start-up
        checks); its standard error."""
        r = subprocess.run([PORTIERD, "--config", daemon.config_path], capture_output=True, text=True,
                           timeout=TIMEOUT * 3, stdin=subprocess.DEVNULL)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertEqual("nothing was changed" in r.stderr, by_checks, r.stderr)
        return r.stderr

    def test_a_failed_start_leaves_no_consent_and_the_fixed_start_applies_the_grants(self):
        daemon = self.controlled_portierd(self.local, self.upstream, start=False, policy_dir=self.policy_dir,
                                          control_group=NO_GROUP, grant=["beta"])
        # A control group that does not exist: --check-config says so, and so does a start.
        rc, _, err = daemon.check_config()
        self.assertEqual(rc, 1, err)
        # Line 12 of the harness's file: control { socket: "..." group: "..." }
        expected = ('%s:12:%d: control.group: there is no group called "%s"; create it (groupadd --system %s) '
                    'or name another group' % (daemon.config_path, 22 + len(daemon.control_socket), NO_GROUP,
                                               NO_GROUP))
        self.assertIn(expected, err)
        self.assertIn(expected, self.failed_start(daemon))
        self.assertFalse(os.path.exists(self.consent_file(daemon)), "a failed start wrote consent.pb")

        # A ca_file that is a directory: the same.
        daemon.control_group = "root"
        ca_dir = os.path.join(self.tmp, "ca-dir")
        os.makedirs(ca_dir)
        daemon.configure(ca_file=ca_dir)
        rc, _, err = daemon.check_config()
        self.assertEqual(rc, 1, err)
        expected = '%s:5:3: upstream.ca_file: "%s" is a directory, not a PEM file' % (daemon.config_path, ca_dir)
        self.assertIn(expected, err)
        self.assertIn(expected, self.failed_start(daemon))
        self.assertFalse(os.path.exists(self.consent_file(daemon)), "a failed start wrote consent.pb")

        # A failure the checks cannot foresee (the spool cannot be opened: a file where its
        # directory goes) comes after the consent store is opened and before it is seeded.
        daemon.configure(ca_file=cert("ca.crt"))
        spool_blocker = os.path.join(daemon.state_dir, "spool")
        with open(spool_blocker, "w") as f:
            f.write("not a directory")
        rc, out, err = daemon.check_config()
        self.assertEqual(rc, 0, err)
        self.assertIn("cannot start: ", self.failed_start(daemon, by_checks=False))
        self.assertFalse(os.path.exists(self.consent_file(daemon)), "a failed start wrote consent.pb")

        # Fixed: the start applies the preset, and beta receives data.
        os.remove(spool_blocker)
        obs = self.observer(self.upstream)
        daemon.start()
        daemon.log.wait_for(r"consent: first start, 1 decisions preset by the configuration")
        self.assertTrue(os.path.exists(self.consent_file(daemon)))
        purposes = {p["id"]: p for p in daemon.ctl_ok("purposes")["purpose"]}
        self.assertTrue(purposes["beta"]["household_granted"], purposes["beta"])
        dev = self.device(self.local)
        dev.publish("bench/d1", {"seq": 1})
        m = obs.expect(on_topic("portier/%s/beta/bench/+" % GW), what="beta's release")
        self.assertEqual(decoded(m), {"seq": 1})

    def test_a_preset_naming_no_purpose_stops_check_and_start(self):
        daemon = self.controlled_portierd(self.local, self.upstream, start=False, policy_dir=self.policy_dir,
                                          grant=["alpha"], refuse=["servce"])
        rc, _, err = daemon.check_config()
        self.assertEqual(rc, 1, err)
        # The harness writes 12 lines, then the grants (line 13), then the refusals (line 14).
        expected = ('%s:14:1: refuse[0]: "servce" is not a purpose of policy "startup" version 1 '
                    '(its purposes: alpha, beta)' % daemon.config_path)
        self.assertIn(expected, err)
        self.assertIn(expected, self.failed_start(daemon))
        self.assertFalse(os.path.exists(self.consent_file(daemon)))

    def test_user_info_in_the_upstream_uri_is_refused_without_printing_the_password(self):
        daemon = self.controlled_portierd(self.local, self.upstream, start=False, policy_dir=self.policy_dir)
        with open(daemon.config_path) as f:
            text = f.read()
        plain = "ssl://127.0.0.1:%d" % self.upstream.port
        self.assertIn(plain, text)
        with open(daemon.config_path, "w") as f:
            f.write(text.replace(plain, "ssl://gateway:hunter2@127.0.0.1:%d" % self.upstream.port))
        rc, _, err = daemon.check_config()
        self.assertEqual(rc, 1, err)
        self.assertIn("upstream.uri: a user name or password does not belong in the URI (it is logged): give them "
                      "as upstream.username and upstream.password_file", err)
        self.assertNotIn("hunter2", err)
        r = subprocess.run([PORTIERD, "--config", daemon.config_path], capture_output=True, text=True,
                           timeout=TIMEOUT * 3, stdin=subprocess.DEVNULL)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertNotIn("hunter2", r.stderr)
        self.assertFalse(os.path.exists(self.consent_file(daemon)))


if __name__ == "__main__":
    main()
