// Windowed aggregation end to end: messages through the evaluator, their samples into the window
// aggregator (policies/window_aggregator.h), and each window's release exactly as it leaves.
// Times are 2026-12-05 UTC (at()); randomness comes from a seeded generator.
#include "policies/window_aggregator.h"

#include <cmath>
#include <cstdint>
#include <limits>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "windows.pb.h"

#include "test_random.h"
#include "test_support.h"

using namespace portier::policies;
using portier::policies::test::compile_ok;
using portier::policies::test::engine;
using portier::policies::test::failing_source;
using portier::policies::test::seeded_drbg;

namespace {

constexpr std::int64_t kDay1 = 1'796'428'800'000;  // 2026-12-05T00:00:00Z
constexpr std::int64_t kDayMs = 86'400'000;

std::int64_t at(int h, int m, int s = 0, std::int64_t day = kDay1) {
  return day + ((h * 60 + m) * 60 + s) * std::int64_t{1000};
}

// A policy, an evaluator, the aggregator and a generator, as the gateway holds them.
struct windows_fixture {
  explicit windows_fixture(std::string_view policy_text, window_limits limits = {},
                           std::uint64_t seed = 1)
      : e(policy_text), agg(std::make_unique<window_aggregator>(limits)) {
    reseed(seed);
  }

  // A fresh generator, seeded deterministically.
  void reseed(std::uint64_t seed) {
    drbg = seeded_drbg("window-aggregator-" + std::to_string(seed));
    rng = std::make_unique<drbg_source>(*drbg);
  }

  void send(std::string_view device, std::string_view payload, std::int64_t t) {
    const decision& d = e.eval("meter/" + std::string(device), payload, t);
    agg->add(*e.policy, d, t);
  }
  // The releases due at t, one per line: "device payload".
  std::string due(std::int64_t t) { return due_with(*e.policy, t); }
  std::string due_with(const compiled_policy& p, std::int64_t t, bool permit = true) {
    released.clear();
    const bool ok = agg->take_due(
        p, t, *rng, [permit](std::size_t, std::string_view, std::string_view) { return permit; },
        released);
    CHECK_TRUE(ok);
    std::string out;
    for (const auto& r : released) out += (out.empty() ? "" : "\n") + r.device_id + " " + r.payload;
    return out;
  }
  double spent_today(std::string_view device, std::int64_t now) {
    return agg->budget(*e.policy, "stats", device, now).spent_today;
  }

  engine e;
  std::unique_ptr<window_aggregator> agg;
  std::unique_ptr<portier::platform::ctr_drbg> drbg;
  std::unique_ptr<drbg_source> rng;
  std::vector<window_release> released;
};

// One field "v" of class "meter" aggregated for purpose "energy" (no budget) and "stats" (ε 1 a
// day) takes per window; `aggregate` is the body of the Aggregate message.
std::string policy_with(const std::string& aggregate, const std::string& purpose = "energy") {
  return R"(
purpose { id: "energy" title: "E" legal_basis: CONTRACT retention_seconds: 3600 }
purpose { id: "stats" title: "S" legal_basis: CONTRACT retention_seconds: 600 epsilon_per_day: 1 }
device_class {
  id: "meter"
  topic: "meter/{device}"
  field { path: "v" rule { purpose: ")" +
         purpose + R"(" aggregate { )" + aggregate + R"( } } }
}
)";
}

std::string payload(const char* start, int seconds, const std::string& fields) {
  return std::string(R"({"window_start":")") + start + R"(","window_seconds":)" +
         std::to_string(seconds) + R"(,"fields":{)" + fields + "}}";
}

// A release as due() prints it: "device payload".
std::string line(const char* device, const char* start, int seconds, const std::string& fields) {
  return std::string(device) + " " + payload(start, seconds, fields);
}

template <typename F>
void check_due(F& f, std::int64_t t, const std::string& expected, const char* file, int at_line) {
  STRCMP_EQUAL_LOCATION(expected.c_str(), f.due(t).c_str(), nullptr, file, at_line);
}
// The releases due at t, one "device payload" per line ("" for none).
#define DUE(f, t, expected) check_due(f, t, expected, __FILE__, __LINE__)

void check_function(const char* function, const char* expected, const char* file, int at_line) {
  windows_fixture f(policy_with(std::string("function: ") + function +
                                " window_seconds: 900 step: 0.1 spread_seconds: 0"));
  f.send("a", R"({"v":10})", at(10, 0, 10));
  f.send("a", R"({"v":12})", at(10, 5));
  f.send("a", R"({"v":15.5})", at(10, 14, 59));
  STRCMP_EQUAL_LOCATION("", f.due(at(10, 14, 59)).c_str(), function, file, at_line);
  const std::string want = line("a", "2026-12-05T10:00:00Z", 900, expected);
  STRCMP_EQUAL_LOCATION(want.c_str(), f.due(at(10, 15)).c_str(), function, file, at_line);
}
#define FUNCTION(function, expected) check_function(function, expected, __FILE__, __LINE__)

// A field of each function for "energy", all in one 900 s window.
const char* const kMeterPolicy = R"(
purpose { id: "energy" title: "E" legal_basis: CONTRACT retention_seconds: 3600 }
device_class {
  id: "meter"
  topic: "meter/{device}"
  field { path: "power" rule { purpose: "energy" aggregate { function: MEAN window_seconds: 900 step: 0.1 spread_seconds: 0 } } }
  field { path: "energy" rule { purpose: "energy" aggregate { function: DELTA window_seconds: 900 step: 0.01 spread_seconds: 0 } } }
  field { path: "status.code" rule { purpose: "energy" aggregate { function: LAST window_seconds: 900 step: 1 spread_seconds: 0 } } }
}
)";

}  // namespace

