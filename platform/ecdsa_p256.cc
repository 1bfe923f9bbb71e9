#include "platform/ecdsa_p256.h"

#include <sys/stat.h>

#include <array>
#include <cerrno>
#include <cstring>

#include <mbedtls/ecdsa.h>
#include <mbedtls/ecp.h>
#include <mbedtls/pk.h>
#include <mbedtls/platform_util.h>

#include "platform/file.h"
#include "platform/hmac_sha256.h"
#include "platform/mbedtls_compat.h"
#include "platform/random.h"

namespace portier::platform {

namespace {

constexpr std::size_t kMaxKeyFileBytes = 16 * 1024;
// A P-256 SubjectPublicKeyInfo is 91 bytes; PEM of a SEC1 private key about 230.
constexpr std::size_t kDerBufferBytes = 512;
constexpr std::size_t kPemBufferBytes = 2048;

const unsigned char* bytes(std::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

int drbg(void*, unsigned char* out, std::size_t len) {
  return random_bytes({out, len}).ok() ? 0 : MBEDTLS_ERR_ECP_RANDOM_FAILED;
}

class pk_guard {
 public:
  pk_guard() { mbedtls_pk_init(&pk); }
  ~pk_guard() { mbedtls_pk_free(&pk); }
  pk_guard(const pk_guard&) = delete;
  pk_guard& operator=(const pk_guard&) = delete;
  mbedtls_pk_context pk;
};

bool is_p256(const mbedtls_pk_context& pk) {
  return mbedtls_compat::pk_ec_group(pk) == MBEDTLS_ECP_DP_SECP256R1;
}

bool looks_like_pem(std::string_view text) {
  return text.find("-----BEGIN ") != std::string_view::npos;
}

// mbedTLS reads PEM only from a NUL-terminated buffer whose length counts the NUL.
int parse_public(mbedtls_pk_context& pk, std::string_view input) {
  if (looks_like_pem(input)) {
    const std::string text(input);
    return mbedtls_pk_parse_public_key(&pk, bytes(text), text.size() + 1);
  }
  return mbedtls_pk_parse_public_key(&pk, bytes(input), input.size());
}

result<std::string> public_der(mbedtls_pk_context& pk) {
  std::array<unsigned char, kDerBufferBytes> buf{};
  // Writes at the end of the buffer.
  const int n = mbedtls_pk_write_pubkey_der(&pk, buf.data(), buf.size());
  if (n <= 0) return error{"cannot encode the public key"};
  return std::string(reinterpret_cast<const char*>(buf.data() + buf.size() - n),
                     static_cast<std::size_t>(n));
}

std::string to_hex(const unsigned char* p, std::size_t n) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (std::size_t i = 0; i < n; ++i) {
    out += digits[p[i] >> 4];
    out += digits[p[i] & 15];
  }
  return out;
}

}  // namespace

std::string ecdsa_key_id(std::string_view public_key_der) {
  const auto digest = sha256(public_key_der);
  return to_hex(digest.data(), 8);
}

// ------------------------------------------------------------------------------ public keys

result<ecdsa_public_key> ecdsa_public_key::from_der(std::string_view der) {
  pk_guard g;
  if (looks_like_pem(der) || mbedtls_pk_parse_public_key(&g.pk, bytes(der), der.size()) != 0) {
    return error{"not a DER public key (SubjectPublicKeyInfo)"};
  }
  if (!is_p256(g.pk)) return error{"not a P-256 elliptic curve key"};
  auto canonical = public_der(g.pk);
  if (!canonical) return error{canonical.error_message()};
  // One key, one encoding, one key id: trailing bytes or another encoding of the same point are
  // refused.
  if (*canonical != der) return error{"public key is not in canonical DER form"};
  return ecdsa_public_key(*canonical, ecdsa_key_id(*canonical));
}

result<ecdsa_public_key> ecdsa_public_key::from_pem(std::string_view pem) {
  pk_guard g;
  if (!looks_like_pem(pem) || parse_public(g.pk, pem) != 0) return error{"not a PEM public key"};
  if (!is_p256(g.pk)) return error{"not a P-256 elliptic curve key"};
  auto der = public_der(g.pk);
  if (!der) return error{der.error_message()};
  return ecdsa_public_key(*der, ecdsa_key_id(*der));
}

std::string ecdsa_public_key::pem() const {
  pk_guard g;
  std::array<unsigned char, kPemBufferBytes> buf{};
  // der_ was validated at construction; neither call can fail on it.
  mbedtls_pk_parse_public_key(&g.pk, bytes(der_), der_.size());
  if (mbedtls_pk_write_pubkey_pem(&g.pk, buf.data(), buf.size()) != 0) return {};
  return std::string(reinterpret_cast<const char*>(buf.data()));
}

bool ecdsa_public_key::verify(std::string_view message, std::string_view signature) const {
  pk_guard g;
  if (mbedtls_pk_parse_public_key(&g.pk, bytes(der_), der_.size()) != 0) return false;
  if (signature.empty() || signature.size() > MBEDTLS_ECDSA_MAX_LEN) return false;
  const auto digest = sha256(message);
  return mbedtls_pk_verify(&g.pk, MBEDTLS_MD_SHA256, digest.data(), digest.size(), bytes(signature),
                           signature.size()) == 0;
}

// ------------------------------------------------------------------------------ private keys

struct ecdsa_private_key::context {
  context() { mbedtls_pk_init(&pk); }
  ~context() { mbedtls_pk_free(&pk); }
  mbedtls_pk_context pk;
};

ecdsa_private_key::ecdsa_private_key(std::unique_ptr<context> ctx, ecdsa_public_key pub)
    : ctx_(std::move(ctx)), public_(std::move(pub)) {}
ecdsa_private_key::ecdsa_private_key(ecdsa_private_key&&) noexcept = default;
ecdsa_private_key& ecdsa_private_key::operator=(ecdsa_private_key&&) noexcept = default;
ecdsa_private_key::~ecdsa_private_key() = default;

result<ecdsa_private_key> ecdsa_private_key::generate() {
  auto ctx = std::make_unique<context>();
  if (mbedtls_pk_setup(&ctx->pk, mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY)) != 0 ||
      mbedtls_ecp_gen_key(MBEDTLS_ECP_DP_SECP256R1, mbedtls_pk_ec(ctx->pk), drbg, nullptr) != 0) {
    return error{"cannot generate a P-256 key pair"};
  }
  auto der = public_der(ctx->pk);
  if (!der) return error{der.error_message()};
  auto pub = ecdsa_public_key::from_der(*der);
  if (!pub) return error{pub.error_message()};
  return ecdsa_private_key(std::move(ctx), std::move(*pub));
}

