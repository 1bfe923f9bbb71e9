// ECDSA P-256: sign/verify round trips, keys in PEM and DER, interoperability with keys and
// signatures made by openssl, and hostile input (tampered messages, wrong keys, malformed
// signatures and keys) rejected without a crash.
#include "platform/ecdsa_p256.h"

#include <sys/stat.h>

#include <cstdlib>
#include <string>

#include "platform/file.h"

#include <CppUTest/TestHarness.h>

using namespace portier::platform;

namespace {

// Made with: openssl ecparam -name prime256v1 -genkey -noout (SEC1), openssl pkcs8 -topk8 -nocrypt
// (PKCS#8) and openssl pkey -pubout.
const char* kOpensslSec1 = R"(-----BEGIN EC PRIVATE KEY-----
MHcCAQEEIJaylDz45E2+tUoTa2df4DKPLKTEAq2hdAFF5B+0DTmToAoGCCqGSM49
AwEHoUQDQgAE6RG9XVxN6JChphSNhut34I0sL2+5FLGWv52/JxYfeSv3qMuKdZGA
QNxpYYhbjyu1DCEy6L+3dan2+AaJUXEv3g==
-----END EC PRIVATE KEY-----
)";
const char* kOpensslPkcs8 = R"(-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQglrKUPPjkTb61ShNr
Z1/gMo8spMQCraF0AUXkH7QNOZOhRANCAATpEb1dXE3okKGmFI2G63fgjSwvb7kU
sZa/nb8nFh95K/eoy4p1kYBA3GlhiFuPK7UMITLov7d1qfb4BolRcS/e
-----END PRIVATE KEY-----
)";
const char* kOpensslPublic = R"(-----BEGIN PUBLIC KEY-----
MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE6RG9XVxN6JChphSNhut34I0sL2+5
FLGWv52/JxYfeSv3qMuKdZGAQNxpYYhbjyu1DCEy6L+3dan2+AaJUXEv3g==
-----END PUBLIC KEY-----
)";
// openssl pkey -pubin -outform DER | sha256sum | cut -c1-16
const char* kOpensslKeyId = "737f56bd58239791";
// printf portier | openssl dgst -sha256 -sign <the key above> | xxd -p
const char* kOpensslSignatureHex =
    "304502201c252a55a5160913b82fd5dfc106933f2ca63683ea0bd0ee1d83c515590c0f0e022100e6979b2021d961dd"
    "392c8c76ddd3698bbec15ae466893f9e57031bce031fef19";

const char* kP384Public = R"(-----BEGIN PUBLIC KEY-----
MHYwEAYHKoZIzj0CAQYFK4EEACIDYgAERQtE6+FXF1h+2MvpiN9U+kXmnC2ncLqa
Mx/KbpvEDQOQMqpm041UYMD7L5m3/LBkUEKHyfCDOFVkpvz4dNB1cfMSD5AD0CHF
TsoRtWNItk5zbz04Z1eh2PUDY2Xiser8
-----END PUBLIC KEY-----
)";
const char* kRsaPublic = R"(-----BEGIN PUBLIC KEY-----
MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDKIpR049WGTxJTmcMfiTHr8rK4
62ORtt9bqZ98vu0QWdXUP9ZfwQ/KJEpIoXcOTKhyEj9GRKVXOWs3Gqp3oNNoRAB/
KZUSx0s/E3CsnQOPs704ji6ykYaIJMkXHaaQNsnJKOFILKA2TElB2r/KuBl9aDR0
KLtOr+i/AFTvS1JbfwIDAQAB
-----END PUBLIC KEY-----
)";
const char* kEd25519Private = R"(-----BEGIN PRIVATE KEY-----
MC4CAQAwBQYDK2VwBCIEIChOCAM7/m3jJZPf7/zPgABf/4IJmjmuan3gTx6ShwOj
-----END PRIVATE KEY-----
)";

std::string from_hex(const std::string& hex) {
  std::string out;
  for (std::size_t i = 0; i + 1 < hex.size(); i += 2) {
    out += static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16));
  }
  return out;
}

ecdsa_private_key make_key() {
  auto k = ecdsa_private_key::generate();
  if (!k) FAIL(k.error_message().c_str());
  return std::move(*k);
}

ecdsa_public_key openssl_public() {
  auto k = ecdsa_public_key::from_pem(kOpensslPublic);
  if (!k) FAIL(k.error_message().c_str());
  return *k;
}

std::string flip(std::string s, std::size_t at) {
  s[at] = static_cast<char>(s[at] ^ 0x01);
  return s;
}

void check_der_rejected(const std::string& der, const char* expected, int line) {
  auto k = ecdsa_public_key::from_der(der);
  CHECK_FALSE_TEXT(k.ok(), ("line " + std::to_string(line)).c_str());
  STRCMP_EQUAL_TEXT(expected, k.error_message().c_str(), ("line " + std::to_string(line)).c_str());
}

}  // namespace

TEST_GROUP(ecdsa_p256){};

