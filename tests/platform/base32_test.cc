#include "platform/base32.h"

#include <string>

#include <CppUTest/TestHarness.h>

using portier::platform::base32_encode;

TEST_GROUP(base32){};

static std::string encode(const std::string& s) {
  return base32_encode({reinterpret_cast<const std::uint8_t*>(s.data()), s.size()});
}

// RFC 4648 test vectors, lower case, no padding.
TEST(base32, rfc4648_vectors) {
  STRCMP_EQUAL("", encode("").c_str());
  STRCMP_EQUAL("my", encode("f").c_str());
  STRCMP_EQUAL("mzxq", encode("fo").c_str());
  STRCMP_EQUAL("mzxw6", encode("foo").c_str());
  STRCMP_EQUAL("mzxw6yq", encode("foob").c_str());
  STRCMP_EQUAL("mzxw6ytb", encode("fooba").c_str());
  STRCMP_EQUAL("mzxw6ytboi", encode("foobar").c_str());
}

TEST(base32, prefix_is_prefix_of_full_encoding) {
  const std::string in = "portier";
  const std::string full = encode(in);
  char out[5];
  base32_encode({reinterpret_cast<const std::uint8_t*>(in.data()), in.size()}, 5, out);
  STRCMP_EQUAL(full.substr(0, 5).c_str(), std::string(out, 5).c_str());
}
