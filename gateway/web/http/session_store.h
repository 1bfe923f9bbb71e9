// The LAN page's sessions, in memory only (a restart of portier-web logs everyone out).
//
// A session is opened by a redeemed pairing code. Its id is 256 random bits, given to the browser
// once (the cookie) and kept here only as its SHA-256, so the table's contents do not open a
// session and a lookup's timing says nothing about the id. Each session has its own CSRF token
// (256 random bits) that every POST must carry.
//
// A session ends after `idle_ms` without a request, `max_age_ms` after it was opened, on logout,
// or on logout everywhere. At most `max_sessions` exist: opening one more evicts the least
// recently used. Time is passed in (Unix ms), never read here.
//
// Not thread-safe: the web handler's owner serialises calls.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace portier::gateway::web {

// Fills its argument with cryptographically strong random bytes; false on failure.
using random_source = std::function<bool(std::span<std::uint8_t>)>;

struct session_limits {
  std::int64_t idle_ms = 30 * 60 * 1000;
  std::int64_t max_age_ms = 12 * 3600 * 1000;
  std::size_t max_sessions = 32;
};

class session_store {
 public:
  session_store(session_limits limits, random_source random);

  struct opened {
    std::string cookie;  // 64 lower-case hex digits: the id
    std::string csrf;    // 64 lower-case hex digits
  };
  // Nullopt if no random bytes could be had (no session then: fail closed).
  std::optional<opened> open(std::int64_t now_ms);

  // The CSRF token of the live session `cookie` names, whose idle time restarts now; nullopt
  // for an unknown, ended or expired one (an expired one is forgotten).
  std::optional<std::string> use(std::string_view cookie, std::int64_t now_ms);

  // Ends the session `cookie` names, if any.
  void close(std::string_view cookie);
  // Ends every session.
  void close_all();

  std::size_t size() const { return sessions_.size(); }

 private:
  using digest = std::array<std::uint8_t, 32>;
  struct session {
    std::int64_t opened_ms = 0;
    std::int64_t used_ms = 0;
    std::string csrf;
  };
  static digest hash(std::string_view cookie);
  bool expired(const session& s, std::int64_t now_ms) const;

  session_limits limits_;
  random_source random_;
  std::map<digest, session> sessions_;
};

}  // namespace portier::gateway::web
