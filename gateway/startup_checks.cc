#include "gateway/startup_checks.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <memory>

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "platform/ecdsa_p256.h"
#include "platform/file.h"
#include "platform/unix_socket.h"

namespace portier::gateway {

namespace {

namespace fs = std::filesystem;
using platform::field_step;

// CA bundles (the system's is ~200 KiB) and PEM keys are far below this.
constexpr std::size_t kMaxPemFileBytes = 4 << 20;

struct bio_deleter {
  void operator()(BIO* b) const { BIO_free(b); }
};
struct x509_deleter {
  void operator()(X509* x) const { X509_free(x); }
};
struct pkey_deleter {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
using x509_ptr = std::unique_ptr<X509, x509_deleter>;
using pkey_ptr = std::unique_ptr<EVP_PKEY, pkey_deleter>;

bool is_directory(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

std::string quoted(const std::string& path) {
  return "\"" + path + "\"";
}

// The certificates of a PEM file, as OpenSSL (which makes Paho's TLS connections) reads them.
// Empty with `why` set if the file holds none, or one that cannot be read.
std::vector<x509_ptr> read_certificates(const std::string& path, std::string& why) {
  std::vector<x509_ptr> certs;
  if (is_directory(path)) {
    why = quoted(path) + " is a directory, not a PEM file";
    return certs;
  }
  auto text = platform::read_file(path, kMaxPemFileBytes);
  if (!text) {
    why = text.error_message();
    return certs;
  }
  std::unique_ptr<BIO, bio_deleter> bio(
      BIO_new_mem_buf(text->data(), static_cast<int>(text->size())));
  ERR_clear_error();
  for (;;) {
    x509_ptr cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
    if (!cert) break;
    certs.push_back(std::move(cert));
  }
  const unsigned long last = ERR_peek_last_error();
  ERR_clear_error();
  // Reading stops at the end of the file with "no start line"; anything else is a broken block.
  if (ERR_GET_LIB(last) == ERR_LIB_PEM && ERR_GET_REASON(last) == PEM_R_NO_START_LINE) {
    if (certs.empty()) why = quoted(path) + " holds no PEM certificate";
  } else {
    why = quoted(path) + ": certificate " + std::to_string(certs.size() + 1) +
          " is not a valid PEM X.509 certificate";
    certs.clear();
  }
  return certs;
}

// An unencrypted PEM private key (portierd cannot ask for a passphrase); null with `why` set.
pkey_ptr read_private_key(const std::string& path, std::string& why) {
  if (auto mode = platform::check_private_key_mode(path); !mode) {
    why = mode.error_message();
    return nullptr;
  }
  auto text = platform::read_file(path, kMaxPemFileBytes);
  if (!text) {
    why = text.error_message();
    return nullptr;
  }
  std::unique_ptr<BIO, bio_deleter> bio(
      BIO_new_mem_buf(text->data(), static_cast<int>(text->size())));
  auto no_passphrase = [](char*, int, int, void*) { return 0; };
  pkey_ptr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, no_passphrase, nullptr));
  ERR_clear_error();
  OPENSSL_cleanse(text->data(), text->size());
  if (!key) why = quoted(path) + " holds no unencrypted PEM private key";
  return key;
}

class checker {
 public:
  checker(const gateway_config& config, startup_report& report)
      : config_(config), report_(report) {}

  void fail(std::initializer_list<field_step> steps, const std::string& message) {
    report_.errors.push_back(config_field(config_, steps) + ": " + message);
  }
  void warn(std::initializer_list<field_step> steps, const std::string& message) {
    report_.warnings.push_back(config_field(config_, steps) + ": " + message);
  }

