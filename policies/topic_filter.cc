#include "policies/topic_filter.h"

#include <algorithm>
#include <array>
#include <cctype>

namespace portier::policies {

namespace {

bool valid_capture_name(std::string_view n) {
  if (n.empty() || n.size() > 32 || !(std::islower(static_cast<unsigned char>(n[0])) || n[0] == '_')) {
    return false;
  }
  return std::all_of(n.begin(), n.end(), [](char c) {
    return std::islower(static_cast<unsigned char>(c)) || std::isdigit(static_cast<unsigned char>(c)) || c == '_';
  });
}
}  // namespace

platform::result<topic_filter> topic_filter::parse(std::string_view text) {
  using platform::error;
  if (text.empty()) return error{"topic filter is empty"};
  if (text.size() > 512) return error{"topic filter longer than 512 bytes"};
  topic_filter f;
  f.text_ = std::string(text);
  bool multi_capture = false;
  std::size_t start = 0;
  while (true) {
    const std::size_t slash = text.find('/', start);
    const std::string_view lv = text.substr(start, slash == std::string_view::npos ? std::string_view::npos : slash - start);
    const bool last = slash == std::string_view::npos;
    if (f.levels_.size() == kMaxLevels) return error{"more than 32 levels in \"" + f.text_ + "\""};
    if (lv == "#") {
      if (!last) return error{"\"#\" must be the last level of \"" + f.text_ + "\""};
      if (multi_capture)
        return error{"\"#\" after a {name...} capture in \"" + f.text_ +
                     "\": which levels it takes would be ambiguous"};
      f.levels_.push_back({level_kind::multi, ""});
    } else if (lv == "+") {
      f.levels_.push_back({level_kind::single, ""});
    } else if (!lv.empty() && lv.front() == '{') {
      if (lv.back() != '}') return error{"capture level \"" + std::string(lv) + "\" must be a whole level \"{name}\""};
      std::string_view name = lv.substr(1, lv.size() - 2);
      const bool many = name.ends_with("...");
      if (many) {
        if (multi_capture)
          return error{"more than one {name...} capture in \"" + f.text_ +
                       "\": how to split the levels would be ambiguous"};
        multi_capture = true;
        name.remove_suffix(3);
      }
      if (!valid_capture_name(name)) {
        return error{"capture name \"" + std::string(name) +
                     "\" must be lower-case letters, digits or '_'"};
      }
      if (std::find(f.capture_names_.begin(), f.capture_names_.end(), name) != f.capture_names_.end()) {
        return error{"capture {" + std::string(name) + "} appears twice in \"" + f.text_ + "\""};
      }
      if (f.capture_names_.size() == kMaxCaptures) return error{"more than 8 captures in \"" + f.text_ + "\""};
      f.capture_names_.emplace_back(name);
      f.capture_levels_.push_back(static_cast<std::uint8_t>(f.levels_.size()));
      f.levels_.push_back(
          {many ? level_kind::multi_capture : level_kind::capture, std::string(name)});
    } else {
      if (lv.find_first_of("+#{}") != std::string_view::npos) {
        return error{"level \"" + std::string(lv) + "\" mixes text with a wildcard or brace"};
      }
      f.levels_.push_back({level_kind::literal, std::string(lv)});
    }
    if (last) break;
    start = slash + 1;
  }
  return f;
}

namespace {

// Matches levels[i..] against the topic from `pos` (npos: every topic level is consumed).
// `spans[i]` receives what level i took.
bool match_from(std::span<const topic_filter::level> levels, std::size_t i, std::string_view topic,
                std::size_t pos, std::span<std::string_view> spans) {
  using kind = topic_filter::level_kind;
  if (i == levels.size()) return pos == std::string_view::npos;
  const auto& lv = levels[i];
  // MQTT: wildcards in the first level do not match topics that start with '$'.
  if (i == 0 && lv.kind != kind::literal && !topic.empty() && topic[0] == '$') return false;
  if (lv.kind == kind::multi) return true;  // also matches the parent level itself
  if (pos == std::string_view::npos) return false;
  std::size_t slash = topic.find('/', pos);
  std::size_t end = slash == std::string_view::npos ? topic.size() : slash;
  std::size_t next = slash == std::string_view::npos ? std::string_view::npos : slash + 1;
  const std::string_view part = topic.substr(pos, end - pos);
  switch (lv.kind) {
    case kind::literal:
      if (part != lv.text) return false;
      break;
    case kind::capture:
      if (part.empty()) return false;  // an empty level identifies nothing
      break;
    case kind::single:
    case kind::multi:
      break;
    case kind::multi_capture:
      // As few levels as the rest of the filter allows, each of them non-empty.
      if (part.empty()) return false;
      while (true) {
        spans[i] = topic.substr(pos, end - pos);
        if (match_from(levels, i + 1, topic, next, spans)) return true;
        if (next == std::string_view::npos) return false;
        slash = topic.find('/', next);
        const std::size_t level_end = slash == std::string_view::npos ? topic.size() : slash;
        if (level_end == next) return false;
        end = level_end;
        next = slash == std::string_view::npos ? std::string_view::npos : slash + 1;
      }
  }
  spans[i] = part;
  return match_from(levels, i + 1, topic, next, spans);
}

}  // namespace

bool topic_filter::match(std::string_view topic, std::span<std::string_view> captures) const {
  std::array<std::string_view, kMaxLevels> spans{};
  if (!match_from(levels_, 0, topic, 0, spans)) return false;
  for (std::size_t c = 0; c < capture_levels_.size(); ++c) captures[c] = spans[capture_levels_[c]];
  return true;
}

int topic_filter::capture_index(std::string_view name) const {
  for (std::size_t i = 0; i < capture_names_.size(); ++i) {
    if (capture_names_[i] == name) return static_cast<int>(i);
  }
  return -1;
}

std::string topic_filter::normalised() const {
  std::string out;
  for (std::size_t i = 0; i < levels_.size(); ++i) {
    if (i) out += '/';
    switch (levels_[i].kind) {
      case level_kind::literal: out += levels_[i].text; break;
      case level_kind::single:
      case level_kind::capture: out += '+'; break;
      case level_kind::multi_capture:
        out += "+...";
        break;
      case level_kind::multi: out += '#'; break;
    }
  }
  return out;
}

std::string topic_filter::subscription() const {
  std::string out;
  for (std::size_t i = 0; i < levels_.size(); ++i) {
    if (i) out += '/';
    switch (levels_[i].kind) {
      case level_kind::literal:
        out += levels_[i].text;
        break;
      case level_kind::single:
      case level_kind::capture:
        out += '+';
        break;
      case level_kind::multi_capture:
      case level_kind::multi:
        out += '#';
        return out;
    }
  }
  return out;
}

}  // namespace portier::policies
