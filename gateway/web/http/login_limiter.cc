#include "gateway/web/http/login_limiter.h"

#include <algorithm>

namespace portier::gateway::web {

std::int64_t login_limiter::wait_for(const record& r, int free, std::int64_t max_delay,
                                     std::int64_t now_ms) const {
  if (r.failures < free || now_ms - r.last_ms >= limits_.forget_after_ms) return 0;
  std::int64_t delay = limits_.first_delay_ms;
  for (int i = free; i < r.failures && delay < max_delay; ++i) delay *= 2;
  delay = std::min(delay, max_delay);
  return std::max<std::int64_t>(0, r.last_ms + delay - now_ms);
}

std::int64_t login_limiter::wait_ms(const std::string& client, std::int64_t now_ms) const {
  std::int64_t wait =
      wait_for(global_, limits_.global_free_failures, limits_.global_max_delay_ms, now_ms);
  if (const auto it = clients_.find(client); it != clients_.end())
    wait =
        std::max(wait, wait_for(it->second, limits_.free_failures, limits_.max_delay_ms, now_ms));
  return wait;
}

void login_limiter::failed(const std::string& client, std::int64_t now_ms) {
  auto bump = [&](record& r) {
    if (now_ms - r.last_ms >= limits_.forget_after_ms) r.failures = 0;
    ++r.failures;
    r.last_ms = now_ms;
  };
  bump(global_);
  auto it = clients_.find(client);
  if (it == clients_.end()) {
    if (!clients_.empty() && clients_.size() >= limits_.max_clients) {
      auto quietest = clients_.begin();
      for (auto c = clients_.begin(); c != clients_.end(); ++c)
        if (c->second.last_ms < quietest->second.last_ms) quietest = c;
      clients_.erase(quietest);
    }
    it = clients_.emplace(client, record{}).first;
  }
  bump(it->second);
}

void login_limiter::succeeded(const std::string& client) {
  clients_.erase(client);
}

}  // namespace portier::gateway::web
