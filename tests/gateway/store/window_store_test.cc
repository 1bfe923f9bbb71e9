#include "gateway/store/window_store.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <rapidjson/document.h>

#include "platform/ctr_drbg.h"
#include "policies/evaluator.h"
#include "policies/policy_compiler.h"
#include "tests/gateway/test_files.h"

#include <CppUTest/TestHarness.h>

using namespace portier;
using namespace portier::gateway;

namespace {

const std::vector<std::uint8_t> kSecret(32, 7);
// The start of a minute (UTC): windows of 60 s, released at their end (spread 0).
constexpr std::int64_t kT0 = 1'764'000'000'000;
constexpr std::int64_t kMinute = 60'000;

// One purpose per way of aggregating: `analytics` sums energy per minute; `research` sums it with
// noise (ε 0.6 a window, 1 a day: the second window of a day does not fit).
constexpr char kPolicy[] = R"(
name: "windows" version: 1
purpose { id: "analytics" title: "A" legal_basis: CONTRACT retention_seconds: 3600 }
purpose { id: "research" title: "R" legal_basis: CONTRACT retention_seconds: 3600 epsilon_per_day: 1 }
device_class {
  id: "meter" topic: "meters/{device}"
  field { path: "energy" rule { purpose: "analytics" aggregate { function: SUM window_seconds: 60 spread_seconds: 0 step: 1 } } }
}
device_class {
  id: "noisy" topic: "noisy/{device}"
  field { path: "energy" rule { purpose: "research" aggregate { function: SUM window_seconds: 60 spread_seconds: 0 step: 1 noise { epsilon: 0.6 lower: 0 upper: 10 } } } }
}
)";

std::shared_ptr<const policies::compiled_policy> compile(const char* text) {
  auto src = policies::parse_policy_source("w.textproto", text);
  CHECK_TEXT(src.ok(), src.ok() ? "" : src.error_message().c_str());
  std::vector<policies::policy_source> sources;
  sources.push_back(std::move(*src));
  auto compiled = policies::compile_policy(sources);
  std::string errors;
  for (const auto& e : compiled.errors) errors += e + "\n";
  CHECK_TEXT(compiled.policy != nullptr, errors.c_str());
  return compiled.policy;
}

using portier::gateway::test::slurp;
using portier::gateway::test::spit;

struct released {
  std::string purpose;
  std::string topic;
  std::string payload;
};

}  // namespace

TEST_GROUP(window_store) {
  std::string dir;
  counters stats;
  std::unique_ptr<platform::key_directory> keys;
  std::shared_ptr<const policies::compiled_policy> policy;
  std::unique_ptr<policies::evaluator> ev;
  policies::consent_snapshot consent;
  std::unique_ptr<spool> out;
  std::unique_ptr<window_store> store;
  int seed = 0;

  void setup() override {
    char tmpl[] = "/tmp/portier-windows-test-XXXXXX";
    dir = ::mkdtemp(tmpl);
    ::mkdir((dir + "/state").c_str(), 0700);
    keys = platform::key_directory::open(dir + "/keys").value();
    policy = compile(kPolicy);
    ev = std::make_unique<policies::evaluator>(policy, policies::engine_identity{"gw", kSecret});
    spool_options so;
    so.dir = dir + "/spool";
    so.max_bytes = 1 << 20;
    out = spool::open(so, *keys, kSecret, stats).value();
  }
  void teardown() override {
    store.reset();
    out.reset();
    ev.reset();
    policy.reset();
    keys.reset();
    CHECK_EQUAL(0, std::system(("rm -rf " + dir).c_str()));
  }

  void open_store(const std::string& state = "", policies::window_limits limits = {}) {
    store.reset();
    window_store_options o;
    o.dir = state.empty() ? dir + "/state" : state;
    o.limits = limits;
    o.sync = spool_options::durability::each;
    const std::uint8_t s[] = {static_cast<std::uint8_t>(++seed)};
    auto opened = window_store::open(o, *keys, owned_drbg_source(platform::ctr_drbg::deterministic(s)), stats);
    CHECK_TEXT(opened.ok(), opened.ok() ? "" : opened.error_message().c_str());
    store = std::move(*opened);
  }

  // A message from a meter, its samples added to its window.
  void add(const std::string& topic, double energy, std::int64_t at) {
    const auto& d = ev->evaluate(topic, "{\"energy\":" + std::to_string(energy) + "}", consent, at);
    CHECK_EQUAL(1u, d.releases().size());
    CHECK_TRUE(d.releases()[0].windowed);
    CHECK_TRUE(store->add(*policy, d, at));
    CHECK_TRUE(store->sync());
  }

  std::size_t tick(std::int64_t at, spool& into) {
    return store->tick(*policy, at, [](std::size_t, std::string_view, std::string_view) { return true; }, into);
  }
  std::size_t tick(std::int64_t at) { return tick(at, *out); }

  // Everything the spool holds now, acknowledged.
  std::vector<released> drain() {
    std::vector<released> all;
    while (auto e = out->next(spool::clock::now(), 100, kT0)) {
      all.push_back({e->purpose, e->topic, e->payload});
      out->acknowledge(e->seq);
    }
    return all;
  }

  // A spool that takes nothing (closed: append() fails, as on a write error).
  std::unique_ptr<spool> closed_spool() {
    spool_options so;
    so.dir = dir + "/closed-spool";
    auto closed = spool::open(so, *keys, kSecret, stats).value();
    closed->close();
    return closed;
  }

  // A crash at this instant: the state files as they are on disk, opened by a new store.
  std::string crash_copy() {
    const std::string copy = dir + "/crashed-" + std::to_string(seed);
    ::mkdir(copy.c_str(), 0700);
    spit(copy + "/windows.pb", slurp(dir + "/state/windows.pb"));
    spit(copy + "/windows.journal", slurp(dir + "/state/windows.journal"));
    return copy;
  }
};

