#include "gateway/pipeline.h"

#include <atomic>
#include <chrono>
#include <thread>

#include "policies/policy_compiler.h"

#include <CppUTest/TestHarness.h>

using namespace portier;
using namespace portier::gateway;

namespace {

std::shared_ptr<const policies::compiled_policy> test_policy(const char* text = R"(
    name: "test" version: 3
    purpose { id: "service" title: "S" legal_basis: CONTRACT retention_seconds: 60 }
    device_class { id: "sensor" topic: "home/{device}" field { path: "t" rule { purpose: "service" keep {} } } })") {
  auto src = policies::parse_policy_source("p.textproto", text);
  CHECK(src.ok());
  std::vector<policies::policy_source> sources;
  sources.push_back(std::move(*src));
  auto compiled = policies::compile_policy(sources);
  CHECK(compiled.policy != nullptr);
  return compiled.policy;
}

void install(pipeline& p) {
  p.install(std::make_shared<policies::evaluator>(
                test_policy(), policies::engine_identity{"gw", std::vector<std::uint8_t>(32, 1)}),
            std::make_shared<policies::consent_snapshot>());
}

constexpr std::size_t churn = static_cast<std::size_t>(policies::drop_reason::device_churn);

}  // namespace

TEST_GROUP(pipeline){};

TEST(pipeline, a_refused_device_id_releases_nothing_and_is_counted_as_churn) {
  counters c;
  pipeline p(c);
  install(p);
  p.set_admission([](std::string_view id, std::string_view cls, std::int64_t) {
    STRCMP_EQUAL("sensor", std::string(cls).c_str());
    return id != "burst-1";
  });
  int sunk = 0;
  policies::drop_counts seen_drops{};
  bool seen_admitted = true;
  const auto sink = [&](const policies::release&, const policies::compiled_purpose&,
                        const policies::decision&) { ++sunk; };
  const auto seen = [&](const policies::decision&, const policies::drop_counts& d, bool admitted) {
    seen_drops = d;
    seen_admitted = admitted;
  };
  p.process("home/kitchen", R"({"t":1})", 0, sink, seen);
  LONGS_EQUAL(1, sunk);
  CHECK(seen_admitted);
  p.process("home/burst-1", R"({"t":1,"x":2})", 0, sink, seen);
  LONGS_EQUAL(1, sunk);
  CHECK_FALSE(seen_admitted);
  LONGS_EQUAL(1, seen_drops[churn]);
  LONGS_EQUAL(0, seen_drops[static_cast<std::size_t>(policies::drop_reason::unlisted_field)]);
  LONGS_EQUAL(1, c.drops[churn].load());
  LONGS_EQUAL(2, c.received.load());
  LONGS_EQUAL(1, c.dropped.load());
  LONGS_EQUAL(1, c.released.load());
  p.process("elsewhere/x", "{}", 0, sink, seen);  // no device: never asked, unmatched as before
  CHECK(seen_admitted);
  LONGS_EQUAL(1, c.drops[churn].load());
}

// Issue 11: the control API and the status read the policy and consent while the ingress thread
// is inside a message (which may wait on the spool); before, they took the mutex process() holds
// for the whole message, so `portierctl status` waited behind the data path.
TEST(pipeline, readers_do_not_wait_for_a_message_in_progress) {
  counters c;
  pipeline p(c);
  install(p);
  std::atomic<bool> read_while_inside{false};
  std::atomic<bool> done{false};
  std::thread reader;
  p.process(
      "home/kitchen", R"({"t":1})", 0,
      [&](const policies::release&, const policies::compiled_purpose&, const policies::decision&) {
        reader = std::thread([&] {
          done = p.policy() != nullptr && p.consent() != nullptr && p.policy_name() == "test" &&
                 !p.subscriptions().empty();
        });
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
        while (!done && std::chrono::steady_clock::now() < deadline) std::this_thread::yield();
        read_while_inside = done.load();  // a reader stuck on process()'s mutex is not done
      });
  reader.join();
  CHECK(read_while_inside.load());
}

