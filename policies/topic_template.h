// Upstream topic templates: "portier/{gateway}/{purpose}/{class}/{device}". Compiled once into
// parts; rendering appends to a reused buffer. Identifying parts ({device} and any other capture)
// are always rendered as pseudonyms: raw device names never go upstream.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "platform/result.h"

namespace portier::policies {

class topic_template {
 public:
  enum class part_kind { literal, gateway, purpose, device_class, device, capture };
  struct part {
    part_kind kind;
    std::string text;  // literal text, or the capture's name
  };

  static constexpr std::string_view kDefault = "portier/{gateway}/{purpose}/{class}/{device}";

  static platform::result<topic_template> parse(std::string_view text);

  const std::vector<part>& parts() const { return parts_; }
  const std::string& text() const { return text_; }

 private:
  std::string text_;
  std::vector<part> parts_;
};

}  // namespace portier::policies
