// ECDSA on P-256 with SHA-256 (mbedTLS): the signatures of remote policy updates.
//
// A public key is a value: its DER SubjectPublicKeyInfo, checked at construction to be a valid
// P-256 point, plus its key id — the lower-case hex of the first 8 bytes of SHA-256 of that DER.
// verify() parses the DER into a fresh mbedTLS context on each call, so a public key can be
// shared and used from any thread; verification is rare (one per update), parsing is cheap.
//
// A private key owns an mbedTLS context: move-only, not thread-safe. Keys are generated from the
// CTR-DRBG of platform/random.h, saved as PEM ("EC PRIVATE KEY") in 0600 files and loaded from
// PEM or DER (SEC1 or PKCS#8, as openssl writes them). Signatures are DER
// (SEQUENCE { r, s }); anything malformed is a failed verification, never a crash.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "platform/result.h"

namespace portier::platform {

class ecdsa_public_key {
 public:
  // DER SubjectPublicKeyInfo of a P-256 key.
  static result<ecdsa_public_key> from_der(std::string_view der);
  // "-----BEGIN PUBLIC KEY-----" PEM.
  static result<ecdsa_public_key> from_pem(std::string_view pem);

  const std::string& der() const { return der_; }
  std::string pem() const;
  const std::string& key_id() const { return key_id_; }

  // True only if `signature` (DER) is this key's signature of SHA-256(message).
  bool verify(std::string_view message, std::string_view signature) const;

  bool operator==(const ecdsa_public_key& other) const { return der_ == other.der_; }

 private:
  ecdsa_public_key(std::string der, std::string key_id)
      : der_(std::move(der)), key_id_(std::move(key_id)) {}
  std::string der_;
  std::string key_id_;
};

class ecdsa_private_key {
 public:
  static result<ecdsa_private_key> generate();
  // PEM (SEC1 "EC PRIVATE KEY" or PKCS#8 "PRIVATE KEY", unencrypted) or DER of either.
  static result<ecdsa_private_key> parse(std::string_view pem_or_der);

  ecdsa_private_key(ecdsa_private_key&&) noexcept;
  ecdsa_private_key& operator=(ecdsa_private_key&&) noexcept;
  ~ecdsa_private_key();

  std::string pem() const;
  const ecdsa_public_key& public_key() const { return public_; }
  // The DER signature of SHA-256(message).
  result<std::string> sign(std::string_view message);

 private:
  struct context;
  ecdsa_private_key(std::unique_ptr<context> ctx, ecdsa_public_key pub);
  std::unique_ptr<context> ctx_;
  ecdsa_public_key public_;
};

// The key id of a DER public key (no validation): hex of the first 8 bytes of its SHA-256.
std::string ecdsa_key_id(std::string_view public_key_der);

// Files. Private keys are written with mode 0600 and refused when group or others may read them;
// public keys are written as PEM (0644) and read as PEM or DER.
result<ecdsa_private_key> load_private_key(const std::string& path);
result<bool> save_private_key(const std::string& path, const ecdsa_private_key& key);
result<ecdsa_public_key> load_public_key(const std::string& path);
result<bool> save_public_key(const std::string& path, const ecdsa_public_key& key);

}  // namespace portier::platform