TEST_GROUP(window_functions){};

TEST(window_functions, each_function_over_a_window) {
  FUNCTION("MEAN", R"("v":{"mean":12.5})");
  FUNCTION("MIN", R"("v":{"min":10.0})");
  FUNCTION("MAX", R"("v":{"max":15.5})");
  FUNCTION("SUM", R"("v":{"sum":37.5})");
  FUNCTION("COUNT", R"("v":{"count":3})");
  FUNCTION("LAST", R"("v":{"last":15.5})");
  FUNCTION("DELTA", R"("v":{"delta":5.5})");  // from the first reading, 10, to the last
}

TEST(window_functions, results_are_rounded_to_the_step_with_ties_away_from_zero) {
  windows_fixture f(policy_with("function: MEAN window_seconds: 60 step: 1 spread_seconds: 0"));
  f.send("a", R"({"v":2})", at(10, 0, 1));
  f.send("a", R"({"v":3})", at(10, 0, 2));
  f.send("b", R"({"v":-2})", at(10, 0, 1));
  f.send("b", R"({"v":-3})", at(10, 0, 2));
  f.send("c", R"({"v":-0.4})", at(10, 0, 1));
  DUE(f, at(10, 1),
      line("a", "2026-12-05T10:00:00Z", 60, R"("v":{"mean":3})") + "\n" +
          line("b", "2026-12-05T10:00:00Z", 60, R"("v":{"mean":-3})") + "\n" +
          line("c", "2026-12-05T10:00:00Z", 60, R"("v":{"mean":0})"));
}

TEST(window_functions, windows_align_to_utc_and_name_their_start) {
  windows_fixture f(policy_with("function: COUNT window_seconds: 3600 spread_seconds: 0"));
  f.send("a", R"({"v":1})", at(10, 59, 59) + 999);
  f.send("a", R"({"v":1})", at(11, 0));
  f.send("a", R"({"v":1})", at(11, 59, 0));
  DUE(f, at(11, 0), line("a", "2026-12-05T10:00:00Z", 3600, R"("v":{"count":1})"));
  DUE(f, at(12, 0), line("a", "2026-12-05T11:00:00Z", 3600, R"("v":{"count":2})"));

  windows_fixture day(policy_with("function: COUNT window_seconds: 86400 spread_seconds: 0"));
  day.send("a", R"({"v":1})", at(23, 59, 59));
  DUE(day, at(23, 59, 59), "");
  DUE(day, kDay1 + kDayMs, line("a", "2026-12-05T00:00:00Z", 86400, R"("v":{"count":1})"));
}

TEST(window_functions, one_release_per_device_and_window_with_every_field_together) {
  windows_fixture f(kMeterPolicy);
  f.send("a", R"({"energy":100.5,"power":400})", at(10, 1));
  f.send("b", R"({"power":10,"status":{"code":3}})", at(10, 2));
  f.send("a", R"({"status":{"code":7},"power":410,"energy":100.75})", at(10, 3));
  // Fields in the class's order, whatever order the device sent them in.
  DUE(f, at(10, 15),
      line("a", "2026-12-05T10:00:00Z", 900,
           R"("power":{"mean":405.0},"energy":{"delta":0.25},"status.code":{"last":7})") +
          "\n" +
          line("b", "2026-12-05T10:00:00Z", 900,
               R"("power":{"mean":10.0},"status.code":{"last":3})"));
  LONGS_EQUAL(2, f.released.size());
  CHECK(f.released[0].topic != f.released[1].topic);
  STRNCMP_EQUAL("portier/gw-test/energy/meter/", f.released[0].topic.c_str(), 29);
  CHECK(f.released[0].topic.substr(29) != "a");  // the device's pseudonym, not its name
  STRCMP_EQUAL("meter", f.released[0].device_class.c_str());
  LONGS_EQUAL(at(10, 0), f.released[0].window_start_ms);
  LONGS_EQUAL(900, f.released[0].window_seconds);
  LONGS_EQUAL(at(10, 15) + 3600 * 1000, f.released[0].expires_at_ms);  // release time + retention
  LONGS_EQUAL(3, f.released[0].fields.size());
  STRCMP_EQUAL("status.code", f.released[0].fields[2].c_str());
  DOUBLES_EQUAL(0, f.released[0].epsilon, 0);
  LONGS_EQUAL(7, f.agg->counts().samples);
  LONGS_EQUAL(2, f.agg->counts().released);
  LONGS_EQUAL(0, f.agg->open_windows());
}

