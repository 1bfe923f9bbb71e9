// The gateway's status as JSON, for the retained message on portier/{gateway}/status: state,
// version, policy, uptime and counters. Never personal data: counts and names only.
#pragma once

#include <chrono>
#include <string>

#include "gateway/counters.h"
#include "gateway/pipeline.h"
#include "gateway/store/spool.h"

namespace portier::gateway {

inline constexpr const char* kPortierVersion = "0.1.0";

std::string status_topic(const std::string& gateway_id);
// {"gateway": ..., "state": "offline"}: the last will, and the message on a clean stop.
std::string offline_status(const std::string& gateway_id);
// `update` is the last remote update's outcome as a JSON object, or empty; `unmatched_shapes`
// how many shapes of unmatched messages the gateway knows (a count, never which);
// `windows_open` how many aggregation windows are open or waiting for their release.
std::string online_status(const std::string& gateway_id,
                          std::chrono::steady_clock::time_point started, const counters& c,
                          const pipeline& p, const spool& s, bool paused = false,
                          const std::string& update = "", std::uint64_t unmatched_shapes = 0,
                          std::uint64_t windows_open = 0);

}  // namespace portier::gateway
