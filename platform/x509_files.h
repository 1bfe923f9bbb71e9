// PEM certificate files and private key files as mbedTLS reads them: what portierd's start-up
// checks use to find a broken upstream.ca_file, client_cert_file or client_key_file before the
// first TLS handshake does.
//
// A certificate file is read as PEM only: every "-----BEGIN CERTIFICATE-----" block, in order;
// text around the blocks (comments, other PEM blocks such as a key) is ignored. One block that is
// not a valid X.509 certificate makes the whole file an error, naming the block by its number.
// Validity dates are not checked here: an expired certificate parses, and the handshake (which
// knows the time it happens at) refuses it.
//
// A private key file must be PEM ("PRIVATE KEY", "EC PRIVATE KEY" or "RSA PRIVATE KEY"), not
// encrypted (portierd cannot ask for a passphrase), and readable by its owner only. Its text is
// wiped from memory once parsed.
#pragma once

#include <cstddef>
#include <memory>
#include <string>

#include "platform/result.h"

namespace portier::platform {

class certificate_chain {
 public:
  // Errors: "PATH" is a directory, not a PEM file; "PATH" holds no PEM certificate; "PATH":
  // certificate N is not a valid PEM X.509 certificate; or the file cannot be read.
  static result<certificate_chain> load_pem_file(const std::string& path);

  certificate_chain(certificate_chain&&) noexcept;
  certificate_chain& operator=(certificate_chain&&) noexcept;
  ~certificate_chain();

  std::size_t size() const { return size_; }

 private:
  friend class private_key;
  struct context;
  certificate_chain(std::unique_ptr<context> ctx, std::size_t size);
  std::unique_ptr<context> ctx_;
  std::size_t size_ = 0;
};

class private_key {
 public:
  // Errors: the mode check's (group or others may read it), the file cannot be read, or "PATH"
  // holds no unencrypted PEM private key.
  static result<private_key> load_pem_file(const std::string& path);

  private_key(private_key&&) noexcept;
  private_key& operator=(private_key&&) noexcept;
  ~private_key();

  // True if this is the key of the first certificate of `chain` (its public key is this key's).
  bool matches(const certificate_chain& chain) const;

 private:
  struct context;
  explicit private_key(std::unique_ptr<context> ctx);
  std::unique_ptr<context> ctx_;
};

}  // namespace portier::platform