TEST_GROUP(window_delta){};

TEST(window_delta, the_increase_runs_from_the_last_reading_of_the_previous_window) {
  windows_fixture f(policy_with("function: DELTA window_seconds: 60 step: 1 spread_seconds: 0"));
  f.send("a", R"({"v":100})", at(10, 0, 10));
  f.send("a", R"({"v":105})", at(10, 0, 50));
  f.send("a", R"({"v":107})", at(10, 1, 10));
  f.send("a", R"({"v":110})", at(10, 1, 20));
  DUE(f, at(10, 1, 30), line("a", "2026-12-05T10:00:00Z", 60, R"("v":{"delta":5})"));
  DUE(f, at(10, 2), line("a", "2026-12-05T10:01:00Z", 60, R"("v":{"delta":5})"));
  // Two windows later, after a silent one: from 110.
  f.send("a", R"({"v":111})", at(10, 3, 5));
  DUE(f, at(10, 4), line("a", "2026-12-05T10:03:00Z", 60, R"("v":{"delta":1})"));
}

TEST(window_delta, a_first_reading_only_sets_the_base) {
  windows_fixture f(policy_with("function: DELTA window_seconds: 60 step: 1 spread_seconds: 0"));
  f.send("a", R"({"v":100})", at(10, 0, 10));
  DUE(f, at(10, 1), "");
  LONGS_EQUAL(1, f.agg->counts().window_sparse);
  f.send("a", R"({"v":103})", at(10, 1, 10));
  DUE(f, at(10, 2), line("a", "2026-12-05T10:01:00Z", 60, R"("v":{"delta":3})"));
}

TEST(window_delta, a_decrease_is_a_reset_counted_from_zero) {
  windows_fixture f(policy_with("function: DELTA window_seconds: 60 step: 1 spread_seconds: 0"));
  f.send("a", R"({"v":100})", at(10, 0, 10));
  f.send("a", R"({"v":105})", at(10, 0, 20));
  f.send("a", R"({"v":3})", at(10, 0, 30));  // the meter restarted: 3 since
  f.send("a", R"({"v":5})", at(10, 0, 40));
  DUE(f, at(10, 1), line("a", "2026-12-05T10:00:00Z", 60, R"("v":{"delta":10})"));
}

TEST(window_delta, a_decrease_with_wrap_at_is_a_wrap) {
  windows_fixture f(
      policy_with("function: DELTA window_seconds: 60 step: 1 spread_seconds: 0 wrap_at: 65536"));
  f.send("a", R"({"v":65530})", at(10, 0, 10));
  f.send("a", R"({"v":65534})", at(10, 0, 20));
  f.send("a", R"({"v":4})", at(10, 1, 30));
  DUE(f, at(10, 1), line("a", "2026-12-05T10:00:00Z", 60, R"("v":{"delta":4})"));
  DUE(f, at(10, 2), line("a", "2026-12-05T10:01:00Z", 60, R"("v":{"delta":6})"));
}

TEST_GROUP(window_min_samples){};

TEST(window_min_samples, a_window_with_too_few_samples_is_not_released) {
  windows_fixture f(
      policy_with("function: MEAN window_seconds: 60 min_samples: 3 spread_seconds: 0"));
  f.send("a", R"({"v":1})", at(10, 0, 10));
  f.send("a", R"({"v":2})", at(10, 0, 20));
  DUE(f, at(10, 1), "");
  LONGS_EQUAL(1, f.agg->counts().window_sparse);
  LONGS_EQUAL(0, f.agg->counts().released);
  LONGS_EQUAL(0, f.agg->open_windows());
}

TEST(window_min_samples, a_field_with_too_few_samples_is_left_out_of_its_window) {
  windows_fixture f(R"(
purpose { id: "energy" title: "E" legal_basis: CONTRACT retention_seconds: 3600 }
device_class {
  id: "meter"
  topic: "meter/{device}"
  field { path: "a" rule { purpose: "energy" aggregate { function: MEAN window_seconds: 60 step: 1 spread_seconds: 0 } } }
  field { path: "b" rule { purpose: "energy" aggregate { function: MEAN window_seconds: 60 step: 1 min_samples: 3 spread_seconds: 0 } } }
}
)");
  f.send("x", R"({"a":1,"b":5})", at(10, 0, 10));
  f.send("x", R"({"a":3,"b":6})", at(10, 0, 20));
  DUE(f, at(10, 1), line("x", "2026-12-05T10:00:00Z", 60, R"("a":{"mean":2})"));
  LONGS_EQUAL(1, f.released[0].fields.size());
  LONGS_EQUAL(0, f.agg->counts().window_sparse);
}

