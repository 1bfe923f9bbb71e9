// SHA-256, and HMAC-SHA256 (mbedTLS) with a key fixed at construction. One instance is not
// thread-safe; compute() reuses its context so the data path does not allocate.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string_view>

#include <mbedtls/md.h>

namespace portier::platform {

using sha256_digest = std::array<std::uint8_t, 32>;

// SHA-256 of a || b.
sha256_digest sha256(std::string_view a, std::string_view b = {});

class hmac_sha256 {
 public:
  explicit hmac_sha256(std::span<const std::uint8_t> key);
  ~hmac_sha256();
  hmac_sha256(const hmac_sha256&) = delete;
  hmac_sha256& operator=(const hmac_sha256&) = delete;

  sha256_digest compute(std::string_view data);

  // One-shot helper for key derivation and tests.
  static sha256_digest mac(std::span<const std::uint8_t> key, std::string_view data);

 private:
  mbedtls_md_context_t ctx_;
};

}  // namespace portier::platform
