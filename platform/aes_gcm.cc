#include "platform/aes_gcm.h"

#include <cstdlib>
#include <cstring>

#include "platform/random.h"

namespace portier::platform {

namespace {
const unsigned char* u8(std::string_view s) { return reinterpret_cast<const unsigned char*>(s.data()); }
}  // namespace

aes_gcm::aes_gcm(std::span<const std::uint8_t> key) {
  mbedtls_gcm_init(&ctx_);
  if (key.size() != kKeyBytes ||
      mbedtls_gcm_setkey(&ctx_, MBEDTLS_CIPHER_ID_AES, key.data(), static_cast<unsigned>(key.size() * 8)) != 0) {
    std::abort();  // a programming error: keys come from the key store, always 32 bytes
  }
}

aes_gcm::~aes_gcm() { mbedtls_gcm_free(&ctx_); }

void aes_gcm::seal(const nonce& n, std::string_view aad, std::string_view plaintext, std::string& out) {
  const std::size_t start = out.size();
  out.resize(start + plaintext.size() + kTagBytes);
  auto* dst = reinterpret_cast<unsigned char*>(out.data() + start);
  mbedtls_gcm_crypt_and_tag(&ctx_, MBEDTLS_GCM_ENCRYPT, plaintext.size(), n.data(), n.size(), u8(aad), aad.size(),
                            u8(plaintext), dst, kTagBytes, dst + plaintext.size());
}

bool aes_gcm::open(const nonce& n, std::string_view aad, std::string_view sealed, std::string& plaintext) {
  if (sealed.size() < kTagBytes) return false;
  const std::size_t len = sealed.size() - kTagBytes;
  plaintext.resize(len);
  const int rc = mbedtls_gcm_auth_decrypt(&ctx_, len, n.data(), n.size(), u8(aad), aad.size(), u8(sealed) + len,
                                          kTagBytes, u8(sealed), reinterpret_cast<unsigned char*>(plaintext.data()));
  if (rc != 0) {
    plaintext.assign(plaintext.size(), '\0');
    plaintext.clear();
    return false;
  }
  return true;
}

bool nonce_sequence::next(aes_gcm::nonce& n) {
  if (!ready_ || counter_ == 0xFFFFFFFFu) {
    if (!random_bytes(prefix_)) return false;
    counter_ = 0;
    ready_ = true;
  }
  ++counter_;
  std::memcpy(n.data(), prefix_.data(), prefix_.size());
  for (int i = 0; i < 4; ++i) n[8 + i] = static_cast<std::uint8_t>(counter_ >> (8 * i));
  return true;
}

}  // namespace portier::platform
