#include "gateway/household/control_server.h"

#include <grp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "gateway/household/control_protocol.h"

#include <CppUTest/TestHarness.h>
// After TestHarness.h, which it needs.
#include <CppUTest/MemoryLeakWarningPlugin.h>

using namespace portier;
using namespace portier::gateway;
using namespace std::chrono_literals;

namespace {

constexpr std::int64_t kNow = 1'700'000'000'000;

// Protobuf builds control.proto's descriptors and reflection data on first use and keeps them;
// build them before CppUTest starts counting allocations per test.
struct warm_up {
  warm_up() {
    control::Response r;
    r.mutable_status()->mutable_counters()->insert({"x", 1});
    r.mutable_devices()->add_device()->add_purpose()->add_receives("x");
    make_strings_utf8(r);
    control::Request q;
    q.set_method("cli");
    q.mutable_set_consent()->set_purpose("a");
    q.GetReflection()->MutableUnknownFields(&q)->AddVarint(999, 1);
    (void)validate_request(q, kNow);
    std::string bytes;
    r.SerializeToString(&bytes);
    r.ParseFromString(bytes);
    google::protobuf::LogSilencer quiet;
    q.ParseFromString("\xff\xff");
  }
} const warmed_up;

control::Request request_of(const char* method = "cli") {
  control::Request r;
  r.set_method(method);
  return r;
}

control::Request status_request() {
  auto r = request_of();
  r.mutable_status();
  return r;
}

// Answers status with a fixed result, explain by echoing the device, and misbehaves on cue:
// explain of "boom" throws, erase of "wrong" answers with the wrong result, devices answers with
// a device id that is not UTF-8.
class fake_service : public control_service {
 public:
  control::Response handle(const control::Request& request) override {
    calls++;
    {
      std::lock_guard lock(mu);
      last_method = request.method();
    }
    control::Response r;
    switch (request.command_case()) {
      case control::Request::kStatus:
        r.mutable_status()->set_version("9.9.9");
        r.mutable_status()->set_gateway_id("gw-test");
        (*r.mutable_status()->mutable_counters())["received"] = 42;
        break;
      case control::Request::kExplain:
        if (request.explain().device() == "boom") throw std::runtime_error("the service broke");
        if (request.explain().device() == "big") {  // more than a socket buffer holds
          r.mutable_explain()->set_device_id(std::string(3 << 20, 'x'));
          break;
        }
        r.mutable_explain()->set_device_id(request.explain().device());
        break;
      case control::Request::kErase:
        if (request.erase().device() == "wrong") {
          r.mutable_status();
        } else {
          r.mutable_erase()->set_device_id(request.erase().device());
        }
        break;
      case control::Request::kDevices:
        r.mutable_devices()->add_device()->set_device_id("bad \xff id");
        break;
      case control::Request::kPause:
        return control_error(control::Response::NOT_FOUND, "Nothing to pause.");
      default:
        r.set_code(control::Response::UNAVAILABLE);
        r.set_message("Not in this fake.");
    }
    return r;
  }
  std::atomic<int> calls{0};
  std::mutex mu;
  std::string last_method;
};

std::string make_temp_dir() {
  char tmpl[] = "/tmp/portier-control-XXXXXX";
  const char* dir = ::mkdtemp(tmpl);
  return dir != nullptr ? dir : "";
}

platform::unix_socket connect_to(const std::string& path) {
  auto c = platform::connect_unix(path);
  CHECK_TRUE_TEXT(c.ok(), c.ok() ? "" : c.error_message().c_str());
  return std::move(*c);
}

control::Response round_trip(const platform::unix_socket& s, const std::string& bytes) {
  CHECK_TRUE(platform::write_frame(s, bytes, 2s).ok());
  auto f = platform::read_frame(s, kMaxControlResponseBytes, 5s);
  CHECK_TRUE_TEXT(f.ok(), f.ok() ? "" : f.error_message().c_str());
  CHECK(f->what == platform::frame_read::kind::frame);
  control::Response r;
  CHECK_TRUE(r.ParseFromString(f->body));
  return r;
}

control::Response round_trip(const platform::unix_socket& s, const control::Request& request) {
  return round_trip(s, request.SerializeAsString());
}

control::Response call(const std::string& path, const control::Request& request) {
  auto s = connect_to(path);
  return round_trip(s, request);
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// ── validate_request: one line per case ──

std::string rejection(const control::Request& r) {
  auto v = validate_request(r, kNow);
  if (!v) return "";
  CHECK_EQUAL(control::Response::INVALID_REQUEST, v->code());
  return v->message();
}

control::Request consent_request(const std::string& purpose, control::Decision d,
                                 consent::Scope scope, const std::string& value) {
  auto r = request_of();
  auto* c = r.mutable_set_consent();
  c->set_purpose(purpose);
  c->set_decision(d);
  c->set_scope(scope);
  c->set_value(value);
  return r;
}

control::Request report(std::int64_t since) {
  auto r = request_of();
  r.mutable_report()->set_since_ms(since);
  return r;
}

control::Request bucketed(std::int64_t since, std::int64_t bucket_ms) {
  auto r = report(since);
  r.mutable_report()->set_bucket_ms(bucket_ms);
  return r;
}

control::Request redeem(const std::string& code) {
  auto r = request_of("web");
  r.mutable_redeem_pairing()->set_code(code);
  return r;
}

control::Request announce(std::vector<std::string> urls, const std::string& fingerprint) {
  auto r = request_of("web");
  for (auto& u : urls) r.mutable_web_announce()->add_urls(u);
  r.mutable_web_announce()->set_fingerprint_sha256(fingerprint);
  return r;
}

control::Request history(std::uint32_t limit) {
  auto r = request_of();
  r.mutable_policy_history()->set_limit(limit);
  return r;
}

// 32 bytes as a browser shows them: "00:01:...:1f".
std::string fingerprint() {
  std::string f;
  const char* hex = "0123456789abcdef";
  for (int i = 0; i < 32; ++i) {
    if (i > 0) f += ':';
    f += hex[i >> 4];
    f += hex[i & 15];
  }
  return f;
}

control::Request explain(const std::string& device) {
  auto r = request_of();
  r.mutable_explain()->set_device(device);
  return r;
}

control::Request erase(const std::string& device) {
  auto r = request_of();
  r.mutable_erase()->set_device(device);
  return r;
}

}  // namespace

TEST_GROUP(control_validation){};

TEST(control_validation, valid_requests_pass) {
  using namespace portier::control;
  CHECK_TRUE(rejection(status_request()).empty());
  CHECK_TRUE(rejection(consent_request("analytics", DECISION_GRANT, consent::SCOPE_HOUSEHOLD, ""))
                 .empty());
  CHECK_TRUE(rejection(consent_request("a-1", DECISION_REFUSE, consent::SCOPE_DEVICE_CLASS,
                                       "zigbee2mqtt-device"))
                 .empty());
  CHECK_TRUE(rejection(consent_request("location", DECISION_CLEAR, consent::SCOPE_DEVICE,
                                       "Anna's bedroom ☀"))
                 .empty());
  CHECK_TRUE(rejection(report(0)).empty());
  CHECK_TRUE(rejection(report(kNow + 3'600'000)).empty());  // clock skew of an hour is fine
  CHECK_TRUE(rejection(explain(std::string(256, 'd'))).empty());
  CHECK_TRUE(rejection(erase("kitchen plug")).empty());
  auto web = status_request();
  web.set_method("web.v2_x-y");
  CHECK_TRUE(rejection(web).empty());
}

TEST(control_validation, the_lan_page_s_commands) {
  using namespace portier::control;
  auto pair = request_of();
  pair.mutable_pair();
  CHECK_TRUE(rejection(pair).empty());
  CHECK_TRUE(rejection(redeem("k7qm 4xrt")).empty());
  CHECK_TRUE(rejection(redeem(std::string(32, 'A'))).empty());
  const std::string code = "A pairing code is 1 to 32 bytes";
  CHECK_TRUE(contains(rejection(redeem("")), code));
  CHECK_TRUE(contains(rejection(redeem(std::string(33, 'A'))), code));

  const std::string fp = fingerprint();
  LONGS_EQUAL(95, fp.size());
  CHECK_TRUE(
      rejection(announce({"https://portier.lan:8443/", "https://192.168.1.2/"}, fp)).empty());
  CHECK_TRUE(rejection(announce({"https://x/" + std::string(246, 'a')}, fp)).empty());  // 256
  CHECK_TRUE(rejection(announce(std::vector<std::string>(8, "https://portier.lan/"), fp)).empty());
  CHECK_TRUE(contains(rejection(announce(std::vector<std::string>(9, "https://a/"), fp)),
                      "at most 8 addresses"));
  const std::string url = "A LAN page address is an https:// URL of at most 256 bytes";
  CHECK_TRUE(contains(rejection(announce({"https://x/" + std::string(247, 'a')}, fp)), url));
  CHECK_TRUE(contains(rejection(announce({"http://portier.lan/"}, fp)), url));
  CHECK_TRUE(contains(rejection(announce({"https://"}, fp)), url));
  CHECK_TRUE(contains(rejection(announce({"https://a b/"}, fp)), url));
  CHECK_TRUE(contains(rejection(announce({"https://a/\x1b]0;x\x07"}, fp)), url));
  const std::string print = "The certificate fingerprint is SHA-256 in lower-case hex";
  CHECK_TRUE(contains(rejection(announce({}, "")), print));
  CHECK_TRUE(contains(rejection(announce({}, fp.substr(1))), print));
  std::string upper = fp;
  upper[0] = 'A';
  CHECK_TRUE(contains(rejection(announce({}, upper)), print));
  std::string no_colon = fp;
  no_colon[2] = '-';
  CHECK_TRUE(contains(rejection(announce({}, no_colon)), print));
  std::string not_hex = fp;
  not_hex[1] = 'g';
  CHECK_TRUE(contains(rejection(announce({}, not_hex)), print));

  CHECK_TRUE(rejection(history(0)).empty());
  CHECK_TRUE(rejection(history(1000)).empty());
  STRCMP_EQUAL("Ask for at most 1000 policy changes (limit).", rejection(history(1001)).c_str());

  // Buckets: at least a minute, a start, at most 1000 of them up to now.
  CHECK_TRUE(rejection(bucketed(kNow - 86'400'000, 3'600'000)).empty());
  CHECK_TRUE(rejection(bucketed(kNow - 1000 * 60'000, 60'000)).empty());
  const std::string bucket = "A report in buckets needs a start (since_ms) and buckets of at least";
  CHECK_TRUE(contains(rejection(bucketed(kNow - 3'600'000, 59'999)), bucket));
  CHECK_TRUE(contains(rejection(bucketed(kNow - 3'600'000, -60'000)), bucket));
  CHECK_TRUE(contains(rejection(bucketed(0, 60'000)), bucket));
  STRCMP_EQUAL("A report has at most 1000 buckets: ask for longer buckets or a later start.",
               rejection(bucketed(kNow - 1000 * 60'000 - 1, 60'000)).c_str());
}

TEST(control_validation, every_bad_field_is_named) {
  using namespace portier::control;
  const std::string version = "make sure portierctl and portierd are the same version";
  CHECK_TRUE(contains(rejection(request_of()), version));  // no command
  auto unknown = status_request();
  unknown.GetReflection()->MutableUnknownFields(&unknown)->AddVarint(99, 1);
  CHECK_TRUE(contains(rejection(unknown), version));
  auto nested_unknown = erase("x");
  auto* erase_part = nested_unknown.mutable_erase();
  erase_part->GetReflection()->MutableUnknownFields(erase_part)->AddVarint(7, 1);
  CHECK_TRUE(contains(rejection(nested_unknown), version));

  auto no_method = status_request();
  no_method.set_method("");
  CHECK_TRUE(contains(rejection(no_method), "method must be 1 to 32"));
  auto loud_method = status_request();
  loud_method.set_method("CLI");
  CHECK_TRUE(contains(rejection(loud_method), "method must be 1 to 32"));
  auto long_method = status_request();
  long_method.set_method(std::string(33, 'c'));
  CHECK_TRUE(contains(rejection(long_method), "method must be 1 to 32"));

  const std::string purpose = "That is not a purpose id";
  CHECK_TRUE(contains(rejection(consent_request("", DECISION_GRANT, consent::SCOPE_HOUSEHOLD, "")),
                      purpose));
  CHECK_TRUE(contains(
      rejection(consent_request("Analytics", DECISION_GRANT, consent::SCOPE_HOUSEHOLD, "")),
      purpose));
  CHECK_TRUE(contains(
      rejection(consent_request("1st", DECISION_GRANT, consent::SCOPE_HOUSEHOLD, "")), purpose));
  CHECK_TRUE(contains(rejection(consent_request(std::string(33, 'a'), DECISION_GRANT,
                                                consent::SCOPE_HOUSEHOLD, "")),
                      purpose));
  STRCMP_EQUAL(
      "The decision must be grant, refuse or clear.",
      rejection(consent_request("a", DECISION_UNSPECIFIED, consent::SCOPE_HOUSEHOLD, "")).c_str());
  STRCMP_EQUAL(
      "The decision must be grant, refuse or clear.",
      rejection(consent_request("a", static_cast<Decision>(17), consent::SCOPE_HOUSEHOLD, ""))
          .c_str());
  STRCMP_EQUAL(
      "The scope must be the whole home, a device class or a device.",
      rejection(consent_request("a", DECISION_GRANT, consent::SCOPE_UNSPECIFIED, "")).c_str());
  STRCMP_EQUAL(
      "A decision for the whole home names no device or class; leave the value empty.",
      rejection(consent_request("a", DECISION_GRANT, consent::SCOPE_HOUSEHOLD, "x")).c_str());
  CHECK_TRUE(
      contains(rejection(consent_request("a", DECISION_GRANT, consent::SCOPE_DEVICE_CLASS, "")),
               "not a device class id"));
  CHECK_TRUE(contains(
      rejection(consent_request("a", DECISION_GRANT, consent::SCOPE_DEVICE_CLASS, "Zigbee")),
      "not a device class id"));

  const std::string device = "That is not a device id: device ids are 1 to 256 bytes of text";
  CHECK_TRUE(
      contains(rejection(consent_request("a", DECISION_GRANT, consent::SCOPE_DEVICE, "")), device));
  CHECK_TRUE(contains(rejection(explain("")), device));
  CHECK_TRUE(contains(rejection(explain(std::string(257, 'd'))), device));
  CHECK_TRUE(contains(rejection(explain(std::string("a\0b", 3))), device));
  CHECK_TRUE(contains(rejection(erase("bad \xc3\x28 utf8")), device));
  CHECK_TRUE(contains(rejection(erase("\xed\xa0\x80")), device));  // a surrogate

  STRCMP_EQUAL("The report must start at a time in the past (e.g. --since 7d).",
               rejection(report(-1)).c_str());
  STRCMP_EQUAL("The report must start at a time in the past (e.g. --since 7d).",
               rejection(report(kNow + 25 * 3'600'000LL)).c_str());
}

TEST_GROUP(control_authorisation){};

TEST(control_authorisation, root_group_and_members_only) {
  auto members = [](uid_t uid, gid_t gid) { return uid == 1000 && gid == 998; };
  const std::optional<gid_t> portier = 998;
  CHECK_TRUE(control_peer_allowed({1, 0, 0}, portier, members));        // root
  CHECK_TRUE(control_peer_allowed({1, 0, 5}, std::nullopt, members));   // root, no group configured
  CHECK_TRUE(control_peer_allowed({1, 1000, 1000}, portier, members));  // listed member
  CHECK_TRUE(
      control_peer_allowed({1, 1001, 998}, portier, members));  // process runs with the group
  CHECK_FALSE(control_peer_allowed({1, 1001, 1001}, portier, members));       // neither
  CHECK_FALSE(control_peer_allowed({1, 1000, 1000}, std::nullopt, members));  // root only
  CHECK_FALSE(control_peer_allowed({1, 1001, 1001}, portier, {}));  // no database: not a member
}

TEST_GROUP(control_utf8){};

TEST(control_utf8, invalid_sequences_become_replacement_characters) {
  control::Response r;
  r.mutable_explain()->set_payload("ok \xe2\x82\xac \xf0\x9f\x98\x80 \xc0\xaf");
  make_strings_utf8(r);
  STRCMP_EQUAL("ok \xe2\x82\xac \xf0\x9f\x98\x80 \xef\xbf\xbd\xef\xbf\xbd",
               r.explain().payload().c_str());

  control::Response d;
  d.mutable_devices()->add_device()->set_device_id(
      "a\xff"
      "b\xc3");
  d.mutable_devices()->mutable_device(0)->add_purpose()->add_receives("\xe2\x82");
  make_strings_utf8(d);
  STRCMP_EQUAL(
      "a\xef\xbf\xbd"
      "b\xef\xbf\xbd",
      d.devices().device(0).device_id().c_str());
  STRCMP_EQUAL("\xef\xbf\xbd\xef\xbf\xbd", d.devices().device(0).purpose(0).receives(0).c_str());
}

TEST_GROUP(control_server) {
  std::string dir;
  std::string path;
  fake_service service;
  std::mutex events_mu;
  std::map<control_event, int> events;
  std::unique_ptr<control_server> server;

  void setup() override {
    // The server thread allocates while the test thread does.
    MemoryLeakWarningPlugin::turnOnThreadSafeNewDeleteOverloads();
    dir = make_temp_dir();
    path = dir + "/control.sock";
  }
  void teardown() override {
    server.reset();
    ::unlink(path.c_str());
    ::rmdir(dir.c_str());
    MemoryLeakWarningPlugin::turnOnDefaultNotThreadSafeNewDeleteOverloads();
  }

  void start(control_server_options o = {}) {
    if (o.path.empty()) o.path = path;
    if (o.receive_timeout == 5000ms) o.receive_timeout = 2s;
    o.now_ms = [] { return kNow; };
    auto s = control_server::start(std::move(o), service, [this](control_event e) {
      std::lock_guard lock(events_mu);
      events[e]++;
    });
    CHECK_TRUE_TEXT(s.ok(), s.ok() ? "" : s.error_message().c_str());
    server = std::move(*s);
  }
  int count(control_event e) {
    std::lock_guard lock(events_mu);
    return events[e];
  }
};

TEST(control_server, round_trip) {
  start();
  auto r = call(path, status_request());
  CHECK_EQUAL(control::Response::OK, r.code());
  CHECK_TRUE(r.has_status());
  STRCMP_EQUAL("9.9.9", r.status().version().c_str());
  LONGS_EQUAL(42, r.status().counters().at("received"));
  LONGS_EQUAL(1, service.calls.load());
  std::lock_guard lock(service.mu);
  STRCMP_EQUAL("cli", service.last_method.c_str());
}

TEST(control_server, socket_file_has_the_mode_and_group_and_goes_away_on_stop) {
  control_server_options o;
  o.group = "nogroup";
  start(o);
  struct stat st {};
  CHECK_EQUAL(0, ::lstat(path.c_str(), &st));
  LONGS_EQUAL(0660, st.st_mode & 07777);
  LONGS_EQUAL(65534, st.st_gid);
  server->stop();
  CHECK_EQUAL(-1, ::lstat(path.c_str(), &st));
}

TEST(control_server, several_requests_on_one_connection) {
  start();
  auto s = connect_to(path);
  for (int i = 0; i < 3; ++i)
    CHECK_EQUAL(control::Response::OK, round_trip(s, status_request()).code());
  auto e = round_trip(s, explain("kitchen"));
  STRCMP_EQUAL("kitchen", e.explain().device_id().c_str());
  auto p = request_of();
  p.mutable_pause();
  auto refused = round_trip(s, p);
  CHECK_EQUAL(control::Response::NOT_FOUND, refused.code());
  STRCMP_EQUAL("Nothing to pause.", refused.message().c_str());
  LONGS_EQUAL(5, count(control_event::served));
}

TEST(control_server, oversized_request_is_refused_and_the_connection_closed) {
  control_server_options o;
  o.max_request_bytes = 100;
  start(o);
  auto s = connect_to(path);
  auto big = explain(std::string(200, 'd'));
  auto r = round_trip(s, big);
  CHECK_EQUAL(control::Response::INVALID_REQUEST, r.code());
  CHECK_TRUE(contains(r.message(), "more than the 100 this portierd accepts"));
  // Closed: the unread rest of the request makes the kernel report a reset rather than an end.
  auto next = platform::read_frame(s, 1024, 2s);
  CHECK_TRUE(!next.ok() || next->what == platform::frame_read::kind::closed);
  LONGS_EQUAL(0, service.calls.load());
  LONGS_EQUAL(1, count(control_event::invalid));
  CHECK_EQUAL(control::Response::OK, call(path, status_request()).code());
}

TEST(control_server, malformed_and_invalid_requests_are_answered_and_the_connection_kept) {
  start();
  auto s = connect_to(path);
  auto garbage = round_trip(s, std::string("\x0a\xff\xff\xff\xff\x0f", 6));
  CHECK_EQUAL(control::Response::INVALID_REQUEST, garbage.code());
  STRCMP_EQUAL(
      "The request is not a valid control message; make sure portierctl and portierd are the same "
      "version.",
      garbage.message().c_str());
  auto invalid = round_trip(s, erase(""));
  CHECK_EQUAL(control::Response::INVALID_REQUEST, invalid.code());
  CHECK_FALSE(invalid.has_erase());
  CHECK_EQUAL(control::Response::OK, round_trip(s, status_request()).code());
  LONGS_EQUAL(1, service.calls.load());
  LONGS_EQUAL(2, count(control_event::invalid));
}

TEST(control_server, service_failures_become_internal_and_the_server_goes_on) {
  start();
  auto s = connect_to(path);
  auto boom = round_trip(s, explain("boom"));
  CHECK_EQUAL(control::Response::INTERNAL, boom.code());
  CHECK_TRUE(contains(boom.message(), "journalctl -u portierd"));
  auto wrong = round_trip(s, erase("wrong"));
  CHECK_EQUAL(control::Response::INTERNAL, wrong.code());
  CHECK_FALSE(wrong.has_status());
  LONGS_EQUAL(2, count(control_event::failed));
  CHECK_EQUAL(control::Response::OK, round_trip(s, status_request()).code());
}

TEST(control_server, answers_are_made_valid_utf8) {
  start();
  auto d = request_of();
  d.mutable_devices();
  auto r = call(path, d);
  CHECK_EQUAL(control::Response::OK, r.code());
  STRCMP_EQUAL("bad \xef\xbf\xbd id", r.devices().device(0).device_id().c_str());
}

TEST(control_server, a_silent_client_times_out_and_others_are_served_after) {
  control_server_options o;
  o.receive_timeout = 150ms;
  start(o);
  auto silent = connect_to(path);
  auto other = connect_to(path);
  const auto begin = std::chrono::steady_clock::now();
  CHECK_EQUAL(control::Response::OK, round_trip(other, status_request()).code());
  CHECK_TRUE(std::chrono::steady_clock::now() - begin < 2s);
  other.close();  // done: a clean end, not a time-out
  auto closed = platform::read_frame(silent, 1024, 2s);
  CHECK_TRUE(closed.ok());
  CHECK(closed->what == platform::frame_read::kind::closed);
  LONGS_EQUAL(1, count(control_event::timed_out));
}

// Waits for `done` (polled) up to `limit`; true when it came.
template <typename Pred>
bool eventually(Pred done, std::chrono::milliseconds limit = 5s) {
  const auto end = std::chrono::steady_clock::now() + limit;
  while (!done()) {
    if (std::chrono::steady_clock::now() > end) return false;
    std::this_thread::sleep_for(5ms);
  }
  return true;
}

TEST(control_server, a_client_is_answered_at_once_while_many_others_sit_idle) {
  // Idle connections that never send, more than the listen backlog (16) and than the cap (32):
  // each holds only its own connection, nobody waits behind them, and the longest idle make room.
  control_server_options o;
  o.receive_timeout = 10s;
  start(o);
  std::vector<platform::unix_socket> idle;
  for (int i = 0; i < 40; ++i) idle.push_back(connect_to(path));
  const auto begin = std::chrono::steady_clock::now();
  auto s = connect_to(path);
  CHECK_EQUAL(control::Response::OK, round_trip(s, status_request()).code());
  CHECK_TRUE(std::chrono::steady_clock::now() - begin < 1s);
  LONGS_EQUAL(9, count(control_event::busy));  // 8 idle ones beyond the cap, then for this one
  LONGS_EQUAL(0, count(control_event::timed_out));
}

TEST(control_server, idle_clients_time_out_each_on_its_own) {
  control_server_options o;
  o.receive_timeout = 300ms;
  start(o);
  const auto begin = std::chrono::steady_clock::now();
  std::vector<platform::unix_socket> idle;
  for (int i = 0; i < 6; ++i) idle.push_back(connect_to(path));
  for (auto& s : idle) {
    auto closed = platform::read_frame(s, 1024, 3s);
    CHECK_TRUE_TEXT(closed.ok(), closed.ok() ? "" : closed.error_message().c_str());
    CHECK(closed->what == platform::frame_read::kind::closed);
  }
  // One after another they would have taken 6 x 300 ms.
  const auto took = std::chrono::steady_clock::now() - begin;
  CHECK_TRUE(took >= 300ms);
  CHECK_TRUE_TEXT(
      took < 1s,
      std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(took).count()).c_str());
  LONGS_EQUAL(6, count(control_event::timed_out));
}

control::Response next_answer(const platform::unix_socket& s) {
  auto f = platform::read_frame(s, kMaxControlResponseBytes, 5s);
  CHECK_TRUE_TEXT(f.ok(), f.ok() ? "" : f.error_message().c_str());
  CHECK(f->what == platform::frame_read::kind::frame);
  control::Response r;
  CHECK_TRUE(r.ParseFromString(f->body));
  return r;
}

bool closed_by_server(const platform::unix_socket& s) {
  auto after = platform::read_frame(s, kMaxControlResponseBytes, 2s);
  return !after.ok() || after->what == platform::frame_read::kind::closed;
}

TEST(control_server, at_the_cap_the_longest_idle_connection_makes_room) {
  control_server_options o;
  o.max_connections = 4;
  o.receive_timeout = 10s;
  start(o);
  std::vector<platform::unix_socket> open;
  for (int i = 0; i < 4; ++i) {
    open.push_back(connect_to(path));
    CHECK_EQUAL(control::Response::OK, round_trip(open.back(), status_request()).code());
  }
  auto newcomer = connect_to(path);
  CHECK_EQUAL(control::Response::OK, round_trip(newcomer, status_request()).code());
  // The first one waited longest: it is told why and closed; the others go on.
  auto told = next_answer(open[0]);
  CHECK_EQUAL(control::Response::UNAVAILABLE, told.code());
  STRCMP_EQUAL(
      "portierd closed this idle connection to serve another; connect again when you have a "
      "request.",
      told.message().c_str());
  CHECK_TRUE(closed_by_server(open[0]));
  for (int i = 1; i < 4; ++i)
    CHECK_EQUAL(control::Response::OK, round_trip(open[i], status_request()).code());
  LONGS_EQUAL(1, count(control_event::busy));
}

TEST(control_server, at_the_cap_with_no_idle_connection_the_newcomer_is_refused_and_counted) {
  control_server_options o;
  o.max_connections = 4;
  start(o);
  // Four clients whose answers wait for them to read: none is idle.
  std::vector<platform::unix_socket> busy;
  for (int i = 0; i < 4; ++i) {
    busy.push_back(connect_to(path));
    CHECK_TRUE(platform::write_frame(busy.back(), explain("big").SerializeAsString(), 2s).ok());
  }
  CHECK_TRUE(eventually([&] { return service.calls.load() == 4; }));
  auto asking = connect_to(path);  // as portierctl does: sends, then reads
  CHECK_EQUAL(control::Response::UNAVAILABLE, round_trip(asking, status_request()).code());
  auto extra = connect_to(path);
  auto r = next_answer(extra);  // without asking
  CHECK_EQUAL(control::Response::UNAVAILABLE, r.code());
  STRCMP_EQUAL("portierd is serving 4 control connections already; try again in a few seconds.",
               r.message().c_str());
  CHECK_TRUE(closed_by_server(extra));
  LONGS_EQUAL(2, count(control_event::busy));
  LONGS_EQUAL(4, service.calls.load());
  for (auto& s : busy) LONGS_EQUAL(3 << 20, next_answer(s).explain().device_id().size());
}

TEST(control_server, a_client_that_does_not_read_its_answer_holds_no_one_else) {
  control_server_options o;
  o.send_timeout = 2s;
  start(o);
  auto slow = connect_to(path);
  CHECK_TRUE(platform::write_frame(slow, explain("big").SerializeAsString(), 2s).ok());
  CHECK_TRUE(eventually([&] { return service.calls.load() == 1; }));
  const auto begin = std::chrono::steady_clock::now();
  CHECK_EQUAL(control::Response::OK, call(path, status_request()).code());
  CHECK_TRUE(std::chrono::steady_clock::now() - begin < 1s);
  // The answer it does not take is given up after send_timeout, and the connection closed.
  CHECK_TRUE(eventually([&] { return count(control_event::failed) == 1; }));
}

TEST(control_server, answers_waiting_for_slow_readers_are_bounded) {
  control_server_options o;
  o.max_pending_answer_bytes = 1 << 20;
  start(o);
  auto slow = connect_to(path);
  CHECK_TRUE(platform::write_frame(slow, explain("big").SerializeAsString(), 2s).ok());
  CHECK_TRUE(eventually([&] { return service.calls.load() == 1; }));
  auto busy = call(path, status_request());
  CHECK_EQUAL(control::Response::UNAVAILABLE, busy.code());
  CHECK_TRUE(contains(busy.message(), "try again"));
  LONGS_EQUAL(1, count(control_event::busy));
  LONGS_EQUAL(1, service.calls.load());
  // The slow reader gets its whole answer, and then there is room again.
  auto f = platform::read_frame(slow, kMaxControlResponseBytes, 5s);
  CHECK_TRUE_TEXT(f.ok(), f.ok() ? "" : f.error_message().c_str());
  control::Response big;
  CHECK_TRUE(big.ParseFromString(f->body));
  LONGS_EQUAL(3 << 20, big.explain().device_id().size());
  CHECK_TRUE(
      eventually([&] { return call(path, status_request()).code() == control::Response::OK; }));
}

TEST(control_server, a_client_that_drops_mid_frame_does_not_stop_the_server) {
  start();
  {
    auto s = connect_to(path);
    CHECK_EQUAL(7, ::send(s.fd(), "\0\0\0\x40xyz", 7, MSG_NOSIGNAL));
  }
  {
    auto s = connect_to(path);  // connect and go away
  }
  CHECK_EQUAL(control::Response::OK, call(path, status_request()).code());
}

TEST(control_server, stop_does_not_wait_for_an_idle_client) {
  control_server_options o;
  o.receive_timeout = 30s;
  start(o);
  auto idle = connect_to(path);
  CHECK_EQUAL(control::Response::OK, round_trip(idle, status_request()).code());
  const auto begin = std::chrono::steady_clock::now();
  server->stop();
  CHECK_TRUE(std::chrono::steady_clock::now() - begin < 1s);
  server->stop();  // idempotent
}

TEST(control_server, start_fails_clearly) {
  control_server_options o;
  o.path = path;
  o.group = "portier-no-such-group";
  auto bad_group = control_server::start(o, service);
  CHECK_FALSE(bad_group.ok());
  STRCMP_EQUAL(
      "control socket group: there is no group called \"portier-no-such-group\"; create it "
      "(groupadd --system "
      "portier-no-such-group) or name another group",
      bad_group.error_message().c_str());
  o.group.clear();
  o.path = dir + "/missing/control.sock";
  auto bad_dir = control_server::start(o, service);
  CHECK_FALSE(bad_dir.ok());
  CHECK_TRUE(contains(bad_dir.error_message(), "does its directory exist"));
  start();
  o.path = path;
  auto twice = control_server::start(o, service);
  CHECK_FALSE(twice.ok());
  CHECK_TRUE(contains(twice.error_message(), "already listening"));
}

namespace {

// Runs a client as `nobody` in a forked child (the tests run as root) and returns what it
// received: a whole frame, or "connect: <errno>". Between fork and _exit the child only makes
// system calls: the parent has other threads, so nothing else is safe there.
std::string call_as_nobody(const std::string& path, const std::string& request) {
  int out[2];
  if (::pipe(out) != 0) return "pipe";
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::close(out[0]);
    if (::setgroups(0, nullptr) != 0 || ::setgid(65534) != 0 || ::setuid(65534) != 0) ::_exit(10);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path, path.c_str(), path.size());
    const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    if (::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
      const int e = errno;
      (void)!::write(out[1], "connect", 7);
      (void)!::write(out[1], &e, sizeof e);
      ::_exit(0);
    }
    const std::uint32_t n = static_cast<std::uint32_t>(request.size());
    const unsigned char header[4] = {
        static_cast<unsigned char>(n >> 24), static_cast<unsigned char>(n >> 16),
        static_cast<unsigned char>(n >> 8), static_cast<unsigned char>(n)};
    (void)::send(fd, header, 4, MSG_NOSIGNAL);
    (void)::send(fd, request.data(), request.size(), MSG_NOSIGNAL);
    char buf[4096];
    for (;;) {
      const ssize_t r = ::read(fd, buf, sizeof buf);
      if (r <= 0) break;
      (void)!::write(out[1], buf, static_cast<std::size_t>(r));
    }
    ::_exit(0);
  }
  ::close(out[1]);
  std::string got;
  char buf[4096];
  for (;;) {
    const ssize_t r = ::read(out[0], buf, sizeof buf);
    if (r <= 0) break;
    got.append(buf, static_cast<std::size_t>(r));
  }
  ::close(out[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (WIFEXITED(status) && WEXITSTATUS(status) == 10) return "cannot become nobody";
  if (got.rfind("connect", 0) == 0 && got.size() == 7 + sizeof(int)) {
    int e = 0;
    std::memcpy(&e, got.data() + 7, sizeof e);
    return "connect: " + std::to_string(e);
  }
  return got;
}

}  // namespace

TEST(control_server, a_user_outside_the_group_is_refused_and_counted) {
  CHECK_EQUAL(0, ::chmod(dir.c_str(), 0755));
  control_server_options o;
  o.group = "root";      // nobody is not a member
  o.socket_mode = 0666;  // let nobody reach the credential check
  start(o);
  const std::string got = call_as_nobody(path, status_request().SerializeAsString());
  if (got == "cannot become nobody") {
    UT_PRINT("skipped: this environment cannot switch to the user nobody");
    return;
  }
  CHECK_TRUE(got.size() > 4);
  control::Response r;
  CHECK_TRUE(r.ParseFromString(got.substr(4)));
  CHECK_EQUAL(control::Response::PERMISSION_DENIED, r.code());
  STRCMP_EQUAL(
      "You are not allowed to control portierd; ask an administrator to add you to the root group "
      "(adduser "
      "YOUR-NAME root), then log in again.",
      r.message().c_str());
  LONGS_EQUAL(1, count(control_event::refused));
  LONGS_EQUAL(0, service.calls.load());
  CHECK_EQUAL(control::Response::OK, call(path, status_request()).code());  // root still gets in
}

TEST(control_server, file_permissions_stop_outsiders_before_the_credential_check) {
  CHECK_EQUAL(0, ::chmod(dir.c_str(), 0755));
  control_server_options o;
  o.group = "root";
  start(o);  // 0660 root:root
  const std::string got = call_as_nobody(path, status_request().SerializeAsString());
  if (got == "cannot become nobody") {
    UT_PRINT("skipped: this environment cannot switch to the user nobody");
    return;
  }
  STRCMP_EQUAL(("connect: " + std::to_string(EACCES)).c_str(), got.c_str());
  LONGS_EQUAL(0, count(control_event::refused));
}
