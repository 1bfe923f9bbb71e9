// TEMPORARY stand-in for branch h/noise's discrete_laplace (same API), so that the window
// aggregator can be written and tested before it lands; replaced by the real one on merge.
//
// Discrete Laplace noise: P(X = k) ∝ q^|k|, q = exp(-ε/Δ), Δ the sensitivity in grid units.
// X = G1 − G2 with G1, G2 geometric, drawn digit by digit from uniform 64-bit words (a fixed
// number of words per draw, no floating point on the sampled value).
#pragma once

#include <array>
#include <cstdint>
#include <optional>

#include "policies/random_source.h"

namespace portier::policies {

class discrete_laplace {
 public:
  static constexpr double kMaxScale = 1e15;
  static constexpr int kMaxBits = 56;
  static constexpr double kMinSensitivity = 1e-9;

  static std::optional<discrete_laplace> make(double epsilon, double sensitivity_units);
  bool sample(random_source& rng, std::int64_t& out) const;
  double scale() const { return sensitivity_ / epsilon_; }
  int bits() const { return bits_; }
  double pmf(std::int64_t k) const;
  double expected_abs() const;

 private:
  discrete_laplace(double epsilon, double sensitivity_units);

  double epsilon_;
  double sensitivity_;
  int bits_ = 0;
  std::array<std::uint64_t, kMaxBits> thresholds_{};
};

// A uniform integer in [0, n) without modulo bias; false if n is 0 or the source fails.
bool uniform_below(random_source& rng, std::uint64_t n, std::uint64_t& out);

}  // namespace portier::policies
