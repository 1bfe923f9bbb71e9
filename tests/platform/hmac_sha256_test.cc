#include "platform/hmac_sha256.h"

#include <string>

#include <CppUTest/TestHarness.h>

using portier::platform::hmac_sha256;

namespace {
std::string hex(const portier::platform::sha256_digest& d) {
  static const char* digits = "0123456789abcdef";
  std::string s;
  for (auto b : d) {
    s += digits[b >> 4];
    s += digits[b & 15];
  }
  return s;
}
}  // namespace

TEST_GROUP(hmac_sha256){};

// RFC 4231 test case 2.
TEST(hmac_sha256, rfc4231_case_2) {
  const std::string key = "Jefe";
  hmac_sha256 mac({reinterpret_cast<const std::uint8_t*>(key.data()), key.size()});
  STRCMP_EQUAL("5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
               hex(mac.compute("what do ya want for nothing?")).c_str());
}

TEST(hmac_sha256, reused_context_gives_the_same_result) {
  const std::string key = "Jefe";
  hmac_sha256 mac({reinterpret_cast<const std::uint8_t*>(key.data()), key.size()});
  const auto first = hex(mac.compute("a"));
  mac.compute("something else");
  STRCMP_EQUAL(first.c_str(), hex(mac.compute("a")).c_str());
  STRCMP_EQUAL(first.c_str(), hex(hmac_sha256::mac({reinterpret_cast<const std::uint8_t*>(key.data()), key.size()}, "a")).c_str());
}
