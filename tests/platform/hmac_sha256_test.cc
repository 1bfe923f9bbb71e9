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
  STRCMP_EQUAL(
      first.c_str(),
      hex(hmac_sha256::mac({reinterpret_cast<const std::uint8_t*>(key.data()), key.size()}, "a"))
          .c_str());
}

TEST_GROUP(sha256){};

// FIPS 180-2 appendix B.1 and B.2; a || b hashes the concatenation, wherever it is split.
TEST(sha256, known_answers_and_concatenation) {
  using portier::platform::sha256;
  STRCMP_EQUAL("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
               hex(sha256("abc")).c_str());
  STRCMP_EQUAL("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
               hex(sha256("")).c_str());
  const std::string m = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
  const std::string want = "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1";
  STRCMP_EQUAL(want.c_str(), hex(sha256(m)).c_str());
  STRCMP_EQUAL(want.c_str(), hex(sha256(m.substr(0, 17), m.substr(17))).c_str());
  STRCMP_EQUAL(want.c_str(), hex(sha256("", m)).c_str());
}
