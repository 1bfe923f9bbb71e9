#include <sys/stat.h>

#include <cstdlib>
#include <string>

#include <mbedtls/x509_crt.h>

#include "platform/file.h"
#include "platform/mbedtls_compat.h"
#include "platform/self_signed_cert.h"

#include <CppUTest/TestHarness.h>

namespace platform = portier::platform;

TEST_GROUP(SelfSignedCert) {
  std::string dir;
  void setup() override {
    char tmpl[] = "/tmp/portier-web-cert-XXXXXX";
    dir = ::mkdtemp(tmpl);
  }
  void teardown() override {
    std::system(("rm -rf " + dir).c_str());
  }
  unsigned mode(const std::string& path) {
    struct stat st {};
    ::stat(path.c_str(), &st);
    return st.st_mode & 0777;
  }
};

TEST(SelfSignedCert, MadeOnceWithTheNamesThenReused) {
  auto first = platform::load_or_make_self_signed(dir, {"portier.lan"}, {"192.168.1.2", "::1"},
                                                  1'700'000'000'000);
  CHECK_TRUE_TEXT(first.ok(), first.ok() ? "" : first.error_message().c_str());
  CHECK_TRUE(first->created);
  CHECK_EQUAL(0600u, mode(dir + "/portier-web-key.pem"));
  CHECK_EQUAL(0600u, mode(dir + "/portier-web-cert.pem"));
  CHECK_EQUAL(95u, first->fingerprint.size());
  STRCMP_EQUAL(platform::sha256_fingerprint(first->cert_der).c_str(), first->fingerprint.c_str());

  mbedtls_x509_crt crt;
  mbedtls_x509_crt_init(&crt);
  CHECK_EQUAL(0, mbedtls_x509_crt_parse_der(
                     &crt, reinterpret_cast<const unsigned char*>(first->cert_der.data()),
                     first->cert_der.size()));
  CHECK_EQUAL(0, platform::mbedtls_compat::x509_crt_ca_istrue(crt));
  CHECK_EQUAL(2023, crt.valid_from.year);  // a day before 2023-11-14
  CHECK_EQUAL(2033, crt.valid_to.year);
  // The dNSName; mbedTLS 2.28 and 3.6 list every name (the addresses too) in subject_alt_names.
  const mbedtls_x509_sequence* san = &crt.subject_alt_names;
  std::string first_name(reinterpret_cast<const char*>(san->buf.p), san->buf.len);
  STRCMP_EQUAL("portier.lan", first_name.c_str());
  int count = 0;
  for (; san != nullptr; san = san->next) ++count;
  CHECK_EQUAL(3, count);
  mbedtls_x509_crt_free(&crt);

  auto again = platform::load_or_make_self_signed(dir, {"other.lan"}, {}, 1'800'000'000'000);
  CHECK_TRUE(again.ok());
  CHECK_FALSE(again->created);
  STRCMP_EQUAL(first->fingerprint.c_str(), again->fingerprint.c_str());
  STRCMP_EQUAL(first->key_pem.c_str(), again->key_pem.c_str());
}

// Past 2038-01-19, where a 32-bit time_t (Debian 12 armhf) ends: made 2030-03-17, valid until
// 2040-03-14 (10 years of 365 days), not until a date in 1904.
TEST(SelfSignedCert, AValidityPast2038IsWrittenAsItIs) {
  auto made = platform::load_or_make_self_signed(dir, {"portier.lan"}, {}, 1'900'000'000'000);
  CHECK_TRUE_TEXT(made.ok(), made.ok() ? "" : made.error_message().c_str());
  mbedtls_x509_crt crt;
  mbedtls_x509_crt_init(&crt);
  CHECK_EQUAL(0, mbedtls_x509_crt_parse_der(
                     &crt, reinterpret_cast<const unsigned char*>(made->cert_der.data()),
                     made->cert_der.size()));
  CHECK_EQUAL(2030, crt.valid_from.year);
  CHECK_EQUAL(3, crt.valid_from.mon);
  CHECK_EQUAL(16, crt.valid_from.day);
  CHECK_EQUAL(2040, crt.valid_to.year);
  CHECK_EQUAL(3, crt.valid_to.mon);
  CHECK_EQUAL(14, crt.valid_to.day);
  mbedtls_x509_crt_free(&crt);
}

TEST(SelfSignedCert, AHalfPairOrAnOpenKeyIsRefusedNotOverwritten) {
  CHECK_TRUE(platform::load_or_make_self_signed(dir, {"portier.lan"}, {}, 0).ok());
  ::chmod((dir + "/portier-web-key.pem").c_str(), 0644);
  auto open = platform::load_or_make_self_signed(dir, {"portier.lan"}, {}, 0);
  CHECK_FALSE(open.ok());
  STRCMP_CONTAINS("readable by group or others", open.error_message().c_str());
  ::unlink((dir + "/portier-web-cert.pem").c_str());
  auto half = platform::load_or_make_self_signed(dir, {"portier.lan"}, {}, 0);
  CHECK_FALSE(half.ok());
  STRCMP_CONTAINS("portier-web-cert.pem is missing", half.error_message().c_str());
}

TEST(SelfSignedCert, ACertificateOfAnotherKeyIsRefused) {
  std::string other;
  {
    char tmpl[] = "/tmp/portier-web-cert-XXXXXX";
    other = ::mkdtemp(tmpl);
  }
  CHECK_TRUE(platform::load_or_make_self_signed(dir, {"a.lan"}, {}, 0).ok());
  CHECK_TRUE(platform::load_or_make_self_signed(other, {"a.lan"}, {}, 0).ok());
  auto cert = platform::read_file(other + "/portier-web-cert.pem", 16384);
  CHECK_TRUE(platform::write_file_atomic(dir + "/portier-web-cert.pem", *cert, 0600).ok());
  auto mixed = platform::load_or_make_self_signed(dir, {"a.lan"}, {}, 0);
  CHECK_FALSE(mixed.ok());
  STRCMP_CONTAINS("not the key's", mixed.error_message().c_str());
  std::system(("rm -rf " + other).c_str());
}
