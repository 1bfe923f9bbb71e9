#include "gateway/web/web_config.h"

#include <arpa/inet.h>

#include <algorithm>
#include <initializer_list>
#include <memory>
#include <set>
#include <utility>

#include <google/protobuf/text_format.h>

#include "gateway/household/control_protocol.h"
#include "platform/file.h"
#include "platform/proto_text.h"

namespace portier::gateway::web {

namespace {

using platform::field_step;

constexpr int kMaxListen = 4;
constexpr int kMaxNames = 8;
constexpr std::size_t kMaxUrls = 8;

// A DNS name: dot-separated labels of letters, digits and '-' (not at a label's ends), 1 to 63
// bytes each, 240 in all (so that "https://NAME:PORT/" fits web_announce's 256 bytes). Not an
// address (those go in listen).
bool valid_dns_name(const std::string& name) {
  if (name.empty() || name.size() > 240) return false;
  std::size_t start = 0;
  bool all_numeric = true;
  while (true) {
    const auto dot = name.find('.', start);
    const std::string label = name.substr(start, dot == std::string::npos ? dot : dot - start);
    if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-')
      return false;
    for (char c : label) {
      const bool letter = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
      const bool digit = c >= '0' && c <= '9';
      if (!letter && !digit && c != '-') return false;
      if (!digit) all_numeric = false;
    }
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  return !all_numeric;
}

std::string lower(std::string s) {
  for (char& c : s)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return s;
}

// The canonical text of an IPv4 or IPv6 literal; empty if it is neither.
std::string canonical_address(const std::string& text, bool& v6) {
  unsigned char buf[16];
  char out[INET6_ADDRSTRLEN] = {};
  if (::inet_pton(AF_INET, text.c_str(), buf) == 1) {
    v6 = false;
    ::inet_ntop(AF_INET, buf, out, sizeof out);
    return out;
  }
  if (::inet_pton(AF_INET6, text.c_str(), buf) == 1) {
    v6 = true;
    ::inet_ntop(AF_INET6, buf, out, sizeof out);
    return out;
  }
  return "";
}

bool wildcard(const std::string& canonical) {
  return canonical == "0.0.0.0" || canonical == "::";
}

using validator = platform::field_errors;

// At most 40 printable ASCII characters of `s`, quoted.
std::string quoted(const std::string& s) {
  std::string out = "\"";
  for (char c : s.substr(0, 40)) {
    const auto u = static_cast<unsigned char>(c);
    out += (u >= 0x20 && u < 0x7F && c != '"' && c != '\\') ? c : '?';
  }
  return out + (s.size() > 40 ? "...\"" : "\"");
}

}  // namespace

platform::result<web_config> parse_web_config(const std::string& path, std::string_view text) {
  web_config out;
  out.path = path;
  google::protobuf::TextFormat::ParseInfoTree tree;
  if (auto parsed = platform::parse_text_proto(path, text, out.proto, &tree); !parsed)
    return platform::error{parsed.error_message()};
  portier::web::WebConfig& c = out.proto;
  validator v(path, &tree, c);

  if (c.listen_size() == 0) {
    auto* l = c.add_listen();
    l->set_address("127.0.0.1");
  }
  if (c.listen_size() > kMaxListen)
    v.fail({{"listen", kMaxListen}}, "at most " + std::to_string(kMaxListen) + " listen entries");
  std::set<std::pair<std::string, unsigned>> seen;
  for (int i = 0; i < c.listen_size(); ++i) {
    auto& l = *c.mutable_listen(i);
    if (l.port() == 0) l.set_port(8443);
    v.range({{"listen", i}, {"port"}}, l.port(), 1, 65535);
    bool v6 = false;
    const std::string canonical = canonical_address(l.address(), v6);
    if (canonical.empty()) {
      v.fail({{"listen", i}, {"address"}},
             quoted(l.address()) + " is not an IPv4 or IPv6 address (names go in `names`)");
      continue;
    }
    l.set_address(canonical);
    if (!seen.emplace(canonical, l.port()).second)
      v.fail({{"listen", i}},
             "listens twice on " + canonical + " port " + std::to_string(l.port()));
    if (std::find(out.ports.begin(), out.ports.end(), l.port()) == out.ports.end())
      out.ports.push_back(l.port());
  }

  if (c.names_size() > kMaxNames)
    v.fail({{"names", kMaxNames}}, "at most " + std::to_string(kMaxNames) + " names");
  for (int i = 0; i < c.names_size(); ++i) {
    if (!valid_dns_name(c.names(i))) {
      v.fail({{"names", i}}, quoted(c.names(i)) +
                                 " is not a host name: labels of letters, digits and '-', "
                                 "separated by dots, at most 240 bytes (an address goes in "
                                 "listen)");
      continue;
    }
    c.set_names(i, lower(c.names(i)));
    if (std::find(out.hosts.begin(), out.hosts.end(), c.names(i)) == out.hosts.end()) {
      out.hosts.push_back(c.names(i));
      out.dns_names.push_back(c.names(i));
    }
  }
  for (const auto& l : c.listen()) {
    if (wildcard(l.address()) ||
        std::find(out.hosts.begin(), out.hosts.end(), l.address()) != out.hosts.end())
      continue;
    out.hosts.push_back(l.address());
    out.ip_addresses.push_back(l.address());
  }
  if (out.hosts.empty() && v.errors().empty()) {
    v.fail({{"listen", 0}},
           "the page listens only on wildcard addresses: give the `names` it is reached by");
  }

  if (c.control_socket().empty()) c.set_control_socket(kDefaultControlSocket);
  if (c.control_socket().size() > 107)
    v.fail({{"control_socket"}}, "a socket path has at most 107 bytes");
  if (c.state_dir().empty()) c.set_state_dir("/var/lib/portier-web");
  if (c.state_dir().front() != '/')
    v.fail({{"state_dir"}}, quoted(c.state_dir()) + " must be an absolute path");

  if (c.session_idle_timeout_seconds() == 0) c.set_session_idle_timeout_seconds(1800);
  v.range({{"session_idle_timeout_seconds"}}, c.session_idle_timeout_seconds(), 1, 86400);
  if (c.session_max_age_seconds() == 0) c.set_session_max_age_seconds(43200);
  v.range({{"session_max_age_seconds"}}, c.session_max_age_seconds(), 1, 604800);
  if (c.max_sessions() == 0) c.set_max_sessions(32);
  v.range({{"max_sessions"}}, c.max_sessions(), 1, 1024);

  if (!v.errors().empty()) {
    std::string e = v.errors();
    e.pop_back();
    return platform::error{e};
  }

  auto add_url = [&](const std::string& host, unsigned port) {
    if (out.urls.size() < kMaxUrls)
      out.urls.push_back("https://" + host + ":" + std::to_string(port) + "/");
  };
  for (const auto& name : out.dns_names)
    for (unsigned port : out.ports) add_url(name, port);
  for (const auto& l : c.listen()) {
    if (wildcard(l.address())) continue;
    const bool v6 = l.address().find(':') != std::string::npos;
    add_url(v6 ? "[" + l.address() + "]" : l.address(), l.port());
  }
  return out;
}

platform::result<web_config> load_web_config(const std::string& path) {
  auto text = platform::read_file(path, 64 * 1024);
  if (!text) return platform::error{text.error_message()};
  return parse_web_config(path, *text);
}

}  // namespace portier::gateway::web
