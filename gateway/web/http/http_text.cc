#include "gateway/web/http/http_text.h"

#include <algorithm>

#include "gateway/web/http/http_message.h"

namespace portier::gateway::web {

namespace {

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool port_allowed(std::string_view digits, std::span<const unsigned> ports) {
  if (digits.empty() || digits.size() > 5) return false;
  unsigned port = 0;
  for (char c : digits) {
    if (c < '0' || c > '9') return false;
    port = port * 10 + static_cast<unsigned>(c - '0');
  }
  return std::find(ports.begin(), ports.end(), port) != ports.end();
}

}  // namespace

std::optional<std::string> percent_decode(std::string_view s, bool plus_is_space) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '%') {
      if (i + 2 >= s.size()) return std::nullopt;
      const int hi = hex_digit(s[i + 1]);
      const int lo = hex_digit(s[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      c = static_cast<char>(hi * 16 + lo);
      i += 2;
    } else if (c == '+' && plus_is_space) {
      c = ' ';
    }
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7F) return std::nullopt;
    out += c;
  }
  return out;
}

std::optional<field_list> parse_fields(std::string_view s) {
  field_list out;
  while (!s.empty()) {
    const auto amp = s.find('&');
    const std::string_view piece = s.substr(0, amp);
    s = amp == std::string_view::npos ? std::string_view{} : s.substr(amp + 1);
    if (piece.empty()) continue;
    if (out.size() == kMaxFields) return std::nullopt;
    const auto eq = piece.find('=');
    auto name = percent_decode(piece.substr(0, eq), true);
    auto value = percent_decode(eq == std::string_view::npos ? "" : piece.substr(eq + 1), true);
    if (!name || !value) return std::nullopt;
    out.emplace_back(std::move(*name), std::move(*value));
  }
  return out;
}

std::optional<std::string> cookie_value(std::string_view header, std::string_view name) {
  std::optional<std::string> found;
  while (!header.empty()) {
    const auto semi = header.find(';');
    const std::string_view piece = trim(header.substr(0, semi));
    header = semi == std::string_view::npos ? std::string_view{} : header.substr(semi + 1);
    const auto eq = piece.find('=');
    if (eq == std::string_view::npos || trim(piece.substr(0, eq)) != name) continue;
    if (found) return std::nullopt;
    found = std::string(trim(piece.substr(eq + 1)));
  }
  return found;
}

bool authority_allowed(std::string_view authority, std::span<const std::string> hosts,
                       std::span<const unsigned> ports) {
  std::string_view name;
  std::string_view rest;
  if (!authority.empty() && authority.front() == '[') {
    const auto close = authority.find(']');
    if (close == std::string_view::npos) return false;
    name = authority.substr(1, close - 1);
    rest = authority.substr(close + 1);
  } else {
    const auto colon = authority.find(':');
    name = authority.substr(0, colon);
    rest = colon == std::string_view::npos ? std::string_view{} : authority.substr(colon);
  }
  if (!rest.empty()) {
    if (rest.front() != ':' || !port_allowed(rest.substr(1), ports)) return false;
  }
  if (name.empty()) return false;
  const std::string lower = ascii_lower(name);
  return std::find(hosts.begin(), hosts.end(), lower) != hosts.end();
}

bool origin_allowed(std::string_view origin, std::span<const std::string> hosts,
                    std::span<const unsigned> ports) {
  constexpr std::string_view scheme = "https://";
  if (origin.substr(0, scheme.size()) != scheme) return false;
  return authority_allowed(origin.substr(scheme.size()), hosts, ports);
}

bool referer_allowed(std::string_view referer, std::span<const std::string> hosts,
                     std::span<const unsigned> ports) {
  constexpr std::string_view scheme = "https://";
  if (referer.substr(0, scheme.size()) != scheme) return false;
  const std::string_view rest = referer.substr(scheme.size());
  const auto slash = rest.find('/');
  if (slash == std::string_view::npos) return authority_allowed(rest, hosts, ports);
  return authority_allowed(rest.substr(0, slash), hosts, ports);
}

language choose_language(std::string_view accept_language) {
  // q in thousandths; -1: not listed.
  int en = -1, fr = -1;
  bool fr_first = false;
  while (!accept_language.empty()) {
    const auto comma = accept_language.find(',');
    std::string_view item = trim(accept_language.substr(0, comma));
    accept_language =
        comma == std::string_view::npos ? std::string_view{} : accept_language.substr(comma + 1);
    int q = 1000;
    if (const auto semi = item.find(';'); semi != std::string_view::npos) {
      std::string_view param = trim(item.substr(semi + 1));
      item = trim(item.substr(0, semi));
      if (param.substr(0, 2) != "q=" && param.substr(0, 2) != "Q=") continue;
      param = param.substr(2);
      // q = 0, 0.xyz or 1(.000)
      if (param.empty() || (param[0] != '0' && param[0] != '1')) continue;
      int value = (param[0] - '0') * 1000;
      if (param.size() > 1) {
        if (param[1] != '.' || param.size() > 5) continue;
        int scale = 100;
        bool ok = true;
        for (char c : param.substr(2)) {
          if (c < '0' || c > '9') ok = false;
          value += (c - '0') * scale;
          scale /= 10;
        }
        if (!ok || value > 1000) continue;
      }
      q = value;
    }
    const std::string primary = ascii_lower(item.substr(0, item.find('-')));
    if (primary == "en" && q > en) {
      en = q;
    } else if (primary == "fr" && q > fr) {
      if (en < 0) fr_first = true;
      fr = q;
    }
  }
  if (fr <= 0) return language::en;
  if (fr > en || (fr == en && fr_first)) return language::fr;
  return language::en;
}

bool constant_time_equal(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (std::size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

std::string to_hex(std::span<const std::uint8_t> bytes) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (std::uint8_t b : bytes) {
    out += digits[b >> 4];
    out += digits[b & 15];
  }
  return out;
}

std::string ascii_lower(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

}  // namespace portier::gateway::web
