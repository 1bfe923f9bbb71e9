// UTF-8 decoding, one sequence at a time: for code that shows text it did not write (a device id
// on the LAN page, a title in portierctl) and must drop or escape what is not well formed.
#pragma once

#include <cstddef>
#include <string_view>

namespace portier::platform {

// Length of the well-formed UTF-8 sequence at the start of `s` (non-empty), with its code point
// in `cp`; 0 when `s` does not start with one (overlong forms, surrogates and code points above
// U+10FFFF included).
std::size_t utf8_sequence(std::string_view s, char32_t& cp);

}  // namespace portier::platform