  void control() {
    const auto& c = config_.proto.control();
    if (c.disabled()) return;
    if (c.group() != "root") {
      if (auto gid = platform::group_id(c.group()); !gid)
        fail({{"control"}, {"group"}}, gid.error_message());
    }
    if (c.socket().size() >= sizeof(sockaddr_un{}.sun_path)) {
      fail({{"control"}, {"socket"}}, "longer than " +
                                          std::to_string(sizeof(sockaddr_un{}.sun_path) - 1) +
                                          " bytes, the limit of a Unix socket path");
      return;
    }
    struct stat st {};
    if (::lstat(c.socket().c_str(), &st) == 0 && !S_ISSOCK(st.st_mode)) {
      fail({{"control"}, {"socket"}},
           quoted(c.socket()) + " exists and is not a socket (portierd never deletes it)");
      return;
    }
    const std::string dir = fs::path(c.socket()).parent_path().string();
    if (dir.empty()) return;  // relative to the working directory
    if (!is_directory(dir)) {
      fail({{"control"}, {"socket"}}, "its directory " + quoted(dir) +
                                          " does not exist (with systemd, RuntimeDirectory=portier "
                                          "makes /run/portier)");
    } else if (::access(dir.c_str(), W_OK | X_OK) != 0) {
      fail({{"control"}, {"socket"}}, "portierd may not create files in " + quoted(dir));
    }
  }

  void state_dir() {
    const std::string& state = config_.proto.state_dir();
    // The nearest part of the path that exists must be a directory portierd may write in.
    std::error_code ec;
    fs::path p = fs::absolute(state, ec).lexically_normal();
    if (ec) return;
    while (!fs::exists(p, ec) && p.has_parent_path() && p.parent_path() != p) p = p.parent_path();
    if (!is_directory(p.string())) {
      fail({{"state_dir"}}, quoted(p.string()) + " is not a directory");
    } else if (::access(p.c_str(), W_OK | X_OK) != 0) {
      fail({{"state_dir"}}, "portierd may not write in " + quoted(p.string()));
    }
  }

  void upstream_tls() {
    const auto& up = config_.proto.upstream();
    std::string why;
    if (!up.ca_file().empty() && read_certificates(up.ca_file(), why).empty())
      fail({{"upstream"}, {"ca_file"}}, why);
    if (!up.ca_path().empty() && !is_directory(up.ca_path()))
      fail({{"upstream"}, {"ca_path"}}, quoted(up.ca_path()) + " is not a directory");
    if (up.client_cert_file().empty() || up.client_key_file().empty()) return;
    why.clear();
    auto certs = read_certificates(up.client_cert_file(), why);
    if (certs.empty()) fail({{"upstream"}, {"client_cert_file"}}, why);
    why.clear();
    pkey_ptr key = read_private_key(up.client_key_file(), why);
    if (!key) {
      fail({{"upstream"}, {"client_key_file"}}, why);
    } else if (!certs.empty() && X509_check_private_key(certs.front().get(), key.get()) != 1) {
      ERR_clear_error();
      fail({{"upstream"}, {"client_key_file"}},
           quoted(up.client_key_file()) +
               " is not the key of the certificate in upstream.client_cert_file");
    }
  }

  void root_key() {
    const std::string& file = config_.proto.updates().root_key_file();
    if (file.empty()) return;
    if (auto key = platform::load_public_key(file); !key)
      fail({{"updates"}, {"root_key_file"}}, key.error_message());
  }

  void consent_preset(const policies::compiled_policy& policy) {
    const std::string consent_file = config_.proto.state_dir() + "/consent.pb";
    std::error_code ec;
    const bool applied = fs::exists(consent_file, ec);
    std::string known;
    for (const auto& p : policy.purposes()) known += (known.empty() ? "" : ", ") + p.id;
    auto check = [&](const char* field, const auto& ids) {
      for (int i = 0; i < ids.size(); ++i) {
        const std::string& id = ids.Get(i);
        if (policy.purpose_index(id) >= 0) continue;
        const std::string what = quoted_bounded(id) + " is not a purpose of policy \"" +
                                 policy.name() + "\" version " + std::to_string(policy.version()) +
                                 " (its purposes: " + (known.empty() ? "none" : known) + ")";
        if (applied) {
          warn({{field, i}},
               what + "; ignored: the household's consent is already in " + consent_file);
        } else {
          fail({{field, i}}, what);
        }
      }
    };
    check("grant", config_.proto.grant());
    check("refuse", config_.proto.refuse());
  }

 private:
  const gateway_config& config_;
  startup_report& report_;
};

}  // namespace

startup_report check_startup(const gateway_config& config,
                             const policies::compiled_policy& policy) {
  startup_report report;
  checker c(config, report);
  c.state_dir();
  c.control();
  c.upstream_tls();
  c.root_key();
  c.consent_preset(policy);
  return report;
}

}  // namespace portier::gateway
