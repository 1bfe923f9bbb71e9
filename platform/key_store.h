// The gateway's secrets on disk. The pseudonym secret is 32 random bytes (CTR-DRBG) made at first
// boot and kept in a 0600 file; losing it changes every pseudonym, so it is never rewritten once
// made. The interface hides the file so a secure element can stand in later.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "platform/result.h"

namespace portier::platform {

inline constexpr std::size_t kSecretBytes = 32;

// Loads the secret at `path`, creating it (and nothing else) if the file does not exist.
// Refuses a file of the wrong size or one that group or others can read.
result<std::vector<std::uint8_t>> load_or_create_secret(const std::string& path);

}  // namespace portier::platform
