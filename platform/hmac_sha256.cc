#include "platform/hmac_sha256.h"

#include <cstdlib>

#include "platform/mbedtls_compat.h"

namespace portier::platform {

namespace {
const std::uint8_t* bytes(std::string_view s) {
  return reinterpret_cast<const std::uint8_t*>(s.data());
}
}  // namespace

sha256_digest sha256(std::string_view a, std::string_view b) {
  sha256_digest out{};
  mbedtls_sha256_context ctx;
  mbedtls_sha256_init(&ctx);
  // Cannot fail with the built-in implementation (only hardware-accelerated builds report errors).
  if (mbedtls_compat::sha256_starts(&ctx) != 0 ||
      mbedtls_compat::sha256_update(&ctx, bytes(a), a.size()) != 0 ||
      mbedtls_compat::sha256_update(&ctx, bytes(b), b.size()) != 0 ||
      mbedtls_compat::sha256_finish(&ctx, out.data()) != 0) {
    std::abort();
  }
  mbedtls_sha256_free(&ctx);
  return out;
}

hmac_sha256::hmac_sha256(std::span<const std::uint8_t> key) {
  mbedtls_md_init(&ctx_);
  // Failures here mean mbedTLS was built without SHA-256 or memory is exhausted: not recoverable.
  if (mbedtls_md_setup(&ctx_, mbedtls_md_info_from_type(MBEDTLS_MD_SHA256), 1) != 0 ||
      mbedtls_md_hmac_starts(&ctx_, key.data(), key.size()) != 0) {
    std::abort();
  }
}

hmac_sha256::~hmac_sha256() {
  mbedtls_md_free(&ctx_);
}

sha256_digest hmac_sha256::compute(std::string_view data) {
  sha256_digest out{};
  mbedtls_md_hmac_reset(&ctx_);
  mbedtls_md_hmac_update(&ctx_, bytes(data), data.size());
  mbedtls_md_hmac_finish(&ctx_, out.data());
  return out;
}

sha256_digest hmac_sha256::mac(std::span<const std::uint8_t> key, std::string_view data) {
  sha256_digest out{};
  mbedtls_md_hmac(mbedtls_md_info_from_type(MBEDTLS_MD_SHA256), key.data(), key.size(), bytes(data),
                  data.size(), out.data());
  return out;
}

}  // namespace portier::platform
