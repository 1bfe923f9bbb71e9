// SHA-256 and hex for the hash chains of the consent store and the ledger. Header-only; belongs in
// platform/ once someone owns that folder's build again.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include <mbedtls/sha256.h>

namespace portier::gateway {

using digest256 = std::array<std::uint8_t, 32>;

// SHA-256 of a || b.
inline digest256 sha256(std::string_view a, std::string_view b = {}) {
  digest256 out{};
  mbedtls_sha256_context ctx;
  mbedtls_sha256_init(&ctx);
  mbedtls_sha256_starts_ret(&ctx, 0);
  mbedtls_sha256_update_ret(&ctx, reinterpret_cast<const unsigned char*>(a.data()), a.size());
  mbedtls_sha256_update_ret(&ctx, reinterpret_cast<const unsigned char*>(b.data()), b.size());
  mbedtls_sha256_finish_ret(&ctx, out.data());
  mbedtls_sha256_free(&ctx);
  return out;
}

inline std::string to_hex(const std::uint8_t* data, std::size_t n) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out(2 * n, '0');
  for (std::size_t i = 0; i < n; ++i) {
    out[2 * i] = digits[data[i] >> 4];
    out[2 * i + 1] = digits[data[i] & 0xF];
  }
  return out;
}

inline std::string to_hex(std::string_view bytes) {
  return to_hex(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size());
}

inline std::string_view as_bytes(const digest256& d) {
  return {reinterpret_cast<const char*>(d.data()), d.size()};
}

}  // namespace portier::gateway
