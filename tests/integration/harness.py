"""Harness for Portier's end-to-end tests: real mosquitto brokers, a real portierd, paho clients.

Every test builds its own world in a temporary directory: brokers on free loopback ports, a
throw-away PKI from tools/gen-certs, a portierd configuration. Everything it starts is stopped and
everything it writes is removed when the test ends, also when it fails (unittest cleanups; child
processes also get SIGKILL if the test runner itself dies). On a failure the tails of the
daemon's and the brokers' logs are printed.

Nothing here sleeps for a fixed time: every wait is for a condition with a deadline
(`wait_until`, `LogFile.wait_for`, `Observer.expect`). "This never arrives" is shown by a later
message that would have come after it (a sentinel: order is kept end to end); the bounded waits
`Observer.assert_nothing` / `assert_holds` are for the rare case without one.

Run one file: /usr/bin/python3 tests/integration/01_minimisation_test.py [-k NAME]
(Debian's python3-paho-mqtt 1.6, hence /usr/bin/python3). Environment (ctest sets the paths; see
CMakeLists.txt), with defaults for a source tree built into build/:
  PORTIERD, PORTIER_POLICY, PORTIER_GEN_CERTS, PORTIER_SOURCE_DIR
  PORTIER_IT_TIMEOUT  seconds for every "it happens" wait (default 10)
  PORTIER_IT_TIMEOUT_FACTOR  multiplies every deadline (default 1; 4 under emulation)
  PORTIER_IT_VERBOSE  print the logs of passing tests too
  PORTIER_IT_STRICT   run tests marked as known bugs as plain tests
  PORTIER_IT_KEEP     keep each test's temporary directory (logs, state) for a post-mortem
"""

import atexit
import collections
import ctypes
import glob
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import zlib

import paho.mqtt.client as mqtt

SOURCE_DIR = os.environ.get("PORTIER_SOURCE_DIR") or os.path.abspath(
    os.path.join(os.path.dirname(__file__), "..", ".."))
PORTIERD = os.environ.get("PORTIERD") or os.path.join(SOURCE_DIR, "build", "gateway", "portierd")
PORTIER_POLICY = os.environ.get("PORTIER_POLICY") or os.path.join(SOURCE_DIR, "build", "tools", "portier-policy")
GEN_CERTS = os.environ.get("PORTIER_GEN_CERTS") or os.path.join(SOURCE_DIR, "tools", "gen-certs")
DEFAULT_POLICY_DIR = os.path.join(SOURCE_DIR, "policies", "defaults")
SAMPLES = os.path.join(DEFAULT_POLICY_DIR, "samples.jsonl")
MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"

# Generous: under AddressSanitizer the daemon is several times slower. The happy path never
# waits this long; only a failing test does.
# PORTIER_IT_TIMEOUT_FACTOR scales it and every longer deadline a test sets itself: a cross build
# runs portierd under qemu-user (tests/integration/CMakeLists.txt sets it there).
TIME_FACTOR = float(os.environ.get("PORTIER_IT_TIMEOUT_FACTOR", "1"))
TIMEOUT = float(os.environ.get("PORTIER_IT_TIMEOUT", "10")) * TIME_FACTOR



def _sanitized():
    """Whether PORTIERD is an AddressSanitizer build (its memory use says little then)."""
    try:
        with open(PORTIERD, "rb") as f:
            return b"__asan_init" in f.read()
    except OSError:
        return False


SANITIZED = _sanitized()

# For a test that shows a known, not yet fixed portierd bug: an expected failure (the suite stays
# usable; an unexpected success says the bug is gone), or a plain test with PORTIER_IT_STRICT=1.
known_bug = (lambda f: f) if os.environ.get("PORTIER_IT_STRICT") else unittest.expectedFailure

# A fixed pseudonym secret, so that upstream topics can be predicted with portier-policy.
TEST_SECRET = bytes(range(0x40, 0x60))


# --- waiting -----------------------------------------------------------------------------------