TEST_GROUP(window_spread){};

TEST(window_spread, a_release_waits_a_random_time_within_the_spread) {
  std::vector<std::int64_t> delays;
  for (std::uint64_t seed = 1; seed <= 6; ++seed) {
    windows_fixture f(policy_with("function: SUM window_seconds: 60 step: 1 spread_seconds: 30"),
                      {}, seed);
    f.send("a", R"({"v":1})", at(10, 0, 10));
    LONGS_EQUAL(at(10, 1), f.agg->next_due_ms());
    std::int64_t released_at = -1;
    for (std::int64_t t = at(10, 0, 59); t <= at(10, 1, 31); t += 100) {
      if (f.due(t).empty()) continue;
      CHECK(released_at == -1);  // once
      released_at = t;
      // The release time itself (expires_at - retention) is in [end, end + spread] and not after
      // now.
      const std::int64_t release_time = f.released[0].expires_at_ms - 3600 * 1000;
      CHECK(release_time >= at(10, 1) && release_time <= at(10, 1, 30));
      CHECK(release_time <= t && t - release_time < 100);
    }
    CHECK(released_at >= at(10, 1) && released_at <= at(10, 1, 30) + 100);
    delays.push_back(released_at - at(10, 1));
  }
  std::sort(delays.begin(), delays.end());
  CHECK(delays.front() != delays.back());
}

TEST_GROUP(window_noise){};

TEST(window_noise, a_noisy_sample_is_clamped_so_an_outlier_counts_only_upper) {
  // ε 10 on a sensitivity of one step: the noise is 0 but for about one draw in 10,000.
  windows_fixture f(R"(
purpose { id: "stats" title: "S" legal_basis: CONTRACT retention_seconds: 600 epsilon_per_day: 10 }
device_class {
  id: "meter"
  topic: "meter/{device}"
  field { path: "v" rule { purpose: "stats" aggregate { function: SUM window_seconds: 60 step: 10 spread_seconds: 0
                                                         noise { epsilon: 10 lower: 0 upper: 10 } } } }
}
)");
  f.send("a", R"({"v":5})", at(10, 0, 10));
  f.send("a", R"({"v":1000000})", at(10, 0, 20));
  f.send("a", R"({"v":-7})", at(10, 0, 30));  // counts 0
  DUE(f, at(10, 1), line("a", "2026-12-05T10:00:00Z", 60, R"("v":{"sum":20,"epsilon":10})"));
  DOUBLES_EQUAL(10, f.released[0].epsilon, 0);
}

namespace {

const char* const kNoisyMean = R"(
purpose { id: "stats" title: "S" legal_basis: CONTRACT retention_seconds: 600 epsilon_per_day: 1 }
device_class {
  id: "meter"
  topic: "meter/{device}"
  field { path: "v" rule { purpose: "stats" aggregate { function: MEAN window_seconds: 60 step: 1 spread_seconds: 0
                                                         noise { epsilon: 0.5 lower: 0 upper: 1000 } } } }
}
)";

std::string noisy_mean_release(std::uint64_t seed) {
  windows_fixture f(kNoisyMean, {}, seed);
  f.send("a", R"({"v":400})", at(10, 0, 10));
  f.send("a", R"({"v":410})", at(10, 0, 20));
  f.send("a", R"({"v":420})", at(10, 0, 30));
  return f.due(at(10, 1));
}

}  // namespace

TEST(window_noise, noise_is_on_the_step_grid_names_its_epsilon_and_repeats_with_the_seed) {
  const std::string first = noisy_mean_release(7);
  STRCMP_EQUAL(first.c_str(), noisy_mean_release(7).c_str());
  CHECK(first != noisy_mean_release(8));
  const std::string prefix =
      "a " +
      std::string(
          R"({"window_start":"2026-12-05T10:00:00Z","window_seconds":60,"fields":{"v":{"mean":)");
  STRNCMP_EQUAL(prefix.c_str(), first.c_str(), prefix.size());
  const std::string tail = R"(,"epsilon":0.5}}})";
  CHECK(first.size() > prefix.size() + tail.size());
  STRCMP_EQUAL(tail.c_str(), first.substr(first.size() - tail.size()).c_str());
  const std::string value = first.substr(prefix.size(), first.size() - prefix.size() - tail.size());
  CHECK(value.find_first_not_of("-0123456789") == std::string::npos);  // whole steps
  CHECK(value !=
        "410");  // the exact mean does not leave (scale 667 steps: 410 itself is one draw in 1,300)
}

TEST_GROUP(window_budget){};

namespace {

std::string noisy_sum_policy(const char* spread) {
  return policy_with(std::string("function: SUM window_seconds: 60 step: 1 spread_seconds: ") +
                         spread + " noise { epsilon: 0.4 lower: 0 upper: 10 }",
                     "stats");
}

}  // namespace

