// Writes portierd's announcement table (announcement_store) off the message path: from the main
// loop at most every `every` (next_tick() says when, for a loop that sleeps until then), and once
// more at shutdown. The store itself writes only when an
// announcement changed. A failure (a full disk) is logged once, and again only after a write
// succeeded in between; the table stays in memory and the next tick tries again.
#pragma once

#include <chrono>
#include <optional>

#include "gateway/store/announcement_store.h"
#include "platform/log.h"

namespace portier::gateway {

class announcement_saver {
 public:
  explicit announcement_saver(announcement_store& s) : store_(s) {}

  void save() {
    auto r = store_.save();
    if (!r && !failing_)
      platform::log_warning("announcements: not saved, kept in memory: ", r.error_message());
    if (r && failing_) platform::log_info("announcements: saved again");
    failing_ = !r;
  }

  void tick(std::chrono::steady_clock::time_point now, std::chrono::seconds every) {
    if (now - last_ < every) return;
    last_ = now;
    save();
  }
  // When tick() next writes: nullopt while no announcement changed.
  std::optional<std::chrono::steady_clock::time_point> next_tick(std::chrono::seconds every) const {
    if (!store_.dirty()) return std::nullopt;
    return last_ + every;
  }

 private:
  announcement_store& store_;
  bool failing_ = false;
  std::chrono::steady_clock::time_point last_{};
};

}  // namespace portier::gateway