def wait_until(pred, timeout=TIMEOUT, what="condition", interval=0.02):
    """Polls pred() until it returns something truthy (returned), or fails the test at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        value = pred()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError("timed out after %.1f s waiting for %s" % (timeout, what))
        time.sleep(interval)


def assert_holds(pred, for_seconds=1.0, what="condition", interval=0.02):
    """The bounded wait for "this does not happen": pred() stays true for for_seconds. Use
    sparingly; prefer waiting for a later event that proves it (a sentinel message)."""
    deadline = time.monotonic() + for_seconds
    while time.monotonic() < deadline:
        if not pred():
            raise AssertionError("no longer true: %s" % what)
        time.sleep(interval)


class Sampler:
    """Calls fn() every `interval` seconds on a thread until stop(); keeps every value (for
    "it stayed below X all along": RSS, spool size on disk). Stopped at the latest by cleanup."""

    def __init__(self, fn, interval=0.05):
        self.fn = fn
        self.interval = interval
        self.values = []
        self.errors = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self):
        self._thread.start()
        return self

    def _run(self):
        while not self._stop.is_set():
            try:
                self.values.append(self.fn())
            except Exception as e:  # e.g. the process ended: recorded, not fatal here
                self.errors.append(e)
            self._stop.wait(self.interval)

    def stop(self):
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()
        return self

    def max(self):
        return max(self.values) if self.values else None


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_accepts(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def _die_with_parent():
    """preexec_fn: the child gets SIGKILL when the test runner dies (e.g. killed by ctest)."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except OSError:
        pass


def _tail(path, lines=60):
    try:
        with open(path, "r", errors="replace") as f:
            return "".join(f.readlines()[-lines:])
    except OSError:
        return "(no log)"


