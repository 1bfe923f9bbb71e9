#include "platform/hmac_sha256.h"

#include <cstdlib>

namespace portier::platform {

namespace {
const std::uint8_t* bytes(std::string_view s) { return reinterpret_cast<const std::uint8_t*>(s.data()); }
}  // namespace

hmac_sha256::hmac_sha256(std::span<const std::uint8_t> key) {
  mbedtls_md_init(&ctx_);
  // Failures here mean mbedTLS was built without SHA-256 or memory is exhausted: not recoverable.
  if (mbedtls_md_setup(&ctx_, mbedtls_md_info_from_type(MBEDTLS_MD_SHA256), 1) != 0 ||
      mbedtls_md_hmac_starts(&ctx_, key.data(), key.size()) != 0) {
    std::abort();
  }
}

hmac_sha256::~hmac_sha256() { mbedtls_md_free(&ctx_); }

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
