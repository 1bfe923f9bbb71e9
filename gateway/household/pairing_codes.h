// One-time pairing codes for the LAN page (`portierctl pair`, then the household types the code
// into the page, which trades it for a session with redeem_pairing).
//
// Contract:
//  - make() draws 40 bits from the random source (no modulo bias: 5 bytes, 8 symbols of 5 bits)
//    and writes them as 8 characters of Crockford base32, shown "XXXX-XXXX". A code is valid for
//    10 minutes and for one redemption. At most 4 are valid at once: a fifth voids the oldest.
//  - redeem() ignores case, spaces and '-' (and reads O as 0, I and L as 1, as Crockford base32
//    does), and compares with every valid code in constant time. A wrong, used or expired code is
//    not_found; the 10th wrong code in a row voids every code, and redeem() then answers locked
//    until make() is called again (by the household, on the box).
//  - Codes live only here, in memory: never logged, never written (the caller must not either).
//
// Pure: the clock is passed in, the random source injected. Not thread-safe: one owner.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace portier::gateway {

class pairing_codes {
 public:
  static constexpr std::int64_t kValidMs = 10 * 60 * 1000;
  static constexpr std::size_t kMaxValid = 4;
  static constexpr std::uint32_t kMaxWrongInARow = 10;
  static constexpr std::size_t kCodeChars = 8;

  // Fills its argument with random bytes; false if it could not.
  using random_fill = std::function<bool(std::span<std::uint8_t>)>;
  explicit pairing_codes(random_fill random) : random_(std::move(random)) {}

  struct code {
    std::string text;  // "XXXX-XXXX"
    std::int64_t expires_at_ms = 0;
  };
  // A new code; nullopt when the random source failed (nothing changed then).
  std::optional<code> make(std::int64_t now_ms);

  enum class outcome : std::uint8_t {
    ok,         // a valid code: it is used up now
    not_found,  // wrong, used or expired
    locked,     // too many wrong codes in a row: no code works until make()
  };
  outcome redeem(std::string_view typed, std::int64_t now_ms);

  // Codes that would redeem now.
  std::size_t valid(std::int64_t now_ms) const;

 private:
  struct entry {
    std::string symbols;  // 8 characters of the alphabet, without '-'
    std::int64_t made_ms = 0;
  };
  void expire(std::int64_t now_ms);

  random_fill random_;
  std::vector<entry> codes_;  // oldest first
  std::uint32_t wrong_in_a_row_ = 0;
  bool locked_ = false;
};

// `typed` as the symbols a code is compared by: upper case, without spaces and '-', O read as 0,
// I and L as 1. Anything else is kept as it is (and will not match).
std::string normalise_pairing_code(std::string_view typed);

}  // namespace portier::gateway
