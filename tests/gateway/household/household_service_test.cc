// The household service's answers for the LAN page: pairing, the page's announcement, the
// Access entries they leave in the ledger, report buckets and the policy history. A real ledger,
// spool and consent store in a temporary directory.
#include "gateway/household/household_service.h"

#include <dirent.h>
#include <unistd.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "platform/key_directory.h"
#include "platform/wall_clock.h"
#include "policies/policy_compiler.h"
#include "tests/gateway/test_files.h"

#include <CppUTest/TestHarness.h>

using namespace portier;
using namespace portier::gateway;
using control::Response;

namespace {

const std::vector<std::uint8_t> kSecret(32, 7);
constexpr std::int64_t kMin = 60'000;
const std::string kFingerprint = [] {
  std::string f;
  for (int i = 0; i < 32; ++i) f += std::string(i ? ":" : "") + "a" + std::to_string(i % 10);
  return f;
}();

std::shared_ptr<const policies::compiled_policy> test_policy() {
  auto src = policies::parse_policy_source("p.textproto", R"(
    name: "test" version: 3
    purpose { id: "service" title: "Service" legal_basis: CONTRACT retention_seconds: 60 }
    device_class { id: "sensor" title: "Sensor" topic: "home/{device}"
                   field { path: "t" title: "temperature" rule { purpose: "service" keep {} } } })");
  CHECK(src.ok());
  std::vector<policies::policy_source> sources;
  sources.push_back(std::move(*src));
  auto compiled = policies::compile_policy(sources);
  CHECK(compiled.policy != nullptr);
  return compiled.policy;
}

policies::engine_identity identity() { return {"gw", std::vector<std::uint8_t>(32, 1)}; }

control::Request request(const std::string& method) {
  control::Request q;
  q.set_method(method);
  return q;
}

}  // namespace

TEST_GROUP(household_service) {
  std::string dir;
  gateway_config config;
  counters stats;
  std::unique_ptr<pipeline> pipe;
  std::unique_ptr<platform::key_directory> keys;
  std::unique_ptr<spool> store;
  std::unique_ptr<consent_store> consent;
  std::unique_ptr<gateway::ledger> record;
  std::unique_ptr<device_registry> devices;
  std::unique_ptr<household_service> service;

  void setup() override {
    char tmpl[] = "/tmp/portier-household-test-XXXXXX";
    dir = ::mkdtemp(tmpl);
    config.proto.set_gateway_id("gw-test");
    keys = platform::key_directory::open(dir + "/keys").value();
    spool_options so;
    so.dir = dir + "/spool";
    store = spool::open(so, *keys, kSecret, stats).value();
    consent = consent_store::open({dir + "/consent.pb"}).value();
    ledger_options lo;
    lo.dir = dir + "/ledger";
    record = gateway::ledger::open(lo, *keys, kSecret).value();
    devices = std::make_unique<device_registry>();
    pipe = std::make_unique<pipeline>(stats);
    pipe->install(std::make_shared<policies::evaluator>(test_policy(), identity()),
                  consent->snapshot());
    household_context ctx;
    ctx.config = &config;
    ctx.stats = &stats;
    ctx.pipe = pipe.get();
    ctx.store = store.get();
    ctx.consent = consent.get();
    ctx.record = record.get();
    ctx.devices = devices.get();
    ctx.identity = identity();
    service = std::make_unique<household_service>(ctx);
  }
  void teardown() override {
    service.reset();
    record.reset();
    store.reset();
    consent.reset();
    keys.reset();
    CHECK_EQUAL(0, std::system(("rm -rf " + dir).c_str()));
  }

  Response pair(const std::string& method = "cli") {
    auto q = request(method);
    q.mutable_pair();
    return service->handle(q);
  }
  Response redeem(const std::string& code, const std::string& method = "web") {
    auto q = request(method);
    q.mutable_redeem_pairing()->set_code(code);
    return service->handle(q);
  }
  Response status(const std::string& method) {
    auto q = request(method);
    q.mutable_status();
    return service->handle(q);
  }
  // The Access entries written so far, as "method command ok|failed".
  std::vector<std::string> access() {
    record->flush(platform::wall_ms() + 2 * kMin);
    std::vector<std::string> out;
    for (const auto& e : record->read(0, ledger_record::kind::access)) {
      out.push_back(e.access_method + " " + e.access_command + (e.access_ok ? " ok" : " failed"));
    }
    return out;
  }
};

