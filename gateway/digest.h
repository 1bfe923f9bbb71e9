// SHA-256 and hex for the hash chains of the consent store and the ledger. Header-only; the hash
// itself is platform's (which hides the mbedTLS version).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "platform/hmac_sha256.h"

namespace portier::gateway {

using digest256 = platform::sha256_digest;
using platform::sha256;  // SHA-256 of a || b

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