namespace {

double field_of(const std::string& payload, const char* function) {
  rapidjson::Document d;
  d.Parse(payload.c_str());
  CHECK_FALSE_TEXT(d.HasParseError(), payload.c_str());
  CHECK_TEXT(d.HasMember("fields") && d["fields"].HasMember("energy"), payload.c_str());
  const auto& f = d["fields"]["energy"];
  CHECK_TEXT(f.HasMember(function), payload.c_str());
  return f[function].GetDouble();
}

}  // namespace

TEST(window_store, a_window_outlives_a_clean_reopen) {
  open_store();
  add("meters/a", 1, kT0 + 1'000);
  add("meters/a", 2, kT0 + 2'000);
  LONGS_EQUAL(1, store->open_windows());
  store->close();
  open_store();
  LONGS_EQUAL(1, store->open_windows());
  CHECK_TRUE(store->problem().empty());
  LONGS_EQUAL(0, store->journal_bytes());  // compacted at close and at open
  add("meters/a", 4, kT0 + 3'000);
  LONGS_EQUAL(0, tick(kT0 + 59'000));  // not over yet
  LONGS_EQUAL(1, tick(kT0 + kMinute));
  const auto r = drain();
  LONGS_EQUAL(1, r.size());
  STRCMP_EQUAL("analytics", r[0].purpose.c_str());
  DOUBLES_EQUAL(7, field_of(r[0].payload, "sum"), 1e-9);  // each sample once: 1 + 2 + 4
  LONGS_EQUAL(0, tick(kT0 + 2 * kMinute));                // and the window once
  LONGS_EQUAL(1, stats.windows_released.load());
}

TEST(window_store, after_a_crash_the_journal_since_the_snapshot_is_replayed_once) {
  open_store();
  add("meters/a", 1, kT0 + 1'000);
  LONGS_EQUAL(1, tick(kT0 + kMinute));  // snapshot: the first window is gone, its sample in it
  add("meters/a", 10, kT0 + kMinute + 1'000);
  add("meters/a", 20, kT0 + kMinute + 2'000);
  CHECK(store->journal_bytes() > 0);
  const std::string copy = crash_copy();  // SIGKILL now: no close(), no compaction
  store.reset();
  LONGS_EQUAL(1, drain().size());
  open_store(copy);
  CHECK_TRUE(store->problem().empty());
  LONGS_EQUAL(1, store->open_windows());
  LONGS_EQUAL(1, tick(kT0 + 2 * kMinute));
  const auto r = drain();
  LONGS_EQUAL(1, r.size());
  DOUBLES_EQUAL(30, field_of(r[0].payload, "sum"), 1e-9);  // not 31: the first window's sample
  LONGS_EQUAL(0, stats.windows_journal_torn.load());      // was in the snapshot, not replayed
}

TEST(window_store, a_torn_journal_tail_is_cut_and_a_corrupt_entry_skipped) {
  open_store();
  add("meters/a", 1, kT0 + 1'000);
  const std::uint64_t one = store->journal_bytes();
  add("meters/a", 2, kT0 + 2'000);
  add("meters/a", 4, kT0 + 3'000);
  const std::string copy = crash_copy();
  store.reset();
  std::string journal = slurp(copy + "/windows.journal");
  journal[one + 30] = static_cast<char>(journal[one + 30] ^ 0x5a);  // the second entry is damaged
  journal += journal.substr(0, 20);                                  // a frame cut short by a power cut
  spit(copy + "/windows.journal", journal);
  open_store(copy);
  LONGS_EQUAL(1, stats.windows_journal_torn.load());
  LONGS_EQUAL(1, stats.windows_journal_corrupt.load());
  LONGS_EQUAL(1, tick(kT0 + kMinute));
  const auto r = drain();
  LONGS_EQUAL(1, r.size());
  DOUBLES_EQUAL(5, field_of(r[0].payload, "sum"), 1e-9);  // 1 + 4: the damaged one is gone
}

TEST(window_store, a_snapshot_that_does_not_authenticate_starts_afresh_and_nothing_of_it_leaves) {
  open_store();
  add("meters/a", 1, kT0 + 1'000);
  store->close();
  std::string snapshot = slurp(dir + "/state/windows.pb");
  snapshot[snapshot.size() / 2] = static_cast<char>(snapshot[snapshot.size() / 2] ^ 1);
  spit(dir + "/state/windows.pb", snapshot);
  open_store();
  CHECK_FALSE(store->problem().empty());
  LONGS_EQUAL(0, store->open_windows());
  LONGS_EQUAL(0, tick(kT0 + kMinute));
  LONGS_EQUAL(0, drain().size());
  // The store works afresh, and so after the next start.
  add("meters/a", 3, kT0 + kMinute + 1'000);
  store->close();
  open_store();
  CHECK_TRUE(store->problem().empty());
  LONGS_EQUAL(1, tick(kT0 + 2 * kMinute));
  DOUBLES_EQUAL(3, field_of(drain().at(0).payload, "sum"), 1e-9);
}

TEST(window_store, a_release_is_snapshotted_before_it_reaches_the_spool) {
  open_store();
  add("noisy/a", 5, kT0 + 1'000);
  // The spool refuses: the window is already gone from the snapshot, and its ε spent.
  LONGS_EQUAL(0, tick(kT0 + kMinute, *closed_spool()));
  const std::string copy = crash_copy();  // a crash between the snapshot and the spool
  store.reset();
  open_store(copy);
  LONGS_EQUAL(0, store->open_windows());
  LONGS_EQUAL(0, tick(kT0 + 2 * kMinute));
  LONGS_EQUAL(0, drain().size());  // lost, never released twice with fresh noise
  const auto b = store->summary(*policy, "research", kT0 + 2 * kMinute);
  DOUBLES_EQUAL(1.0, b.cap, 1e-9);
  DOUBLES_EQUAL(0.6, b.most_spent_today, 1e-9);
}

TEST(window_store, a_release_the_spool_refused_goes_at_the_next_tick) {
  open_store();
  add("meters/a", 5, kT0 + 1'000);
  LONGS_EQUAL(0, tick(kT0 + kMinute, *closed_spool()));
  LONGS_EQUAL(1, tick(kT0 + kMinute + 1'000));
  const auto r = drain();
  LONGS_EQUAL(1, r.size());
  DOUBLES_EQUAL(5, field_of(r[0].payload, "sum"), 1e-9);
}

TEST(window_store, the_budget_survives_a_restart) {
  open_store();
  add("noisy/a", 5, kT0 + 1'000);
  LONGS_EQUAL(1, tick(kT0 + kMinute));
  add("noisy/a", 5, kT0 + kMinute + 1'000);
  store->close();
  open_store();
  LONGS_EQUAL(0, tick(kT0 + 2 * kMinute));  // 0.6 + 0.6 > 1 the same day
  LONGS_EQUAL(1, stats.drops[static_cast<std::size_t>(policies::drop_reason::budget_exhausted)].load());
  LONGS_EQUAL(1, drain().size());
  LONGS_EQUAL(600'000, stats.epsilon_micro_by_purpose()["research"]);
  const auto b = store->summary(*policy, "research", kT0 + 2 * kMinute);
  DOUBLES_EQUAL(0.6, b.most_spent_today, 1e-9);
  DOUBLES_EQUAL(0.6, b.lifetime_total, 1e-9);
}

TEST(window_store, purge_forgets_a_device_for_good) {
  open_store();
  add("meters/a", 1, kT0 + 1'000);
  add("meters/b", 2, kT0 + 1'000);
  LONGS_EQUAL(1, store->purge("", spool::scope::device, "a"));
  LONGS_EQUAL(0, store->journal_bytes());  // its samples are no longer in the journal either
  const std::string copy = crash_copy();
  LONGS_EQUAL(1, tick(kT0 + kMinute));
  const auto r = drain();
  LONGS_EQUAL(1, r.size());
  DOUBLES_EQUAL(2, field_of(r[0].payload, "sum"), 1e-9);
  store.reset();
  open_store(copy);  // nor does it come back after a crash
  LONGS_EQUAL(1, store->open_windows());
  // A purpose in a class scope, and one that matches nothing.
  LONGS_EQUAL(0, store->purge("research", spool::scope::household, ""));
  LONGS_EQUAL(1, store->purge("analytics", spool::scope::device_class, "meter"));
  LONGS_EQUAL(0, store->open_windows());
}

TEST(window_store, a_refused_purpose_gets_nothing_at_release_time) {
  open_store();
  add("meters/a", 1, kT0 + 1'000);
  LONGS_EQUAL(0, store->tick(*policy, kT0 + kMinute,
                             [](std::size_t, std::string_view, std::string_view) { return false; }, *out));
  LONGS_EQUAL(0, drain().size());
  LONGS_EQUAL(1, stats.windows_refused.load());
}

TEST(window_store, beyond_max_windows_a_sample_is_counted_as_window_limit) {
  policies::window_limits limits;
  limits.max_windows = 1;
  open_store("", limits);
  add("meters/a", 1, kT0 + 1'000);
  add("meters/b", 1, kT0 + 1'000);
  LONGS_EQUAL(1, store->open_windows());
  LONGS_EQUAL(1, stats.drops[static_cast<std::size_t>(policies::drop_reason::window_limit)].load());
}

TEST(window_store, a_cap_raise_is_kept_with_the_budgets) {
  open_store();
  CHECK_FALSE(store->last_cap_raise("research").has_value());
  store->note_cap_raise({"research", 0.5, 1, kT0, "windows", 2});
  store.reset();  // even without close(): written before note_cap_raise returned
  open_store();
  const auto raise = store->last_cap_raise("research");
  CHECK_TRUE(raise.has_value());
  DOUBLES_EQUAL(0.5, raise->before, 1e-9);
  DOUBLES_EQUAL(1, raise->after, 1e-9);
  LONGS_EQUAL(2, raise->policy_version);
}

TEST(window_store, nothing_is_in_clear_on_disk) {
  open_store();
  add("meters/Anna bedroom", 1234.5, kT0 + 1'000);
  const std::string copy = crash_copy();
  const std::string all = slurp(copy + "/windows.pb") + slurp(copy + "/windows.journal");
  CHECK(all.find("Anna") == std::string::npos);
  CHECK(all.find("meter") == std::string::npos);
  CHECK(all.find("analytics") == std::string::npos);
}

TEST(window_store, lower_limits_after_a_restart_keep_the_state_and_its_budgets) {
  open_store();
  add("noisy/a", 5, kT0 + 1'000);
  LONGS_EQUAL(1, tick(kT0 + kMinute));
  add("meters/a", 1, kT0 + kMinute + 1'000);
  add("meters/b", 1, kT0 + kMinute + 1'000);
  store->close();
  policies::window_limits lower;
  lower.max_windows = 1;
  lower.max_budgets = 1;
  open_store("", lower);
  CHECK_TRUE(store->problem().empty());
  LONGS_EQUAL(2, store->open_windows());
  DOUBLES_EQUAL(0.6, store->summary(*policy, "research", kT0 + kMinute).most_spent_today, 1e-9);
}
