// CRC-32 (IEEE 802.3, as zlib's crc32): detects torn and corrupted records on disk. Not a MAC.
#pragma once

#include <cstdint>
#include <string_view>

namespace portier::platform {

std::uint32_t crc32(std::string_view data, std::uint32_t crc = 0);

}  // namespace portier::platform
