// One input line of `portier-policy run` and `suggest`: {"topic": "...", "payload": <JSON>}.
#pragma once

#include <string>
#include <string_view>

#include <rapidjson/document.h>

namespace portier::tools {

// One input line, {"topic": "...", "payload": <JSON value>}, read as the gateway would read the
// same bytes: a string payload is its content (a non-JSON wire payload); any other payload is the
// value's own text, byte for byte, for the engine to judge as it judges a device's payload (so
// numbers keep their text, and what the gateway finds malformed is dropped, not refused here).
// The line is split into members without reading their values: strings end at their closing
// quote, objects and arrays at their matching bracket, other values at ',', '}', ']' or a space.
class input_line {
 public:
  static constexpr auto npos = std::string_view::npos;

  // False unless the line is an object with "topic" (a string) and "payload", once each. A
  // "time" member (at most once), when `time` is given, is copied there as its text (a string's
  // content, or a number's text); otherwise `time` is cleared. Other members are ignored.
  bool read(std::string_view line, std::string& topic, std::string& payload, std::string* time = nullptr) {
    line_ = line;
    bool has_topic = false, has_payload = false, has_time = false;
    if (time != nullptr) time->clear();
    std::size_t i = skip_space(0);
    if (i >= line_.size() || line_[i] != '{') return false;
    for (i = skip_space(i + 1);; i = skip_space(i + 1)) {  // each member, after '{' or ','
      if (i >= line_.size() || line_[i] != '"') return false;
      const std::size_t key_end = string_end(i);
      std::size_t v = skip_space(key_end);
      if (v >= line_.size() || line_[v] != ':' || !decode(line_.substr(i, key_end - i), key_))
        return false;
      v = skip_space(v + 1);
      const std::size_t v_end = value_end(v);
      if (v_end == npos) return false;
      const std::string_view value = line_.substr(v, v_end - v);
      if (key_ == "topic") {
        if (has_topic || value.front() != '"' || !decode(value, topic)) return false;
        has_topic = true;
      } else if (key_ == "payload") {
        if (has_payload) return false;
        if (value.front() != '"') {
          payload.assign(value);
        } else if (!decode(value, payload)) {
          return false;
        }
        has_payload = true;
      } else if (key_ == "time" && time != nullptr) {
        if (has_time) return false;
        if (value.front() != '"') {
          time->assign(value);
        } else if (!decode(value, *time)) {
          return false;
        }
        has_time = true;
      }
      i = skip_space(v_end);
      if (i >= line_.size() || line_[i] != ',') break;
    }
    return i < line_.size() && line_[i] == '}' && skip_space(i + 1) == line_.size() && has_topic &&
           has_payload;
  }

 private:
  std::size_t skip_space(std::size_t i) const {
    if (i == npos) return npos;
    while (i < line_.size() &&
           (line_[i] == ' ' || line_[i] == '\t' || line_[i] == '\r' || line_[i] == '\n'))
      ++i;
    return i;
  }

  // Just after the string that opens at line_[i], or npos.
  std::size_t string_end(std::size_t i) const {
    for (++i; i < line_.size(); ++i) {
      if (line_[i] == '\\') {
        ++i;
      } else if (line_[i] == '"') {
        return i + 1;
      }
    }
    return npos;
  }

  // Just after the value that starts at line_[i], or npos.
  std::size_t value_end(std::size_t i) const {
    if (i >= line_.size()) return npos;
    if (line_[i] == '"') return string_end(i);
    if (line_[i] == '{' || line_[i] == '[') {
      std::size_t depth = 0;
      for (; i < line_.size(); ++i) {
        const char c = line_[i];
        if (c == '"') {
          i = string_end(i);
          if (i == npos) return npos;
          --i;
        } else if (c == '{' || c == '[') {
          ++depth;
        } else if ((c == '}' || c == ']') && --depth == 0) {
          return i + 1;
        }
      }
      return npos;
    }
    const std::size_t end = line_.find_first_of(",}] \t\r\n", i);
    return end == i ? npos : end == npos ? line_.size() : end;
  }

  // The content of a JSON string (its escapes decoded), as RapidJSON reads it.
  static bool decode(std::string_view quoted, std::string& out) {
    rapidjson::Document doc;
    doc.Parse(quoted.data(), quoted.size());
    if (doc.HasParseError() || !doc.IsString()) return false;
    out.assign(doc.GetString(), doc.GetStringLength());
    return true;
  }

  std::string_view line_;
  std::string key_;
};

}  // namespace portier::tools
