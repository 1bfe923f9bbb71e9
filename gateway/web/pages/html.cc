#include "gateway/web/pages/html.h"

#include "platform/utf8.h"

#include <cstdint>

namespace portier::gateway::web {

namespace {

using platform::utf8_sequence;

bool dropped(char32_t cp) {
  return (cp < 0x20 && cp != '\t' && cp != '\n') || (cp >= 0x7f && cp <= 0x9f) ||
         (cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069) || cp == 0x200e ||
         cp == 0x200f;
}

}  // namespace

std::string escape(std::string_view s) {
  std::string out;
  out.reserve(s.size() + s.size() / 8);
  while (!s.empty()) {
    char32_t cp = 0;
    const std::size_t n = utf8_sequence(s, cp);
    if (n == 0) {
      out += "\xef\xbf\xbd";
      s.remove_prefix(1);
      continue;
    }
    switch (cp) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        if (!dropped(cp)) out.append(s.substr(0, n));
    }
    s.remove_prefix(n);
  }
  return out;
}

std::string url_encode(std::string_view s) {
  static constexpr char hex[] = "0123456789ABCDEF";
  std::string out;
  for (const char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
        c == '.' || c == '_' || c == '~') {
      out += ch;
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 0xf];
    }
  }
  return out;
}

std::string local_url(std::string_view path,
                      const std::vector<std::pair<std::string, std::string>>& params) {
  std::string out(path);
  char sep = '?';
  for (const auto& [k, v] : params) {
    out += sep;
    out += url_encode(k);
    out += '=';
    out += url_encode(v);
    sep = '&';
  }
  return out;
}

bool is_local_path(std::string_view s) {
  if (s.empty() || s.size() > 1024 || s[0] != '/') return false;
  if (s.size() > 1 && (s[1] == '/' || s[1] == '\\')) return false;
  for (const char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (c < 0x20 || c == 0x7f || c == '\\') return false;
  }
  return true;
}

std::string form_open(std::string_view action, std::string_view csrf_token, std::string_view cls) {
  std::string out = "<form method=\"post\" action=\"" + escape(action) + "\"";
  if (!cls.empty()) out += " class=\"" + escape(cls) + "\"";
  out += ">" + hidden("csrf", csrf_token);
  return out;
}

std::string hidden(std::string_view name, std::string_view value) {
  return "<input type=\"hidden\" name=\"" + escape(name) + "\" value=\"" + escape(value) + "\">";
}

std::string button(std::string_view text, std::string_view cls) {
  std::string out = "<button type=\"submit\"";
  if (!cls.empty()) out += " class=\"" + escape(cls) + "\"";
  return out + ">" + escape(text) + "</button>";
}

std::string link(std::string_view href, std::string_view text) {
  return "<a href=\"" + escape(href) + "\">" + escape(text) + "</a>";
}

}  // namespace portier::gateway::web
