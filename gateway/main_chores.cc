#include "gateway/main_chores.h"

#include <algorithm>

#include "gateway/store/announcement_saver.h"
#include "gateway/store/ledger.h"
#include "gateway/store/unmatched_shapes.h"
#include "gateway/store/window_releaser.h"
#include "gateway/store/window_store.h"
#include "platform/log.h"

namespace portier::gateway {

std::chrono::milliseconds time_to_earliest(steady_time now, std::int64_t wall_now_ms,
                                           std::initializer_list<std::optional<steady_time>> steady,
                                           std::initializer_list<std::optional<std::int64_t>> wall,
                                           std::chrono::milliseconds longest) {
  using std::chrono::milliseconds;
  milliseconds best = longest;
  for (const auto& due : steady) {
    if (!due) continue;
    if (*due <= now) return milliseconds(0);
    best = std::min(best, std::chrono::ceil<milliseconds>(*due - now));
  }
  for (const auto& due : wall) {
    if (!due) continue;
    if (*due <= wall_now_ms) return milliseconds(0);
    if (*due - wall_now_ms < best.count()) best = milliseconds(*due - wall_now_ms);
  }
  return best;
}

void main_chores::run(steady_time now, std::int64_t wall_now_ms) {
  record_.flush(
      wall_now_ms);  // the ledger's finished minutes: written here, never on the data path
  if (auto saved = shapes_.save_if_due(now); !saved)
    platform::log_warning("unmatched shapes: ", saved.error_message());
  announcements_.tick(now, kAnnouncementsEvery);
  releaser_.tick(wall_now_ms);  // windows due: snapshot first, then into the spool
}

std::chrono::milliseconds main_chores::wait(steady_time now, std::int64_t wall_now_ms) const {
  const auto next = time_to_earliest(
      now, wall_now_ms, {shapes_.next_save(), announcements_.next_tick(kAnnouncementsEvery)},
      {record_.next_flush_ms(), windows_.next_tick_ms(wall_now_ms)}, kLongestSleep);
  return next.count() == 0 ? kRetryAfter : next;
}

}  // namespace portier::gateway
