#include "platform/random.h"

#include <algorithm>
#include <mutex>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>

namespace portier::platform {

namespace {

struct drbg {
  mbedtls_entropy_context entropy;
  mbedtls_ctr_drbg_context ctr;
  int seed_status = 0;
  std::mutex mu;
  drbg() {
    mbedtls_entropy_init(&entropy);
    mbedtls_ctr_drbg_init(&ctr);
    static const char kPersonalisation[] = "portier-ctr-drbg";
    seed_status = mbedtls_ctr_drbg_seed(&ctr, mbedtls_entropy_func, &entropy,
                                        reinterpret_cast<const unsigned char*>(kPersonalisation),
                                        sizeof kPersonalisation - 1);
  }
  ~drbg() {
    mbedtls_ctr_drbg_free(&ctr);
    mbedtls_entropy_free(&entropy);
  }
};

}  // namespace

result<bool> random_bytes(std::span<std::uint8_t> out) {
  static drbg g;
  std::lock_guard lock(g.mu);
  if (g.seed_status != 0) return error{"cannot seed the random generator from system entropy"};
  std::size_t done = 0;
  while (done < out.size()) {
    const std::size_t n = std::min<std::size_t>(out.size() - done, MBEDTLS_CTR_DRBG_MAX_REQUEST);
    if (mbedtls_ctr_drbg_random(&g.ctr, out.data() + done, n) != 0) {
      return error{"random generator failed"};
    }
    done += n;
  }
  return true;
}

}  // namespace portier::platform
