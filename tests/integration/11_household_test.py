"""11 household controls: the control socket over real brokers and the real daemon, driven with
`portierctl --socket ... [--json]` as a household would. Consent (refuse, scopes, purge of what
waits), the kill switch, erasure, who may use the socket, hostile frames on the socket, and the
transparency commands (report, explain, export, verify-ledger)."""

import json
import os
import re
import socket
import stat
import struct
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (AS_NOBODY, ControlGatewayTest, ctl_counter, decoded, main, on_topic,  # noqa: E402
                     wait_until, write_policy)

# Two purposes: alpha runs by default (contract), beta only with consent. Two device classes, for
# decisions at class scope. Every field is kept as sent, so each release names its message (seq).
POLICY = """
name: "household"
version: 1
purpose {
  id: "alpha"
  title: "Alpha"
  description: "A contract purpose: it runs unless refused."
  legal_basis: CONTRACT
  retention_seconds: 3600
}
purpose {
  id: "beta"
  title: "Beta"
  description: "A consent purpose: it runs only when granted."
  legal_basis: CONSENT
  retention_seconds: 3600
}
device_class {
  id: "bench"
  title: "Bench device"
  topic: "bench/{device}"
  field { path: "seq" title: "sequence number" rule { purpose: "alpha" purpose: "beta" keep {} } }
  field { path: "note" title: "a note" rule { purpose: "alpha" keep {} } }
}
device_class {
  id: "probe"
  title: "Probe"
  topic: "probe/{device}"
  field { path: "seq" title: "sequence number" rule { purpose: "alpha" purpose: "beta" keep {} } }
}
"""

GW = "gw11"


def rel(purpose, cls="+"):
    """Predicate: a release for `purpose` (any device, or class `cls`)."""
    return on_topic("portier/%s/%s/%s/+" % (GW, purpose, cls))


def seq_of(m):
    body = decoded(m)
    return body.get("seq") if isinstance(body, dict) else None


# --- raw frames on the control socket ----------------------------------------------------------

def _varint(data, i):
    shift = value = 0
    while True:
        b = data[i]
        i += 1
        value |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return value, i


def response_fields(body):
    """The top-level fields of a serialized control.Response: {1: code, 2: message, n: bytes}."""
    out = {1: 0}
    i = 0
    while i < len(body):
        key, i = _varint(body, i)
        number, wire = key >> 3, key & 7
        if wire == 0:
            out[number], i = _varint(body, i)
        elif wire == 2:
            n, i = _varint(body, i)
            out[number] = body[i:i + n]
            i += n
        else:
            raise AssertionError("unexpected wire type %d in %r" % (wire, body))
    return out


INVALID_REQUEST = 1
# Request{method: "raw", status: {}}: field 1 (string), field 10 (empty message).
STATUS_REQUEST = b"\x0a\x03raw" + b"\x52\x00"


def _field(number, payload):
    """A length-delimited protobuf field (lengths below 128 bytes here)."""
    key = (number << 3) | 2
    head = bytes([key]) if key < 128 else bytes([(key & 0x7F) | 0x80, key >> 7])
    assert len(payload) < 128
    return head + bytes([len(payload)]) + payload


def web_request(command_number, inner=b""):
    """Request{method: "web", <command>: inner}, as portier-web sends it."""
    return _field(1, b"web") + _field(command_number, inner)


REDEEM_PAIRING = 23
WEB_ANNOUNCE = 24
NOT_FOUND = 2


class RawControl:
    """One connection to the control socket speaking frames by hand."""

    def __init__(self, path):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.settimeout(20)
        self.s.connect(path)

    def close(self):
        self.s.close()

    def send(self, data):
        self.s.sendall(data)

    def frame(self, body):
        self.send(struct.pack(">I", len(body)) + body)

    def _exactly(self, n):
        data = b""
        while len(data) < n:
            try:
                chunk = self.s.recv(n - len(data))
            except ConnectionResetError:  # closed with our bytes unread: closed all the same
                return None
            if not chunk:
                return None
            data += chunk
        return data

    def answer(self):
        """The next response frame's fields, or None when the server closed the connection."""
        head = self._exactly(4)
        if head is None:
            return None
        body = self._exactly(struct.unpack(">I", head)[0])
        if body is None:
            return None
        return response_fields(body)

    def closed_by_server(self):
        return self._exactly(1) is None


