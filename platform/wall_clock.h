// The wall clock in Unix milliseconds: what receipts, ledger entries and status times carry.
// Not for measuring intervals (it steps with NTP): use std::chrono::steady_clock for those.
#pragma once

#include <chrono>
#include <cstdint>

namespace portier::platform {

inline std::int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace portier::platform
