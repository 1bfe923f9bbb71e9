// The daemon main loop's chores, kept off the message path: the ledger's finished minutes to
// disk, the unmatched shapes and the devices' announcements to disk, and the aggregation windows
// whose time has come into the spool.
//
// The loop does not poll them: after run() it sleeps for wait(), until the earliest deadline one
// of them has (a minute's end, a save interval, a window's end), and the stores wake it (their
// work notifiers, platform::signal_waiter::wake) when new work appears where there was none. An
// idle daemon's main thread so sleeps until a signal, new work, or at most kLongestSleep (a
// bound against the wall clock being set back under a deadline taken from it).
#pragma once

#include <chrono>
#include <cstdint>
#include <initializer_list>
#include <optional>

namespace portier::gateway {

class announcement_saver;
class ledger;
class unmatched_shapes;
class window_releaser;
class window_store;

using steady_time = std::chrono::steady_clock::time_point;

// How long to sleep from (now, wall_now_ms) until the earliest deadline: 0 when one has passed,
// `longest` when there is none or it is further away. Steady deadlines are rounded up to the
// millisecond, so that a sleep never ends before its deadline.
std::chrono::milliseconds time_to_earliest(steady_time now, std::int64_t wall_now_ms,
                                           std::initializer_list<std::optional<steady_time>> steady,
                                           std::initializer_list<std::optional<std::int64_t>> wall,
                                           std::chrono::milliseconds longest);

class main_chores {
 public:
  static constexpr std::chrono::milliseconds kLongestSleep{60'000};
  // A chore still due right after run() could not make progress (a full disk, a spool that
  // refuses): it is tried again after this, as often as the loop did when it polled every second.
  static constexpr std::chrono::milliseconds kRetryAfter{1'000};
  static constexpr std::chrono::seconds kAnnouncementsEvery{5};

  main_chores(ledger& record, unmatched_shapes& shapes, announcement_saver& announcements,
              window_releaser& releaser, const window_store& windows)
      : record_(record),
        shapes_(shapes),
        announcements_(announcements),
        releaser_(releaser),
        windows_(windows) {}

  // Does what is due.
  void run(steady_time now, std::int64_t wall_now_ms);
  // How long the loop may sleep after run() before something is due (kRetryAfter for what is
  // still due).
  std::chrono::milliseconds wait(steady_time now, std::int64_t wall_now_ms) const;

 private:
  ledger& record_;
  unmatched_shapes& shapes_;
  announcement_saver& announcements_;
  window_releaser& releaser_;
  const window_store& windows_;
};

}  // namespace portier::gateway
