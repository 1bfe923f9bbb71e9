// MQTT topic filters with named captures: "zigbee2mqtt/{device}", "shellies/{device}/relay/+/power",
// "dsmr/#". A "{name}" level matches exactly one level like "+" and remembers it.
//
// Overlaps are resolved by specificity, level by level from the left: a literal level beats a
// wildcard ("+" or a capture), which beats a final "#"; a filter that ends beats one that goes on
// with "#". Two filters that are equal after replacing captures by "+" are equally specific.
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "platform/result.h"

namespace portier::policies {

class topic_filter {
 public:
  static constexpr std::size_t kMaxCaptures = 8;

  static platform::result<topic_filter> parse(std::string_view text);

  // True if `topic` matches; then captures[i] is the level captured by capture_names()[i]
  // (views into `topic`). `captures` must hold at least capture_names().size() entries.
  bool match(std::string_view topic, std::span<std::string_view> captures) const;

  const std::string& text() const { return text_; }
  const std::vector<std::string>& capture_names() const { return capture_names_; }
  int capture_index(std::string_view name) const;
  // Captures written as "+": the shape that decides overlaps.
  std::string normalised() const;
  // Negative if this filter is more specific than `other`, positive if less, 0 if equal.
  int compare_specificity(const topic_filter& other) const;

 private:
  enum class level_kind { literal, single, capture, multi };
  struct level {
    level_kind kind;
    std::string text;
  };
  std::string text_;
  std::vector<level> levels_;
  std::vector<std::string> capture_names_;
};

}  // namespace portier::policies
