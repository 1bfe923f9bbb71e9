// Cryptographically strong random bytes: mbedTLS CTR-DRBG seeded from the system entropy source.
// Thread-safe (one generator behind a mutex); used for secrets, never on the data path.
#pragma once

#include <cstdint>
#include <span>

#include "platform/result.h"

namespace portier::platform {

result<bool> random_bytes(std::span<std::uint8_t> out);

}  // namespace portier::platform
