#include "platform/ctr_drbg.h"

#include <algorithm>
#include <cstring>

namespace portier::platform {

namespace {

constexpr char kPersonalisation[] = "portier-noise";

const unsigned char* personalisation() {
  return reinterpret_cast<const unsigned char*>(kPersonalisation);
}
constexpr std::size_t kPersonalisationSize = sizeof kPersonalisation - 1;

static_assert(ctr_drbg::kMaxSeedBytes + kPersonalisationSize <= MBEDTLS_CTR_DRBG_MAX_SEED_INPUT);

}  // namespace

ctr_drbg::ctr_drbg() {
  mbedtls_entropy_init(&entropy_);
  mbedtls_ctr_drbg_init(&ctr_);
}

ctr_drbg::~ctr_drbg() {
  mbedtls_ctr_drbg_free(&ctr_);
  mbedtls_entropy_free(&entropy_);
}

result<std::unique_ptr<ctr_drbg>> ctr_drbg::from_system() {
  std::unique_ptr<ctr_drbg> g(new ctr_drbg());
  if (mbedtls_ctr_drbg_seed(&g->ctr_, mbedtls_entropy_func, &g->entropy_, personalisation(),
                            kPersonalisationSize) != 0) {
    return error{"cannot seed the noise generator from system entropy"};
  }
  return g;
}

std::unique_ptr<ctr_drbg> ctr_drbg::deterministic(std::span<const std::uint8_t> seed) {
  if (seed.empty() || seed.size() > kMaxSeedBytes) return nullptr;
  std::unique_ptr<ctr_drbg> g(new ctr_drbg());
  std::copy(seed.begin(), seed.end(), g->seed_.begin());
  g->seed_size_ = seed.size();
  // The seed is the entire entropy input: no nonce drawn after it, so seed_entropy() is only ever
  // asked for exactly seed_size_ bytes.
  mbedtls_ctr_drbg_set_entropy_len(&g->ctr_, seed.size());
  if (mbedtls_ctr_drbg_set_nonce_len(&g->ctr_, 0) != 0 ||
      mbedtls_ctr_drbg_seed(&g->ctr_, seed_entropy, g.get(), personalisation(),
                            kPersonalisationSize) != 0) {
    return nullptr;
  }
  return g;
}

int ctr_drbg::seed_entropy(void* self, unsigned char* out, std::size_t len) {
  const auto* g = static_cast<const ctr_drbg*>(self);
  if (len != g->seed_size_) return MBEDTLS_ERR_CTR_DRBG_ENTROPY_SOURCE_FAILED;
  std::memcpy(out, g->seed_.data(), len);
  return 0;
}

bool ctr_drbg::fill(std::span<std::uint8_t> out) noexcept {
  std::size_t done = 0;
  while (done < out.size()) {
    const std::size_t n = std::min<std::size_t>(out.size() - done, MBEDTLS_CTR_DRBG_MAX_REQUEST);
    // _with_add: mbedtls_ctr_drbg_random() would take the context's mutex, which a generator with
    // a single owner does not need.
    if (mbedtls_ctr_drbg_random_with_add(&ctr_, out.data() + done, n, nullptr, 0) != 0) {
      return false;
    }
    done += n;
  }
  return true;
}

}  // namespace portier::platform
