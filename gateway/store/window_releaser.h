// Releases the aggregation windows whose time has come (window_store::tick) from the daemon's main
// loop, with what the pipeline has in force at that moment: its policy, and whether a purpose may
// still receive a device's data (the household's consent and pause, the operator's suspension:
// evaluator::granted). A release goes into the spool, which wakes the egress.
#pragma once

#include <cstdint>
#include <string_view>

#include "gateway/pipeline.h"
#include "gateway/store/spool.h"
#include "gateway/store/window_store.h"

namespace portier::gateway {

class window_releaser {
 public:
  window_releaser(window_store& windows, const pipeline& pipe, spool& out)
      : windows_(windows), pipe_(pipe), out_(out) {}

  // Windows released into the spool.
  std::size_t tick(std::int64_t now_ms) {
    const auto ev = pipe_.evaluator_for_readers();
    const auto consent = pipe_.consent();
    if (!ev || !consent) return 0;
    return windows_.tick(
        ev->policy(), now_ms,
        [&](std::size_t purpose, std::string_view device, std::string_view device_class) {
          return ev->granted(*consent, purpose, device, device_class);
        },
        out_);
  }

 private:
  window_store& windows_;
  const pipeline& pipe_;
  spool& out_;
};

}  // namespace portier::gateway
