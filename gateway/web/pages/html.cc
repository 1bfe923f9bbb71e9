#include "gateway/web/pages/html.h"

#include <cstdint>

namespace portier::gateway::web {

namespace {

// Length of the well-formed UTF-8 sequence at the start of `s` and its code point; 0 if none.
std::size_t utf8_sequence(std::string_view s, char32_t& cp) {
  const auto b = [&](std::size_t i) { return static_cast<unsigned char>(s[i]); };
  const unsigned char c = b(0);
  if (c < 0x80) {
    cp = c;
    return 1;
  }
  std::size_t n;
  unsigned char lo = 0x80, hi = 0xbf;
  if (c >= 0xc2 && c <= 0xdf) {
    n = 2;
    cp = c & 0x1f;
  } else if (c >= 0xe0 && c <= 0xef) {
    n = 3;
    cp = c & 0x0f;
    if (c == 0xe0) lo = 0xa0;
    if (c == 0xed) hi = 0x9f;
  } else if (c >= 0xf0 && c <= 0xf4) {
    n = 4;
    cp = c & 0x07;
    if (c == 0xf0) lo = 0x90;
    if (c == 0xf4) hi = 0x8f;
  } else {
    return 0;
  }
  if (s.size() < n || b(1) < lo || b(1) > hi) return 0;
  for (std::size_t i = 1; i < n; ++i) {
    if (b(i) < 0x80 || b(i) > 0xbf) return 0;
    cp = (cp << 6) | (b(i) & 0x3f);
  }
  return n;
}

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