TEST(window_budget, the_days_epsilon_allows_two_releases_of_0_4_then_none_until_the_next_utc_day) {
  windows_fixture f(noisy_sum_policy("0"));
  f.send("a", R"({"v":1})", at(10, 0, 30));
  f.send("a", R"({"v":1})", at(10, 1, 30));
  f.send("a", R"({"v":1})", at(10, 2, 30));
  f.send("b", R"({"v":1})", at(10, 2, 30));  // another device has its own budget
  f.due(at(10, 3));
  LONGS_EQUAL(3, f.released.size());
  LONGS_EQUAL(1, f.agg->counts().budget_exhausted);
  DOUBLES_EQUAL(0.8, f.spent_today("a", at(10, 3)), 1e-12);
  DOUBLES_EQUAL(0.4, f.spent_today("b", at(10, 3)), 1e-12);
  // Nothing more of a that day, however little it would spend.
  f.send("a", R"({"v":1})", at(12, 0, 30));
  DUE(f, at(12, 1), "");
  LONGS_EQUAL(2, f.agg->counts().budget_exhausted);
  f.send("a", R"({"v":1})", at(23, 59, 10));
  DUE(f, at(23, 59, 59) + 999, "");
  f.send("a", R"({"v":1})", at(23, 59, 30));
  // A new UTC day: the budget is renewed (this window of yesterday is released today), the
  // lifetime spend goes on.
  const std::int64_t day2 = kDay1 + kDayMs;
  CHECK(!f.due(day2).empty());
  LONGS_EQUAL(2, f.agg->counts().budget_exhausted);
  const budget_use u = f.agg->budget(*f.e.policy, "stats", "a", day2);
  DOUBLES_EQUAL(1.0, u.cap, 0);
  DOUBLES_EQUAL(0.4, u.spent_today, 1e-12);
  DOUBLES_EQUAL(1.2, u.spent_lifetime, 1e-12);
  const window_aggregator::budget_summary s = f.agg->summary(*f.e.policy, "stats", day2);
  LONGS_EQUAL(2, s.devices);
  DOUBLES_EQUAL(0.4, s.most_spent_today, 1e-12);
  DOUBLES_EQUAL(1.6, s.lifetime_total, 1e-12);
}

TEST(window_budget, a_clock_stepped_back_to_the_previous_day_does_not_refill_it) {
  windows_fixture f(noisy_sum_policy("30"));
  const std::int64_t day2 = kDay1 + kDayMs;
  f.send("a", R"({"v":1})", at(0, 0, 10, day2));
  f.send("a", R"({"v":1})", at(0, 1, 10, day2));
  f.due(at(0, 2, 30, day2));
  LONGS_EQUAL(2, f.released.size());
  f.send("a", R"({"v":1})", at(0, 2, 10, day2));
  f.send("a", R"({"v":1})", at(0, 3, 5, day2));  // closes 00:02
  // The clock steps back to the previous day, whose budget was never touched: the window closed
  // at 00:03 is brought to now + spread, and its release still counts against day 2.
  DOUBLES_EQUAL(0.8, f.spent_today("a", at(23, 59)), 1e-12);
  DUE(f, at(23, 59), "");
  DUE(f, at(23, 59, 30), "");
  LONGS_EQUAL(1, f.agg->counts().budget_exhausted);
  DOUBLES_EQUAL(0.8, f.spent_today("a", at(23, 59, 30)), 1e-12);
  DOUBLES_EQUAL(0.8, f.agg->budget(*f.e.policy, "stats", "a", day2).spent_lifetime, 1e-12);
}

TEST_GROUP(window_clock){};

TEST(window_clock, a_sample_from_before_the_open_window_joins_it_and_nothing_is_released_twice) {
  windows_fixture f(policy_with("function: MEAN window_seconds: 900 step: 0.1 spread_seconds: 0"));
  f.send("a", R"({"v":10})", at(10, 20));
  f.send("a", R"({"v":20})", at(10, 5));  // the clock stepped back
  DUE(f, at(10, 6), "");
  DUE(f, at(10, 30), line("a", "2026-12-05T10:15:00Z", 900, R"("v":{"mean":15.0})"));
  // Back again, after the release: the sample goes to the next window, 10:15 never reopens.
  f.send("a", R"({"v":7})", at(10, 10));
  DUE(f, at(10, 30), "");
  DUE(f, at(10, 45), line("a", "2026-12-05T10:30:00Z", 900, R"("v":{"mean":7.0})"));
  DUE(f, at(11, 45), "");
  LONGS_EQUAL(2, f.agg->counts().released);
}

