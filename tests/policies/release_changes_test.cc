// What a policy update changes in what leaves, and whether it widens: one line per case.
#include "policies/release_changes.h"

#include <string>

#include "test_support.h"

using namespace portier::policies;
using portier::policies::test::compile_ok;

namespace {

// A policy with a sensor class whose temperature and humidity rules are `t` and `h` (empty: no
// rule), and `more` appended (purposes, classes).
std::shared_ptr<const compiled_policy> policy(const std::string& t, const std::string& h,
                                              const std::string& more = "",
                                              const std::string& purpose_extra = "") {
  std::string text = R"(name: "p" version: 1
purpose { id: "service" title: "Service" legal_basis: CONTRACT retention_seconds: 60 )" +
                     purpose_extra + R"( }
purpose { id: "research" title: "Research" legal_basis: CONSENT retention_seconds: 60 }
device_class { id: "sensor" title: "Sensor" topic: "s/{device}"
  field { path: "t" title: "temperature" unit: "°C" )" +
                     (t.empty() ? "" : "rule { purpose: \"service\" " + t + " }") + R"( }
  field { path: "h" title: "humidity" )" +
                     (h.empty() ? "" : "rule { purpose: \"service\" " + h + " }") + R"( } }
)" + more;
  return compile_ok(text);
}

// "widens" / "narrows" / "same" (no change listed), and the first change in one line.
std::string verdict(const std::shared_ptr<const compiled_policy>& before,
                    const std::shared_ptr<const compiled_policy>& after) {
  const auto r = compare_releases(*before, *after);
  if (r.changes.empty()) return r.widens ? "widens without a change?" : "same";
  std::string out = r.widens ? "widens" : "narrows";
  const auto& c = r.changes.front();
  out += ": " + c.class_id + "/" + c.purpose_id + (c.widens ? " (more)" : "") + " [";
  for (const auto& b : c.before) out += b + "; ";
  out += "] -> [";
  for (const auto& a : c.after) out += a + "; ";
  return out + "]";
}

const char* const kNoisy = R"(
device_class { id: "meter" title: "Meter" topic: "m/{device}"
  field { path: "kwh" title: "energy" unit: "kWh"
    rule { purpose: "service" aggregate { function: SUM window_seconds: 86400 step: 0.01
                                          noise { epsilon: 0.25 lower: 0 upper: 1 } } } } })";

}  // namespace

TEST_GROUP(release_changes){};

TEST(release_changes, no_change) {
  const auto a = policy("round { step: 0.5 }", "keep {}");
  STRCMP_EQUAL("same", verdict(a, policy("round { step: 0.5 }", "keep {}")).c_str());
  // Another version or name alone changes nothing that leaves.
  STRCMP_EQUAL("same", verdict(a, a).c_str());
}

TEST(release_changes, widening_changes) {
  STRCMP_EQUAL(
      "widens: sensor/service (more) [temperature rounded to 0.5 °C; ] -> [temperature rounded to "
      "0.5 °C; humidity as sent; ]",
      verdict(policy("round { step: 0.5 }", ""), policy("round { step: 0.5 }", "keep {}")).c_str());
  STRCMP_EQUAL(
      "widens: sensor/service (more) [temperature rounded to 1 °C; ] -> [temperature rounded to "
      "0.1 °C; ]",
      verdict(policy("round { step: 1 }", ""), policy("round { step: 0.1 }", "")).c_str());
  STRCMP_EQUAL(
      "widens: sensor/service (more) [temperature rounded to 1 °C; ] -> [temperature (°C) as sent; "
      "]",
      verdict(policy("round { step: 1 }", ""), policy("keep {}", "")).c_str());
  STRCMP_EQUAL(
      "widens: sensor/service (more) [humidity cut to its first 3 characters; ] -> "
      "[humidity cut to its first 8 characters; ]",
      verdict(policy("", "truncate { length: 3 }"), policy("", "truncate { length: 8 }")).c_str());
  // A keep that loses its limit: the words are the same, what may leave is not.
  STRCMP_EQUAL("widens: sensor/service (more) [humidity as sent; ] -> [humidity as sent; ]",
               verdict(policy("", "keep { max_length: 4 }"), policy("", "keep {}")).c_str());
  // A new purpose for the class.
  const auto both = policy("round { step: 1 }", "");
  const auto research = compile_ok(R"(name: "p" version: 2
purpose { id: "service" title: "Service" legal_basis: CONTRACT retention_seconds: 60 }
purpose { id: "research" title: "Research" legal_basis: CONSENT retention_seconds: 60 }
device_class { id: "sensor" title: "Sensor" topic: "s/{device}"
  field { path: "t" title: "temperature" unit: "°C" rule { purpose: "service" round { step: 1 } }
          rule { purpose: "research" round { step: 5 } } }
  field { path: "h" title: "humidity" } })");
  STRCMP_EQUAL("widens: sensor/research (more) [] -> [temperature rounded to 5 °C; ]",
               verdict(both, research).c_str());
  // A new class.
  STRCMP_EQUAL(
      "widens: meter/service (more) [] -> [energy: summed per day, to 0.01 kWh; never "
      "single readings, with random noise added (differential privacy, ε 0.25 a "
      "window): off by 4 kWh on average; privacy budget: the noisy figures of one device "
      "spend at most ε 1 a day; ]",
      verdict(both, policy("round { step: 1 }", "", kNoisy, "epsilon_per_day: 1")).c_str());
}

