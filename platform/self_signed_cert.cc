#include "platform/self_signed_cert.h"

#include <arpa/inet.h>
#include <sys/stat.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <memory>

#include <mbedtls/ecp.h>
#include <mbedtls/oid.h>
#include <mbedtls/pk.h>
#include <mbedtls/x509_crt.h>

#include "platform/file.h"
#include "platform/hmac_sha256.h"
#include "platform/mbedtls_compat.h"
#include "platform/random.h"

namespace portier::platform {

namespace {

constexpr std::size_t kMaxFileBytes = 16 * 1024;
constexpr std::size_t kDerBufferBytes = 8 * 1024;

int drbg(void*, unsigned char* out, std::size_t len) {
  return random_bytes({out, len}).ok() ? 0 : MBEDTLS_ERR_ECP_RANDOM_FAILED;
}

const unsigned char* bytes(std::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

struct pk_holder {
  pk_holder() { mbedtls_pk_init(&pk); }
  ~pk_holder() { mbedtls_pk_free(&pk); }
  pk_holder(const pk_holder&) = delete;
  pk_holder& operator=(const pk_holder&) = delete;
  mbedtls_pk_context pk;
};
struct crt_holder {
  crt_holder() { mbedtls_x509_crt_init(&crt); }
  ~crt_holder() { mbedtls_x509_crt_free(&crt); }
  crt_holder(const crt_holder&) = delete;
  crt_holder& operator=(const crt_holder&) = delete;
  mbedtls_x509_crt crt;
};
struct writer_holder {
  writer_holder() { mbedtls_x509write_crt_init(&w); }
  ~writer_holder() { mbedtls_x509write_crt_free(&w); }
  writer_holder(const writer_holder&) = delete;
  writer_holder& operator=(const writer_holder&) = delete;
  mbedtls_x509write_cert w;
};

// A DER length.
std::string der_length(std::size_t n) {
  if (n < 0x80) return std::string(1, static_cast<char>(n));
  if (n < 0x100) return std::string{'\x81', static_cast<char>(n)};
  return std::string{'\x82', static_cast<char>(n >> 8), static_cast<char>(n & 0xFF)};
}

// GeneralNames: dNSName [2] IA5String, iPAddress [7] OCTET STRING.
result<std::string> subject_alt_names(const std::vector<std::string>& dns_names,
                                      const std::vector<std::string>& ip_addresses) {
  std::string names;
  for (const auto& n : dns_names) names += '\x82' + der_length(n.size()) + n;
  for (const auto& a : ip_addresses) {
    unsigned char buf[16];
    if (::inet_pton(AF_INET, a.c_str(), buf) == 1) {
      names += '\x87' + der_length(4) + std::string(reinterpret_cast<char*>(buf), 4);
    } else if (::inet_pton(AF_INET6, a.c_str(), buf) == 1) {
      names += '\x87' + der_length(16) + std::string(reinterpret_cast<char*>(buf), 16);
    } else {
      return error{"\"" + a + "\" is not an IP address"};
    }
  }
  if (names.empty()) return error{"the certificate needs a name or an address"};
  if (names.size() > 0xFFFF) return error{"too many names for the certificate"};
  return '\x30' + der_length(names.size()) + names;
}

// "YYYYMMDDhhmmss" in UTC, computed on 64-bit seconds rather than through time_t and gmtime_r:
// time_t has 32 bits on Debian 12 armhf, where a certificate made after January 2028 would
// otherwise end 10 years later in the early 1900s.
std::string utc_stamp(std::int64_t unix_seconds) {
  using namespace std::chrono;
  const sys_seconds t{seconds{unix_seconds}};
  const sys_days day = floor<days>(t);
  const year_month_day ymd{day};
  const hh_mm_ss hms{t - day};
  char buf[32];
  std::snprintf(buf, sizeof buf, "%04d%02u%02u%02d%02d%02d", static_cast<int>(ymd.year()),
                static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
                static_cast<int>(hms.hours().count()), static_cast<int>(hms.minutes().count()),
                static_cast<int>(hms.seconds().count()));
  return buf;
}

result<tls_identity> make(const std::string& key_path, const std::string& cert_path,
                          const std::vector<std::string>& dns_names,
                          const std::vector<std::string>& ip_addresses, std::int64_t now_ms) {
  auto san = subject_alt_names(dns_names, ip_addresses);
  if (!san) return error{san.error_message()};

  pk_holder key;
  if (mbedtls_pk_setup(&key.pk, mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY)) != 0 ||
      mbedtls_ecp_gen_key(MBEDTLS_ECP_DP_SECP256R1, mbedtls_pk_ec(key.pk), drbg, nullptr) != 0)
    return error{"cannot make a P-256 key (no randomness?)"};

  std::array<unsigned char, 16> serial_bytes{};
  if (!random_bytes(serial_bytes)) return error{"cannot draw a serial number"};
  serial_bytes[0] &= 0x7F;  // positive
  serial_bytes[0] |= 0x40;  // and 16 bytes long
  const std::string cn = dns_names.empty() ? ip_addresses.front() : dns_names.front();
  const std::string subject = "CN=" + cn + ",O=Portier";
  const std::int64_t now_s = now_ms / 1000;
  const std::string not_before = utc_stamp(now_s - 86400);
  const std::string not_after = utc_stamp(now_s + 10LL * 365 * 86400);
  static const unsigned char kServerAuth[] = {0x30, 0x0A, 0x06, 0x08, 0x2B, 0x06,
                                              0x01, 0x05, 0x05, 0x07, 0x03, 0x01};

  writer_holder w;
  mbedtls_x509write_crt_set_version(&w.w, MBEDTLS_X509_CRT_VERSION_3);
  mbedtls_x509write_crt_set_md_alg(&w.w, MBEDTLS_MD_SHA256);
  mbedtls_x509write_crt_set_subject_key(&w.w, &key.pk);
  mbedtls_x509write_crt_set_issuer_key(&w.w, &key.pk);
  if (mbedtls_compat::x509write_crt_set_serial(&w.w, serial_bytes.data(), serial_bytes.size()) !=
          0 ||
      mbedtls_x509write_crt_set_subject_name(&w.w, subject.c_str()) != 0 ||
      mbedtls_x509write_crt_set_issuer_name(&w.w, subject.c_str()) != 0 ||
      mbedtls_x509write_crt_set_validity(&w.w, not_before.c_str(), not_after.c_str()) != 0 ||
      mbedtls_x509write_crt_set_basic_constraints(&w.w, 0, -1) != 0 ||
      mbedtls_x509write_crt_set_key_usage(&w.w, MBEDTLS_X509_KU_DIGITAL_SIGNATURE) != 0 ||
      mbedtls_x509write_crt_set_subject_key_identifier(&w.w) != 0 ||
      mbedtls_x509write_crt_set_extension(&w.w, MBEDTLS_OID_EXTENDED_KEY_USAGE,
                                          MBEDTLS_OID_SIZE(MBEDTLS_OID_EXTENDED_KEY_USAGE), 0,
                                          kServerAuth, sizeof kServerAuth) != 0 ||
      mbedtls_x509write_crt_set_extension(&w.w, MBEDTLS_OID_SUBJECT_ALT_NAME,
                                          MBEDTLS_OID_SIZE(MBEDTLS_OID_SUBJECT_ALT_NAME), 0,
                                          bytes(*san), san->size()) != 0) {
    return error{"cannot describe the certificate (a name too long?)"};
  }
  auto buf = std::make_unique<unsigned char[]>(kDerBufferBytes);
  const int n = mbedtls_x509write_crt_der(&w.w, buf.get(), kDerBufferBytes, drbg, nullptr);
  if (n <= 0) return error{"cannot sign the certificate"};
  tls_identity id;
  id.cert_der.assign(reinterpret_cast<const char*>(buf.get() + kDerBufferBytes - n),
                     static_cast<std::size_t>(n));
  if (mbedtls_x509write_crt_pem(&w.w, buf.get(), kDerBufferBytes, drbg, nullptr) != 0)
    return error{"cannot encode the certificate"};
  id.cert_pem = reinterpret_cast<const char*>(buf.get());
  if (mbedtls_pk_write_key_pem(&key.pk, buf.get(), kDerBufferBytes) != 0)
    return error{"cannot encode the key"};
  id.key_pem = reinterpret_cast<const char*>(buf.get());
  // mbedtls_x509write_crt_pem signs again (ECDSA is randomised): the DER is the PEM's.
  crt_holder parsed;
  if (mbedtls_x509_crt_parse(&parsed.crt, bytes(id.cert_pem), id.cert_pem.size() + 1) != 0)
    return error{"cannot read back the certificate"};
  id.cert_der.assign(reinterpret_cast<const char*>(parsed.crt.raw.p), parsed.crt.raw.len);

  if (auto w1 = write_file_atomic(key_path, id.key_pem, 0600); !w1)
    return error{w1.error_message()};
  if (auto w2 = write_file_atomic(cert_path, id.cert_pem, 0600); !w2)
    return error{w2.error_message()};
  id.fingerprint = sha256_fingerprint(id.cert_der);
  id.created = true;
  return id;
}

result<tls_identity> load(const std::string& key_path, const std::string& cert_path) {
  if (auto mode = check_private_key_mode(key_path); !mode) return error{mode.error_message()};
  auto key_pem = read_file(key_path, kMaxFileBytes);
  if (!key_pem) return error{key_pem.error_message()};
  auto cert_pem = read_file(cert_path, kMaxFileBytes);
  if (!cert_pem) return error{cert_pem.error_message()};
  pk_holder key;
  if (mbedtls_compat::pk_parse_key(&key.pk, bytes(*key_pem), key_pem->size() + 1, drbg, nullptr) !=
      0)
    return error{key_path + ": not a PEM private key"};
  crt_holder crt;
  if (mbedtls_x509_crt_parse(&crt.crt, bytes(*cert_pem), cert_pem->size() + 1) != 0)
    return error{cert_path + ": not a PEM certificate"};
  if (mbedtls_compat::pk_check_pair(&crt.crt.pk, &key.pk, drbg, nullptr) != 0)
    return error{cert_path +
                 ": the certificate is not the key's; delete both files to make new ones"};
  tls_identity id;
  id.key_pem = std::move(*key_pem);
  id.cert_pem = std::move(*cert_pem);
  id.cert_der.assign(reinterpret_cast<const char*>(crt.crt.raw.p), crt.crt.raw.len);
  id.fingerprint = sha256_fingerprint(id.cert_der);
  return id;
}

bool exists(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0;
}

}  // namespace

std::string sha256_fingerprint(std::string_view der) {
  const sha256_digest digest = sha256(der);
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  for (std::size_t i = 0; i < digest.size(); ++i) {
    if (i > 0) out += ':';
    out += digits[digest[i] >> 4];
    out += digits[digest[i] & 15];
  }
  return out;
}

result<tls_identity> load_or_make_self_signed(const std::string& dir,
                                              const std::vector<std::string>& dns_names,
                                              const std::vector<std::string>& ip_addresses,
                                              std::int64_t now_ms) {
  const std::string key_path = dir + "/portier-web-key.pem";
  const std::string cert_path = dir + "/portier-web-cert.pem";
  const bool has_key = exists(key_path);
  const bool has_cert = exists(cert_path);
  if (has_key && has_cert) return load(key_path, cert_path);
  if (has_key || has_cert) {
    return error{(has_key ? cert_path : key_path) + " is missing but " +
                 (has_key ? key_path : cert_path) +
                 " exists; delete it too to make a new key and certificate"};
  }
  return make(key_path, cert_path, dns_names, ip_addresses, now_ms);
}

}  // namespace portier::platform
