// A CTR-DRBG (mbedTLS, AES-256, NIST SP 800-90A) that one owner draws from: the random bytes of
// the engine's sampling (noise, release delays). Two ways to seed it:
//   from_system()    mbedTLS's entropy sources (like random_bytes()), reseeded from them every
//                    MBEDTLS_CTR_DRBG_RESEED_INTERVAL requests. What the gateway uses.
//   deterministic()  the given seed bytes and nothing else: the same seed gives the same stream,
//                    on every host. The entropy callback hands out the seed itself, at seeding
//                    and again at each periodic reseed, so no system entropy ever enters. For
//                    tests and `portier-policy run --seed`; never for noise that leaves the home.
// Prediction resistance is off for both. Not thread-safe: one generator per owning thread (fill()
// calls mbedTLS without its mutex). The object is not movable: mbedTLS keeps a pointer to it.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <span>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>

#include "platform/result.h"

namespace portier::platform {

class ctr_drbg {
 public:
  // The seed of deterministic() is the DRBG's whole entropy input (mbedTLS's bound on one seed
  // input, 384 bytes, less the personalisation string, rounded down).
  static constexpr std::size_t kMaxSeedBytes = 256;

  // Personalisation string "portier-noise". Error if the entropy sources cannot seed it.
  static result<std::unique_ptr<ctr_drbg>> from_system();
  // nullptr if `seed` is empty or longer than kMaxSeedBytes.
  static std::unique_ptr<ctr_drbg> deterministic(std::span<const std::uint8_t> seed);

  ~ctr_drbg();
  ctr_drbg(const ctr_drbg&) = delete;
  ctr_drbg& operator=(const ctr_drbg&) = delete;

  // Fills `out` (any size: requests above MBEDTLS_CTR_DRBG_MAX_REQUEST are split). False if the
  // generator failed (a reseed from the system could not gather entropy); `out` is then unusable.
  bool fill(std::span<std::uint8_t> out) noexcept;

 private:
  ctr_drbg();
  static int seed_entropy(void* self, unsigned char* out, std::size_t len);

  mbedtls_entropy_context entropy_;
  mbedtls_ctr_drbg_context ctr_;
  std::array<std::uint8_t, kMaxSeedBytes> seed_{};
  std::size_t seed_size_ = 0;
};

}  // namespace portier::platform
