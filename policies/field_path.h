// Field paths of the policy language: "$" (a bare value), "a.b", "items[*].x", "\"odd.key\"".
// Parsed once at compile time into steps; the data path never sees the text.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "platform/result.h"

namespace portier::policies {

struct path_step {
  std::string key;    // object member name; empty when `each` is set
  bool each = false;  // every element of an array ("[*]")
  bool operator==(const path_step&) const = default;
};

// An empty vector stands for "$", the document itself.
platform::result<std::vector<path_step>> parse_field_path(std::string_view text);

// The canonical text of a path, as parse_field_path accepts it.
std::string field_path_text(const std::vector<path_step>& steps);

}  // namespace portier::policies
