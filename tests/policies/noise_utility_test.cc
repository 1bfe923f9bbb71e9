// What the shipped defaults' differential-privacy noise costs in accuracy, measured: for every
// noisy rule (Aggregate.noise) in policies/defaults, 20,000 draws of its discrete Laplace noise
// from a fixed-seed CTR-DRBG, the mean absolute error in the field's unit against the exact
// expectation E|X| · step (policies/noise_cost.h, which `portier-policy explain` prints and
// docs/DEFAULTS.md lists). For a MEAN, whose sensitivity falls with the number of readings, at the
// fewest readings the rule is sent with and at a reading every 15 and every 5 minutes.
//
// It prints the table that policies/defaults/README.md quotes:
//   build/tests/policies/policies_tests -v -g noise_utility
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "policies/discrete_laplace.h"
#include "policies/noise_cost.h"
#include "sample_corpus.h"
#include "test_random.h"

using namespace portier::policies;
using namespace portier::policies::test;

namespace {

constexpr long kDraws = 20'000;

// The tolerance: 5 standard errors of the mean of kDraws values of |X|. By the central limit
// theorem that mean is close to normal (|X| is geometric-like, with every moment finite, and
// 20,000 draws), so a correct sampler lands further out for one seed in about 1.7 million; with
// the fixed seed the verdict never changes. For the defaults' parameters 5 standard errors are
// 3.5 % to 8.3 % of E|X| (the relative standard error is sd|X| / E|X| / sqrt(20,000)), tight
// enough to see a noise scale off by a tenth: checked below for each rule with ε changed by 10 %,
// which moves E|X| = 1 / sinh(λ) by 9 % (small λ) to 24 % (λ = 2.4).
constexpr double kStandardErrors = 5;

// Var|X| = E[X²] − (E|X|)², with E[X²] = 2q / (1 − q)² = 1 / (2 sinh²(λ/2)), q = exp(−λ).
double standard_error(const discrete_laplace& d) {
  const double lambda = 1 / d.scale();
  const double second = 1 / (2 * std::sinh(lambda / 2) * std::sinh(lambda / 2));
  const double mean = d.expected_abs();
  return std::sqrt(second - mean * mean) / std::sqrt(static_cast<double>(kDraws));
}

struct row {
  std::string purpose, device_class, field, unit, figure;
  double epsilon = 0;
  double sensitivity = 0;  // in steps
  std::uint64_t samples = 0;
  double exact = 0;      // E|X| · step
  double measured = 0;   // mean |X| · step over kDraws
  double tolerance = 0;  // kStandardErrors standard errors, in the field's unit
};

// The sample counts a rule's cost is measured at (as docs/DEFAULTS.md lists them).
std::vector<std::uint64_t> sample_counts(const aggregate_spec& w) {
  if (w.fn != aggregate_fn::mean) return {1};
  std::vector<std::uint64_t> counts{w.min_samples};
  for (const std::uint32_t every : {900u, 300u}) {
    if (w.window_seconds / every > counts.back()) counts.push_back(w.window_seconds / every);
  }
  return counts;
}

std::string window_name(std::uint32_t seconds) {
  if (seconds == 86400) return "day";
  if (seconds == 3600) return "hour";
  if (seconds == 900) return "quarter hour";
  return std::to_string(seconds) + " s";
}

std::string text(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3g", v);
  return buf;
}

}  // namespace

TEST_GROUP(noise_utility) {
  std::shared_ptr<const compiled_policy> policy = load_defaults();
};

TEST(noise_utility, every_noisy_default_costs_what_the_documentation_says) {
  auto drbg = seeded_drbg("portier noise utility");
  drbg_source rng(*drbg);
  std::vector<row> rows;
  for (const auto& c : policy->classes()) {
    for (const auto& f : c->fields) {
      for (std::size_t p = 0; p < f.actions.size(); ++p) {
        const field_action& a = f.actions[p];
        if (a.kind != action_kind::aggregate || !a.window.noisy) continue;
        const aggregate_spec& w = a.window;
        for (const std::uint64_t n : sample_counts(w)) {
          const auto d = discrete_laplace::make(w.epsilon, noise_sensitivity_steps(w, n));
          CHECK_TRUE(d.has_value());
          row r{policy->purposes()[p].id, c->id, f.title, f.unit,
                std::string(aggregate_fn_name(w.fn)) + " per " + window_name(w.window_seconds)};
          r.epsilon = w.epsilon;
          r.sensitivity = noise_sensitivity_steps(w, n);
          r.samples = n;
          r.exact = *expected_noise_error(w, n);
          DOUBLES_EQUAL(d->expected_abs() * w.step, r.exact, 1e-12 * r.exact);
          double sum = 0;
          for (long i = 0; i < kDraws; ++i) {
            std::int64_t x = 0;
            CHECK_TRUE(d->sample(rng, x));
            sum += static_cast<double>(x < 0 ? -x : x);
          }
          r.measured = sum / kDraws * w.step;
          r.tolerance = kStandardErrors * standard_error(*d) * w.step;
          const std::string what = r.device_class + " " + f.path + " for " + r.purpose + " with " +
                                   std::to_string(n) + " samples";
          CHECK_TEXT(
              std::fabs(r.measured - r.exact) <= r.tolerance,
              (what + ": measured " + text(r.measured) + ", exact " + text(r.exact)).c_str());
          // The tolerance is tight enough to see a scale off by a tenth.
          const auto wrong = discrete_laplace::make(w.epsilon * 1.1, r.sensitivity);
          CHECK_TEXT(std::fabs(r.measured - wrong->expected_abs() * w.step) > r.tolerance,
                     (what + ": the tolerance would not notice ε off by 10 %").c_str());
          rows.push_back(r);
        }
      }
    }
  }
  // energy-research: the smart meter's four counters (dsmr/json and the split topics) and a room
  // sensor's temperature and humidity, each mean at three sample counts.
  CHECK_TRUE(rows.size() >= 14);

  std::string table =
      "\n| Purpose | Device class | Field | Figure | ε | Δ (steps) | Readings | Exact mean error | "
      "Measured (20,000 draws) | Tolerance |\n|---|---|---|---|---|---|---|---|---|---|\n";
  for (const auto& r : rows) {
    const std::string unit = r.unit.empty() ? "" : " " + r.unit;
    table += "| `" + r.purpose + "` | `" + r.device_class + "` | " + r.field + " | " + r.figure +
             " | " + text(r.epsilon) + " | " + text(r.sensitivity) + " | " +
             (r.samples == 1 ? std::string("—") : std::to_string(r.samples)) + " | " +
             text(r.exact) + unit + " | " + text(r.measured) + unit + " | ±" + text(r.tolerance) +
             unit + " |\n";
  }
  std::fputs(table.c_str(), stdout);
}
