#include "platform/base32.h"

namespace portier::platform {

namespace {
constexpr char kAlphabet[] = "abcdefghijklmnopqrstuvwxyz234567";
}

void base32_encode(std::span<const std::uint8_t> bytes, std::size_t chars, char* out) {
  std::size_t bit = 0;
  for (std::size_t i = 0; i < chars; ++i, bit += 5) {
    const std::size_t byte = bit / 8;
    const unsigned shift = bit % 8;
    unsigned v = static_cast<unsigned>(bytes[byte]) << 8;
    if (byte + 1 < bytes.size()) v |= bytes[byte + 1];
    out[i] = kAlphabet[(v >> (11 - shift)) & 0x1f];
  }
}

std::string base32_encode(std::span<const std::uint8_t> bytes) {
  std::string s((bytes.size() * 8 + 4) / 5, '\0');
  base32_encode(bytes, s.size(), s.data());
  return s;
}

}  // namespace portier::platform
