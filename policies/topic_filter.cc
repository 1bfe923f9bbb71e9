#include "policies/topic_filter.h"

#include <algorithm>
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
  std::size_t start = 0;
  while (true) {
    const std::size_t slash = text.find('/', start);
    const std::string_view lv = text.substr(start, slash == std::string_view::npos ? std::string_view::npos : slash - start);
    const bool last = slash == std::string_view::npos;
    if (lv == "#") {
      if (!last) return error{"\"#\" must be the last level of \"" + f.text_ + "\""};
      f.levels_.push_back({level_kind::multi, ""});
    } else if (lv == "+") {
      f.levels_.push_back({level_kind::single, ""});
    } else if (!lv.empty() && lv.front() == '{') {
      if (lv.back() != '}') return error{"capture level \"" + std::string(lv) + "\" must be a whole level \"{name}\""};
      const std::string name(lv.substr(1, lv.size() - 2));
      if (!valid_capture_name(name)) {
        return error{"capture name \"" + name + "\" must be lower-case letters, digits or '_'"};
      }
      if (std::find(f.capture_names_.begin(), f.capture_names_.end(), name) != f.capture_names_.end()) {
        return error{"capture {" + name + "} appears twice in \"" + f.text_ + "\""};
      }
      if (f.capture_names_.size() == kMaxCaptures) return error{"more than 8 captures in \"" + f.text_ + "\""};
      f.capture_names_.push_back(name);
      f.levels_.push_back({level_kind::capture, name});
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

bool topic_filter::match(std::string_view topic, std::span<std::string_view> captures) const {
  // Most filters start with a literal level and most routes tried do not match: compare that
  // level before splitting the topic (the same test as the loop's first step, only cheaper).
  if (!levels_.empty() && levels_[0].kind == level_kind::literal) {
    const std::string& first = levels_[0].text;
    const bool same = topic.size() >= first.size() && (first.empty() || topic[0] == first[0]) &&
                      topic.starts_with(first) && (topic.size() == first.size() || topic[first.size()] == '/');
    if (!same) return false;
  }
  std::size_t pos = 0;
  std::size_t capture = 0;
  bool topic_done = false;
  for (std::size_t i = 0; i < levels_.size(); ++i) {
    const level& lv = levels_[i];
    // MQTT: wildcards in the first level do not match topics that start with '$'.
    if (i == 0 && lv.kind != level_kind::literal && !topic.empty() && topic[0] == '$') return false;
    if (lv.kind == level_kind::multi) return true;  // also matches the parent level itself
    if (topic_done) return false;
    const std::size_t slash = topic.find('/', pos);
    const std::string_view part =
        topic.substr(pos, slash == std::string_view::npos ? std::string_view::npos : slash - pos);
    if (slash == std::string_view::npos) {
      topic_done = true;
    } else {
      pos = slash + 1;
    }
    switch (lv.kind) {
      case level_kind::literal:
        if (part != lv.text) return false;
        break;
      case level_kind::capture:
        if (part.empty()) return false;  // an empty level identifies nothing
        captures[capture++] = part;
        break;
      case level_kind::single:
      case level_kind::multi:
        break;
    }
  }
  return topic_done;
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
      case level_kind::multi: out += '#'; break;
    }
  }
  return out;
}

int topic_filter::compare_specificity(const topic_filter& other) const {
  // Rank per level: literal 0, wildcard 1, end of filter 2, "#" 3 (lower is more specific).
  auto rank = [](const topic_filter& f, std::size_t i) {
    if (i >= f.levels_.size()) return 2;
    switch (f.levels_[i].kind) {
      case level_kind::literal: return 0;
      case level_kind::single:
      case level_kind::capture: return 1;
      case level_kind::multi: return 3;
    }
    return 3;
  };
  const std::size_t n = std::max(levels_.size(), other.levels_.size());
  for (std::size_t i = 0; i < n; ++i) {
    const int a = rank(*this, i);
    const int b = rank(other, i);
    if (a != b) return a - b;
    if (a == 0 && levels_[i].text != other.levels_[i].text) {
      return levels_[i].text < other.levels_[i].text ? -1 : 1;  // disjoint: any fixed order
    }
    if (a == 2 || a == 3) break;
  }
  return 0;
}

}  // namespace portier::policies
