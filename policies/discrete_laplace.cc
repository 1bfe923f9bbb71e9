// TEMPORARY stand-in for branch h/noise's discrete_laplace; see discrete_laplace.h.
#include "policies/discrete_laplace.h"

#include <cmath>
#include <cstring>
#include <limits>

namespace portier::policies {

std::optional<discrete_laplace> discrete_laplace::make(double epsilon, double sensitivity_units) {
  if (!std::isfinite(epsilon) || !(epsilon > 0) || !std::isfinite(sensitivity_units) ||
      !(sensitivity_units >= kMinSensitivity) || !(sensitivity_units / epsilon <= kMaxScale)) {
    return std::nullopt;
  }
  return discrete_laplace(epsilon, sensitivity_units);
}

discrete_laplace::discrete_laplace(double epsilon, double sensitivity_units)
    : epsilon_(epsilon), sensitivity_(sensitivity_units) {
  const long double lambda = static_cast<long double>(epsilon) / sensitivity_units;
  const long double limit = 64 * std::log(2.0L);
  bits_ = 1;
  while (bits_ < kMaxBits && std::ldexp(lambda, bits_) <= limit) ++bits_;
  for (int i = 0; i < bits_; ++i) {
    const long double p = 1 / (1 + std::exp(std::ldexp(lambda, i)));
    const long double t = std::round(std::ldexp(p, 64));
    thresholds_[i] =
        t >= 0x1p64L ? std::numeric_limits<std::uint64_t>::max() : static_cast<std::uint64_t>(t);
  }
}

bool discrete_laplace::sample(random_source& rng, std::int64_t& out) const {
  std::array<std::uint8_t, 2 * kMaxBits * 8> bytes;
  if (!rng.fill(std::span(bytes.data(), static_cast<std::size_t>(2 * bits_ * 8)))) return false;
  std::int64_t g[2] = {0, 0};
  for (int j = 0; j < 2; ++j) {
    for (int i = 0; i < bits_; ++i) {
      std::uint64_t u = 0;
      std::memcpy(&u, bytes.data() + (j * bits_ + i) * 8, 8);
      g[j] |= static_cast<std::int64_t>(u < thresholds_[i]) << i;
    }
  }
  out = g[0] - g[1];
  return true;
}

double discrete_laplace::pmf(std::int64_t k) const {
  const double q = std::exp(-epsilon_ / sensitivity_);
  return (1 - q) / (1 + q) * std::pow(q, std::fabs(static_cast<double>(k)));
}

double discrete_laplace::expected_abs() const {
  return 1 / std::sinh(epsilon_ / sensitivity_);
}

bool uniform_below(random_source& rng, std::uint64_t n, std::uint64_t& out) {
  if (n == 0) return false;
  const std::uint64_t reject = (0 - n) % n;  // 2^64 mod n: words below it would bias
  for (int i = 0; i < 64; ++i) {
    std::uint64_t u = 0;
    if (!rng.fill(std::span(reinterpret_cast<std::uint8_t*>(&u), sizeof u))) return false;
    if (u >= reject) {
      out = u % n;
      return true;
    }
  }
  return false;
}

}  // namespace portier::policies