TEST(window_clock, a_clock_stepped_forward_closes_the_open_window_once_and_opens_a_later_one) {
  windows_fixture f(policy_with("function: MEAN window_seconds: 900 step: 0.1 spread_seconds: 0"));
  f.send("a", R"({"v":4})", at(10, 0, 10));
  DUE(f, at(12, 0), line("a", "2026-12-05T10:00:00Z", 900, R"("v":{"mean":4.0})"));
  f.send("a", R"({"v":8})", at(12, 0, 30));
  DUE(f, at(12, 15), line("a", "2026-12-05T12:00:00Z", 900, R"("v":{"mean":8.0})"));
  // A sample after the jump closes the open window before take_due() does.
  f.send("a", R"({"v":1})", at(14, 0));
  f.send("a", R"({"v":2})", at(16, 5));
  DUE(f, at(16, 5, 1), line("a", "2026-12-05T14:00:00Z", 900, R"("v":{"mean":1.0})"));
  DUE(f, at(16, 10), "");
  DUE(f, at(16, 15), line("a", "2026-12-05T16:00:00Z", 900, R"("v":{"mean":2.0})"));
}

TEST(window_clock, a_release_far_ahead_after_the_clock_stepped_back_waits_at_most_the_spread) {
  windows_fixture f(policy_with("function: COUNT window_seconds: 60 spread_seconds: 20"));
  f.send("a", R"({"v":1})", at(10, 0, 10));
  f.send("a", R"({"v":1})", at(10, 1, 10));  // closes 10:00, release from 10:01:00 to 10:01:20
  DUE(f, at(9, 0), "");                      // an hour back
  DUE(f, at(9, 0, 20), line("a", "2026-12-05T10:00:00Z", 60, R"("v":{"count":1})"));
}

TEST_GROUP(window_limits){};

TEST(window_limits,
     a_sample_that_would_open_one_window_too_many_is_refused_and_the_others_still_release) {
  windows_fixture f(policy_with("function: COUNT window_seconds: 60 spread_seconds: 0"), {2, 16});
  f.send("a", R"({"v":1})", at(10, 0, 10));
  f.send("b", R"({"v":1})", at(10, 0, 10));
  f.send("c", R"({"v":1})", at(10, 0, 10));
  f.send("a", R"({"v":1})", at(10, 0, 20));  // an open window takes more
  LONGS_EQUAL(1, f.agg->counts().window_limit);
  LONGS_EQUAL(3, f.agg->counts().samples);
  LONGS_EQUAL(2, f.agg->open_windows());
  DUE(f, at(10, 1),
      line("a", "2026-12-05T10:00:00Z", 60, R"("v":{"count":2})") + "\n" +
          line("b", "2026-12-05T10:00:00Z", 60, R"("v":{"count":1})"));
  f.send("c", R"({"v":1})", at(10, 1, 10));  // room again
  DUE(f, at(10, 2), line("c", "2026-12-05T10:01:00Z", 60, R"("v":{"count":1})"));
}

TEST(window_limits, budgets_of_past_days_make_room_and_a_release_needing_one_more_waits) {
  windows_fixture f(noisy_sum_policy("0"), {16, 1});
  f.send("a", R"({"v":1})", at(10, 0, 10));
  f.send("b", R"({"v":1})", at(10, 0, 10));
  f.due(at(10, 1));
  LONGS_EQUAL(1, f.released.size());  // a's record is today's: b has no room
  LONGS_EQUAL(1, f.agg->counts().budget_exhausted);
  const std::int64_t day2 = kDay1 + kDayMs;
  f.send("b", R"({"v":1})", at(0, 0, 10, day2));
  STRCMP_EQUAL("b", f.due(at(0, 1, 0, day2)).substr(0, 1).c_str());  // a's record of yesterday goes
  DOUBLES_EQUAL(0, f.agg->budget(*f.e.policy, "stats", "a", day2).spent_lifetime, 0);
}

TEST_GROUP(window_purge){};

TEST(window_purge, purging_a_device_or_a_purpose_drops_its_windows_and_keeps_its_budget) {
  windows_fixture f(noisy_sum_policy("0"));
  f.send("a", R"({"v":1})", at(10, 0, 10));
  f.due(at(10, 1));
  f.send("a", R"({"v":1})", at(10, 1, 10));
  f.send("b", R"({"v":1})", at(10, 1, 10));
  LONGS_EQUAL(1, f.agg->purge("", "", "a"));
  DOUBLES_EQUAL(0.4, f.spent_today("a", at(10, 2)), 1e-12);
  STRCMP_EQUAL("b", f.due(at(10, 2)).substr(0, 1).c_str());
  f.send("a", R"({"v":1})", at(10, 2, 10));
  f.send("b", R"({"v":1})", at(10, 2, 10));
  LONGS_EQUAL(0, f.agg->purge("energy", "", ""));
  LONGS_EQUAL(0, f.agg->purge("stats", "other", ""));
  LONGS_EQUAL(2, f.agg->purge("stats", "", ""));
  LONGS_EQUAL(0, f.agg->open_windows());
  DUE(f, at(10, 3), "");
  DOUBLES_EQUAL(0.4, f.spent_today("a", at(10, 3)), 1e-12);
  DOUBLES_EQUAL(0.4, f.spent_today("b", at(10, 3)), 1e-12);
}

