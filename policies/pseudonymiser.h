// Keyed pseudonyms: HMAC-SHA256 under a key per gateway *and* per purpose, base32 encoded and
// truncated, so one recipient's pseudonyms cannot be joined with another's. Purpose keys are
//   key(purpose) = HMAC-SHA256(gateway secret, "portier/pseudonym/v1/" + purpose id).
// Device ids repeat on every message, so results are cached (bounded; cleared when full).
// Not thread-safe: one per evaluator.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "platform/hmac_sha256.h"

namespace portier::policies {

class pseudonymiser {
 public:
  static constexpr std::size_t kMaxLength = 51;
  static constexpr std::size_t kCacheEntries = 4096;

  pseudonymiser(std::span<const std::uint8_t> gateway_secret, std::span<const std::string> purpose_ids);

  // The first `length` (<= kMaxLength) characters of the pseudonym of `value` for `purpose`.
  // The view stays valid until the next call.
  std::string_view pseudonym(std::size_t purpose, std::string_view value, std::size_t length);

 private:
  struct string_hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  using encoded = std::array<char, kMaxLength>;
  struct per_purpose {
    std::unique_ptr<platform::hmac_sha256> mac;
    std::unordered_map<std::string, encoded, string_hash, std::equal_to<>> cache;
  };
  std::vector<per_purpose> purposes_;
  encoded scratch_{};
};

}  // namespace portier::policies
