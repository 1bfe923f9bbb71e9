#include "platform/aes_gcm.h"

#include <array>
#include <cstring>
#include <set>
#include <string>

#include <CppUTest/TestHarness.h>

using namespace portier::platform;

TEST_GROUP(aes_gcm){};

TEST(aes_gcm, what_is_sealed_opens_only_with_its_nonce_and_associated_data) {
  const std::array<std::uint8_t, 32> key{1, 2, 3};
  aes_gcm gcm(key);
  nonce_sequence nonces;
  aes_gcm::nonce n{};
  CHECK(nonces.next(n));
  std::string sealed;
  gcm.seal(n, "aad", "a sample", sealed);
  LONGS_EQUAL(8 + aes_gcm::kTagBytes, sealed.size());
  std::string plain;
  CHECK(gcm.open(n, "aad", sealed, plain));
  STRCMP_EQUAL("a sample", plain.c_str());
  CHECK_FALSE(gcm.open(n, "other", sealed, plain));
  sealed[0] = static_cast<char>(sealed[0] ^ 1);
  CHECK_FALSE(gcm.open(n, "aad", sealed, plain));
}

TEST(aes_gcm, a_nonce_sequence_never_repeats_and_keeps_its_prefix) {
  nonce_sequence nonces;
  std::set<std::string> seen;
  aes_gcm::nonce first{};
  for (int i = 0; i < 1000; ++i) {
    aes_gcm::nonce n{};
    CHECK(nonces.next(n));
    if (i == 0) first = n;
    CHECK(std::memcmp(n.data(), first.data(), 8) == 0);  // one prefix, a counter after it
    CHECK(seen.insert(std::string(n.begin(), n.end())).second);
  }
  nonce_sequence other;  // another process, or another store: another random prefix
  aes_gcm::nonce n{};
  CHECK(other.next(n));
  CHECK(std::memcmp(n.data(), first.data(), 8) != 0);
}
