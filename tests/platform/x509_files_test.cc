#include "platform/x509_files.h"

#include <sys/stat.h>

#include <cstdlib>
#include <string>

#include <CppUTest/TestHarness.h>

using namespace portier::platform;

namespace {

// Self-signed P-256 certificates and keys, made once with openssl (A, B) and Python's
// cryptography (the expired one: valid in the year 2000 only; its key encrypted with "secret").
constexpr const char* kCertA = R"(-----BEGIN CERTIFICATE-----
MIIBijCCAS+gAwIBAgIUOVH+sTAR/KWHv2hZbCK2mvcYPMEwCgYIKoZIzj0EAwIw
GTEXMBUGA1UEAwwOcG9ydGllci10ZXN0LWEwIBcNMjYxMjA0MTYzMDUyWhgPMjEy
NjExMTAxNjMwNTJaMBkxFzAVBgNVBAMMDnBvcnRpZXItdGVzdC1hMFkwEwYHKoZI
zj0CAQYIKoZIzj0DAQcDQgAEkWUT0seugYj+XOs3mvTvQ8zf0AhUJOeNEWOrGd2n
CQ2Jgk0H6Xj7+XYukVL1Mo437SHqptJXTwr0cQHsnJdIIKNTMFEwHQYDVR0OBBYE
FKYJox/e7noIz8hNChxVx7S9TxD8MB8GA1UdIwQYMBaAFKYJox/e7noIz8hNChxV
x7S9TxD8MA8GA1UdEwEB/wQFMAMBAf8wCgYIKoZIzj0EAwIDSQAwRgIhAIoTIgWu
lAw71ga5AVKz5Nx4eZEplfjNNZhinbHTCBZmAiEAu1akKDb5EqUsbDoVcMOnhxij
XWABOIH7IZ5UM4VbHSM=
-----END CERTIFICATE-----
)";
constexpr const char* kKeyA = R"(-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgQDl49is6fSuQx+1/
/ZKPLjAJtakBmsX0ZV4qT2Qi5TWhRANCAASRZRPSx66BiP5c6zea9O9DzN/QCFQk
540RY6sZ3acJDYmCTQfpePv5di6RUvUyjjftIeqm0ldPCvRxAeycl0gg
-----END PRIVATE KEY-----
)";
constexpr const char* kKeyB = R"(-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgnMxNDDTE1D6C6OGY
OqlwtQ1BVZUiZbbymNTgLaJLzEmhRANCAARAlGMD/1o2rG7O2UttiBePMr+bhozv
YWhNhhPTsfMiWu0tEKsKYE9k66r2Jl8qQEWXmDL6x4a9t1RaMbvQfDC3
-----END PRIVATE KEY-----
)";
constexpr const char* kExpiredCert = R"(-----BEGIN CERTIFICATE-----
MIIBKjCB0aADAgECAgEBMAoGCCqGSM49BAMCMB8xHTAbBgNVBAMMFHBvcnRpZXIt
dGVzdC1leHBpcmVkMB4XDTAwMDEwMTAwMDAwMFoXDTAxMDEwMTAwMDAwMFowHzEd
MBsGA1UEAwwUcG9ydGllci10ZXN0LWV4cGlyZWQwWTATBgcqhkjOPQIBBggqhkjO
PQMBBwNCAATyi5HNxfhEjHngiqMhFEzFsbI+5xgFl7SXRG3JVhWELHe/rO3drIrM
2xgfyK9PTcSF9k5/11wAz5HsftL5lxCNMAoGCCqGSM49BAMCA0gAMEUCIQCzTtA+
HmR8YbiCKQvyUx1EN2/E5PhVRl8DCuVaQBhIHAIgLzx5PwRGRUkiih4DodPWYINO
s8KP/k8NUJhJwJXSN6w=
-----END CERTIFICATE-----
)";
constexpr const char* kExpiredKey = R"(-----BEGIN EC PRIVATE KEY-----
MHcCAQEEIG4U3TyoBjPto0Ub7UMxLrywi1ezjM94CzinPvpqidiToAoGCCqGSM49
AwEHoUQDQgAE8ouRzcX4RIx54IqjIRRMxbGyPucYBZe0l0RtyVYVhCx3v6zt3ayK
zNsYH8ivT03EhfZOf9dcAM+R7H7S+ZcQjQ==
-----END EC PRIVATE KEY-----
)";
constexpr const char* kEncryptedKey = R"(-----BEGIN ENCRYPTED PRIVATE KEY-----
MIHsMFcGCSqGSIb3DQEFDTBKMCkGCSqGSIb3DQEFDDAcBAif+4h/hQxIIgICCAAw
DAYIKoZIhvcNAgkFADAdBglghkgBZQMEASoEEBlPEtf+7EXYnun+M+7kc90EgZDb
rs5Xyey6alTbuAGgbDLK4JSuyYwTuEUJXJNdQiKSDglBZ9jyNHrBGzO5VpxTCMN5
42ifIIq2O207olO7Z5qsyx4H4f3MTkAC2/firKIPrmkB0WK8B8do72TYMWl3tC7i
7/PvQ5Av5RV/IXBgKWok8HS1osneBJPV6UKoGYbxC6BVwtF8dpqSAGYsTpHLsrU=
-----END ENCRYPTED PRIVATE KEY-----
)";

}  // namespace

