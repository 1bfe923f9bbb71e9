"""21 the household's LAN page: portier-web in front of a real portierd and real brokers, driven in
headless Chromium through Selenium as a household would (pair with a code from `portierctl pair`,
refuse a purpose for one device, pause and resume, export, erase), and attacked as the LAN could
(a forged CSRF token, a wrong Host, an expired or logged-out session, brute-forcing the code).

Screenshots of every page are taken on the way; with PORTIER_WEB_SCREENSHOTS=DIR they are kept
there (tools/web-screenshots writes docs/images/ this way), else in the test's temporary directory.
"""

import http.client
import json
import os
import re
import shutil
import ssl
import subprocess
import sys
import urllib.parse

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (SOURCE_DIR, TIMEOUT, ControlGatewayTest, LogFile, _die_with_parent, _tail,  # noqa: E402
                     decoded, free_port, main, on_topic, port_accepts, wait_until)

from selenium import webdriver  # noqa: E402
from selenium.webdriver.chrome.service import Service as ChromeService  # noqa: E402
from selenium.common.exceptions import StaleElementReferenceException  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402

PORTIER_WEB = os.environ.get("PORTIER_WEB") or os.path.join(SOURCE_DIR, "build", "gateway", "portier-web")
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"

GW = "gw21"
ANNA = "Anna/bedroom climate"
LIVING = "living room/air monitor"


def climate(battery, temperature):
    return json.dumps({"battery": battery, "humidity": 48.2, "linkquality": 120, "temperature": temperature,
                       "voltage": 3005})


class PortierWeb:
    """portier-web on a free loopback port, talking to `daemon`'s control socket."""

    def __init__(self, workdir, daemon, extra=""):
        self.dir = os.path.join(workdir, "portier-web")
        self.state_dir = os.path.join(self.dir, "state")
        os.makedirs(self.state_dir, mode=0o700)
        self.port = free_port()
        self.config_path = os.path.join(self.dir, "portier-web.conf")
        self.log = LogFile(os.path.join(self.dir, "portier-web.log"))
        with open(self.config_path, "w") as f:
            f.write('listen { address: "127.0.0.1" port: %d }\n' % self.port)
            f.write('names: "portier.test"\n')
            f.write('control_socket: "%s"\n' % daemon.control_socket)
            f.write('state_dir: "%s"\n' % self.state_dir)
            f.write(extra + "\n")
        self.proc = None

    def start(self):
        with open(self.log.path, "a") as out:
            self.proc = subprocess.Popen([PORTIER_WEB, "--config", self.config_path], stdout=out,
                                         stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                         preexec_fn=_die_with_parent)

        def up():
            if self.proc.poll() is not None:
                raise AssertionError("portier-web exited with %s:\n%s" % (self.proc.returncode, _tail(self.log.path)))
            return port_accepts(self.port)

        wait_until(up, what="portier-web to listen")
        return self

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=TIMEOUT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def rss_kb(self):
        with open("/proc/%d/status" % self.proc.pid) as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
        return 0

    @property
    def url(self):
        return "https://127.0.0.1:%d" % self.port


class Http:
    """Raw HTTPS requests for what a browser will not send (a wrong Host, a forged token)."""

    def __init__(self, port):
        self.port = port
        self.ctx = ssl.create_default_context()
        self.ctx.check_hostname = False
        self.ctx.verify_mode = ssl.CERT_NONE

    def request(self, method, path, body=None, headers=None, host=None):
        c = http.client.HTTPSConnection("127.0.0.1", self.port, context=self.ctx, timeout=TIMEOUT)
        h = {"Host": host or "127.0.0.1:%d" % self.port}
        if body is not None:
            h["Content-Type"] = "application/x-www-form-urlencoded"
            body = urllib.parse.urlencode(body)
        h.update(headers or {})
        c.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
        for k, v in h.items():
            c.putheader(k, v)
        if body is not None:
            c.putheader("Content-Length", str(len(body)))
        c.endheaders(body.encode() if body is not None else None)
        r = c.getresponse()
        data = r.read().decode("utf-8", "replace")
        c.close()
        headers = {}
        for k, v in r.getheaders():  # Set-Cookie may come more than once: joined with "\n"
            k = k.lower()
            headers[k] = headers[k] + "\n" + v if k in headers else v
        return r.status, headers, data