class LogFile:
    """A process's output file, searched by regular expression."""

    def __init__(self, path):
        self.path = path

    def text(self):
        try:
            with open(self.path, "r", errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def count(self, pattern):
        return len(re.findall(pattern, self.text(), re.MULTILINE))

    def wait_for(self, pattern, count=1, timeout=TIMEOUT):
        """Waits until `pattern` occurs at least `count` times in the whole log."""
        wait_until(lambda: self.count(pattern) >= count, timeout,
                   "%d x /%s/ in %s\n--- log tail:\n%s" % (count, pattern, self.path, _tail(self.path)))


# --- certificates ------------------------------------------------------------------------------

_certs_dir = None


def certs():
    """The throw-away PKI of tools/gen-certs, made once per test process (removed at exit)."""
    global _certs_dir
    if _certs_dir is None:
        d = tempfile.mkdtemp(prefix="portier-it-certs-")
        atexit.register(shutil.rmtree, d, True)
        subprocess.run([GEN_CERTS, d], check=True, timeout=60)
        _certs_dir = d
    return _certs_dir


def cert(name):
    return os.path.join(certs(), name)


# --- brokers -----------------------------------------------------------------------------------

class Broker:
    """A mosquitto on 127.0.0.1. Plain, or TLS with `server_cert` ("server", "untrusted",
    "wrong-host", "expired": files from gen-certs); a TLS broker also gets a plain
    `observer_port` for the test's subscriber. Restart keeps the ports (and, with
    persistence, retained messages and persistent sessions)."""

    def __init__(self, workdir, name, server_cert=None, require_certificate=False, persistence=False,
                 upgrade_qos=True):
        self.name = name
        self.dir = os.path.join(workdir, "broker-" + name)
        os.makedirs(self.dir)
        self.server_cert = server_cert
        self.require_certificate = require_certificate
        self.persistence = persistence
        self.upgrade_qos = upgrade_qos
        self.tls = server_cert is not None
        self.log = LogFile(os.path.join(self.dir, "mosquitto.log"))
        self.conf = os.path.join(self.dir, "mosquitto.conf")
        self._pick_ports()
        self.proc = None
        self._starts = 0
        self._ever_ran = False

    def _pick_ports(self):
        self.port = free_port()
        self.observer_port = free_port() if self.tls else self.port
        lines = [
            "user root",
            "allow_anonymous true",
            "persistence %s" % ("true" if self.persistence else "false"),
            "persistence_location %s/" % self.dir,
            "log_dest stderr",
            "log_type all",
            "log_timestamp true",
            "connection_messages true",
            "max_queued_messages 100000",
            # portierd subscribes at QoS 1; the broker then delivers at QoS 1 whatever the
            # publisher used, so a message is only gone from the broker once it is in the spool.
            "upgrade_outgoing_qos %s" % ("true" if self.upgrade_qos else "false"),
            "listener %d 127.0.0.1" % self.port,
        ]
        if self.tls:
            lines += [
                "cafile %s" % cert("ca.crt"),
                "certfile %s" % cert(self.server_cert + ".crt"),
                "keyfile %s" % cert(self.server_cert + ".key"),
                "require_certificate %s" % ("true" if self.require_certificate else "false"),
                "listener %d 127.0.0.1" % self.observer_port,
            ]
        with open(self.conf, "w") as f:
            f.write("\n".join(lines) + "\n")

    def start(self):
        """Starts mosquitto and waits until it listens. Before the first successful start, a
        port taken meanwhile by someone else (parallel runs) means new ports and another try."""
        for attempt in range(5):
            if self._try_start():
                self._ever_ran = True
                return self
            if self._ever_ran or "Address already in use" not in self.log.text() or attempt == 4:
                raise AssertionError("mosquitto (%s) exited with %s:\n%s" % (self.name, self.proc.returncode,
                                                                            _tail(self.log.path)))
            self.proc = None
            self._pick_ports()
        return self

    def _try_start(self):
        assert self.proc is None
        self._starts += 1
        with open(self.log.path, "a") as out:
            self.proc = subprocess.Popen([MOSQUITTO, "-c", self.conf], stdout=out, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, preexec_fn=_die_with_parent)
        exited = []

        def ready():
            if self.proc.poll() is not None:
                exited.append(True)
                return True
            return self.log.count(r"mosquitto version \S+ running") >= self._starts

        wait_until(ready, what="mosquitto (%s) to run" % self.name)
        if exited:
            self._starts -= 1
            return False
        wait_until(lambda: port_accepts(self.observer_port), what="mosquitto (%s) port" % self.name)
        return True

    def stop(self):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(TIMEOUT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def restart(self):
        self.stop()
        self.start()

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def taken_by(self, client_id):
        """Messages `client_id` has taken from this broker: the PUBACKs (QoS 1) and PUBCOMPs
                (QoS 2, the end of the exchange) this broker received from it. (portierd subscribes at
        QoS 1 by default, and Paho sends the PUBACK after portierd's callback spooled the
        message; with QoS 2 the PUBCOMP goes out first, so to know a message is in the spool,
        look at the spool: Portierd.spool_frames().)"""
        return self.log.count(r"Received PUB(ACK|COMP) from %s \(" % re.escape(client_id))


# --- the daemon --------------------------------------------------------------------------------

class Portierd:
    """portierd with a configuration written into its own directory. `configure()` rewrites the
    file (then `hup()` to reload). Log lines are searched with `log.wait_for()`."""

    def __init__(self, workdir, gateway_id, local, upstream, *, host="127.0.0.1", policy_dir=DEFAULT_POLICY_DIR,
                 grant=(), refuse=(), client_cert=None, ca_file=None, secret=TEST_SECRET, extra="",
                 local_qos=None):
        self.gateway_id = gateway_id
        self.dir = os.path.join(workdir, "portierd-" + gateway_id)
        self.state_dir = os.path.join(self.dir, "state")
        os.makedirs(self.state_dir, mode=0o700)
        if secret is not None:
            fd = os.open(os.path.join(self.state_dir, "secret.key"), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            os.write(fd, secret)
            os.close(fd)
        self.secret = secret
        self.config_path = os.path.join(self.dir, "portierd.conf")
        self.log = LogFile(os.path.join(self.dir, "portierd.log"))
        self.local = local
        self.upstream = upstream
        self.local_client_id = "portier-%s-local" % gateway_id
        self.upstream_client_id = "portier-%s" % gateway_id
        self.settings = dict(host=host, policy_dir=policy_dir, grant=list(grant), refuse=list(refuse),
                             client_cert=client_cert, ca_file=ca_file if ca_file is not None else cert("ca.crt"),
                             extra=extra, local_qos=local_qos)
        self.configure()
        self.proc = None
        self._starts = 0
        self._asked_to_exit = False

    def config_text(self, host, policy_dir, grant, refuse, client_cert, ca_file, extra, local_qos):
        lines = [
            'gateway_id: "%s"' % self.gateway_id,
            'local { uri: "tcp://127.0.0.1:%d" keepalive_seconds: 5%s }'
            % (self.local.port, " qos: %d" % local_qos if local_qos else ""),
            'upstream {',
            '  uri: "ssl://%s:%d"' % (host, self.upstream.port),
            '  ca_file: "%s"' % ca_file if ca_file else "",
            '  client_cert_file: "%s" client_key_file: "%s"' % (cert(client_cert + ".crt"), cert(client_cert + ".key"))
            if client_cert else "",
            '  keepalive_seconds: 5',
            '}',
            'policy_dir: "%s"' % policy_dir,
            'state_dir: "%s"' % self.state_dir,
            'status { interval_seconds: 1 }',
            'reconnect { initial_ms: 50 max_ms: 500 }',
            'control { disabled: true }',  # no Unix socket in /run for tests
        ]
        lines += ['grant: "%s"' % p for p in grant]
        lines += ['refuse: "%s"' % p for p in refuse]
        lines.append(extra)
        return "\n".join(l for l in lines if l) + "\n"

    def configure(self, **changes):
        self.settings.update(changes)
        with open(self.config_path, "w") as f:
            f.write(self.config_text(**self.settings))

    def start(self, wait_connected=True):
        assert self.proc is None or self.proc.poll() is not None
        self._starts += 1
        self._asked_to_exit = False
        with open(self.log.path, "a") as out:
            self.proc = subprocess.Popen([PORTIERD, "--config", self.config_path], stdout=out,
                                         stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                         preexec_fn=_die_with_parent)

        def started():
            if self.proc.poll() is not None:
                raise AssertionError("portierd exited with %s:\n%s" % (self.proc.returncode, _tail(self.log.path)))
            return self.log.count(r"\] info: started: gateway ") >= self._starts

        wait_until(started, what="portierd to start")
        if wait_connected:
            self.wait_connected()
        return self

    def wait_connected(self, local=True, upstream=True, count=None):
        """Waits until portierd has connected (in this run, or `count` times in all)."""
        n = count or self._starts
        if local:
            self.log.wait_for(r"local broker \S+: connected as ", n)
        if upstream:
            self.log.wait_for(r"upstream broker \S+: connected as ", n)

    def pid(self):
        return self.proc.pid

    def exit_note(self):
        """For failure reports: how the last run ended, if it ended without the test asking."""
        if self.proc is not None and self.proc.poll() is not None and not self._asked_to_exit:
            return "portierd exited by itself with status %d" % self.proc.returncode
        return None

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def hup(self):
        self.proc.send_signal(signal.SIGHUP)

    def send_term(self):
        """SIGTERM, without waiting."""
        self._asked_to_exit = True
        self.proc.send_signal(signal.SIGTERM)

    def wait_exit(self, timeout=TIMEOUT):
        """The exit status, waiting for it at most `timeout` seconds."""
        return self.proc.wait(timeout)

    def term(self, timeout=TIMEOUT):
        """SIGTERM; returns the exit status."""
        self.send_term()
        return self.proc.wait(timeout)

    def kill(self):
        self._asked_to_exit = True
        self.proc.kill()
        return self.proc.wait(TIMEOUT)

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self._asked_to_exit = True
            self.proc.kill()
            self.proc.wait()

    def rss_kb(self):
        with open("/proc/%d/status" % self.proc.pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0

    # The spool on disk (state_dir/spool/*.seg), read by the test: see gateway/store/spool.h for the
    # frame format. Records are sealed; only the framing and the associated data are readable.
    @property
    def spool_dir(self):
        return os.path.join(self.state_dir, "spool")

    def spool_segments(self):
        return sorted(glob.glob(os.path.join(self.spool_dir, "*.seg")))

    def spool_disk_bytes(self):
        total = 0
        for path in self.spool_segments():
            try:
                total += os.path.getsize(path)
            except FileNotFoundError:  # reclaimed meanwhile
                pass
        return total

    def spool_frames(self):
        """Every well-formed frame in the spool's segments, in order."""
        frames = []
        for path in self.spool_segments():
            try:
                with open(path, "rb") as f:
                    data = f.read()
            except FileNotFoundError:
                continue
            frames += parse_spool_frames(path, data)
        return frames

    def check_config(self):
        """`portierd --config ... --check-config`: (exit status, stdout, stderr)."""
        r = subprocess.run([PORTIERD, "--config", self.config_path, "--check-config"], capture_output=True, text=True,
                           timeout=TIMEOUT * 3)
        return r.returncode, r.stdout, r.stderr

    def upstream_topic(self, purpose, cls, pseudonym="+"):
        return "portier/%s/%s/%s/%s" % (self.gateway_id, purpose, cls, pseudonym)

    @property
    def status_topic(self):
        return "portier/%s/status" % self.gateway_id


# --- MQTT clients ------------------------------------------------------------------------------

Msg = collections.namedtuple("Msg", "topic payload retain")


def _json(payload):
    try:
        return json.loads(payload)
    except ValueError:
        return None


class Observer:
    """A subscriber (plain MQTT, 127.0.0.1) recording every message it receives, in order.
    With a client_id and clean_session=False it keeps a persistent session (QoS 1), so it
    misses nothing across a broker restart when the broker has persistence."""

    def __init__(self, port, topics=("#",), client_id=None, clean_session=True):
        self.port = port
        self.topics = list(topics)
        self.client_id = client_id or "observer-%d-%d" % (os.getpid(), id(self))
        self.clean_session = clean_session
        self.messages = []
        self.cond = threading.Condition()
        self.subscribed = threading.Event()
        self.client = None

    def start(self):
        c = mqtt.Client(client_id=self.client_id, clean_session=self.clean_session)
        c.on_connect = self._on_connect
        c.on_subscribe = lambda *a: self.subscribed.set()
        c.on_message = self._on_message
        c.reconnect_delay_set(0.05, 0.5)
        self.subscribed.clear()
        c.connect("127.0.0.1", self.port, keepalive=30)
        c.loop_start()
        self.client = c
        if not self.subscribed.wait(TIMEOUT):
            raise AssertionError("observer could not subscribe on port %d" % self.port)
        return self

    def stop(self):
        if self.client is not None:
            self.client.disconnect()
            self.client.loop_stop()
            self.client = None

    def _on_connect(self, client, userdata, flags, rc):
        if rc == 0:
            client.subscribe([(t, 1) for t in self.topics])

    def _on_message(self, client, userdata, m):
        with self.cond:
            self.messages.append(Msg(m.topic, bytes(m.payload), bool(m.retain)))
            self.cond.notify_all()

    def mark(self):
        """Position after everything seen so far; pass as `since` to look only at what follows."""
        with self.cond:
            return len(self.messages)

    def seen(self, pred=None, since=0):
        with self.cond:
            return [m for m in self.messages[since:] if pred is None or pred(m)]

    def expect(self, pred, timeout=TIMEOUT, since=0, what="a matching message"):
        """The first message (from `since`) satisfying pred, waiting for it until the deadline."""
        return self.expect_count(pred, 1, timeout, since, what)[0]

    def expect_count(self, pred, n, timeout=TIMEOUT, since=0, what="matching messages"):
        """Waits until at least n messages (from `since`) satisfy pred; returns all that do."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                found = [m for m in self.messages[since:] if pred(m)]
                if len(found) >= n:
                    return found
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError("observer: timed out after %.1f s waiting for %d x %s; got %d; seen:\n%s" % (
                        timeout, n, what, len(found), "\n".join(repr(m) for m in self.messages[since:][-30:])))
                self.cond.wait(left)

    def assert_nothing(self, pred, for_seconds=1.0, since=0, what="message"):
        """The one bounded wait: nothing satisfying pred arrives (from `since`) for for_seconds."""
        deadline = time.monotonic() + for_seconds
        with self.cond:
            while True:
                found = [m for m in self.messages[since:] if pred(m)]
                if found:
                    raise AssertionError("unexpected %s: %r" % (what, found[:5]))
                left = deadline - time.monotonic()
                if left <= 0:
                    return
                self.cond.wait(left)


def on_topic(topic_filter):
    """Predicate: the message's topic matches an MQTT topic filter."""
    return lambda m: mqtt.topic_matches_sub(topic_filter, m.topic)


class Device:
    """A device publishing to the local broker at QoS 1; publish() returns once the broker
    acknowledged (PUBACK)."""

    def __init__(self, port, client_id=None):
        self.port = port
        self.client_id = client_id or "device-%d-%d" % (os.getpid(), id(self))
        self.client = None

    def start(self):
        connected = threading.Event()
        c = mqtt.Client(client_id=self.client_id, clean_session=True)
        c.on_connect = lambda client, userdata, flags, rc: rc == 0 and connected.set()
        c.max_inflight_messages_set(100)
        c.connect("127.0.0.1", self.port, keepalive=30)
        c.loop_start()
        if not connected.wait(TIMEOUT):
            raise AssertionError("device could not connect on port %d" % self.port)
        self.client = c
        return self

    def stop(self):
        if self.client is not None:
            self.client.disconnect()
            self.client.loop_stop()
            self.client = None

    def publish(self, topic, payload, qos=1, retain=False, wait=True):
        if isinstance(payload, (dict, list)):
            payload = json.dumps(payload)
        info = self.client.publish(topic, payload, qos=qos, retain=retain)
        if info.rc != mqtt.MQTT_ERR_SUCCESS:
            raise AssertionError("device: publish on %r failed: %s" % (topic, mqtt.error_string(info.rc)))
        if wait:
            info.wait_for_publish(TIMEOUT)
            if not info.is_published():
                raise AssertionError("device: no PUBACK for %r within %.1f s" % (topic, TIMEOUT))
        return info


class SteadyPublisher:
    """A device publishing `make_payload(seq)` on `topic` at QoS 1, `rate` messages a second, on
    its own thread, until stop() (or `limit` messages). accepted() are the seqs the broker
    acknowledged (PUBACK)."""

    def __init__(self, port, topic, make_payload, rate=50.0, client_id=None, limit=None):
        self.port = port
        self.topic = topic
        self.make_payload = make_payload
        self.rate = rate
        self.limit = limit
        self.client_id = client_id or "steady-%d-%d" % (os.getpid(), id(self))
        self.sent = []  # (seq, MQTTMessageInfo)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.client = None

    def start(self):
        connected = threading.Event()
        c = mqtt.Client(client_id=self.client_id, clean_session=True)
        c.on_connect = lambda client, userdata, flags, rc: rc == 0 and connected.set()
        c.max_inflight_messages_set(1000)
        c.max_queued_messages_set(0)
        c.connect("127.0.0.1", self.port, keepalive=30)
        c.loop_start()
        if not connected.wait(TIMEOUT):
            raise AssertionError("steady publisher could not connect on port %d" % self.port)
        self.client = c
        self._thread.start()
        return self

    def _run(self):
        started = time.monotonic()
        seq = 0
        while not self._stop.is_set() and (self.limit is None or seq < self.limit):
            due = started + seq / self.rate
            now = time.monotonic()
            if now < due:
                self._stop.wait(due - now)
                continue
            payload = self.make_payload(seq)
            if isinstance(payload, (dict, list)):
                payload = json.dumps(payload)
            info = self.client.publish(self.topic, payload, qos=1)
            with self._lock:
                self.sent.append((seq, info))
            seq += 1

    def count(self):
        with self._lock:
            return len(self.sent)

    def stop(self):
        """Stops publishing and waits (bounded) for the broker to acknowledge what was sent."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()
        if self.client is not None:
            wait_until(lambda: all(info.is_published() for _, info in self.sent),
                       what="the local broker to acknowledge every message of %s" % self.client_id)
            self.client.disconnect()
            self.client.loop_stop()
            self.client = None
        return self

    def close(self):
        """Cleanup: stops at once, without waiting for acknowledgements."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()
        if self.client is not None:
            self.client.disconnect()
            self.client.loop_stop()
            self.client = None

    def accepted(self):
        with self._lock:
            return [seq for seq, info in self.sent if info.is_published()]


def sequence_report(seqs, expected):
    """What a list of received sequence numbers says about delivery of `expected` (a set):
    missing, unexpected, duplicates (extra copies) and whether the first arrivals are in order."""
    seen = set()
    first = []
    for n in seqs:
        if n not in seen:
            seen.add(n)
            first.append(n)
    return dict(missing=sorted(set(expected) - seen), unexpected=sorted(seen - set(expected)),
                duplicates=len(seqs) - len(first), in_order=first == sorted(first), received=len(seqs))


SpoolFrame = collections.namedtuple("SpoolFrame", "path offset length seq key_id purpose crc_ok")
SPOOL_MAGIC = b"PTS1"
SPOOL_HEADER = 12  # magic, body length (u32 LE), CRC-32 of body (u32 LE)


def parse_spool_frames(path, data):
    """Frames of one segment: "PTS1" | len | crc | body, body = seq u64 | key id u64 | purpose
    length u8 | purpose | nonce (12) | ciphertext+tag. Stops at the first thing that is no frame."""
    frames = []
    off = 0
    while off + SPOOL_HEADER <= len(data) and data[off:off + 4] == SPOOL_MAGIC:
        length = int.from_bytes(data[off + 4:off + 8], "little")
        crc = int.from_bytes(data[off + 8:off + 12], "little")
        if off + SPOOL_HEADER + length > len(data) or length < 17:
            break
        body = data[off + SPOOL_HEADER:off + SPOOL_HEADER + length]
        plen = body[16]
        frames.append(SpoolFrame(path, off, SPOOL_HEADER + length, int.from_bytes(body[0:8], "little"),
                                 int.from_bytes(body[8:16], "little"), body[17:17 + plen].decode("ascii", "replace"),
                                 zlib.crc32(body) == crc))
        off += SPOOL_HEADER + length
    return frames


# A policy for tests that count: one purpose, one class; `seq` and `note` leave as they are,
# everything else (e.g. `noise`) stays at home.
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
  field { path: "note" title: "a note" rule { purpose: "bench" keep {} } }
}
"""


def write_policy(tmp, text, name="policy-bench"):
    d = os.path.join(tmp, name)
    os.makedirs(d)
    with open(os.path.join(d, "policy.textproto"), "w") as f:
        f.write(text)
    return d


# --- portier-policy ----------------------------------------------------------------------------

def policy_run(policy_dir, lines, gateway_id, secret=TEST_SECRET, grant=(), refuse=()):
    """`portier-policy run` on JSON lines: the decoded output, one dict per input line (the windows
    run releases after the lines, and its window counts, are left out)."""
    args = [PORTIER_POLICY, "run", policy_dir, "--gateway-id", gateway_id, "--gateway-secret", secret.hex()]
    for p in grant:
        args += ["--grant", p]
    for p in refuse:
        args += ["--refuse", p]
    r = subprocess.run(args, input="".join(l if l.endswith("\n") else l + "\n" for l in lines), capture_output=True,
                       text=True, timeout=60)
    if r.returncode != 0:
        raise AssertionError("portier-policy run failed (%d): %s" % (r.returncode, r.stderr))
    return [o for o in (json.loads(l) for l in r.stdout.splitlines() if l.strip()) if "releases" in o]


def read_samples():
    """samples.jsonl as (line, topic, wire payload bytes): the payload exactly as written in the
    file for JSON values, the string's content for a string (a non-JSON wire payload)."""
    out = []
    with open(SAMPLES, encoding="utf-8") as f:
        for line in f:
            if not line.strip():
                continue
            obj = json.loads(line)
            if isinstance(obj["payload"], str):
                wire = obj["payload"].encode("utf-8")
            else:
                # The raw text keeps number spellings such as 2310.00 exactly as the device sent them.
                start = line.index('"payload":') + len('"payload":')
                raw = line[start:line.rindex("}")].strip()
                assert json.loads(raw) == obj["payload"], "cannot cut the payload out of %r" % line
                wire = raw.encode("utf-8")
            out.append((line, obj["topic"], wire))
    return out


# --- the test base class -----------------------------------------------------------------------

class GatewayTest(unittest.TestCase):
    """One scenario per test method; everything made through these helpers is cleaned up."""

    gateway_id = "gw-it"

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="portier-it-")
        if os.environ.get("PORTIER_IT_KEEP"):
            sys.stderr.write("\n(keeping %s)\n" % self.tmp)
        else:
            self.addCleanup(shutil.rmtree, self.tmp, True)
        self._logs = []
        self._daemons = []
        self.addCleanup(self._dump_logs_on_failure)

    def _failed(self):
        outcome = getattr(self, "_outcome", None)
        result = getattr(outcome, "result", None)
        if result is None:
            return False
        return any(test is self for test, _ in list(result.failures) + list(result.errors))

    def _dump_logs_on_failure(self):
        if self._failed() or os.environ.get("PORTIER_IT_VERBOSE"):
            for d in self._daemons:
                if d.exit_note():
                    sys.stderr.write("\n--- %s\n" % d.exit_note())
            for name, log in self._logs:
                sys.stderr.write("\n--- %s (%s), last lines:\n%s" % (name, log.path, _tail(log.path, 80)))

    def local_broker(self, start=True, **kw):
        b = Broker(self.tmp, "local", **kw)
        self._logs.append(("local mosquitto", b.log))
        self.addCleanup(b.stop)
        return b.start() if start else b

    def upstream_broker(self, server_cert="server", start=True, **kw):
        b = Broker(self.tmp, "upstream-" + server_cert, server_cert=server_cert, **kw)
        self._logs.append(("upstream mosquitto", b.log))
        self.addCleanup(b.stop)
        return b.start() if start else b

    def portierd(self, local, upstream, start=True, wait_connected=True, gateway_id=None, **kw):
        d = Portierd(self.tmp, gateway_id or self.gateway_id, local, upstream, **kw)
        self._logs.append(("portierd", d.log))
        self._daemons.append(d)
        self.addCleanup(d.stop)
        if start:
            d.start(wait_connected=wait_connected)
        return d

    def observer(self, broker_or_port, **kw):
        port = broker_or_port if isinstance(broker_or_port, int) else broker_or_port.observer_port
        o = Observer(port, **kw)
        self.addCleanup(o.stop)
        return o.start()

    def persistent_observer(self, broker, topics=("#",)):
        """An observer whose session (QoS 1 subscription) already exists at `broker` (which must
        have persistence): stop the broker, and on its next start everything published while
        the observer was away waits for it. Returned stopped; start() it after the broker."""
        assert broker.running()
        o = Observer(broker.observer_port, topics=topics, client_id="observer-%s" % broker.name, clean_session=False)
        self.addCleanup(o.stop)
        o.start()
        o.stop()
        return o

    def device(self, broker):
        d = Device(broker.port)
        self.addCleanup(d.stop)
        return d.start()

    def sampler(self, fn, interval=0.05):
        smp = Sampler(fn, interval)
        self.addCleanup(smp.stop)
        return smp.start()

    def steady_publisher(self, broker, topic, make_payload, rate=50.0, limit=None):
        p = SteadyPublisher(broker.port, topic, make_payload, rate, limit=limit)
        self.addCleanup(p.close)
        return p.start()

    def world(self, **portierd_kw):
        """The usual set-up: local broker, TLS upstream broker, observer on upstream, running
        portierd (connected to both), a device. Returns (local, upstream, observer, daemon, device)."""
        local = self.local_broker()
        upstream = self.upstream_broker()
        obs = self.observer(upstream)
        daemon = self.portierd(local, upstream, **portierd_kw)
        dev = self.device(local)
        return local, upstream, obs, daemon, dev

    def status(self, obs, daemon, pred=lambda s: True, since=0, what="a status"):
        """The next status message (decoded) from `since` satisfying pred."""
        m = obs.expect(lambda m: m.topic == daemon.status_topic and _json(m.payload) is not None
                       and pred(_json(m.payload)), since=since, what=what)
        return _json(m.payload)


def decoded(m):
    return _json(m.payload)


def main():
    unittest.main(verbosity=2)


# --- the control socket and portierctl (tests 11 and later) ------------------------------------

PORTIERCTL = os.environ.get("PORTIERCTL") or os.path.join(SOURCE_DIR, "build", "tools", "portierctl")

# How to run a command as an unprivileged user (for "who may use the socket"): no groups at all.
AS_NOBODY = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"]

CtlResult = collections.namedtuple("CtlResult", "rc out err data")


def portierctl(socket_path, *args, as_json=True, user_prefix=(), timeout=TIMEOUT * 3):
    """Runs `portierctl --socket PATH [--json] ARGS...`; `user_prefix` (e.g. AS_NOBODY) runs it as
    someone else. Returns CtlResult(rc, stdout, stderr, data): data is stdout decoded as JSON
    when --json was given and it parses, else None."""
    cmd = list(user_prefix) + [PORTIERCTL, "--socket", socket_path] + (["--json"] if as_json else []) + list(args)
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    data = _json(r.stdout) if as_json and r.stdout.strip() else None
    return CtlResult(r.returncode, r.stdout, r.stderr, data)


def ctl_counter(status, name):
    """A counter from `portierctl status --json` (64-bit numbers are JSON strings there); 0 if absent."""
    return int(status.get("counters", {}).get(name, 0))


class ControlledPortierd(Portierd):
    """portierd with its control socket on: the configuration says
    `control { socket: "SOCKET" group: "GROUP" }` where the harness default says
    `control { disabled: true }`; everything else is Portierd's. `ctl()` drives portierctl."""

    _DISABLED = "control { disabled: true }"

    def __init__(self, workdir, gateway_id, local, upstream, *, control_socket, control_group="root", **kw):
        self.control_socket = control_socket
        self.control_group = control_group
        super().__init__(workdir, gateway_id, local, upstream, **kw)

    def config_text(self, **settings):
        text = super().config_text(**settings)
        if self._DISABLED not in text:
            raise AssertionError("ControlledPortierd: the harness no longer writes %r; adapt me" % self._DISABLED)
        return text.replace(self._DISABLED, 'control { socket: "%s" group: "%s" }' % (self.control_socket,
                                                                                     self.control_group))

    def ctl(self, *args, as_json=True, user_prefix=(), timeout=TIMEOUT * 3):
        return portierctl(self.control_socket, *args, as_json=as_json, user_prefix=user_prefix, timeout=timeout)

    def ctl_ok(self, *args):
        """`portierctl --json ARGS`, which must succeed; its decoded answer."""
        r = self.ctl(*args)
        if r.rc != 0 or r.data is None:
            raise AssertionError("portierctl %s: exit %d\nstdout: %s\nstderr: %s" % (" ".join(args), r.rc, r.out,
                                                                                    r.err))
        return r.data

    def ctl_status(self):
        return self.ctl_ok("status")


class ControlGatewayTest(GatewayTest):
    """GatewayTest with portierds whose control socket is on (in the test's directory)."""

    def controlled_portierd(self, local, upstream, start=True, wait_connected=True, gateway_id=None,
                            control_group="root", **kw):
        gid = gateway_id or self.gateway_id
        ctl_dir = os.path.join(self.tmp, "ctl-" + gid)
        os.makedirs(ctl_dir)
        os.chmod(ctl_dir, 0o755)
        d = ControlledPortierd(self.tmp, gid, local, upstream, control_socket=os.path.join(ctl_dir, "control.sock"),
                               control_group=control_group, **kw)
        self._logs.append(("portierd", d.log))
        self._daemons.append(d)
        self.addCleanup(d.stop)
        if start:
            d.start(wait_connected=wait_connected)
            wait_until(lambda: os.path.exists(d.control_socket), what="the control socket")
        return d
