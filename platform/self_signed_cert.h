// The LAN page's TLS identity: an ECDSA P-256 key and a self-signed X.509 certificate (mbedTLS),
// made at the first start in a state directory and reused afterwards, so that the fingerprint the
// household checked once (portierctl shows it) stays the same across restarts.
//
// Files, both 0600: DIR/portier-web-key.pem (SEC1 "EC PRIVATE KEY") and DIR/portier-web-cert.pem.
// The certificate names the configured host names (dNSName) and addresses (iPAddress) in its
// subjectAltName, is valid from a day before it was made for 10 years, is not a CA, and is for
// serverAuth only. An existing pair is reused as it is, even if the names changed since: delete
// both files to make a new one (its fingerprint changes). Only one of the two files, a key that
// others may read, or a certificate that is not the key's, is an error: nothing is overwritten.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "platform/result.h"

namespace portier::platform {

struct tls_identity {
  std::string key_pem;
  std::string cert_pem;
  std::string cert_der;
  // SHA-256 of cert_der, lower-case hex bytes joined by ':' (95 characters).
  std::string fingerprint;
  bool created = false;  // made now rather than read back
};

// `now_ms` (Unix ms) sets the validity of a new certificate.
result<tls_identity> load_or_make_self_signed(const std::string& dir,
                                              const std::vector<std::string>& dns_names,
                                              const std::vector<std::string>& ip_addresses,
                                              std::int64_t now_ms);

// SHA-256 of `der` as "ab:cd:...".
std::string sha256_fingerprint(std::string_view der);

}  // namespace portier::platform