TEST(ecdsa_p256, sign_then_verify_round_trip) {
  auto key = make_key();
  auto sig = key.sign("policy bundle bytes");
  CHECK(sig.ok());
  CHECK(key.public_key().verify("policy bundle bytes", *sig));
  // A DER signature: SEQUENCE of two INTEGERs, at most 72 bytes for P-256.
  CHECK(sig->size() >= 8 && sig->size() <= 72);
  BYTES_EQUAL(0x30, static_cast<unsigned char>((*sig)[0]));
}

TEST(ecdsa_p256, empty_and_binary_messages_are_signed_too) {
  auto key = make_key();
  const std::string binary("\0\xff\x01", 3);
  for (const std::string& m : {std::string(), binary}) {
    auto sig = key.sign(m);
    CHECK(sig.ok());
    CHECK(key.public_key().verify(m, *sig));
  }
}

TEST(ecdsa_p256, a_tampered_message_does_not_verify) {
  auto key = make_key();
  auto sig = key.sign("sequence: 7");
  CHECK_FALSE(key.public_key().verify("sequence: 8", *sig));
  CHECK_FALSE(key.public_key().verify("sequence: 7 ", *sig));
  CHECK_FALSE(key.public_key().verify("", *sig));
}

TEST(ecdsa_p256, another_keys_signature_does_not_verify) {
  auto a = make_key();
  auto b = make_key();
  auto sig = a.sign("m");
  CHECK_FALSE(b.public_key().verify("m", *sig));
  CHECK(a.public_key().key_id() != b.public_key().key_id());
}

TEST(ecdsa_p256, malformed_signatures_are_rejected) {
  auto key = make_key();
  const std::string sig = *key.sign("m");
  const std::string cases[] = {
      "",
      "x",
      std::string(72, '\0'),
      std::string(4096, '\x30'),
      sig.substr(0, sig.size() - 1),  // truncated
      sig + '\0',                     // trailing byte
      flip(sig, sig.size() - 1),      // s changed
      flip(sig, 6),                   // r changed
      flip(sig, 1),                   // outer length wrong
      from_hex("3006020100020100"),   // r = s = 0
      from_hex("3006020101020101"),   // r = s = 1
  };
  for (const auto& c : cases) CHECK_FALSE(key.public_key().verify("m", c));
}

TEST(ecdsa_p256, private_key_pem_round_trip_keeps_the_key) {
  auto key = make_key();
  const std::string pem = key.pem();
  STRCMP_CONTAINS("-----BEGIN EC PRIVATE KEY-----", pem.c_str());
  auto again = ecdsa_private_key::parse(pem);
  CHECK(again.ok());
  CHECK(again->public_key() == key.public_key());
  CHECK(key.public_key().verify("m", *again->sign("m")));
}

TEST(ecdsa_p256, public_key_pem_and_der_round_trip) {
  auto key = make_key();
  const auto& pub = key.public_key();
  STRCMP_CONTAINS("-----BEGIN PUBLIC KEY-----", pub.pem().c_str());
  auto from_pem = ecdsa_public_key::from_pem(pub.pem());
  auto from_der = ecdsa_public_key::from_der(pub.der());
  CHECK(from_pem.ok() && from_der.ok());
  CHECK(*from_pem == pub);
  CHECK(*from_der == pub);
  STRCMP_EQUAL(pub.key_id().c_str(), from_der->key_id().c_str());
  LONGS_EQUAL(91, pub.der().size());
  LONGS_EQUAL(16, pub.key_id().size());
}

TEST(ecdsa_p256, reads_openssl_keys_and_signatures) {
  auto sec1 = ecdsa_private_key::parse(kOpensslSec1);
  auto pkcs8 = ecdsa_private_key::parse(kOpensslPkcs8);
  CHECK(sec1.ok() && pkcs8.ok());
  const auto pub = openssl_public();
  CHECK(sec1->public_key() == pub);
  CHECK(pkcs8->public_key() == pub);
  STRCMP_EQUAL(kOpensslKeyId, pub.key_id().c_str());
  STRCMP_EQUAL(kOpensslKeyId, ecdsa_key_id(pub.der()).c_str());
  CHECK(pub.verify("portier", from_hex(kOpensslSignatureHex)));
  CHECK_FALSE(pub.verify("portieR", from_hex(kOpensslSignatureHex)));
  CHECK(pub.verify("x", *sec1->sign("x")));
}

