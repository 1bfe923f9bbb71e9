#include "platform/x509_files.h"

#include <sys/stat.h>

#include <string_view>

#include <mbedtls/pk.h>
#include <mbedtls/platform_util.h>
#include <mbedtls/x509_crt.h>

#include "platform/file.h"
#include "platform/mbedtls_compat.h"
#include "platform/random.h"

namespace portier::platform {

namespace {

// CA bundles (the system's is ~200 KiB) and PEM keys are far below this.
constexpr std::size_t kMaxPemFileBytes = 4 << 20;

constexpr std::string_view kCertBegin = "-----BEGIN CERTIFICATE-----";
constexpr std::string_view kCertEnd = "-----END CERTIFICATE-----";

int drbg(void*, unsigned char* out, std::size_t len) {
  return random_bytes({out, len}).ok() ? 0 : MBEDTLS_ERR_PK_BAD_INPUT_DATA;
}

const unsigned char* bytes(const std::string& s) {
  return reinterpret_cast<const unsigned char*>(s.c_str());
}

std::string quoted(const std::string& path) {
  return "\"" + path + "\"";
}

bool is_directory(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

}  // namespace

struct certificate_chain::context {
  context() { mbedtls_x509_crt_init(&crt); }
  ~context() { mbedtls_x509_crt_free(&crt); }
  context(const context&) = delete;
  context& operator=(const context&) = delete;
  mbedtls_x509_crt crt;
};

certificate_chain::certificate_chain(std::unique_ptr<context> ctx, std::size_t size)
    : ctx_(std::move(ctx)), size_(size) {}
certificate_chain::certificate_chain(certificate_chain&&) noexcept = default;
certificate_chain& certificate_chain::operator=(certificate_chain&&) noexcept = default;
certificate_chain::~certificate_chain() = default;

result<certificate_chain> certificate_chain::load_pem_file(const std::string& path) {
  if (is_directory(path)) return error{quoted(path) + " is a directory, not a PEM file"};
  auto text = read_file(path, kMaxPemFileBytes);
  if (!text) return error{text.error_message()};
  auto ctx = std::make_unique<context>();
  std::size_t count = 0;
  for (std::size_t at = text->find(kCertBegin); at != std::string::npos;
       at = text->find(kCertBegin, at + kCertBegin.size())) {
    ++count;
    const std::size_t end = text->find(kCertEnd, at + kCertBegin.size());
    // One block at a time (a NUL-terminated PEM string), so that a broken one is named and not
    // skipped, as mbedtls_x509_crt_parse() would with the whole file.
    const std::string block =
        end == std::string::npos ? std::string() : text->substr(at, end + kCertEnd.size() - at);
    if (block.empty() || mbedtls_x509_crt_parse(&ctx->crt, bytes(block), block.size() + 1) != 0)
      return error{quoted(path) + ": certificate " + std::to_string(count) +
                   " is not a valid PEM X.509 certificate"};
  }
  if (count == 0) return error{quoted(path) + " holds no PEM certificate"};
  return certificate_chain(std::move(ctx), count);
}

struct private_key::context {
  context() { mbedtls_pk_init(&pk); }
  ~context() { mbedtls_pk_free(&pk); }
  context(const context&) = delete;
  context& operator=(const context&) = delete;
  mbedtls_pk_context pk;
};

private_key::private_key(std::unique_ptr<context> ctx) : ctx_(std::move(ctx)) {}
private_key::private_key(private_key&&) noexcept = default;
private_key& private_key::operator=(private_key&&) noexcept = default;
private_key::~private_key() = default;

result<private_key> private_key::load_pem_file(const std::string& path) {
  if (auto mode = check_private_key_mode(path); !mode) return error{mode.error_message()};
  auto text = read_file(path, kMaxPemFileBytes);
  if (!text) return error{text.error_message()};
  auto ctx = std::make_unique<context>();
  // PEM only: mbedtls_pk_parse_key() would also take DER, which Paho's OpenSSL never did. With no
  // passphrase given, an encrypted key fails (MBEDTLS_ERR_PK_PASSWORD_REQUIRED).
  const bool pem = text->find("-----BEGIN ") != std::string::npos;
  const int rc =
      pem ? mbedtls_compat::pk_parse_key(&ctx->pk, bytes(*text), text->size() + 1, drbg, nullptr)
          : -1;
  mbedtls_platform_zeroize(text->data(), text->size());
  if (rc != 0) return error{quoted(path) + " holds no unencrypted PEM private key"};
  return private_key(std::move(ctx));
}

bool private_key::matches(const certificate_chain& chain) const {
  if (chain.size() == 0) return false;
  return mbedtls_compat::pk_check_pair(&chain.ctx_->crt.pk, &ctx_->pk, drbg, nullptr) == 0;
}

}  // namespace portier::platform
