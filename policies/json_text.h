// Small text helpers of the data path: UTF-8 validation and JSON string escaping.
#pragma once

#include <string>
#include <string_view>

namespace portier::policies {

// True if `s` is well-formed UTF-8 (no overlongs, no surrogates, nothing above U+10FFFF).
bool valid_utf8(std::string_view s);

// Appends `s` as a JSON string literal, quotes included.
void append_json_string(std::string& out, std::string_view s);

}  // namespace portier::policies