TEST(ecdsa_p256, malformed_public_keys_are_rejected_with_a_reason) {
  const std::string der = openssl_public().der();
  std::string off_curve = der;
  off_curve[der.size() - 1] = static_cast<char>(off_curve[der.size() - 1] ^ 0x01);
  check_der_rejected("", "not a DER public key (SubjectPublicKeyInfo)", __LINE__);
  check_der_rejected("garbage", "not a DER public key (SubjectPublicKeyInfo)", __LINE__);
  check_der_rejected(der.substr(0, 60), "not a DER public key (SubjectPublicKeyInfo)", __LINE__);
  check_der_rejected(off_curve, "not a DER public key (SubjectPublicKeyInfo)", __LINE__);
  check_der_rejected(der + '\0', "not a DER public key (SubjectPublicKeyInfo)", __LINE__);
  // The same key with the outer length written in two bytes: valid BER, another key id.
  check_der_rejected("\x30\x81" + der.substr(1), "public key is not in canonical DER form",
                     __LINE__);
  check_der_rejected(kOpensslPublic, "not a DER public key (SubjectPublicKeyInfo)", __LINE__);
  check_der_rejected(ecdsa_public_key::from_pem(kOpensslPublic)->der().substr(1),
                     "not a DER public key (SubjectPublicKeyInfo)", __LINE__);

  for (const char* pem : {kP384Public, kRsaPublic}) {
    auto k = ecdsa_public_key::from_pem(pem);
    CHECK_FALSE(k.ok());
    STRCMP_EQUAL("not a P-256 elliptic curve key", k.error_message().c_str());
  }
  for (const char* pem :
       {"", "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n", kOpensslSec1}) {
    auto k = ecdsa_public_key::from_pem(pem);
    CHECK_FALSE(k.ok());
    STRCMP_EQUAL("not a PEM public key", k.error_message().c_str());
  }
}

TEST(ecdsa_p256, malformed_private_keys_are_rejected_with_a_reason) {
  for (const char* text :
       {"", "garbage", kOpensslPublic,
        "-----BEGIN EC PRIVATE KEY-----\nAA==\n-----END EC PRIVATE KEY-----\n"}) {
    auto k = ecdsa_private_key::parse(text);
    CHECK_FALSE(k.ok());
    STRCMP_EQUAL("not an unencrypted private key (PEM or DER)", k.error_message().c_str());
  }
  auto ed = ecdsa_private_key::parse(kEd25519Private);
  CHECK_FALSE(ed.ok());
}

TEST_GROUP(ecdsa_p256_files) {
  std::string dir;
  void setup() override {
    char tmpl[] = "/tmp/portier-ecdsa-test-XXXXXX";
    dir = ::mkdtemp(tmpl);
  }
  void teardown() override {
    std::string cmd = "rm -rf " + dir;
    CHECK_EQUAL(0, std::system(cmd.c_str()));
  }
};

TEST(ecdsa_p256_files, private_key_is_saved_0600_and_loaded_back) {
  auto key = make_key();
  const std::string path = dir + "/op.key";
  CHECK(save_private_key(path, key).ok());
  struct stat st {};
  CHECK_EQUAL(0, ::stat(path.c_str(), &st));
  CHECK_EQUAL(0600u, st.st_mode & 0777u);
  auto loaded = load_private_key(path);
  CHECK(loaded.ok());
  CHECK(loaded->public_key() == key.public_key());
}

TEST(ecdsa_p256_files, a_private_key_others_can_read_is_refused) {
  const std::string path = dir + "/op.key";
  CHECK(save_private_key(path, make_key()).ok());
  CHECK_EQUAL(0, ::chmod(path.c_str(), 0644));
  auto loaded = load_private_key(path);
  CHECK_FALSE(loaded.ok());
  STRCMP_EQUAL((path + ": private key is readable by group or others; chmod 600 it").c_str(),
               loaded.error_message().c_str());
}

TEST(ecdsa_p256_files, missing_and_malformed_key_files_name_the_file) {
  auto missing = load_private_key(dir + "/missing.key");
  CHECK_FALSE(missing.ok());
  STRCMP_EQUAL((dir + "/missing.key: cannot open: No such file or directory").c_str(),
               missing.error_message().c_str());
  CHECK(write_file_atomic(dir + "/bad.key", "nope", 0600).ok());
  auto bad = load_private_key(dir + "/bad.key");
  CHECK_FALSE(bad.ok());
  STRCMP_EQUAL((dir + "/bad.key: not an unencrypted private key (PEM or DER)").c_str(),
               bad.error_message().c_str());
  CHECK(write_file_atomic(dir + "/bad.pub", "nope", 0644).ok());
  auto bad_pub = load_public_key(dir + "/bad.pub");
  CHECK_FALSE(bad_pub.ok());
  STRCMP_EQUAL((dir + "/bad.pub: not a DER public key (SubjectPublicKeyInfo)").c_str(),
               bad_pub.error_message().c_str());
}

TEST(ecdsa_p256_files, public_key_is_saved_as_pem_and_loaded_from_pem_or_der) {
  auto key = make_key();
  CHECK(save_public_key(dir + "/op.pub", key.public_key()).ok());
  auto pem = load_public_key(dir + "/op.pub");
  CHECK(pem.ok());
  CHECK(*pem == key.public_key());
  CHECK(write_file_atomic(dir + "/op.der", key.public_key().der(), 0644).ok());
  auto der = load_public_key(dir + "/op.der");
  CHECK(der.ok());
  CHECK(*der == key.public_key());
}