result<ecdsa_private_key> ecdsa_private_key::parse(std::string_view pem_or_der) {
  auto ctx = std::make_unique<context>();
  int rc = 0;
  if (looks_like_pem(pem_or_der)) {
    std::string text(pem_or_der);
    rc = mbedtls_compat::pk_parse_key(&ctx->pk, bytes(text), text.size() + 1, drbg, nullptr);
    mbedtls_platform_zeroize(text.data(), text.size());
  } else {
    rc =
        mbedtls_compat::pk_parse_key(&ctx->pk, bytes(pem_or_der), pem_or_der.size(), drbg, nullptr);
  }
  if (rc != 0) return error{"not an unencrypted private key (PEM or DER)"};
  if (!is_p256(ctx->pk)) return error{"not a P-256 elliptic curve key"};
  auto der = public_der(ctx->pk);
  if (!der) return error{der.error_message()};
  auto pub = ecdsa_public_key::from_der(*der);
  if (!pub) return error{pub.error_message()};
  return ecdsa_private_key(std::move(ctx), std::move(*pub));
}

std::string ecdsa_private_key::pem() const {
  std::array<unsigned char, kPemBufferBytes> buf{};
  std::string out;
  if (mbedtls_pk_write_key_pem(&ctx_->pk, buf.data(), buf.size()) == 0) {
    out = reinterpret_cast<const char*>(buf.data());
  }
  mbedtls_platform_zeroize(buf.data(), buf.size());
  return out;
}

result<std::string> ecdsa_private_key::sign(std::string_view message) {
  const auto digest = sha256(message);
  std::array<unsigned char, MBEDTLS_ECDSA_MAX_LEN> sig{};
  std::size_t len = 0;
  if (mbedtls_compat::pk_sign(&ctx_->pk, MBEDTLS_MD_SHA256, digest.data(), digest.size(),
                              sig.data(), sig.size(), &len, drbg, nullptr) != 0) {
    return error{"cannot sign"};
  }
  return std::string(reinterpret_cast<const char*>(sig.data()), len);
}

// ------------------------------------------------------------------------------ files

result<ecdsa_private_key> load_private_key(const std::string& path) {
  if (auto mode = check_private_key_mode(path); !mode) return error{mode.error_message()};
  auto text = read_file(path, kMaxKeyFileBytes);
  if (!text) return error{text.error_message()};
  auto key = ecdsa_private_key::parse(*text);
  mbedtls_platform_zeroize(text->data(), text->size());
  if (!key) return error{path + ": " + key.error_message()};
  return key;
}

result<bool> save_private_key(const std::string& path, const ecdsa_private_key& key) {
  std::string pem = key.pem();
  if (pem.empty()) return error{path + ": cannot encode the private key"};
  auto w = write_file_atomic(path, pem, 0600);
  mbedtls_platform_zeroize(pem.data(), pem.size());
  return w;
}

result<ecdsa_public_key> load_public_key(const std::string& path) {
  auto text = read_file(path, kMaxKeyFileBytes);
  if (!text) return error{text.error_message()};
  auto key =
      looks_like_pem(*text) ? ecdsa_public_key::from_pem(*text) : ecdsa_public_key::from_der(*text);
  if (!key) return error{path + ": " + key.error_message()};
  return key;
}

result<bool> save_public_key(const std::string& path, const ecdsa_public_key& key) {
  return write_file_atomic(path, key.pem(), 0644);
}

}  // namespace portier::platform