TEST(release_changes, a_raised_budget_widens_where_noise_is_sent) {
  const auto low = policy("round { step: 1 }", "", kNoisy, "epsilon_per_day: 1");
  const auto high = policy("round { step: 1 }", "", kNoisy, "epsilon_per_day: 2");
  const auto r = compare_releases(*low, *high);
  CHECK_TRUE(r.widens);
  LONGS_EQUAL(1, r.changes.size());  // the sensor sends no noisy figure: unchanged for it
  STRCMP_EQUAL("meter", r.changes[0].class_id.c_str());
  STRCMP_EQUAL("privacy budget: the noisy figures of one device spend at most ε 1 a day",
               r.changes[0].before.back().c_str());
  STRCMP_EQUAL("privacy budget: the noisy figures of one device spend at most ε 2 a day",
               r.changes[0].after.back().c_str());
  CHECK_FALSE(compare_releases(*high, *low).widens);
}

TEST(release_changes, narrowing_changes) {
  STRCMP_EQUAL(
      "narrows: sensor/service [temperature rounded to 0.5 °C; humidity as sent; ] -> "
      "[temperature rounded to 0.5 °C; ]",
      verdict(policy("round { step: 0.5 }", "keep {}"), policy("round { step: 0.5 }", "")).c_str());
  STRCMP_EQUAL(
      "narrows: sensor/service [temperature (°C) as sent; ] -> [temperature rounded to 2 °C; ]",
      verdict(policy("keep {}", ""), policy("round { step: 2 }", "")).c_str());
  STRCMP_EQUAL(
      "narrows: sensor/service [temperature rounded to 0.5 °C; ] -> [temperature "
      "rounded to 1 °C; ]",
      verdict(policy("round { step: 0.5 }", ""), policy("round { step: 1 }", "")).c_str());
  // A purpose suspended receives nothing: narrower; lifting the suspension widens again.
  const auto open = policy("round { step: 1 }", "");
  const auto suspended = policy("round { step: 1 }", "", "", "suspended: true");
  STRCMP_EQUAL("narrows: sensor/service [temperature rounded to 1 °C; ] -> []",
               verdict(open, suspended).c_str());
  CHECK_TRUE(compare_releases(*suspended, *open).widens);
  // A class gone.
  const auto r =
      compare_releases(*policy("round { step: 1 }", "", kNoisy, "epsilon_per_day: 1"), *open);
  CHECK_FALSE(r.widens);
  LONGS_EQUAL(1, r.changes.size());
  STRCMP_EQUAL("Meter", r.changes[0].class_title.c_str());
  CHECK_TRUE(r.changes[0].after.empty());
}

TEST(release_changes, finer_forms_one_per_line) {
  field_action keep, keep4, round1, round01, hour, day, agg, agg_short, noisy, noisier;
  keep.kind = keep4.kind = action_kind::keep;
  keep4.length = 4;
  round1.kind = round01.kind = action_kind::round;
  round1.step = 1;
  round01.step = 0.1;
  hour.kind = day.kind = action_kind::coarsen_time;
  hour.unit = time_unit::hour;
  day.unit = time_unit::day;
  agg.kind = agg_short.kind = noisy.kind = noisier.kind = action_kind::aggregate;
  agg.window.window_seconds = 900;
  agg_short.window.window_seconds = 60;
  noisy.window = agg.window;
  noisy.window.noisy = true;
  noisy.window.epsilon = 0.25;
  noisier.window = noisy.window;
  noisier.window.epsilon = 0.1;
  CHECK_TRUE(finer_form(round1, round01));
  CHECK_FALSE(finer_form(round01, round1));
  CHECK_TRUE(finer_form(round1, keep));
  CHECK_FALSE(finer_form(keep, round1));
  CHECK_TRUE(finer_form(keep4, keep));
  CHECK_FALSE(finer_form(keep, keep4));
  CHECK_TRUE(finer_form(day, hour));
  CHECK_FALSE(finer_form(hour, day));
  CHECK_TRUE(finer_form(agg, agg_short));
  CHECK_TRUE(finer_form(noisy, agg));  // the noise removed
  CHECK_FALSE(finer_form(agg, noisy));
  CHECK_FALSE(finer_form(noisy, noisier));
  CHECK_TRUE(finer_form(noisier, noisy));
  CHECK_TRUE(finer_form(hour, round1));  // another kind of form: counted as finer
}
