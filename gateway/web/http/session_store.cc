#include "gateway/web/http/session_store.h"

#include <algorithm>
#include <utility>

#include "gateway/web/http/http_text.h"
#include "platform/hmac_sha256.h"

namespace portier::gateway::web {

session_store::session_store(session_limits limits, random_source random)
    : limits_(limits), random_(std::move(random)) {}

session_store::digest session_store::hash(std::string_view cookie) {
  return platform::sha256(cookie);
}

bool session_store::expired(const session& s, std::int64_t now_ms) const {
  return now_ms - s.used_ms >= limits_.idle_ms || now_ms - s.opened_ms >= limits_.max_age_ms ||
         now_ms < s.opened_ms - limits_.max_age_ms;  // a clock stepped far back: end it too
}

std::optional<session_store::opened> session_store::open(std::int64_t now_ms) {
  std::array<std::uint8_t, 32> id{};
  std::array<std::uint8_t, 32> csrf{};
  if (!random_ || !random_(id) || !random_(csrf)) return std::nullopt;
  std::erase_if(sessions_, [&](const auto& entry) { return expired(entry.second, now_ms); });
  while (!sessions_.empty() && sessions_.size() >= limits_.max_sessions) {
    auto oldest = sessions_.begin();
    for (auto it = sessions_.begin(); it != sessions_.end(); ++it)
      if (it->second.used_ms < oldest->second.used_ms) oldest = it;
    sessions_.erase(oldest);
  }
  opened out{to_hex(id), to_hex(csrf)};
  sessions_[hash(out.cookie)] = session{now_ms, now_ms, out.csrf};
  return out;
}

std::optional<std::string> session_store::use(std::string_view cookie, std::int64_t now_ms) {
  if (cookie.size() != 64) return std::nullopt;
  const auto it = sessions_.find(hash(cookie));
  if (it == sessions_.end()) return std::nullopt;
  if (expired(it->second, now_ms)) {
    sessions_.erase(it);
    return std::nullopt;
  }
  it->second.used_ms = std::max(it->second.used_ms, now_ms);
  return it->second.csrf;
}

void session_store::close(std::string_view cookie) {
  sessions_.erase(hash(cookie));
}

void session_store::close_all() {
  sessions_.clear();
}

}  // namespace portier::gateway::web
