#include "policies/field_path.h"

namespace portier::policies {

namespace {

constexpr std::size_t kMaxPathSteps = 16;
constexpr std::size_t kMaxKeyBytes = 128;

bool plain_key_char(char c) { return c != '.' && c != '[' && c != ']' && c != '"' && c != '\\'; }

}  // namespace

platform::result<std::vector<path_step>> parse_field_path(std::string_view text) {
  using platform::error;
  std::vector<path_step> steps;
  if (text == "$") return steps;
  if (text.empty()) return error{"path is empty (use \"$\" for a bare value)"};
  std::size_t i = 0;
  bool expect_key = true;  // at the start or after '.'
  while (i < text.size()) {
    if (text[i] == '[') {
      if (text.substr(i, 3) != "[*]") return error{"only \"[*]\" may follow a key, at offset " + std::to_string(i)};
      if (expect_key && !steps.empty()) return error{"\"[*]\" must follow a key, not '.'"};
      steps.push_back({"", true});
      i += 3;
      expect_key = false;
      continue;
    }
    if (!expect_key) {
      if (text[i] != '.') return error{"expected '.' or \"[*]\" at offset " + std::to_string(i)};
      ++i;
      expect_key = true;
      if (i == text.size()) return error{"path ends with '.'"};
      continue;
    }
    std::string key;
    if (text[i] == '"') {
      ++i;
      while (i < text.size() && text[i] != '"') {
        if (text[i] == '\\' && i + 1 < text.size()) ++i;
        key += text[i++];
      }
      if (i == text.size()) return error{"unterminated quoted key"};
      ++i;
    } else {
      while (i < text.size() && plain_key_char(text[i])) key += text[i++];
    }
    if (key.empty()) return error{"empty key at offset " + std::to_string(i)};
    if (key == "$") return error{"\"$\" stands alone: it is the whole bare value"};
    if (key.size() > kMaxKeyBytes) return error{"key longer than 128 bytes"};
    steps.push_back({std::move(key), false});
    expect_key = false;
  }
  if (steps.size() > kMaxPathSteps) return error{"path deeper than 16 steps"};
  return steps;
}

std::string field_path_text(const std::vector<path_step>& steps) {
  if (steps.empty()) return "$";
  std::string out;
  for (const auto& s : steps) {
    if (s.each) {
      out += "[*]";
      continue;
    }
    if (!out.empty()) out += '.';
    bool plain = true;
    for (char c : s.key) plain = plain && plain_key_char(c);
    if (plain) {
      out += s.key;
    } else {
      out += '"';
      for (char c : s.key) {
        if (c == '"' || c == '\\') out += '\\';
        out += c;
      }
      out += '"';
    }
  }
  return out;
}

}  // namespace portier::policies