TEST_GROUP(x509_files) {
  std::string dir;
  void setup() override {
    char tmpl[] = "/tmp/portier-x509-test-XXXXXX";
    dir = ::mkdtemp(tmpl);
  }
  void teardown() override {
    std::string cmd = "rm -rf " + dir;
    CHECK_EQUAL(0, std::system(cmd.c_str()));
  }
  std::string write(const std::string& name, const std::string& text, mode_t mode = 0600) {
    const std::string path = dir + "/" + name;
    FILE* f = std::fopen(path.c_str(), "w");
    CHECK(f != nullptr);
    CHECK_EQUAL(text.size(), std::fwrite(text.data(), 1, text.size(), f));
    CHECK_EQUAL(0, std::fclose(f));
    CHECK_EQUAL(0, ::chmod(path.c_str(), mode));
    return path;
  }
  std::string chain_error(const std::string& path) {
    auto chain = certificate_chain::load_pem_file(path);
    CHECK(!chain);
    std::string e = chain.error_message();
    for (auto p = e.find(dir); p != std::string::npos; p = e.find(dir))
      e.replace(p, dir.size(), "DIR");
    return e;
  }
  std::string key_error(const std::string& path) {
    auto key = private_key::load_pem_file(path);
    CHECK(!key);
    std::string e = key.error_message();
    for (auto p = e.find(dir); p != std::string::npos; p = e.find(dir))
      e.replace(p, dir.size(), "DIR");
    return e;
  }
};

TEST(x509_files, a_chain_counts_its_certificates_and_ignores_text_and_other_blocks) {
  auto one = certificate_chain::load_pem_file(write("one.pem", kCertA));
  CHECK(one.ok());
  LONGS_EQUAL(1, one->size());
  auto three = certificate_chain::load_pem_file(
      write("three.pem",
            std::string("# a bundle\n") + kCertA + kKeyA + "between\n" + kExpiredCert + kCertA));
  CHECK(three.ok());
  LONGS_EQUAL(3, three->size());
}

TEST(x509_files, an_expired_certificate_is_read_the_handshake_judges_dates) {
  auto chain = certificate_chain::load_pem_file(write("old.pem", kExpiredCert));
  CHECK(chain.ok());
  auto key = private_key::load_pem_file(write("old.key", kExpiredKey));
  CHECK(key.ok());
  CHECK(key->matches(*chain));
}

TEST(x509_files, bad_certificate_files_say_what_is_wrong) {
  STRCMP_EQUAL("\"DIR\" is a directory, not a PEM file", chain_error(dir).c_str());
  STRCMP_EQUAL("\"DIR/empty.pem\" holds no PEM certificate",
               chain_error(write("empty.pem", "")).c_str());
  STRCMP_EQUAL("\"DIR/text.pem\" holds no PEM certificate",
               chain_error(write("text.pem", "just text\n")).c_str());
  STRCMP_EQUAL("\"DIR/key.pem\" holds no PEM certificate",
               chain_error(write("key.pem", kKeyA)).c_str());
  std::string broken = kCertA;
  broken[100] = broken[100] == 'A' ? 'B' : 'A';
  broken.erase(200, 30);
  STRCMP_EQUAL("\"DIR/broken.pem\": certificate 2 is not a valid PEM X.509 certificate",
               chain_error(write("broken.pem", std::string(kCertA) + broken)).c_str());
  std::string unterminated = kCertA;
  unterminated.erase(unterminated.find("-----END"));
  STRCMP_EQUAL("\"DIR/cut.pem\": certificate 1 is not a valid PEM X.509 certificate",
               chain_error(write("cut.pem", unterminated)).c_str());
  // DER is not PEM.
  STRCMP_EQUAL(
      "\"DIR/garbage.pem\" holds no PEM certificate",
      chain_error(write("garbage.pem", std::string("\x30\x82\x01\x8a\x00\xff", 6))).c_str());
  STRCMP_EQUAL("DIR/missing.pem: cannot open: No such file or directory",
               chain_error(dir + "/missing.pem").c_str());
}

TEST(x509_files, a_key_matches_its_certificate_only) {
  auto a = certificate_chain::load_pem_file(write("a.pem", kCertA));
  CHECK(a.ok());
  auto key_a = private_key::load_pem_file(write("a.key", kKeyA));
  CHECK(key_a.ok());
  auto key_b = private_key::load_pem_file(write("b.key", kKeyB));
  CHECK(key_b.ok());
  CHECK(key_a->matches(*a));
  CHECK_FALSE(key_b->matches(*a));
  auto expired = certificate_chain::load_pem_file(write("old.pem", kExpiredCert));
  CHECK_FALSE(key_a->matches(*expired));
  // Only the first certificate of a chain counts.
  auto a_after =
      certificate_chain::load_pem_file(write("two.pem", std::string(kExpiredCert) + kCertA));
  CHECK_FALSE(key_a->matches(*a_after));
}

TEST(x509_files, bad_key_files_say_what_is_wrong) {
  STRCMP_EQUAL("DIR/open.key: private key is readable by group or others; chmod 600 it",
               key_error(write("open.key", kKeyA, 0640)).c_str());
  STRCMP_EQUAL("\"DIR/enc.key\" holds no unencrypted PEM private key",
               key_error(write("enc.key", kEncryptedKey)).c_str());
  STRCMP_EQUAL("\"DIR/cert.key\" holds no unencrypted PEM private key",
               key_error(write("cert.key", kCertA)).c_str());
  STRCMP_EQUAL("\"DIR/empty.key\" holds no unencrypted PEM private key",
               key_error(write("empty.key", "")).c_str());
  STRCMP_EQUAL(
      "\"DIR/garbage.key\" holds no unencrypted PEM private key",
      key_error(write("garbage.key",
                      "-----BEGIN PRIVATE KEY-----\nnot base64\n-----END PRIVATE KEY-----\n"))
          .c_str());
  STRCMP_EQUAL("DIR/missing.key: cannot open: No such file or directory",
               key_error(dir + "/missing.key").c_str());
}
