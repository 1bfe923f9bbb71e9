// portier-web's configuration (proto/web_config.proto, docs/WEB.md): loaded from a text-format
// file, defaults applied, validated completely once. Every problem is reported as
// "FILE:LINE:COLUMN: field: what is wrong", one per line. The result is immutable.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "platform/result.h"
#include "web_config.pb.h"

namespace portier::gateway::web {

inline constexpr const char* kDefaultWebConfig = "/etc/portier/portier-web.conf";

struct web_config {
  std::string path;
  portier::web::WebConfig proto;  // with every default filled in; addresses in canonical form
  // Host headers the page answers: the names (lower-case), then the listen addresses that are
  // not wildcards (IPv6 without brackets).
  std::vector<std::string> hosts;
  std::vector<unsigned> ports;  // distinct listen ports
  // The page's addresses, "https://NAME:PORT/" for each name and each listen port, then each
  // non-wildcard listen address with its port; at most 8 (what web_announce carries).
  std::vector<std::string> urls;
  // For the certificate's subjectAltName: the names, and the listen addresses (not wildcards).
  std::vector<std::string> dns_names;
  std::vector<std::string> ip_addresses;
};

// Parses and validates `text`, the content of `path`.
platform::result<web_config> parse_web_config(const std::string& path, std::string_view text);
// Reads `path` (at most 64 KiB) and parses it.
platform::result<web_config> load_web_config(const std::string& path);

}  // namespace portier::gateway::web
