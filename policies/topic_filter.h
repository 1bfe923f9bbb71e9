// MQTT topic filters with named captures: "zigbee2mqtt/{device}",
// "shellies/{device}/relay/+/power", "dsmr/#". A "{name}" level matches exactly one non-empty level
// like "+" and remembers it; a
// "{name...}" level matches one or more non-empty levels and remembers them joined with '/'
// (Zigbee2MQTT friendly names such as "bedroom/climate"). At most one "{name...}" per filter, and
// never before "#". At most kMaxLevels levels.
//
// Which of several matching filters takes a topic is decided by topic_router (topic_router.h),
// per topic; a lone filter's match() below is what the router does for one filter.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "platform/result.h"

namespace portier::policies {

class topic_filter {
 public:
  static constexpr std::size_t kMaxCaptures = 8;
  static constexpr std::size_t kMaxLevels = 32;
  enum class level_kind : std::uint8_t { literal, single, capture, multi_capture, multi };
  struct level {
    level_kind kind;
    std::string text;  // the literal, or the capture's name
  };

  static platform::result<topic_filter> parse(std::string_view text);

  // True if `topic` matches; then captures[i] is the level (or levels) captured by
  // capture_names()[i] (views into `topic`). `captures` must hold at least
  // capture_names().size() entries. A "{name...}" takes as few levels as the rest allows.
  bool match(std::string_view topic, std::span<std::string_view> captures) const;

  const std::string& text() const { return text_; }
  const std::vector<std::string>& capture_names() const { return capture_names_; }
  int capture_index(std::string_view name) const;
  // Captures written as "+" ("{name...}" as "+..."): filters equal in this form are equally
  // specific for every topic.
  std::string normalised() const;
  // The MQTT filter that receives every topic this one matches: captures as "+", and a
  // "{name...}" with everything after it as "#".
  std::string subscription() const;
  const std::vector<level>& levels() const { return levels_; }
  // The level index of each capture, in capture_names() order.
  const std::vector<std::uint8_t>& capture_levels() const { return capture_levels_; }

 private:
  std::string text_;
  std::vector<level> levels_;
  std::vector<std::string> capture_names_;
  std::vector<std::uint8_t> capture_levels_;
};

}  // namespace portier::policies
