#include "policies/discrete_laplace.h"

#include <cmath>

#include "platform/little_endian.h"

namespace portier::policies {

namespace {

// 1 if u < t, else 0: the borrow out of u - t, in bit operations (Hacker's Delight, 2-12), so the
// comparison of a sampled word has no data-dependent branch to time.
std::uint64_t below(std::uint64_t u, std::uint64_t t) {
  return ((~u & t) | ((~u | t) & (u - t))) >> 63;
}

}  // namespace

std::optional<discrete_laplace> discrete_laplace::make(double epsilon, double sensitivity_units) {
  // Written so that NaN fails every comparison and is refused.
  if (!(epsilon > 0) || !std::isfinite(epsilon)) return std::nullopt;
  if (!(sensitivity_units >= kMinSensitivity) || !std::isfinite(sensitivity_units)) {
    return std::nullopt;
  }
  if (!(sensitivity_units / epsilon <= kMaxScale)) return std::nullopt;
  discrete_laplace d(epsilon, sensitivity_units);
  if (d.bits_ > kMaxBits) return std::nullopt;  // unreachable under kMaxScale; never index past
  return d;
}

discrete_laplace::discrete_laplace(double epsilon, double sensitivity_units)
    : epsilon_(epsilon), sensitivity_(sensitivity_units) {
  const long double lambda = static_cast<long double>(epsilon) / sensitivity_units;
  const long double truncation = 64 * std::log(2.0L);  // q^{2^B} < 2^-64  <=>  2^B λ > 64 ln 2
  bits_ = 1;
  while (bits_ <= kMaxBits && std::ldexp(lambda, bits_) <= truncation) ++bits_;
  if (bits_ > kMaxBits) return;
  for (int i = 0; i < bits_; ++i) {
    // p_i = 1 / (1 + e^x) with x = 2^i λ > 0, written as e^-x / (1 + e^-x): no overflow for
    // large x (p_i underflows to 0, and the digit is always 0), and for x near 0, where q is
    // close to 1, e^-x is accurate to a few ulps and 1 + e^-x ≈ 2 cancels nothing. Checked against
    // 300-bit arithmetic: t_i / 2^64 within 0.92 · 2^-64 of p_i over eight values of λ.
    const long double e = std::exp(-std::ldexp(lambda, i));
    const long double p = e / (1 + e);  // < 1/2, so round(p · 2^64) ≤ 2^63 fits
    thresholds_[i] = static_cast<std::uint64_t>(std::round(std::ldexp(p, 64)));
  }
}

bool discrete_laplace::sample(random_source& rng, std::int64_t& out) const {
  std::array<std::uint8_t, 2 * kMaxBits * 8> bytes;
  const auto n = static_cast<std::size_t>(bits_);
  if (!rng.fill({bytes.data(), 2 * n * 8})) return false;
  const auto* words = reinterpret_cast<const char*>(bytes.data());
  std::uint64_t g1 = 0;
  std::uint64_t g2 = 0;
  for (std::size_t i = 0; i < n; ++i) {
    g1 |= below(platform::get_u64le(words + 8 * i), thresholds_[i]) << i;
    g2 |= below(platform::get_u64le(words + 8 * (n + i)), thresholds_[i]) << i;
  }
  out = static_cast<std::int64_t>(g1) - static_cast<std::int64_t>(g2);
  return true;
}

double discrete_laplace::pmf(std::int64_t k) const {
  // (1-q)/(1+q) = tanh(λ/2): no cancellation in 1 - q when q is close to 1.
  const long double lambda = static_cast<long double>(epsilon_) / sensitivity_;
  const long double magnitude = std::fabs(static_cast<long double>(k));
  return static_cast<double>(std::tanh(lambda / 2) * std::exp(-lambda * magnitude));
}

double discrete_laplace::expected_abs() const {
  const long double lambda = static_cast<long double>(epsilon_) / sensitivity_;
  return static_cast<double>(1 / std::sinh(lambda));
}

}  // namespace portier::policies