class WebPageTest(ControlGatewayTest):
    """A real portierd, both brokers, portier-web, and (open_browser) headless Chromium."""

    gateway_id = GW

    def setUp(self):
        super().setUp()
        self.shots = os.environ.get("PORTIER_WEB_SCREENSHOTS") or os.path.join(self.tmp, "screenshots")
        os.makedirs(self.shots, exist_ok=True)
        self.local = self.local_broker()
        self.upstream = self.upstream_broker()
        self.obs = self.observer(self.upstream)
        self.daemon = self.controlled_portierd(self.local, self.upstream, grant=("analytics",))
        self.dev = self.device(self.local)
        self.web = PortierWeb(self.tmp, self.daemon, extra=getattr(self, "web_extra", ""))
        self._logs.append(("portier-web", self.web.log))
        self.addCleanup(self.web.stop)
        self.web.start()
        self.http = Http(self.web.port)
        self.downloads = os.path.join(self.tmp, "downloads")
        os.makedirs(self.downloads)
        self.browser = None

    # --- the browser ---------------------------------------------------------------------------

    def open_browser(self, language="en-GB"):
        options = webdriver.ChromeOptions()
        options.binary_location = CHROMIUM
        for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--window-size=412,915", "--lang=" + language, "--no-first-run",
                    "--host-resolver-rules=MAP portier.test 127.0.0.1, MAP rebound.example 127.0.0.1"):
            options.add_argument(arg)
        options.accept_insecure_certs = True  # the box's own certificate; its fingerprint is checked below
        options.add_experimental_option("prefs", {"download.default_directory": self.downloads,
                                                  "download.prompt_for_download": False,
                                                  "intl.accept_languages": language})
        service = ChromeService(executable_path=CHROMEDRIVER)
        b = webdriver.Chrome(options=options, service=service)
        b.set_page_load_timeout(TIMEOUT * 3)
        self.addCleanup(b.quit)
        self.browser = b
        return b

    def go(self, path, host="portier.test"):
        self.browser.get("https://%s:%d%s" % (host, self.web.port, path))

    def shot(self, name):
        """Screenshot of the whole page as NAME.png, at a phone's width."""
        height = self.browser.execute_script("return document.documentElement.scrollHeight")
        self.browser.set_window_size(412, min(max(int(height or 0) + 140, 915), 2400))
        self.browser.save_screenshot(os.path.join(self.shots, name + ".png"))
        self.browser.set_window_size(412, 915)

    def click(self, text):
        """Clicks the button whose visible text contains `text`."""
        buttons = [e for e in self.browser.find_elements(By.CSS_SELECTOR, "button") if text in e.text]
        self.assertTrue(buttons, "no button with %r on %s:\n%s" % (text, self.browser.current_url,
                                                                   self.body()[:2000]))
        buttons[0].click()

    def click_labelled(self, label):
        """Clicks the button whose accessible name (aria-label) is `label`."""
        buttons = [e for e in self.browser.find_elements(By.CSS_SELECTOR, "button")
                   if e.get_attribute("aria-label") == label]
        self.assertTrue(buttons, "no button labelled %r on %s" % (label, self.browser.current_url))
        buttons[0].click()

    def has_labelled(self, label):
        """Whether the page has a button labelled `label`; False while a new page replaces it."""
        try:
            return any(e.get_attribute("aria-label") == label
                       for e in self.browser.find_elements(By.CSS_SELECTOR, "button"))
        except StaleElementReferenceException:
            return False

    def body(self):
        return self.browser.find_element(By.TAG_NAME, "body").text

    def pair(self):
        """Pairs the browser with a fresh code from portierctl pair; returns the code."""
        code = self.daemon.ctl_ok("pair")["code"]
        self.go("/")
        self.assertIn("/login", self.browser.current_url)
        field = self.browser.find_element(By.NAME, "code")
        field.send_keys(code)
        self.shot("web-login")
        field.submit()
        try:
            wait_until(lambda: "/login" not in self.browser.current_url, what="the page after pairing")
        except AssertionError:
            self.shot("web-login-failed")
            raise AssertionError("pairing failed; cookies %r; the page says:\n%s" % (self.browser.get_cookies(), self.body()[:1500]))
        return code

    def cookie(self):
        c = self.browser.get_cookie("__Host-portier")
        self.assertIsNotNone(c, "no session cookie")
        return c

    def csrf(self):
        return self.browser.find_element(By.NAME, "csrf").get_attribute("value")

    # --- messages ------------------------------------------------------------------------------

    def released_topic(self, device, battery):
        """Publishes a climate reading from `device` and returns the service release's topic."""
        mark = self.obs.mark()
        self.dev.publish("zigbee2mqtt/" + device, climate(battery, 21.5))
        m = self.obs.expect(lambda m: on_topic("portier/%s/service/+/+" % GW)(m)
                            and (decoded(m) or {}).get("battery") == battery, since=mark,
                            what="the service release of %s" % device)
        return m.topic

    def access_entries(self):
        """The ledger's access entries (kind `access`), from portierctl export."""
        export = self.daemon.ctl_ok("export", "-")
        return export, [e.get("access", e) for e in export["ledger"] if e.get("type") == "access" or "access" in e]


