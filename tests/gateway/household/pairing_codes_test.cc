#include "gateway/household/pairing_codes.h"

#include <cctype>
#include <set>
#include <string>

#include <CppUTest/TestHarness.h>

using namespace portier::gateway;

namespace {

constexpr std::int64_t kT0 = 1'700'000'000'000;
constexpr std::int64_t kMin = 60'000;
using outcome = pairing_codes::outcome;

// Random bytes from a counter: each code differs, and a test can tell what comes next.
struct counting_random {
  std::uint8_t next = 1;
  bool fail = false;
  bool operator()(std::span<std::uint8_t> out) {
    if (fail) return false;
    for (auto& b : out) b = next++;
    return true;
  }
};

}  // namespace

TEST_GROUP(pairing_codes) {
  counting_random random;
  pairing_codes codes{[this](std::span<std::uint8_t> out) { return random(out); }};

  std::string make(std::int64_t at = kT0) {
    const auto c = codes.make(at);
    CHECK_TRUE(c.has_value());
    return c->text;
  }
};

TEST(pairing_codes, a_code_is_eight_crockford_symbols_shown_in_two_groups) {
  random.next = 0;
  const auto c = codes.make(kT0);
  CHECK_TRUE(c.has_value());
  LONGS_EQUAL(9, c->text.size());
  CHECK_EQUAL('-', c->text[4]);
  const std::string alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
  for (std::size_t i = 0; i < 9; ++i) {
    if (i != 4) CHECK_TEXT(alphabet.find(c->text[i]) != std::string::npos, c->text.c_str());
  }
  CHECK_EQUAL(kT0 + 10 * kMin, c->expires_at_ms);
  // Bytes 00 01 02 03 04 as 8 groups of 5 bits: 0 0 0 16 4 0 24 4.
  STRCMP_EQUAL("000G-40R4", c->text.c_str());
  std::set<std::string> seen;
  for (int i = 0; i < 20; ++i) seen.insert(codes.make(kT0).value().text);
  LONGS_EQUAL(20, seen.size());
}

TEST(pairing_codes, a_code_works_once_and_typing_is_forgiving) {
  const std::string c = make();
  std::string typed = " " + c.substr(0, 2) + " " + c.substr(2) + " ";
  for (auto& ch : typed) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  CHECK(outcome::ok == codes.redeem(typed, kT0 + kMin));
  CHECK(outcome::not_found == codes.redeem(c, kT0 + kMin));  // used
  LONGS_EQUAL(0, codes.valid(kT0 + kMin));
}

TEST(pairing_codes, normalisation_reads_like_crockford) {
  STRCMP_EQUAL("AB01110C", normalise_pairing_code("ab-oiL 1o-c").c_str());
  STRCMP_EQUAL("ABC?", normalise_pairing_code("a b-c?").c_str());
  // A code with 0 and 1 redeems when typed with O, I or L.
  random.next = 0;
  STRCMP_EQUAL("000G-40R4", make().c_str());
  CHECK(outcome::ok == codes.redeem("oOo g4 OR4", kT0));
}

TEST(pairing_codes, a_code_expires_after_ten_minutes) {
  const std::string c = make();
  LONGS_EQUAL(1, codes.valid(kT0 + 10 * kMin - 1));
  LONGS_EQUAL(0, codes.valid(kT0 + 10 * kMin));
  CHECK(outcome::not_found == codes.redeem(c, kT0 + 10 * kMin));
  const std::string d = make(kT0 + 20 * kMin);
  CHECK(outcome::ok == codes.redeem(d, kT0 + 30 * kMin - 1));
}

TEST(pairing_codes, a_fifth_code_voids_the_oldest) {
  const std::string first = make(kT0);
  const std::string second = make(kT0 + 1);
  make(kT0 + 2);
  make(kT0 + 3);
  LONGS_EQUAL(4, codes.valid(kT0 + 4));
  make(kT0 + 4);
  LONGS_EQUAL(4, codes.valid(kT0 + 5));
  CHECK(outcome::not_found == codes.redeem(first, kT0 + 5));
  CHECK(outcome::ok == codes.redeem(second, kT0 + 5));
}

TEST(pairing_codes, ten_wrong_codes_in_a_row_void_every_code_until_a_new_one) {
  const std::string c = make();
  for (int i = 0; i < 9; ++i) CHECK(outcome::not_found == codes.redeem("ZZZZ-ZZZZ", kT0));
  // A right code breaks the row.
  const std::string d = make();
  CHECK(outcome::ok == codes.redeem(d, kT0));
  for (int i = 0; i < 10; ++i) CHECK(outcome::not_found == codes.redeem("wrong", kT0));
  LONGS_EQUAL(0, codes.valid(kT0));
  CHECK(outcome::locked == codes.redeem(c, kT0));  // it was valid before the tenth
  CHECK(outcome::locked == codes.redeem(c, kT0 + 1));
  const std::string e = make(kT0 + 2);
  CHECK(outcome::not_found == codes.redeem(c, kT0 + 2));  // voided for good
  CHECK(outcome::ok == codes.redeem(e, kT0 + 2));
}

TEST(pairing_codes, no_code_without_randomness) {
  random.fail = true;
  CHECK_FALSE(codes.make(kT0).has_value());
  LONGS_EQUAL(0, codes.valid(kT0));
  CHECK(outcome::not_found == codes.redeem("0000-0000", kT0));
}
