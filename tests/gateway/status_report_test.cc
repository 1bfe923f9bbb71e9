#include "gateway/status_report.h"

#include <unistd.h>

#include <cstdlib>

#include <rapidjson/document.h>

#include "policies/policy_compiler.h"

#include <CppUTest/TestHarness.h>

using namespace portier;
using namespace portier::gateway;

TEST_GROUP(status_report) {
  std::string dir;
  void setup() override {
    char tmpl[] = "/tmp/portier-status-test-XXXXXX";
    dir = ::mkdtemp(tmpl);
  }
  void teardown() override { CHECK_EQUAL(0, std::system(("rm -rf " + dir).c_str())); }
};

TEST(status_report, online_status_counts_without_any_device_value) {
  counters c;
  auto keys = platform::key_directory::open(dir + "/keys").value();
  spool_options so;
  so.dir = dir + "/spool";
  auto q = spool::open(so, *keys, std::vector<std::uint8_t>(32, 1), c).value();
  pipeline p(c);
  auto src = policies::parse_policy_source("p.textproto", R"(
    name: "test" version: 3
    purpose { id: "analytics" title: "A" legal_basis: CONSENT retention_seconds: 60 }
    device_class { id: "sensor" topic: "home/{device}" field { path: "t" rule { purpose: "analytics" keep {} } } })");
  CHECK(src.ok());
  std::vector<policies::policy_source> sources;
  sources.push_back(std::move(*src));
  auto compiled = policies::compile_policy(sources);
  CHECK(compiled.policy != nullptr);
  auto consent = std::make_shared<policies::consent_snapshot>();
  consent->set_household("analytics", policies::consent_decision::granted);
  p.install(std::make_shared<policies::evaluator>(compiled.policy, policies::engine_identity{"gw", std::vector<std::uint8_t>(32, 1)}),
            consent);
  int sunk = 0;
  p.process("home/Anna's room", R"({"t": 21.123456, "secret": "hunter2"})", 0,
            [&](const policies::release&, const policies::compiled_purpose&, const policies::decision&) { ++sunk; });
  p.process("elsewhere/x", "{}", 0,
            [&](const policies::release&, const policies::compiled_purpose&,
                const policies::decision&) { ++sunk; });
  LONGS_EQUAL(1, sunk);

  const std::string s =
      online_status("gw", std::chrono::steady_clock::now(), c, p, *q, false, "", 7, 3);
  rapidjson::Document d;
  d.Parse(s.c_str());
  CHECK_FALSE(d.HasParseError());
  STRCMP_EQUAL("online", d["state"].GetString());
  STRCMP_EQUAL("test", d["policy"]["name"].GetString());
  LONGS_EQUAL(3, d["policy"]["version"].GetUint64());
  LONGS_EQUAL(2, d["counters"]["received"].GetUint64());
  LONGS_EQUAL(1, d["counters"]["released"].GetUint64());
  LONGS_EQUAL(1, d["counters"]["dropped"].GetUint64());
  LONGS_EQUAL(1, d["counters"]["released_by_purpose"]["analytics"].GetUint64());
  LONGS_EQUAL(1, d["counters"]["dropped_by_reason"]["unlisted_field"].GetUint64());
  LONGS_EQUAL(1, d["counters"]["dropped_by_reason"]["unmatched_topic"].GetUint64());
  LONGS_EQUAL(7, d["counters"]["unmatched_shapes"].GetUint64());  // how many, never which
  LONGS_EQUAL(0, d["counters"]["unmatched_shapes_evicted"].GetUint64());
  LONGS_EQUAL(3, d["counters"]["windows_open"].GetUint64());
  CHECK(d["counters"]["epsilon_micro_by_purpose"].IsObject());
  LONGS_EQUAL(0, d["counters"]["window_samples"].GetUint64());
  CHECK(s.find("21.12") == std::string::npos);
  CHECK(s.find("hunter2") == std::string::npos);
  CHECK(s.find("Anna") == std::string::npos);
}

TEST(status_report, offline_status_is_the_last_will) {
  STRCMP_EQUAL("{\"gateway\":\"gw\",\"state\":\"offline\",\"version\":\"0.1.0\"}", offline_status("gw").c_str());
  STRCMP_EQUAL("portier/gw/status", status_topic("gw").c_str());
}
