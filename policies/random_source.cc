#include "policies/random_source.h"

#include <array>

#include "platform/little_endian.h"

namespace portier::policies {

bool uniform_below(random_source& rng, std::uint64_t n, std::uint64_t& out) {
  if (n == 0) return false;
  // 2^64 mod n: the words at or above it are a whole number of runs of n values, so u % n is
  // uniform on them. A word is rejected with probability threshold / 2^64 < 1/2.
  const std::uint64_t threshold = (0 - n) % n;
  for (int attempt = 0; attempt < 64; ++attempt) {
    std::array<std::uint8_t, 8> bytes;
    if (!rng.fill(bytes)) return false;
    const std::uint64_t u = platform::get_u64le(reinterpret_cast<const char*>(bytes.data()));
    if (u >= threshold) {
      out = u % n;
      return true;
    }
  }
  return false;
}

}  // namespace portier::policies