// A discovery message announces what a state topic carries; the pipeline records it in its table,
// whatever the consent, and the next state message on that topic is read by it.
TEST(pipeline, records_announcements_and_reads_states_by_them) {
  auto src = policies::parse_policy_source("p.textproto", R"(
    purpose { id: "service" title: "S" legal_basis: CONTRACT retention_seconds: 60 }
    device_class {
      id: "discovery" topic: "disc/{device}/config"
      announces { state_topic: "stat_t" device_class: "dev_cla" }
      field { path: "dev_cla" rule { purpose: "service" keep {} } }
    }
    device_class {
      id: "temperature" topic: "{device}/state" format: RAW
      when { announced { device_class: "temperature" } }
      field { path: "$" rule { purpose: "service" round { step: 0.5 } } }
    })");
  CHECK(src.ok());
  std::vector<policies::policy_source> sources;
  sources.push_back(std::move(*src));
  auto compiled = policies::compile_policy(sources);
  CHECK(compiled.policy != nullptr);
  counters c;
  pipeline p(c);
  auto refused = std::make_shared<policies::consent_snapshot>();
  refused->set_household("service", policies::consent_decision::refused);
  p.install(std::make_shared<policies::evaluator>(
                compiled.policy, policies::engine_identity{"gw", std::vector<std::uint8_t>(32, 1)}),
            refused);
  policies::announcement_map table;
  p.set_announcements(&table);
  std::vector<std::string> out;
  const auto sink = [&](const policies::release& r, const policies::compiled_purpose&,
                        const policies::decision&) { out.push_back(r.payload); };
  p.process("n/state", "21.4", 0, sink);
  LONGS_EQUAL(1,
              c.drops[static_cast<std::size_t>(policies::drop_reason::unannounced_topic)].load());
  p.process("disc/n/config", R"({"dev_cla":"temperature","stat_t":"n/state"})", 0, sink);
  LONGS_EQUAL(1, table.size());  // recorded although the service is refused
  p.set_consent(std::make_shared<policies::consent_snapshot>());
  p.process("n/state", "21.4", 0, sink);
  LONGS_EQUAL(1, out.size());
  STRCMP_EQUAL("21.5", out[0].c_str());
}

TEST(pipeline, a_windowed_purpose_gets_samples_counted_apart_from_releases) {
  const auto compiled = test_policy(R"(
    name: "w" version: 1
    purpose { id: "service" title: "S" legal_basis: CONTRACT retention_seconds: 60 }
    purpose { id: "analytics" title: "A" legal_basis: CONTRACT retention_seconds: 60 }
    device_class { id: "meter" topic: "meters/{device}"
      field { path: "power" rule { purpose: "service" keep {} }
                            rule { purpose: "analytics" aggregate { function: MEAN window_seconds: 900 } } } })");
  counters c;
  pipeline p(c);
  p.install(std::make_shared<policies::evaluator>(
                compiled, policies::engine_identity{"gw", std::vector<std::uint8_t>(32, 1)}),
            std::make_shared<policies::consent_snapshot>());
  std::vector<std::string> sunk;
  int windowed = 0;
  const auto sink = [&](const policies::release& r, const policies::compiled_purpose& purpose,
                        const policies::decision&) {
    CHECK_FALSE(r.windowed);
    sunk.push_back(purpose.id);
  };
  const auto windows = [&](const policies::compiled_policy& policy, const policies::decision& d) {
    CHECK(&policy == compiled.get());
    for (const auto& r : d.releases()) windowed += r.windowed ? 1 : 0;
  };
  p.process("meters/m1", R"({"power":412})", 0, sink, {}, windows);
  LONGS_EQUAL(1, sunk.size());
  STRCMP_EQUAL("service", sunk[0].c_str());
  LONGS_EQUAL(1, windowed);
  LONGS_EQUAL(1, c.released.load());
  LONGS_EQUAL(1, c.window_samples.load());
  LONGS_EQUAL(0, c.dropped.load());
  // Without a window sink the samples go nowhere (and nothing leaves per message for them).
  p.process("meters/m1", R"({"power":413})", 0, sink);
  LONGS_EQUAL(2, sunk.size());
  LONGS_EQUAL(1, c.window_samples.load());
}