class WebPage(WebPageTest):
    # --- the tests -----------------------------------------------------------------------------

    def test_pair_refuse_for_one_device_pause_resume_export_erase(self):
        anna_topic = self.released_topic(ANNA, 91)
        living_topic = self.released_topic(LIVING, 92)
        self.assertNotEqual(anna_topic, living_topic)

        # portierctl pair names the page and its certificate: the one the browser is shown.
        paired = self.daemon.ctl_ok("pair")
        wait_until(lambda: self.daemon.ctl_ok("status").get("web_urls"), what="portier-web to announce itself")
        status = self.daemon.ctl_ok("status")
        self.assertTrue(any(u.startswith("https://portier.test:%d" % self.web.port) for u in status["web_urls"]),
                        status["web_urls"])
        der = ssl.PEM_cert_to_DER_cert(ssl.get_server_certificate(("127.0.0.1", self.web.port)))
        import hashlib
        fingerprint = ":".join("%02x" % b for b in hashlib.sha256(der).digest())
        self.assertEqual(status["web_fingerprint_sha256"], fingerprint)
        self.assertTrue(re.fullmatch(r"[0-9A-Z]{4}-[0-9A-Z]{4}", paired["code"]), paired["code"])

        self.open_browser()
        self.pair()
        cookie = self.cookie()
        self.assertTrue(cookie["secure"] and cookie["httpOnly"], cookie)
        self.assertEqual(cookie.get("sameSite"), "Strict", cookie)
        self.assertIn("What left", self.body())
        self.shot("web-home")

        # Refuse the service purpose for Anna's sensor only, on the device's page.
        self.go("/device?id=" + urllib.parse.quote(ANNA))
        self.assertIn(ANNA, self.body())
        self.shot("web-device")
        title = [p for p in self.daemon.ctl_ok("purposes")["purpose"] if p["id"] == "service"][0]["title"]
        self.click_labelled("Refuse %s for %s" % (title, ANNA))
        wait_until(lambda: self.has_labelled("Allow %s for %s" % (title, ANNA)),
                   what="the device's toggle for the service purpose to flip")
        purposes = self.daemon.ctl_ok("purposes")["purpose"]
        service = [p for p in purposes if p["id"] == "service"][0]
        self.assertTrue(any(d["scope"] == "SCOPE_DEVICE" and d["value"] == ANNA and not d["granted"]
                            and d["method"] == "web" for d in service["decision"]), service["decision"])

        # The next message from Anna's sensor does not leave; the living room's still does.
        mark = self.obs.mark()
        self.dev.publish("zigbee2mqtt/" + ANNA, climate(81, 21.0))
        self.dev.publish("zigbee2mqtt/" + LIVING, climate(82, 21.0))
        self.obs.expect(lambda m: m.topic == living_topic and (decoded(m) or {}).get("battery") == 82, since=mark,
                        what="the living room's release (the sentinel)")
        self.assertFalse(self.obs.seen(lambda m: m.topic == anna_topic, since=mark),
                         "a release of the refused device left the home")

        # Pause and resume with the big button.
        self.go("/")
        self.click("Pause")
        wait_until(lambda: self.daemon.ctl_ok("status").get("paused"), what="portierd to be paused")
        self.shot("web-paused")
        mark = self.obs.mark()
        self.dev.publish("zigbee2mqtt/" + LIVING, climate(71, 21.0))
        self.go("/")
        self.click("Resume")
        wait_until(lambda: not self.daemon.ctl_ok("status").get("paused"), what="portierd to resume")
        self.dev.publish("zigbee2mqtt/" + LIVING, climate(72, 21.0))
        self.obs.expect(lambda m: m.topic == living_topic and (decoded(m) or {}).get("battery") == 72, since=mark,
                        what="the release after resume (the sentinel)")
        self.assertFalse(self.obs.seen(lambda m: (decoded(m) or {}).get("battery") == 71, since=mark),
                         "a message received while paused left the home")

        # The other pages render, in the household's words.
        for path, name in (("/purposes", "web-purposes"), ("/devices", "web-devices"),
                           ("/receipts", "web-receipts"), ("/updates", "web-updates"),
                           ("/?span=week", "web-home-week")):
            self.go(path)
            self.assertNotIn("Internal", self.body())
            self.shot(name)

        # Export: a download of the ledger and the receipts.
        self.go("/export")
        self.shot("web-export")
        self.click("Download")

        def downloaded():
            done = [f for f in os.listdir(self.downloads) if f.endswith(".json")]
            return done and os.path.join(self.downloads, done[0])

        path = wait_until(downloaded, what="the export to download")
        with open(path) as f:
            export = json.load(f)
        self.assertEqual(export["gateway_id"], GW)
        self.assertTrue(any(r.get("method") == "web" for r in export["receipts"]), "no receipt made on the page")

        # Erase Anna's sensor, with a confirmation step.
        self.go("/device?id=" + urllib.parse.quote(ANNA))
        self.browser.find_element(By.PARTIAL_LINK_TEXT, "Erase").click()
        self.shot("web-erase-confirm")
        self.assertIn(ANNA, self.body())
        devices = [d["device_id"] for d in self.daemon.ctl_ok("devices")["device"]]
        self.assertIn(ANNA, devices, "erased before the household confirmed")
        self.click("Yes, erase")
        wait_until(lambda: ANNA not in [d["device_id"] for d in self.daemon.ctl_ok("devices")["device"]],
                   what="the device to be erased")
        self.shot("web-erased")

        # Every access went to the ledger with the method "web".
        # (The entries join the ledger's next batch, written every second or so.)
        wait_until(lambda: any(a.get("method") == "web" and a.get("command") == "erase"
                               for a in self.access_entries()[1]), what="the erase's access entry in the ledger")

        # Log out everywhere: the old cookie opens nothing any more.
        self.go("/")
        self.click("Log out everywhere")
        wait_until(lambda: "/login" in self.browser.current_url, what="the pairing form after logging out")
        status, _, _ = self.http.request("GET", "/", headers={"Cookie": "__Host-portier=" + cookie["value"]})
        self.assertEqual(status, 303)
        # Reported, not asserted (a footprint is a benchmark's job): portier-web's peak RSS.
        sys.stderr.write("portier-web peak RSS (VmHWM): %d KiB\n" % self.web.rss_kb())

    def test_french_from_the_browser_language(self):
        self.open_browser(language="fr-FR")
        self.pair()
        self.assertIn("Ce qui sort de chez moi", self.body())
        self.shot("web-home-fr")

    def test_refused_forged_csrf_wrong_host(self):
        self.open_browser()
        self.pair()
        cookie = "__Host-portier=" + self.cookie()["value"]
        token = self.csrf()
        origin = "https://127.0.0.1:%d" % self.web.port

        # A forged (or missing) CSRF token changes nothing.
        for forged in ("0" * len(token), ""):
            status, headers, _ = self.http.request("POST", "/pause", body={"csrf": forged},
                                                   headers={"Cookie": cookie, "Origin": origin})
            self.assertEqual(status, 403)
            self.assertIn("default-src 'none'", headers.get("content-security-policy", ""))
        self.assertFalse(self.daemon.ctl_ok("status")["paused"])
        # The right token from the wrong origin changes nothing either.
        status, _, _ = self.http.request("POST", "/pause", body={"csrf": token},
                                         headers={"Cookie": cookie, "Origin": "https://rebound.example"})
        self.assertEqual(status, 403)
        self.assertFalse(self.daemon.ctl_ok("status")["paused"])
        # With both right, it works (so the refusals above were for the reasons tested).
        status, _, _ = self.http.request("POST", "/pause", body={"csrf": token},
                                         headers={"Cookie": cookie, "Origin": origin})
        self.assertEqual(status, 303)
        self.assertTrue(self.daemon.ctl_ok("status")["paused"])

        # DNS rebinding: a name the box does not answer to is refused, with a valid session too.
        status, _, body = self.http.request("GET", "/", host="rebound.example:%d" % self.web.port,
                                            headers={"Cookie": cookie})
        self.assertIn(status, (403, 421))
        self.assertNotIn("What left", body)
        self.go("/", host="rebound.example")
        self.assertNotIn("What left", self.body())
        self.shot("web-wrong-host")

    def login_attempt(self, code):
        """POST /login as a browser would: the login form's token and its cookie, then the code."""
        origin = "https://127.0.0.1:%d" % self.web.port
        status, headers, page = self.http.request("GET", "/login")
        self.assertEqual(status, 200)
        token = re.search(r'name="login_token" value="([^"]+)"', page) or \
            re.search(r'value="([^"]+)" name="login_token"', page)
        self.assertIsNotNone(token, page[:2000])
        login_cookie = re.search(r"(__Host-portier-login=[^;]+)", headers.get("set-cookie", ""))
        self.assertIsNotNone(login_cookie, headers)
        return self.http.request("POST", "/login", body={"code": code, "login_token": token.group(1)},
                                 headers={"Origin": origin, "Cookie": login_cookie.group(1)})

    def test_brute_forcing_the_code_is_slowed_then_refused(self):
        good = self.daemon.ctl_ok("pair")["code"]
        statuses = []
        for i in range(12):
            status, headers, _ = self.login_attempt("ZZZZ-%04d" % i)
            statuses.append(status)
            self.assertNotIn("__Host-portier=", headers.get("set-cookie", ""), "a wrong code opened a session")
            if status == 429:
                break
        self.assertEqual(statuses[0], 403, "a wrong code is refused with the form again")
        self.assertEqual(statuses[-1], 429, statuses)
        self.assertIn("retry-after", headers)
        # While refused, even the right code opens nothing.
        status, headers, _ = self.login_attempt(good)
        self.assertEqual(status, 429)
        self.assertNotIn("__Host-portier=", headers.get("set-cookie", ""))
        # Every attempt went to the ledger (never the code itself).
        wait_until(lambda: len([a for a in self.access_entries()[1] if a.get("command") == "redeem_pairing"])
                   >= len(statuses) - 1, what="every code tried to be in the ledger")
        export, _ = self.access_entries()
        self.assertNotIn(good, json.dumps(export))
        self.assertNotIn(good.replace("-", ""), json.dumps(export))


class ShortSessions(WebPageTest):
    """Sessions that end 4 seconds after pairing, however active (session_max_age_seconds)."""

    web_extra = "session_max_age_seconds: 4"

    def test_an_expired_session_opens_nothing(self):
        self.open_browser()
        self.pair()
        cookie = "__Host-portier=" + self.cookie()["value"]
        status, _, _ = self.http.request("GET", "/purposes", headers={"Cookie": cookie})
        self.assertEqual(status, 200)

        def expired():
            status, headers, _ = self.http.request("GET", "/purposes", headers={"Cookie": cookie})
            return status == 303 and "/login" in headers.get("location", "")

        wait_until(expired, timeout=TIMEOUT, what="the session to expire", interval=0.25)
        # The browser is sent back to the pairing form, which says why.
        self.go("/purposes")
        self.assertIn("/login", self.browser.current_url)
        self.shot("web-expired")


if __name__ == "__main__":
    main()