TEST(household_service, pair_gives_a_code_that_opens_one_session) {
  const std::int64_t before = platform::wall_ms();
  const Response made = pair();
  LONGS_EQUAL(Response::OK, made.code());
  const std::string code = made.pair().code();
  LONGS_EQUAL(9, code.size());
  CHECK(made.pair().expires_at_ms() >= before + 10 * kMin);
  CHECK(made.pair().expires_at_ms() <= platform::wall_ms() + 10 * kMin);
  LONGS_EQUAL(0, made.pair().web_urls_size());  // the page has not announced itself

  LONGS_EQUAL(Response::OK, redeem(code).code());
  const Response again = redeem(code);
  LONGS_EQUAL(Response::NOT_FOUND, again.code());
  CHECK(again.message().find("portierctl pair") != std::string::npos);
}

TEST(household_service, the_page_cannot_make_codes) {
  const Response r = pair("web");
  LONGS_EQUAL(Response::PERMISSION_DENIED, r.code());
  CHECK(r.message().find("portierctl pair") != std::string::npos);
  CHECK_FALSE(r.has_pair());
}

TEST(household_service, ten_wrong_codes_lock_pairing_until_a_new_code) {
  const std::string code = pair().pair().code();
  for (int i = 0; i < 10; ++i) LONGS_EQUAL(Response::NOT_FOUND, redeem("AAAA-AAAA").code());
  LONGS_EQUAL(Response::UNAVAILABLE, redeem(code).code());
  const std::string next = pair().pair().code();
  LONGS_EQUAL(Response::NOT_FOUND, redeem(code).code());
  LONGS_EQUAL(Response::OK, redeem(next).code());
}

TEST(household_service, the_page_s_announcement_shows_in_status_and_pair) {
  auto q = request("web");
  q.mutable_web_announce()->add_urls("https://portier.lan:8443/");
  q.mutable_web_announce()->add_urls("https://192.168.1.2:8443/");
  q.mutable_web_announce()->set_fingerprint_sha256(kFingerprint);
  LONGS_EQUAL(Response::OK, service->handle(q).code());
  const Response s = status("cli");
  LONGS_EQUAL(2, s.status().web_urls_size());
  STRCMP_EQUAL("https://portier.lan:8443/", s.status().web_urls(0).c_str());
  STRCMP_EQUAL(kFingerprint.c_str(), s.status().web_fingerprint_sha256().c_str());
  const Response p = pair();
  LONGS_EQUAL(2, p.pair().web_urls_size());
  STRCMP_EQUAL(kFingerprint.c_str(), p.pair().web_fingerprint_sha256().c_str());
}

TEST(household_service, the_web_method_and_pairing_leave_access_entries_without_codes) {
  const std::string code = pair().pair().code();    // cli: recorded, it is pairing
  LONGS_EQUAL(Response::OK, status("cli").code());  // cli, not pairing: not recorded
  LONGS_EQUAL(Response::OK, status("web").code());
  LONGS_EQUAL(Response::NOT_FOUND, redeem("WRNG-CODE").code());
  LONGS_EQUAL(Response::OK, redeem(code).code());
  auto bad = request("web");
  bad.mutable_explain()->set_device("never seen");
  LONGS_EQUAL(Response::NOT_FOUND, service->handle(bad).code());
  // The page's announcement, repeated every minute: one entry, and one more when it changes.
  auto announce = request("web");
  announce.mutable_web_announce()->add_urls("https://portier.lan:8443/");
  announce.mutable_web_announce()->set_fingerprint_sha256(kFingerprint);
  for (int i = 0; i < 3; ++i) LONGS_EQUAL(Response::OK, service->handle(announce).code());
  announce.mutable_web_announce()->add_urls("https://192.168.1.2:8443/");
  LONGS_EQUAL(Response::OK, service->handle(announce).code());
  LONGS_EQUAL(Response::OK, service->handle(announce).code());
  const std::vector<std::string> expected = {
      "cli pair ok",           "web status ok",      "web redeem_pairing failed",
      "web redeem_pairing ok", "web explain failed", "web web_announce ok",
      "web web_announce ok",
  };
  const auto got = access();
  LONGS_EQUAL(expected.size(), got.size());
  for (std::size_t i = 0; i < expected.size(); ++i)
    STRCMP_EQUAL(expected[i].c_str(), got[i].c_str());
  CHECK_TRUE(record->verify().ok);
  // Neither the code nor the device asked about is anywhere in the ledger's files.
  std::string all;
  if (DIR* d = ::opendir((dir + "/ledger").c_str())) {
    while (const dirent* e = ::readdir(d)) all += test::slurp(dir + "/ledger/" + e->d_name);
    ::closedir(d);
  }
  CHECK_FALSE(all.empty());
  const std::string symbols = code.substr(0, 4) + code.substr(5);
  CHECK(all.find(symbols) == std::string::npos);
  CHECK(all.find(code) == std::string::npos);
  CHECK(all.find("never seen") == std::string::npos);
  // The export shows them.
  auto ex = request("cli");
  ex.mutable_export_ledger();
  const std::string json = service->handle(ex).export_ledger().json();
  CHECK(json.find(R"("type":"access","method":"web","command":"redeem_pairing","ok":true)") !=
        std::string::npos);
}

