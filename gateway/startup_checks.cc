#include "gateway/startup_checks.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>

#include "platform/ecdsa_p256.h"
#include "platform/file.h"
#include "platform/unix_socket.h"
#include "platform/x509_files.h"

namespace portier::gateway {

namespace {

namespace fs = std::filesystem;
using platform::field_step;

bool is_directory(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

std::string quoted(const std::string& path) {
  return "\"" + path + "\"";
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
    if (!up.ca_file().empty()) {
      if (auto ca = platform::certificate_chain::load_pem_file(up.ca_file()); !ca)
        fail({{"upstream"}, {"ca_file"}}, ca.error_message());
    }
    if (!up.ca_path().empty() && !is_directory(up.ca_path()))
      fail({{"upstream"}, {"ca_path"}}, quoted(up.ca_path()) + " is not a directory");
    if (up.client_cert_file().empty() || up.client_key_file().empty()) return;
    auto certs = platform::certificate_chain::load_pem_file(up.client_cert_file());
    if (!certs) fail({{"upstream"}, {"client_cert_file"}}, certs.error_message());
    auto key = platform::private_key::load_pem_file(up.client_key_file());
    if (!key) {
      fail({{"upstream"}, {"client_key_file"}}, key.error_message());
    } else if (certs && !key->matches(*certs)) {
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
