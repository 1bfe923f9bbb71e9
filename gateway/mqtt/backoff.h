// Jittered exponential back-off: attempt n waits a uniformly random time between half and all of
// min(max, initial * 2^n), so a fleet that lost its broker together does not return together.
#pragma once

#include <chrono>
#include <cstdint>
#include <random>

namespace portier::gateway {

class backoff {
 public:
  backoff(std::chrono::milliseconds initial, std::chrono::milliseconds max, std::uint64_t seed)
      : initial_(initial), max_(max), rng_(seed) {}

  std::chrono::milliseconds next() {
    const auto cap = std::min<std::int64_t>(max_.count(), initial_.count() << std::min(attempt_, 30));
    ++attempt_;
    std::uniform_int_distribution<std::int64_t> d(cap / 2, cap);
    return std::chrono::milliseconds(d(rng_));
  }
  void reset() { attempt_ = 0; }
  int attempts() const { return attempt_; }

 private:
  std::chrono::milliseconds initial_, max_;
  int attempt_ = 0;
  std::mt19937_64 rng_;
};

}  // namespace portier::gateway
