#include "gateway/household/pairing_codes.h"

#include <algorithm>
#include <array>

namespace portier::gateway {

namespace {

constexpr std::string_view kAlphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

// Compares every byte whatever differs first, so the time taken tells nothing of the code.
bool same_code(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (std::size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

}  // namespace

std::string normalise_pairing_code(std::string_view typed) {
  std::string out;
  out.reserve(typed.size());
  for (char c : typed) {
    if (c == ' ' || c == '-' || c == '\t') continue;
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
    if (c == 'O') c = '0';
    if (c == 'I' || c == 'L') c = '1';
    out += c;
  }
  return out;
}

void pairing_codes::expire(std::int64_t now_ms) {
  std::erase_if(codes_, [&](const entry& e) { return now_ms >= e.made_ms + kValidMs; });
}

std::optional<pairing_codes::code> pairing_codes::make(std::int64_t now_ms) {
  std::array<std::uint8_t, 5> bytes{};
  if (!random_ || !random_(bytes)) return std::nullopt;
  std::uint64_t bits = 0;
  for (std::uint8_t b : bytes) bits = bits << 8 | b;
  entry e;
  e.made_ms = now_ms;
  for (std::size_t i = 0; i < kCodeChars; ++i)
    e.symbols += kAlphabet[(bits >> (5 * (kCodeChars - 1 - i))) & 31];
  bytes.fill(0);
  expire(now_ms);
  if (codes_.size() >= kMaxValid) codes_.erase(codes_.begin());
  codes_.push_back(e);
  locked_ = false;
  wrong_in_a_row_ = 0;
  return code{e.symbols.substr(0, 4) + "-" + e.symbols.substr(4), now_ms + kValidMs};
}

pairing_codes::outcome pairing_codes::redeem(std::string_view typed, std::int64_t now_ms) {
  if (locked_) return outcome::locked;
  expire(now_ms);
  const std::string symbols = normalise_pairing_code(typed);
  std::size_t found = codes_.size();
  for (std::size_t i = 0; i < codes_.size(); ++i) {
    if (same_code(codes_[i].symbols, symbols)) found = i;  // no early exit: every code is compared
  }
  if (found < codes_.size()) {
    codes_.erase(codes_.begin() + static_cast<std::ptrdiff_t>(found));
    wrong_in_a_row_ = 0;
    return outcome::ok;
  }
  if (++wrong_in_a_row_ >= kMaxWrongInARow) {
    codes_.clear();
    locked_ = true;
  }
  return outcome::not_found;
}

std::size_t pairing_codes::valid(std::int64_t now_ms) const {
  if (locked_) return 0;
  return static_cast<std::size_t>(std::count_if(
      codes_.begin(), codes_.end(), [&](const entry& e) { return now_ms < e.made_ms + kValidMs; }));
}

}  // namespace portier::gateway