class Household(ControlGatewayTest):
    gateway_id = GW

    def setUp(self):
        super().setUp()
        self.policy_dir = write_policy(self.tmp, POLICY, "policy-household")

    def start_world(self, stoppable_upstream=False, **kw):
        """Local broker, upstream (with persistence and a persistent observer when the test stops
        it), portierd with its control socket, a device."""
        self.local = self.local_broker()
        if stoppable_upstream:
            self.upstream = self.upstream_broker(persistence=True)
            self.obs = self.persistent_observer(self.upstream)
            self.obs.start()
        else:
            self.upstream = self.upstream_broker()
            self.obs = self.observer(self.upstream)
        self.daemon = self.controlled_portierd(self.local, self.upstream, policy_dir=self.policy_dir, **kw)
        self.dev = self.device(self.local)
        self._seq = 0

    def send(self, device="d1", cls="bench", **extra):
        """Publishes {"seq": N, ...} from `device`; returns N (unique in the test)."""
        self._seq += 1
        self.dev.publish("%s/%s" % (cls, device), dict(seq=self._seq, **extra))
        return self._seq

    def seqs(self, purpose, since, cls="+"):
        return [seq_of(m) for m in self.obs.seen(rel(purpose, cls), since)]

    def expect_release(self, purpose, seq, since=0):
        return self.obs.expect(lambda m: rel(purpose)(m) and seq_of(m) == seq, since=since,
                               what="%s's release of message %d" % (purpose, seq))

    def stop_upstream(self):
        # Everything sent so far acknowledged first: else portierd rightly sends it again later.
        wait_until(lambda: ctl_counter(self.daemon.ctl_status(), "spool_pending") == 0,
                   what="portierd to have every release acknowledged")
        self.obs.stop()
        self.upstream.stop()
        self.daemon.log.wait_for(r"upstream broker \S+: connection lost")
        wait_until(lambda: not self.daemon.ctl_status()["upstream_connected"], what="status: upstream not connected")

    def start_upstream(self):
        self.upstream.start()
        self.obs.start()
        self.daemon.wait_connected(local=False, count=2)

    def wait_pending(self, n, received):
        """Until portierd took `received` messages in all and `n` releases wait in its spool."""
        last = []

        def ready():
            s = self.daemon.ctl_status()
            last[:] = [s]
            return ctl_counter(s, "received") >= received and ctl_counter(s, "spool_pending") == n and s

        try:
            return wait_until(ready, what="%d releases waiting in the spool" % n)
        except AssertionError as e:
            raise AssertionError("%s; last status: %s" % (e, json.dumps(last[0]))) from None

    # --- consent --------------------------------------------------------------------------------

    def test_refusal_applies_to_the_next_message_and_other_purposes_continue(self):
        self.start_world(grant=["beta"])
        first = self.send()
        self.expect_release("alpha", first)
        self.expect_release("beta", first)
        preset = {p["id"]: p for p in self.daemon.ctl_ok("purposes")["purpose"]}["beta"]
        self.assertEqual([d["method"] for d in preset["decision"]], ["config"])

        out = self.daemon.ctl_ok("refuse", "beta")
        self.assertEqual(out["receipt"]["decision"], "RECEIPT_REFUSED")
        self.assertEqual(out["receipt"]["purpose"], "beta")
        self.assertEqual(out["receipt"]["scope"], "SCOPE_HOUSEHOLD")
        mark = self.obs.mark()
        after = self.send()
        sentinel = self.send()
        self.expect_release("alpha", sentinel, since=mark)
        self.assertEqual(self.seqs("alpha", mark), [after, sentinel])
        self.assertEqual(self.seqs("beta", mark), [])
        purposes = {p["id"]: p for p in self.daemon.ctl_ok("purposes")["purpose"]}
        self.assertFalse(purposes["beta"]["household_granted"])
        self.assertTrue(purposes["alpha"]["household_granted"])
        # Who decided comes from the receipt: the household with portierctl, not the preset.
        self.assertEqual([d["method"] for d in purposes["beta"]["decision"]], ["cli"])

    def test_refusal_purges_what_waits_for_that_purpose_only(self):
        self.start_world(stoppable_upstream=True, grant=["beta"])
        first = self.send()
        self.expect_release("beta", first)
        self.stop_upstream()

        queued = [self.send() for _ in range(5)]
        self.wait_pending(2 * len(queued), received=1 + len(queued))
        out = self.daemon.ctl_ok("refuse", "beta")
        self.assertEqual(int(out["spool_records_purged"]), len(queued))
        status = self.daemon.ctl_status()
        self.assertEqual(ctl_counter(status, "spool_purged"), len(queued))
        self.assertEqual(ctl_counter(status, "spool_pending"), len(queued))  # alpha's still wait
        late = self.send()  # evaluated after the refusal: alpha only

        mark = self.obs.mark()
        self.start_upstream()
        sentinel = self.send()
        self.expect_release("alpha", sentinel, since=mark)
        self.assertEqual(self.seqs("alpha", mark), queued + [late, sentinel])
        self.assertEqual(self.seqs("beta", mark), [])
        self.assertEqual(ctl_counter(self.daemon.ctl_status(), "spool_purged"), len(queued))

    def test_device_grant_beats_household_refusal_and_class_refusal_beats_household_grant(self):
        self.start_world()  # beta: consent, not granted
        self.daemon.ctl_ok("refuse", "beta")
        out = self.daemon.ctl_ok("grant", "beta", "--device", "d1")
        self.assertEqual(out["receipt"]["scope"], "SCOPE_DEVICE")
        self.assertEqual(out["receipt"]["scope_value"], "d1")

        mark = self.obs.mark()
        d1 = self.send("d1")
        d2 = self.send("d2")
        sentinel = self.send("d3")
        self.expect_release("alpha", sentinel, since=mark)
        self.assertEqual(self.seqs("alpha", mark), [d1, d2, sentinel])
        self.assertEqual(self.seqs("beta", mark), [d1])

        # The household grants beta, but refuses it for every probe; one probe is granted again.
        self.daemon.ctl_ok("grant", "beta")
        self.daemon.ctl_ok("refuse", "beta", "--class", "probe")
        self.daemon.ctl_ok("grant", "beta", "--device", "p2")
        mark = self.obs.mark()
        p1 = self.send("p1", "probe")
        p2 = self.send("p2", "probe")
        b2 = self.send("d2", "bench")
        sentinel = self.send("d3", "bench")
        self.expect_release("beta", sentinel, since=mark)
        self.assertEqual(self.seqs("alpha", mark), [p1, p2, b2, sentinel])
        self.assertEqual(self.seqs("beta", mark), [p2, b2, sentinel])
        self.assertEqual(self.seqs("beta", mark, cls="probe"), [p2])

        devices = {d["device_id"]: {p["purpose_id"]: p for p in d["purpose"]}
                   for d in self.daemon.ctl_ok("devices")["device"]}
        self.assertEqual((devices["p1"]["beta"]["granted"], devices["p1"]["beta"]["decided_at"]),
                         (False, "SCOPE_DEVICE_CLASS"))
        self.assertEqual((devices["p2"]["beta"]["granted"], devices["p2"]["beta"]["decided_at"]),
                         (True, "SCOPE_DEVICE"))
        self.assertEqual((devices["d2"]["beta"]["granted"], devices["d2"]["beta"]["decided_at"]),
                         (True, "SCOPE_HOUSEHOLD"))

    # --- the kill switch ------------------------------------------------------------------------

    def test_pause_holds_everything_also_what_waited_and_resume_sends_it(self):
        self.start_world(stoppable_upstream=True, grant=["beta"])
        self.stop_upstream()
        before = [self.send() for _ in range(3)]
        self.wait_pending(6, received=3)
        out = self.daemon.ctl_ok("pause")
        self.assertTrue(out["paused"])
        self.assertTrue(out["changed"])
        self.assertEqual(out["receipt"]["decision"], "RECEIPT_PAUSED")
        published = ctl_counter(self.daemon.ctl_status(), "published")

        mark = self.obs.mark()
        self.start_upstream()
        # What happens while paused is not even kept for later: evaluated, and dropped as "paused".
        during = [self.send() for _ in range(2)]
        wait_until(lambda: ctl_counter(self.daemon.ctl_status(), "dropped.paused") == len(during),
                   what="the messages sent during the pause to be dropped as paused")
        # The publisher thread that would send what waits keeps publishing the status every
        # second: three more statuses, each paused with all six still waiting, and no release.
        status_topic = self.daemon.status_topic

        def paused_statuses():
            return [s for s in (decoded(m) for m in self.obs.seen(on_topic(status_topic), mark))
                    if s and s.get("state") == "online" and s.get("paused")
                    and s["counters"]["spool_pending"] == 6]

        wait_until(lambda: len(paused_statuses()) >= 3, what="three paused statuses")
        self.assertEqual([m for m in self.obs.seen(None, mark) if m.topic != status_topic], [])
        status = self.daemon.ctl_status()
        self.assertTrue(status["paused"])
        self.assertTrue(status["upstream_connected"])
        self.assertEqual(ctl_counter(status, "published"), published)
        self.assertEqual(ctl_counter(status, "spool_pending"), 6)

        out = self.daemon.ctl_ok("resume")
        self.assertFalse(out["paused"])
        self.assertTrue(out["changed"])
        self.assertEqual(out["receipt"]["decision"], "RECEIPT_RESUMED")
        sentinel = self.send()
        self.expect_release("beta", sentinel, since=mark)
        self.assertEqual(self.seqs("alpha", mark), before + [sentinel])
        self.assertEqual(self.seqs("beta", mark), before + [sentinel])

    # --- erasure --------------------------------------------------------------------------------

    def test_erase_destroys_what_waits_forgets_the_device_and_asks_upstream(self):
        self.start_world(stoppable_upstream=True, grant=["beta"])
        s1 = self.send("d1")
        s2 = self.send("d2")
        self.expect_release("beta", s2)
        pseudonyms = {}  # purpose -> d1's pseudonym, from the topics upstream saw
        for purpose in ("alpha", "beta"):
            m = self.expect_release(purpose, s1)
            pseudonyms[purpose] = m.topic.split("/")[-1]
        self.assertEqual(len(set(pseudonyms.values())), 2)

        self.stop_upstream()
        d1_queued = [self.send("d1") for _ in range(3)]
        d2_queued = [self.send("d2") for _ in range(2)]
        self.wait_pending(10, received=7)

        out = self.daemon.ctl_ok("erase", "--device", "d1")
        self.assertEqual(out["device_id"], "d1")
        self.assertEqual(int(out["spool_records_purged"]), 6)
        self.assertGreaterEqual(int(out["ledger_entries_erased"]), 1)
        self.assertEqual({p["purpose"]: p["pseudonym"] for p in out["pseudonyms"]}, pseudonyms)
        self.assertEqual(out["erasure_topic"], "portier/%s/erasure" % GW)
        self.assertFalse(out["upstream_acknowledged"])  # upstream is down: the request waits
        status = self.daemon.ctl_status()
        self.assertEqual(ctl_counter(status, "spool_purged"), 6)
        self.assertEqual(ctl_counter(status, "spool_pending"), 4 + 1)  # d2's four and the request

        # The household's view: d1 is gone, its ledger rows no longer name it.
        self.assertNotIn("d1", [d["device_id"] for d in self.daemon.ctl_ok("devices")["device"]])
        r = self.daemon.ctl("explain", "--device", "d1")
        self.assertEqual((r.rc, r.data["code"]), (1, "NOT_FOUND"))
        rows = self.daemon.ctl_ok("report", "--since", "all")["row"]
        self.assertNotIn("d1", [row["device_id"] for row in rows])
        erased = [row for row in rows if row["device_erased"]]
        self.assertEqual(sorted(row["purpose_id"] for row in erased), ["alpha", "beta"])
        for row in erased:
            self.assertEqual(row["pseudonym"], "")
        self.assertIn("d2", [row["device_id"] for row in rows])

        mark = self.obs.mark()
        self.start_upstream()
        request = self.obs.expect(on_topic("portier/%s/erasure" % GW), since=mark, what="the erasure request")
        body = decoded(request)
        self.assertEqual(body["gateway"], GW)
        self.assertEqual({p["purpose"]: p["pseudonym"] for p in body["pseudonyms"]}, pseudonyms)
        sentinel = self.send("d2")
        self.expect_release("beta", sentinel, since=mark)
        self.assertEqual(self.seqs("alpha", mark), d2_queued + [sentinel])
        self.assertEqual(self.seqs("beta", mark), d2_queued + [sentinel])
        for m in self.obs.seen(None, mark):
            self.assertNotIn(m.topic.split("/")[-1], pseudonyms.values(), m.topic)
        for seq in d1_queued:
            self.assertNotIn(seq, self.seqs("alpha", 0) + self.seqs("beta", 0))

        check = self.daemon.ctl_ok("verify-ledger")
        self.assertTrue(check["ok"], check)
        self.assertTrue(check["receipts_ok"], check)
        r = self.daemon.ctl("verify-ledger", as_json=False)
        self.assertEqual(r.rc, 0, r.err)

        # With upstream there, the request is delivered at once.
        out = self.daemon.ctl_ok("erase", "--device", "d2")
        self.assertTrue(out["upstream_acknowledged"])
        self.obs.expect(lambda m: on_topic("portier/%s/erasure" % GW)(m) and
                        {p["pseudonym"] for p in decoded(m)["pseudonyms"]} ==
                        {p["pseudonym"] for p in out["pseudonyms"]}, since=mark, what="d2's erasure request")
        self.assertTrue(self.daemon.ctl_ok("verify-ledger")["ok"])

    # --- who may use the socket, and what it survives --------------------------------------------

    def test_a_user_outside_the_group_is_refused(self):
        self.start_world()
        os.chmod(self.tmp, 0o711)  # let others reach the socket's directory (not list ours)
        path = self.daemon.control_socket
        self.assertEqual(stat.S_IMODE(os.stat(path).st_mode), 0o660)
        # The file's mode stops nobody first: exit 4, and portierd never saw the attempt.
        r = self.daemon.ctl("status", user_prefix=AS_NOBODY)
        self.assertEqual(r.rc, 4, r)
        self.assertEqual(ctl_counter(self.daemon.ctl_status(), "control_refused"), 0)

        # With the file open to all, portierd itself refuses by the peer's credentials.
        os.chmod(path, 0o666)
        r = self.daemon.ctl("status", user_prefix=AS_NOBODY)
        self.assertEqual(r.rc, 4, r)
        self.assertEqual(r.data["code"], "PERMISSION_DENIED", r)
        r = self.daemon.ctl("refuse", "alpha", user_prefix=AS_NOBODY)
        self.assertEqual(r.rc, 4, r)
        status = self.daemon.ctl_status()
        self.assertEqual(ctl_counter(status, "control_refused"), 2)
        purposes = {p["id"]: p for p in self.daemon.ctl_ok("purposes")["purpose"]}
        self.assertEqual(purposes["alpha"]["decision"], [])  # nothing changed
        self.assertIn("control: refused uid 65534", self.daemon.log.text())

    def test_malformed_and_oversized_requests_are_answered_or_cut_off(self):
        self.start_world()
        path = self.daemon.control_socket

        # Garbage in a well-formed frame: INVALID_REQUEST, and the connection still serves.
        c = RawControl(path)
        self.addCleanup(c.close)
        c.frame(b"\xff" * 16)
        self.assertEqual(c.answer()[1], INVALID_REQUEST)
        c.frame(b"\xa0\x06\x01")  # field 100, a varint: no field this portierd knows
        self.assertEqual(c.answer()[1], INVALID_REQUEST)
        c.frame(b"")  # an empty Request: no command
        self.assertEqual(c.answer()[1], INVALID_REQUEST)
        c.frame(STATUS_REQUEST)
        answer = c.answer()
        self.assertEqual(answer[1], 0)  # OK
        self.assertIn(10, answer)       # a StatusResult
        c.close()

        # Over the 64 KiB limit: INVALID_REQUEST, then the connection is closed.
        c = RawControl(path)
        self.addCleanup(c.close)
        c.send(struct.pack(">I", 64 * 1024 + 1))
        answer = c.answer()
        self.assertIsNotNone(answer, "no answer to an oversized frame")
        self.assertEqual(answer[1], INVALID_REQUEST)
        self.assertIn(b"more than the 65536", answer[2])
        self.assertTrue(c.closed_by_server())
        c.close()
        # The same with the biggest length there is and bytes after it (which the server leaves
        # unread): an answer, or at least the connection closed.
        c = RawControl(path)
        self.addCleanup(c.close)
        c.send(struct.pack(">I", 0xFFFFFFFF) + os.urandom(4096))
        answer = c.answer()
        if answer is not None:
            self.assertEqual(answer[1], INVALID_REQUEST)
            self.assertTrue(c.closed_by_server())
        c.close()

        # A length prefix promising more than comes, then the end: closed without an answer.
        c = RawControl(path)
        self.addCleanup(c.close)
        c.send(struct.pack(">I", 1000) + b"\x01\x02garbage")
        c.s.shutdown(socket.SHUT_WR)
        self.assertIsNone(c.answer())
        c.close()
        # Less than a length prefix.
        c = RawControl(path)
        self.addCleanup(c.close)
        c.send(b"\x00\x00")
        c.s.shutdown(socket.SHUT_WR)
        self.assertIsNone(c.answer())
        c.close()

        self.assertTrue(self.daemon.running())
        status = self.daemon.ctl_status()
        self.assertEqual(ctl_counter(status, "control_invalid"), 5)
        self.assertTrue(status["local_connected"] and status["upstream_connected"])
        # And the data path is untouched.
        seq = self.send()
        self.expect_release("alpha", seq)

    # --- transparency ---------------------------------------------------------------------------

    def test_explain_report_and_export(self):
        self.start_world(grant=["beta"])
        self.daemon.ctl_ok("refuse", "beta", "--device", "d1")
        s1 = self.send("d1", note="first")
        s2 = self.send("d1", note="second")
        s3 = self.send("d2")
        self.expect_release("beta", s3)
        last = self.expect_release("alpha", s2)
        self.assertEqual(self.seqs("alpha", 0), [s1, s2, s3])

        ex = self.daemon.ctl_ok("explain", "--device", "d1")
        self.assertEqual(ex["topic"], "bench/d1")
        self.assertEqual(json.loads(ex["payload"]), {"seq": s2, "note": "second"})
        self.assertEqual((ex["class_id"], ex["class_title"]), ("bench", "Bench device"))
        purposes = {p["purpose_id"]: p for p in ex["purpose"]}
        self.assertTrue(purposes["alpha"]["released"])
        self.assertEqual(purposes["alpha"]["topic"], last.topic)  # what upstream received
        self.assertEqual(purposes["alpha"]["payload"].encode(), last.payload)
        self.assertFalse(purposes["beta"]["released"])
        self.assertEqual(purposes["beta"]["reason"], "consent_refused")
        self.assertEqual((ex["policy_name"], int(ex["policy_version"])), ("household", 1))
        human = self.daemon.ctl("explain", "--device", "d1", as_json=False)
        self.assertEqual(human.rc, 0, human.err)
        self.assertIn("bench/d1", human.out)
        self.assertIn(last.topic, human.out)

        rows = {(r["device_id"], r["purpose_id"]): r for r in self.daemon.ctl_ok("report", "--since", "all")["row"]}
        self.assertEqual(set(rows), {("d1", "alpha"), ("d2", "alpha"), ("d2", "beta")})
        self.assertEqual(int(rows[("d1", "alpha")]["messages"]), 2)
        self.assertEqual(sorted(rows[("d1", "alpha")]["fields"]), ["note", "seq"])
        self.assertEqual(rows[("d1", "alpha")]["pseudonym"], last.topic.split("/")[-1])
        self.assertEqual(rows[("d2", "beta")]["fields"], ["seq"])

        path = os.path.join(self.tmp, "export.json")
        out = self.daemon.ctl_ok("export", path)
        self.assertEqual(stat.S_IMODE(os.stat(path).st_mode), 0o600)
        with open(path) as f:
            doc = json.load(f)
        self.assertEqual(doc["gateway_id"], GW)
        self.assertEqual(len(doc["ledger"]), int(out["ledger_entries"]))
        self.assertEqual(len(doc["receipts"]), int(out["receipts"]))
        releases = [e for e in doc["ledger"] if e["type"] == "release"]
        counted = {}
        for e in releases:
            counted[(e["device"], e["purpose"])] = counted.get((e["device"], e["purpose"]), 0) + e["count"]
        self.assertEqual(counted, {("d1", "alpha"): 2, ("d2", "alpha"): 1, ("d2", "beta"): 1})
        consents = [(e["decision"], e["purpose"], e["scope"]) for e in doc["ledger"] if e["type"] == "consent"]
        self.assertEqual(consents, [("granted", "beta", "household"), ("refused", "beta", "device")])
        receipts = doc["receipts"]
        self.assertEqual([(r["decision"], r["scope_value"]) for r in receipts], [("granted", ""), ("refused", "d1")])
        self.assertEqual(receipts[0]["prev_hash"], "")
        self.assertEqual(receipts[1]["prev_hash"], receipts[0]["hash"])
        self.assertEqual([e["seq"] for e in doc["ledger"]], sorted(e["seq"] for e in doc["ledger"]))

    # --- the LAN page's side of the control API -------------------------------------------------

    def test_pairing_code_works_once_and_policy_updates_are_listed(self):
        self.start_world()
        path = self.daemon.control_socket
        shown = self.daemon.ctl("pair", as_json=False)
        self.assertEqual(shown.rc, 0, shown.err)
        code = re.search(r"Pairing code: ([0-9A-Z]{4}-[0-9A-Z]{4})\n", shown.out)
        self.assertIsNotNone(code, shown.out)
        self.assertIn("has not announced itself", shown.out)
        status = self.daemon.ctl("status", as_json=False)
        self.assertIn("LAN page:        not announced", status.out)

        # The page trades the code (typed loosely) for a session: once.
        c = RawControl(path)
        self.addCleanup(c.close)
        typed = code.group(1).lower().replace("-", " ").encode()
        c.frame(web_request(REDEEM_PAIRING, _field(1, typed)))
        self.assertEqual(c.answer()[1], 0)
        c.frame(web_request(REDEEM_PAIRING, _field(1, typed)))
        self.assertEqual(c.answer()[1], NOT_FOUND)

        # Once the page announced itself, pair says where to go and what to check.
        fingerprint = ":".join("%02x" % i for i in range(32))
        c.frame(web_request(WEB_ANNOUNCE, _field(1, b"https://portier.lan:8443/") + _field(2, fingerprint.encode())))
        self.assertEqual(c.answer()[1], 0)
        c.close()
        shown = self.daemon.ctl("pair", as_json=False)
        self.assertIn("Open https://portier.lan:8443/ and check the certificate fingerprint", shown.out)
        self.assertIn(fingerprint, shown.out)
        self.assertEqual(self.daemon.ctl_status()["web_urls"], ["https://portier.lan:8443/"])

        # Every pairing and every request of the page is in the ledger: never the code.
        path_export = os.path.join(self.tmp, "access.json")
        self.daemon.ctl_ok("export", path_export)
        with open(path_export) as f:
            doc = json.load(f)
        access = [(e["method"], e["command"], e["ok"]) for e in doc["ledger"] if e["type"] == "access"]
        self.assertEqual(access, [("cli", "pair", True), ("web", "redeem_pairing", True),
                                  ("web", "redeem_pairing", False), ("web", "web_announce", True),
                                  ("cli", "pair", True)])
        with open(path_export) as f:
            self.assertNotIn(code.group(1).replace("-", ""), f.read().upper().replace("-", ""))

        # A policy update that sends beta the note too: listed, and flagged as widening.
        widened = POLICY.replace("version: 1", "version: 2").replace(
            'title: "a note" rule { purpose: "alpha" keep {} }',
            'title: "a note" rule { purpose: "alpha" purpose: "beta" keep {} }')
        self.assertNotEqual(widened, POLICY)
        with open(os.path.join(self.policy_dir, "policy.textproto"), "w") as f:
            f.write(widened)
        self.daemon.hup()
        updates = wait_until(lambda: [u for u in self.daemon.ctl_ok("updates").get("update", [])
                                      if int(u["version"]) == 2], what="the update in the history")
        self.assertTrue(updates[0]["applied"])
        self.assertTrue(updates[0]["widens"])
        changes = [(ch["class_id"], ch["purpose_id"], ch["widens"]) for ch in updates[0]["change"]]
        self.assertEqual(changes, [("bench", "beta", True)])
        self.assertEqual(updates[0]["change"][0]["after"], ["sequence number as sent", "a note as sent"])
        shown = self.daemon.ctl("updates", "--limit", "5", as_json=False)
        self.assertEqual(shown.rc, 0, shown.err)
        self.assertIn("household version 2", shown.out)
        self.assertIn("WIDENS what leaves your home", shown.out)


if __name__ == "__main__":
    main()