TEST_GROUP(window_release_time){};

TEST(window_release_time, an_accumulator_whose_policy_changed_is_dropped) {
  windows_fixture f(kMeterPolicy);
  f.send("a", R"({"power":400,"status":{"code":1}})", at(10, 1));
  // power is now a MAX: its MEAN is dropped; status.code is unchanged and leaves.
  const auto changed = compile_ok(R"(
purpose { id: "energy" title: "E" legal_basis: CONTRACT retention_seconds: 3600 }
device_class {
  id: "meter"
  topic: "meter/{device}"
  field { path: "power" rule { purpose: "energy" aggregate { function: MAX window_seconds: 900 step: 0.1 spread_seconds: 0 } } }
  field { path: "status.code" rule { purpose: "energy" aggregate { function: LAST window_seconds: 900 step: 1 spread_seconds: 0 } } }
}
)");
  STRCMP_EQUAL(line("a", "2026-12-05T10:00:00Z", 900, R"("status.code":{"last":1})").c_str(),
               f.due_with(*changed, at(10, 15)).c_str());
  LONGS_EQUAL(1, f.agg->counts().policy_changed);
  // Noise added (a clamp) changes the aggregate too; a purpose gone drops everything.
  f.send("a", R"({"power":400})", at(10, 16));
  const auto gone = compile_ok(R"(
purpose { id: "other" title: "O" legal_basis: CONTRACT retention_seconds: 60 }
device_class { id: "meter" topic: "meter/{device}" field { path: "power" rule { purpose: "other" keep {} } } }
)");
  STRCMP_EQUAL("", f.due_with(*gone, at(10, 30)).c_str());
  LONGS_EQUAL(2, f.agg->counts().policy_changed);
  LONGS_EQUAL(0, f.agg->counts().window_sparse);
  LONGS_EQUAL(0, f.agg->open_windows());
}

TEST(window_release_time, a_window_the_household_no_longer_permits_is_dropped) {
  windows_fixture f(kMeterPolicy);
  f.send("a", R"({"power":400})", at(10, 1));
  STRCMP_EQUAL("", f.due_with(*f.e.policy, at(10, 15), false).c_str());
  LONGS_EQUAL(1, f.agg->counts().not_permitted);
  LONGS_EQUAL(0, f.agg->open_windows());
  DUE(f, at(10, 30), "");
}

TEST(window_release_time, a_failing_random_source_changes_nothing) {
  windows_fixture f(noisy_sum_policy("30"));
  f.send("a", R"({"v":1})", at(10, 0, 10));
  failing_source broken;
  std::vector<window_release> out;
  CHECK_FALSE(f.agg->take_due(*f.e.policy, at(10, 2), broken, {}, out));
  LONGS_EQUAL(0, out.size());
  LONGS_EQUAL(1, f.agg->open_windows());
  LONGS_EQUAL(at(10, 1), f.agg->next_due_ms());  // still open
  CHECK(!f.due(at(10, 2)).empty());
  DOUBLES_EQUAL(0.4, f.spent_today("a", at(10, 2)), 1e-12);
}

TEST_GROUP(window_state){};

namespace {

// Messages over three minutes for two devices, DELTA readings carried, a noisy purpose spending.
const char* const kStatePolicy = R"(
purpose { id: "energy" title: "E" legal_basis: CONTRACT retention_seconds: 3600 }
purpose { id: "stats" title: "S" legal_basis: CONTRACT retention_seconds: 600 epsilon_per_day: 1 }
device_class {
  id: "meter"
  topic: "meter/{device}"
  field { path: "power" rule { purpose: "energy" aggregate { function: MEAN window_seconds: 60 step: 0.1 } } }
  field { path: "energy" rule { purpose: "energy" aggregate { function: DELTA window_seconds: 60 step: 0.01 } } }
  field { path: "v" rule { purpose: "stats" aggregate { function: SUM window_seconds: 120 step: 1 spread_seconds: 30
                                                         noise { epsilon: 0.3 lower: 0 upper: 10 } } } }
}
)";

void feed(windows_fixture& f, int minute) {
  for (int s = 5; s < 60; s += 20) {
    const std::string n = std::to_string(minute * 60 + s);
    f.send("a", R"({"power":)" + n + R"(,"energy":)" + n + R"(.5,"v":3})", at(10, minute, s));
    f.send("b", R"({"power":1,"energy":)" + n + "}", at(10, minute, s));
  }
}

std::string serialized(const window_aggregator& agg) {
  portier::windows::WindowState st;
  agg.save(st);
  std::string out;
  CHECK(st.SerializeToString(&out));
  return out;
}

}  // namespace

