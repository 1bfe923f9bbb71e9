// Signals as events: block SIGTERM, SIGINT and SIGHUP in every thread (construct this before
// starting any), then receive them synchronously from one place with wait().
#pragma once

#include <chrono>

namespace portier::platform {

class signal_waiter {
 public:
  signal_waiter();
  // The next of SIGTERM, SIGINT or SIGHUP, or 0 if none arrived within `timeout`.
  int wait(std::chrono::milliseconds timeout);
};

}  // namespace portier::platform
