// Discrete Laplace noise (the two-sided geometric distribution) for differential privacy, drawn
// with integer arithmetic in a running time that does not depend on the value drawn.
//
// Distribution: P(X = k) = (1-q)/(1+q) · q^|k| for every integer k, q = exp(-λ), λ = ε/Δ, where
// ε > 0 is the privacy parameter and Δ > 0 the query's sensitivity in grid units (the caller
// adds X grid steps to a value already on the grid). Adding X to a query of sensitivity Δ is
// ε-differentially private; the approximation below makes it (ε, δ)-DP with
// δ ≤ (1 + e^ε) · 2^-56.
//
// Method: X = G1 − G2 with G1, G2 independent geometric on {0, 1, 2, ...}, P(G = k) = (1-q)q^k.
// The binary digits of a geometric variable are independent: restricted to G < 2^B,
// P(G = Σ b_i 2^i) ∝ Π_i (q^{2^i})^{b_i}, so digit i is Bernoulli with
// p_i = q^{2^i} / (1 + q^{2^i}) = 1 / (1 + exp(2^i λ)). make() computes the thresholds
// t_i = round(p_i · 2^64) once, in long double, from the public parameters only. sample() draws
// 2·B uniform 64-bit words in one fill and sets digit i of G1 (G2) to u < t_i, compared without a
// branch: the same bytes drawn and the same operations for every result, no early exit, no
// rejection. Floating point never touches a sampled value.
//
// Accuracy: B is the smallest B ≥ 1 with q^{2^B} < 2^-64, i.e. 2^B · λ > 64 ln 2, so the mass
// that truncation to G < 2^B removes is below 2^-64. Each digit's probability t_i / 2^64 is within
// 2^-63 of p_i (2^-65 from rounding, the rest from long double's error on p_i ≤ 1/2). So each G
// is within 2^-64 + B · 2^-63 < 2^-57 of its exact law in total variation (B ≤ 56 under
// kMaxScale), and X within 2^-56. That is the whole departure from the exact distribution, hence
// the δ above.
//
// An instance is immutable and may be shared between threads; the random_source may not.
#pragma once

#include <array>
#include <cstdint>
#include <optional>

#include "policies/random_source.h"

namespace portier::policies {

class discrete_laplace {
 public:
  // Larger scales are refused: noise of 10^15 grid steps is no use to any query, and the bound
  // keeps B ≤ kMaxBits (2^56 > 64 ln 2 · 10^15), so |X| < 2^56 fits an int64 with room.
  static constexpr double kMaxScale = 1e15;
  static constexpr int kMaxBits = 56;
  // The smallest sensitivity accepted, in grid units.
  static constexpr double kMinSensitivity = 1e-9;

  // nullopt unless ε is finite and > 0, Δ is finite and ≥ kMinSensitivity, and Δ/ε ≤ kMaxScale.
  static std::optional<discrete_laplace> make(double epsilon, double sensitivity_units);

  // One draw into `out`. Always consumes 2 · bits() · 8 bytes from `rng` in a single fill() and
  // never allocates. False if `rng` failed: `out` is then untouched and the caller must not
  // release the value it was noising.
  bool sample(random_source& rng, std::int64_t& out) const;

  double scale() const { return sensitivity_ / epsilon_; }  // Δ/ε, in grid units
  int bits() const { return bits_; }                        // B
  // The exact P(X = k), computed in floating point: for tests and documentation.
  double pmf(std::int64_t k) const;
  // E|X| = 2q / (1 − q²) = 1 / sinh(λ).
  double expected_abs() const;

 private:
  discrete_laplace(double epsilon, double sensitivity_units);

  double epsilon_;
  double sensitivity_;
  int bits_ = 0;
  std::array<std::uint64_t, kMaxBits> thresholds_{};
};

}  // namespace portier::policies
