// Signals as events: block SIGTERM, SIGINT and SIGHUP in every thread (construct this before
// starting any), then receive them synchronously from one place with wait(). Other threads may
// end a wait() early with wake(), so that a loop can sleep until its next deadline and still
// hear of new work at once.
#pragma once

#include <chrono>

namespace portier::platform {

class signal_waiter {
 public:
  signal_waiter();
  ~signal_waiter();
  signal_waiter(const signal_waiter&) = delete;
  signal_waiter& operator=(const signal_waiter&) = delete;

  // The next of SIGTERM, SIGINT or SIGHUP, or 0 if none arrived within `timeout` or wake() was
  // called (during this wait or since the last one returned).
  int wait(std::chrono::milliseconds timeout);
  // Ends the wait() in progress, or the next one, at once. Any thread; never blocks.
  void wake();

 private:
  int signal_fd_ = -1;
  int wake_fd_ = -1;
};

}  // namespace portier::platform
