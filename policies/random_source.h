// A source of uniformly random bytes for the engine's sampling (noise, release delays). The
// engine owns no generator of its own (it is pure): the gateway passes a CTR-DRBG seeded from
// the system, tests and `portier-policy run --seed` a deterministic one.
#pragma once

#include <cstdint>
#include <span>

namespace portier::policies {

class random_source {
 public:
  virtual ~random_source() = default;
  virtual bool fill(std::span<std::uint8_t> out) = 0;
};

}  // namespace portier::policies
