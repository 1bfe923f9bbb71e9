// A source of uniformly random bytes for the engine's sampling (noise, release delays). The
// engine owns no generator of its own (it is pure): the gateway passes a CTR-DRBG seeded from
// the system, tests and `portier-policy run --seed` a deterministic one.
#pragma once

#include <cstdint>
#include <span>

#include "platform/ctr_drbg.h"

namespace portier::policies {

class random_source {
 public:
  virtual ~random_source() = default;
  // Fills `out` with uniform bytes. False if the source failed: the caller then drops what it was
  // sampling for (fail closed), it never uses `out`.
  virtual bool fill(std::span<std::uint8_t> out) = 0;
};

// The gateway's and the tests' source: a platform CTR-DRBG, owned by the caller, which keeps it
// alive as long as this adapter (platform cannot implement a policies interface itself). Not
// thread-safe, like the generator.
class drbg_source final : public random_source {
 public:
  explicit drbg_source(platform::ctr_drbg& drbg) : drbg_(drbg) {}
  bool fill(std::span<std::uint8_t> out) override { return drbg_.fill(out); }

 private:
  platform::ctr_drbg& drbg_;
};

// A uniform integer in [0, n), without modulo bias: 64-bit words below 2^64 mod n are rejected
// (as OpenBSD's arc4random_uniform does), so the running time depends on the words drawn. That is
// fine for release delays, which the recipient observes anyway; noise must use discrete_laplace,
// which draws a fixed number of words. False if n is 0, if the source fails, or if 64 words in a
// row were rejected (probability below 2^-64 for a uniform source: a broken source is refused, not
// looped on forever).
bool uniform_below(random_source& rng, std::uint64_t n, std::uint64_t& out);

}  // namespace portier::policies
