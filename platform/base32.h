// RFC 4648 base32 in lower case without padding: compact, case-insensitive-safe identifiers
// (pseudonyms) that are valid in MQTT topic levels and file names.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

namespace portier::platform {

// Writes the first `chars` base32 characters of `bytes` to `out` (chars <= 8 * bytes.size() / 5).
void base32_encode(std::span<const std::uint8_t> bytes, std::size_t chars, char* out);
std::string base32_encode(std::span<const std::uint8_t> bytes);

}  // namespace portier::platform
