// AES-256-GCM (mbedTLS) with a key fixed at construction: seal and open with a 96-bit nonce, a
// 128-bit tag and associated data. open() fails (and writes nothing usable) when the tag does not
// authenticate: such data is never used. One instance is not thread-safe.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include <mbedtls/gcm.h>

namespace portier::platform {

class aes_gcm {
 public:
  static constexpr std::size_t kKeyBytes = 32;
  static constexpr std::size_t kNonceBytes = 12;
  static constexpr std::size_t kTagBytes = 16;
  using nonce = std::array<std::uint8_t, kNonceBytes>;

  explicit aes_gcm(std::span<const std::uint8_t> key);  // kKeyBytes
  ~aes_gcm();
  aes_gcm(const aes_gcm&) = delete;
  aes_gcm& operator=(const aes_gcm&) = delete;

  // Appends ciphertext followed by the tag to `out`.
  void seal(const nonce& n, std::string_view aad, std::string_view plaintext, std::string& out);
  // `sealed` is ciphertext + tag. False if too short or not authentic.
  bool open(const nonce& n, std::string_view aad, std::string_view sealed, std::string& plaintext);

 private:
  mbedtls_gcm_context ctx_;
};

// Nonces for records sealed under long-lived keys (the spool, the window journal): a random 8-byte
// prefix, drawn at first use and again when the 32-bit counter after it wraps, so that no nonce
// repeats under a key within a process, and across processes only with probability 2^-64 per pair
// of prefixes, without a system call per record. Not thread-safe: the owner's lock guards it.
class nonce_sequence {
 public:
  // False if no random prefix could be drawn (nothing may be sealed then).
  bool next(aes_gcm::nonce& n);

 private:
  std::array<std::uint8_t, 8> prefix_{};
  std::uint32_t counter_ = 0;
  bool ready_ = false;
};

}  // namespace portier::platform