TEST(window_state, a_saved_state_loads_and_gives_the_same_releases) {
  windows_fixture f(kStatePolicy, {}, 3);
  feed(f, 0);
  f.due(at(10, 1));
  feed(f, 1);
  portier::windows::WindowState st;
  f.agg->save(st);
  auto loaded = window_aggregator::load(st);
  CHECK_TEXT(loaded.ok(), loaded.ok() ? "" : loaded.error_message().c_str());
  STRCMP_EQUAL(serialized(*f.agg).c_str(), serialized(**loaded).c_str());
  LONGS_EQUAL(f.agg->open_windows(), (*loaded)->open_windows());
  LONGS_EQUAL(f.agg->next_due_ms(), (*loaded)->next_due_ms());

  windows_fixture g(kStatePolicy, {}, 99);
  g.agg = std::move(*loaded);
  f.reseed(5);  // the same draws from here on
  g.reseed(5);
  for (int minute = 2; minute < 5; ++minute) {
    const std::string a = f.due(at(10, minute, 15));
    STRCMP_EQUAL(a.c_str(), g.due(at(10, minute, 15)).c_str());
    const std::string b = f.due(at(10, minute, 45));
    STRCMP_EQUAL(b.c_str(), g.due(at(10, minute, 45)).c_str());
    feed(f, minute);
    feed(g, minute);
  }
  CHECK(f.agg->counts().released >= 8);
  DOUBLES_EQUAL(f.spent_today("a", at(10, 5)), g.spent_today("a", at(10, 5)), 0);
  STRCMP_EQUAL(serialized(*f.agg).c_str(), serialized(*g.agg).c_str());
}

namespace {

// The error load() gives for a saved state of kStatePolicy after `change`, or "" if it loads.
template <typename F>
std::string load_error(F change, window_limits limits = {}) {
  windows_fixture f(kStatePolicy);
  feed(f, 0);
  feed(f, 1);            // closes minute 0's windows in add()
  f.due(at(10, 2, 40));  // releases minutes 0 and 1, and stats' 10:00 window (a spends ε)
  feed(f, 3);            // opens 10:03 (energy) and 10:02 (stats)
  portier::windows::WindowState st;
  f.agg->save(st);
  change(st);
  auto r = window_aggregator::load(st, limits);
  return r.ok() ? "" : r.error_message();
}

}  // namespace

TEST(window_state, load_refuses_a_state_that_breaks_a_rule) {
  using portier::windows::WindowState;
  STRCMP_EQUAL("", load_error([](WindowState&) {}).c_str());
  STRCMP_EQUAL(
      "window state refused: series 0: open window 1796464980000: field \"power\" has an unknown "
      "function 9",
      load_error([](WindowState& s) {
        s.mutable_series(0)->mutable_open()->mutable_field(0)->set_function(9);
      }).c_str());
  STRCMP_EQUAL(
      "window state refused: series 0: open window 1796464980000: field \"power\": a number is not "
      "finite",
      load_error([](WindowState& s) {
        s.mutable_series(0)->mutable_open()->mutable_field(0)->set_sum(
            std::numeric_limits<double>::quiet_NaN());
      }).c_str());
  STRCMP_EQUAL(
      "window state refused: series 0: open window 1796464981000: start not aligned to 60 s",
      load_error([](WindowState& s) {
        auto* w = s.mutable_series(0)->mutable_open();
        w->set_start_ms(w->start_ms() + 1000);
      }).c_str());
  STRCMP_EQUAL("window state refused: more windows than max_windows 3",
               load_error(
                   [](WindowState& s) {
                     auto* x = s.mutable_series(0);
                     auto* w = x->add_closed();
                     *w = x->open();
                     w->set_start_ms(w->start_ms() - 60'000);
                   },
                   {3, 16})
                   .c_str());
  STRCMP_EQUAL("window state refused: series 1 repeats an earlier one",
               load_error([](WindowState& s) { *s.mutable_series(1) = s.series(0); }).c_str());
  STRCMP_EQUAL(
      "window state refused: series 0: window_seconds 61 is not 60 to 86400 and a divisor of a day",
      load_error([](WindowState& s) { s.mutable_series(0)->set_window_seconds(61); }).c_str());
  STRCMP_EQUAL(
      "window state refused: series 0: the open window starts before the last closed one ended",
      load_error([](WindowState& s) {
        auto* x = s.mutable_series(0);
        *x->add_closed() = x->open();
      }).c_str());
  STRCMP_EQUAL(
      "window state refused: series 2: open window 1796464920000: field \"v\": a clamped value is "
      "outside its bounds",
      load_error([](WindowState& s) {
        s.mutable_series(2)->mutable_open()->mutable_field(0)->set_max(11);
      }).c_str());
  STRCMP_EQUAL(
      "window state refused: budget 0: more spent in a day than 10",
      load_error([](WindowState& s) { s.mutable_budget(0)->set_spent_micro(10'000'001); }).c_str());
}
