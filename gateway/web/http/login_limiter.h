// Back-off for pairing attempts: each client address, and all clients together, get a few free
// wrong codes, then must wait twice as long before each further attempt (up to a ceiling). A
// success clears the client's count; counts are forgotten after a quiet period. portierd voids
// every code after 10 wrong ones in a row besides (docs/CONTROL.md), so a guesser meets both.
//
// The table of clients is bounded (max_clients); when full, the entry quiet the longest is
// dropped, and the global count still holds a guesser who rotates addresses. Time is passed in.
// Not thread-safe: the web handler's owner serialises calls.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>

namespace portier::gateway::web {

struct login_limits {
  int free_failures = 5;               // per client, before any wait
  std::int64_t first_delay_ms = 1000;  // after the free ones; doubles with each failure
  std::int64_t max_delay_ms = 15 * 60 * 1000;
  int global_free_failures = 20;  // all clients together
  std::int64_t global_max_delay_ms = 60 * 1000;
  std::int64_t forget_after_ms = 60 * 60 * 1000;  // a count is forgotten after this long quiet
  std::size_t max_clients = 1024;
};

class login_limiter {
 public:
  explicit login_limiter(login_limits limits) : limits_(limits) {}

  // Milliseconds `client` must still wait before its next attempt is heard; 0: now.
  std::int64_t wait_ms(const std::string& client, std::int64_t now_ms) const;
  // A wrong (or voided) code from `client`.
  void failed(const std::string& client, std::int64_t now_ms);
  // A code that opened a session: `client` starts afresh (the global count stays).
  void succeeded(const std::string& client);

 private:
  struct record {
    int failures = 0;
    std::int64_t last_ms = 0;
  };
  std::int64_t wait_for(const record& r, int free, std::int64_t max_delay,
                        std::int64_t now_ms) const;

  login_limits limits_;
  std::map<std::string, record> clients_;
  record global_;
};

}  // namespace portier::gateway::web