TEST(household_service, report_buckets_count_each_row_per_bucket) {
  const std::int64_t now = platform::wall_ms();
  const std::int64_t since = now / kMin * kMin - 5 * kMin;
  const std::vector<std::string_view> fields = {"t"};
  CHECK(record->record_release("kitchen", "sensor", "service", fields, 10, since + 30'000));
  CHECK(record->record_release("kitchen", "sensor", "service", fields, 20, since + 3 * kMin + 5));
  CHECK(record->record_release("kitchen", "sensor", "service", fields, 30, since + 3 * kMin + 9));
  CHECK(record->record_release("kitchen", "sensor", "service", fields, 40, now));
  record->flush(since + 4 * kMin);  // the first two minutes written, now's still open
  auto q = request("web");
  q.mutable_report()->set_since_ms(since);
  q.mutable_report()->set_bucket_ms(2 * kMin);
  const Response r = service->handle(q);
  LONGS_EQUAL(Response::OK, r.code());
  const auto& rep = r.report();
  CHECK_EQUAL(2 * kMin, rep.bucket_ms());
  LONGS_EQUAL(3, rep.buckets());  // 5 minutes and a bit, in 2-minute buckets
  LONGS_EQUAL(1, rep.row_size());
  const auto& row = rep.row(0);
  LONGS_EQUAL(3, row.bucket_messages_size());
  LONGS_EQUAL(1, row.bucket_messages(0));
  LONGS_EQUAL(2, row.bucket_messages(1));
  LONGS_EQUAL(1, row.bucket_messages(2));
  LONGS_EQUAL(10, row.bucket_bytes(0));
  LONGS_EQUAL(50, row.bucket_bytes(1));
  LONGS_EQUAL(40, row.bucket_bytes(2));
  LONGS_EQUAL(4, row.messages());
  // Without bucket_ms, no buckets.
  q.mutable_report()->set_bucket_ms(0);
  const Response plain = service->handle(q);
  LONGS_EQUAL(0, plain.report().buckets());
  LONGS_EQUAL(0, plain.report().row(0).bucket_messages_size());
}

TEST(household_service, policy_history_is_newest_first_with_its_changes) {
  const std::int64_t now = platform::wall_ms();
  record->record_policy("test", 1, "start-up", true, "", now - 3 * kMin);
  record->record_policy("test", 2, "bundle 2", false, "bad-signature", now - 2 * kMin);
  const std::vector<release_change_record> changes = {
      {"sensor", "service", {"temperature rounded to 1"}, {"temperature as sent"}, true}};
  record->record_policy("test", 3, "reload of /etc/portier", true, "", now - kMin, {}, changes,
                        true);
  auto q = request("cli");
  q.mutable_policy_history();
  const Response r = service->handle(q);
  LONGS_EQUAL(Response::OK, r.code());
  const auto& h = r.policy_history();
  LONGS_EQUAL(3, h.update_size());
  LONGS_EQUAL(3, h.update(0).version());
  CHECK_TRUE(h.update(0).widens());
  LONGS_EQUAL(1, h.update(0).change_size());
  const auto& c = h.update(0).change(0);
  STRCMP_EQUAL("Sensor", c.class_title().c_str());
  STRCMP_EQUAL("Service", c.purpose_title().c_str());
  STRCMP_EQUAL("temperature rounded to 1", c.before(0).c_str());
  STRCMP_EQUAL("temperature as sent", c.after(0).c_str());
  CHECK_TRUE(c.widens());
  CHECK_FALSE(h.update(1).applied());
  STRCMP_EQUAL("bad-signature", h.update(1).reason_code().c_str());
  LONGS_EQUAL(1, h.update(2).version());
  q.mutable_policy_history()->set_limit(1);
  LONGS_EQUAL(1, service->handle(q).policy_history().update_size());
}
