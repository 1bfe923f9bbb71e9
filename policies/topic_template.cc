#include "policies/topic_template.h"

#include "policies/json_text.h"

namespace portier::policies {

platform::result<topic_template> topic_template::parse(std::string_view text) {
  using platform::error;
  if (text.empty()) return error{"topic template is empty"};
  if (text.size() > 256) return error{"topic template longer than 256 bytes"};
  if (text.find_first_of("+#") != std::string_view::npos) {
    return error{"topic template must not contain '+' or '#'"};
  }
  if (text.front() == '$') return error{"topic template must not start with '$'"};
  // Its text becomes part of MQTT topics, which are UTF-8 without U+0000 (found by fuzzing).
  if (!valid_utf8(text) || text.find('\0') != std::string_view::npos) {
    return error{"topic template must be UTF-8 text without NUL"};
  }
  topic_template t;
  t.text_ = std::string(text);
  std::size_t i = 0;
  while (i < text.size()) {
    if (text[i] == '}') return error{"unmatched '}' in topic template"};
    if (text[i] != '{') {
      const std::size_t next = text.find_first_of("{}", i);
      t.parts_.push_back({part_kind::literal, std::string(text.substr(i, next - i))});
      i = next == std::string_view::npos ? text.size() : next;
      continue;
    }
    const std::size_t close = text.find('}', i);
    if (close == std::string_view::npos) return error{"unterminated '{' in topic template"};
    const std::string name(text.substr(i + 1, close - i - 1));
    if (name == "gateway") {
      t.parts_.push_back({part_kind::gateway, name});
    } else if (name == "purpose") {
      t.parts_.push_back({part_kind::purpose, name});
    } else if (name == "class") {
      t.parts_.push_back({part_kind::device_class, name});
    } else if (name == "device") {
      t.parts_.push_back({part_kind::device, name});
    } else if (!name.empty() && name.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789_") == std::string::npos) {
      t.parts_.push_back({part_kind::capture, name});
    } else {
      return error{"unknown placeholder {" + name + "} in topic template"};
    }
    i = close + 1;
  }
  return t;
}

}  // namespace portier::policies
